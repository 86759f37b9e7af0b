"""A store filled before the load: users with one live session each, whose
tokens the test (or wrk, from a file) then sends. One way to make them for
the fault tests, the write-flood test and the benchmark:

- token(i, seed): session token number i, as the cookie carries it and as
  the store keeps it;
- preload(db_path, n, vhost, seed, ...): n users and sessions added to a
  store (one the module made, or one build_store() just created);
- build_store(path, n, vhost, seed): a new store of the current schema
  with n users and sessions, without httpd (the benchmark's million);
- preload_pg(pg, db, n, vhost, seed): the same in a PostgreSQL database
  the module made (pyrus.pg);
- write_tokens(path, tokens): the file the wrk scripts read;
- store_is_sound(h): the invariants a store keeps under any fault.

Plain functions rather than a pytest fixture: bench/run.py and
bench/soak.py build their stores with them too."""

import base64
import hashlib
import sqlite3
import time

DAY = 86400


def token(i, seed):
    """Deterministic 256-bit token number i: (cookie form, stored form)."""
    raw = hashlib.sha256(b"mod_remoteuser_session %s %d"
                         % (seed.encode(), i)).digest()
    return (base64.urlsafe_b64encode(raw).decode().rstrip("="),
            hashlib.sha256(raw).hexdigest())


def preload(db_path, n, vhost, seed, name="pre%04d", last_seen=None,
            expires=None):
    """Add users name % 1 .. name % n, active, with one session each, bound
    to `vhost` (the sessions table's key: "scope=NAME" under
    RemoteUserSessionScope, else read it off a session the module made),
    created and last seen now (or at `last_seen`), expiring in a day (or
    at `expires`); one transaction. Returns the cookie tokens, in order."""
    now = int(time.time())
    last_seen = now if last_seen is None else last_seen
    expires = now + DAY if expires is None else expires
    con = sqlite3.connect(db_path, timeout=30)
    try:
        with con:
            con.executemany(
                "INSERT INTO users (username, is_active, date_joined, "
                "last_login) VALUES (?, 1, ?, ?)",
                ((name % i, now, now) for i in range(1, n + 1)))
            con.executemany(
                "INSERT INTO sessions (token_hash, user_id, vhost, "
                "created_at, last_seen, expires_at) SELECT ?, id, ?, ?, ?, ? "
                "FROM users WHERE username = ?",
                ((token(i, seed)[1], vhost, now, last_seen, expires,
                  name % i) for i in range(1, n + 1)))
    finally:
        con.close()
    return [token(i, seed)[0] for i in range(1, n + 1)]


SCHEMA = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE users (id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            is_active INTEGER NOT NULL DEFAULT 1,
            date_joined INTEGER NOT NULL, last_login INTEGER);
        CREATE TABLE sessions (token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            vhost TEXT NOT NULL, created_at INTEGER NOT NULL,
            last_seen INTEGER NOT NULL, expires_at INTEGER NOT NULL)
            WITHOUT ROWID;
        CREATE INDEX sessions_user ON sessions (user_id);
        CREATE INDEX sessions_expires ON sessions (expires_at);
        CREATE TABLE groups (id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE);
        CREATE TABLE user_groups (
            user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES groups (id)
                ON DELETE CASCADE,
            PRIMARY KEY (user_id, group_id)) WITHOUT ROWID;
        CREATE INDEX user_groups_group ON user_groups (group_id);
        PRAGMA user_version = 3;
    """


def build_store(path, n, vhost, seed, name="user%07d"):
    """A schema-3 store (httpd migrates it in place to the current schema
    when it starts) with n users and one session each that lives for ten
    years."""
    con = sqlite3.connect(path)
    try:
        con.executescript(SCHEMA)
    finally:
        con.close()
    far = int(time.time()) + 10 * 365 * DAY
    preload(path, n, vhost, seed, name=name, last_seen=far, expires=far)


def preload_pg(pg, db, n, vhost, seed, prefix="pre", last_seen=None,
               expires=None):
    """The PostgreSQL twin of preload(): n users PREFIX0000001.. and one
    session each (token(i, seed)), bound to `vhost`, created and last seen
    now (or at `last_seen`), expiring in a day (or at `expires`), in
    database db of the pyrus.pg server pg, whose schema the module made;
    one transaction, as the superuser, the hashes computed by the server
    (sha256, checked against token())."""
    now = int(time.time())
    last_seen = now if last_seen is None else last_seen
    expires = now + DAY if expires is None else expires
    uname = "'%s' || lpad(i::text, 7, '0')" % prefix
    pg.execute(
        "BEGIN;"
        "INSERT INTO users (username, is_active, date_joined, last_login) "
        "SELECT %(u)s, true, %(now)d, %(now)d FROM generate_series(1, %(n)d)"
        " i;"
        "INSERT INTO sessions (token_hash, user_id, vhost, created_at, "
        "last_seen, expires_at) SELECT encode(sha256(sha256(convert_to("
        "'mod_remoteuser_session %(seed)s ' || i, 'UTF8'))), 'hex'), u.id, "
        "'%(vhost)s', %(now)d, %(seen)d, %(exp)d FROM generate_series(1, "
        "%(n)d) i JOIN users u ON u.username = %(u)s;"
        "COMMIT;" % {"u": uname, "now": now, "seen": last_seen,
                     "exp": expires, "n": n,
                     "seed": seed, "vhost": vhost}, db=db)
    got = pg.value("SELECT COUNT(*) FROM sessions s JOIN users u ON "
                   "u.id = s.user_id WHERE s.token_hash = '%s'"
                   % token(n, seed)[1], db=db)
    assert got == "1", "preload_pg: the token hashes differ from token()"


def write_tokens(path, tokens):
    """One token a line: what the wrk scripts read."""
    with open(path, "w") as f:
        for t in tokens:
            f.write(t + "\n")
    return path


def store_is_sound(h):
    """integrity_check ok, no duplicate users, no orphan sessions; returns
    (users, sessions)."""
    con = sqlite3.connect(h.db_path, timeout=30)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert con.execute(
            "SELECT username FROM users GROUP BY username "
            "HAVING COUNT(*) > 1").fetchall() == []
        assert con.execute(
            "SELECT COUNT(*) FROM sessions s LEFT JOIN users u "
            "ON u.id = s.user_id WHERE u.id IS NULL").fetchone()[0] == 0
        return (con.execute("SELECT COUNT(*) FROM users").fetchone()[0],
                con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
    finally:
        con.close()
