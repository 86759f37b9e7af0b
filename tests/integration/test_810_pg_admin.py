"""remoteuser-admin on a PostgreSQL store (issue #18): every subcommand
works through `--store URI` (and REMOTEUSER_STORE, and --config following
RemoteUserStore), what it does is in PostgreSQL's rows, the password of
the URI never appears in anything the tool prints, `db backup` says to
use pg_dump, and `db copy` moves a store from SQLite to PostgreSQL and
back with the sessions in it: a cookie issued before the move
authenticates after it, as the same user.

The server is the tests' own (pyrus.pg, the `pg` fixture: an empty
database per test)."""

import json
import os
import re
import subprocess

from pyrus import (ADMIN, cookie, free_port, login, login_location,
                   remoteuser_location, sanitizer_env, stored_hash, token_of)

SECRET = "rus-secret"
APP = remoteuser_location("/app/", "RemoteUserSession On",
                          "RemoteUserLoginURL /login")
BODY = "\n".join([APP, login_location()])


def run(tmp_path, *args, env=None):
    """remoteuser-admin ARGS with the sanitizer environment of the tests
    (reports under tmp_path/logs), plus `env`; never this machine's own
    httpd configuration."""
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    full = dict(sanitizer_env(str(tmp_path), leaks=True),
                REMOTEUSER_APACHECTL="", **(env or {}))
    full.pop("REMOTEUSER_STORE", None)
    if env and "REMOTEUSER_STORE" in env:
        full["REMOTEUSER_STORE"] = env["REMOTEUSER_STORE"]
    r = subprocess.run([ADMIN] + list(args), capture_output=True, text=True,
                       errors="surrogateescape", timeout=60, env=full)
    # whatever it says, it never says the password
    assert SECRET not in r.stdout and SECRET not in r.stderr, (r.stdout,
                                                               r.stderr)
    return r


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def refused(r, code, text):
    """Exit `code` with `text` in the one line on stderr."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert text in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def masked(pg):
    """The URI as the tool shows it."""
    return pg.uri().replace(":" + SECRET + "@", ":***@")


# ---- every subcommand --------------------------------------------------

def test_every_subcommand_on_postgresql(pg, tmp_path):
    uri = pg.uri()

    def adm(*args):
        return run(tmp_path, "--store", uri, *args)

    def js(*args):
        return json.loads(ok(adm("--json", *args)))

    assert js("db", "migrate")["schema_version"] == int(
        pg.value("SELECT version FROM rus_schema"))
    assert ok(adm("db", "migrate")).strip().startswith(masked(pg))

    # users
    assert "added user alice" in ok(adm("user", "add", "alice"))
    assert js("user", "add", "bob")["username"] == "bob"
    ok(adm("user", "add", "carol", "--inactive"))
    assert pg.rows("SELECT username, is_active::text FROM users"
                   " ORDER BY id") == [("alice", "true"), ("bob", "true"),
                                       ("carol", "false")]
    names = [u["username"] for u in js("user", "list")]
    assert names == ["alice", "bob", "carol"]
    text = ok(adm("user", "list"))
    assert re.search(r"^\d+\s+carol\s+no\s", text, re.M), text
    alice = js("user", "show", "alice")
    assert alice["is_active"] is True and alice["last_login"] is None
    assert alice["id"] == int(pg.value(
        "SELECT id FROM users WHERE username = 'alice'"))
    refused(adm("user", "add", "alice"), 3, "already exists")
    refused(adm("user", "show", "nobody"), 1, "no user 'nobody'")

    assert ok(adm("user", "enable", "carol")).strip() == "enabled user carol"
    assert pg.value("SELECT is_active::text FROM users"
                    " WHERE username = 'carol'") == "true"
    assert ok(adm("user", "rename", "carol", "cara")).strip() == \
        "renamed user carol to cara"
    assert sorted(pg.rows("SELECT username FROM users")) == [
        ("alice",), ("bob",), ("cara",)]
    refused(adm("user", "rename", "cara", "bob"), 3, "already exists")

    # groups
    ok(adm("group", "add", "staff"))
    assert js("group", "add", "ops") == {"ok": True}
    ok(adm("group", "add-member", "staff", "alice"))
    ok(adm("group", "add-member", "staff", "bob"))
    ok(adm("--json", "group", "add-member", "ops", "alice"))
    assert sorted(pg.rows(
        "SELECT u.username, g.name FROM user_groups ug"
        " JOIN users u ON u.id = ug.user_id"
        " JOIN groups g ON g.id = ug.group_id")) == [
        ("alice", "ops"), ("alice", "staff"), ("bob", "staff")]
    groups = {g["name"]: g["members"] for g in js("group", "list")}
    assert groups == {"ops": 1, "staff": 2}
    assert ok(adm("group", "members", "staff")).split() == ["alice", "bob"]
    assert js("user", "show", "alice")["groups"] == ["ops", "staff"]
    refused(adm("group", "add-member", "staff", "bob"), 3, "already")
    ok(adm("group", "remove-member", "staff", "bob"))
    assert pg.value("SELECT count(*) FROM user_groups") == "2"
    refused(adm("group", "remove-member", "staff", "bob"), 1, "")
    ok(adm("group", "delete", "ops"))
    assert pg.rows("SELECT name FROM groups") == [("staff",)]
    assert pg.value("SELECT count(*) FROM user_groups") == "1"

    # sessions (as the module writes them)
    ids = dict(pg.rows("SELECT username, id FROM users"))
    hashes = {"a1": "a1" * 32, "a2": "a2" * 32, "b1": "b1" * 32,
              "c1": "c1" * 32}
    owner = {"a1": "alice", "a2": "alice", "b1": "bob", "c1": "cara"}
    for k, h in hashes.items():
        pg.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
                   " created_at, last_seen, expires_at) VALUES"
                   " ('%s', %s, 'h.example:443', 1000, 1000, 4000000000)"
                   % (h, ids[owner[k]]))
    # one long expired: purge takes it
    pg.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
               " created_at, last_seen, expires_at) VALUES"
               " ('%s', %s, 'h.example:443', 10, 10, 20)"
               % ("d0" * 32, ids["bob"]))
    rows = js("session", "list")
    assert len(rows) == 5
    assert {r["username"] for r in rows} == {"alice", "bob", "cara"}
    assert len(js("session", "list", "--user", "alice")) == 2
    text = ok(adm("session", "list", "--user", "bob"))
    assert "b1b1b1b1" in text
    assert js("session", "purge") == {"ok": True, "purged": 1}
    assert pg.value("SELECT count(*) FROM sessions") == "4"
    assert "revoked session b1b1b1b1b1b1" in ok(
        adm("session", "revoke", "b1b1b1b1"))
    assert pg.value("SELECT count(*) FROM sessions WHERE token_hash = '%s'"
                    % hashes["b1"]) == "0"
    refused(adm("session", "revoke", "b1b1b1b1"), 1, "no such session")
    assert js("session", "revoke", "--user", "alice")["revoked"] == 2
    assert pg.rows("SELECT token_hash FROM sessions") == [(hashes["c1"],)]

    # disable ends the user's sessions, in PostgreSQL too
    assert ok(adm("user", "disable", "cara")).strip() == \
        "disabled user cara, ended 1 session"
    assert pg.value("SELECT count(*) FROM sessions") == "0"
    assert pg.value("SELECT is_active::text FROM users"
                    " WHERE username = 'cara'") == "false"
    pg.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
               " created_at, last_seen, expires_at) VALUES"
               " ('%s', %s, 'h', 1000, 1000, 4000000000)"
               % (hashes["a1"], ids["alice"]))
    assert js("session", "revoke-all") == {"ok": True, "revoked": 1}
    assert pg.value("SELECT count(*) FROM sessions") == "0"

    # db
    info = js("db", "info")
    assert info["backend"] == "postgresql"
    assert info["store"] == masked(pg) and info["store_from"] == "--store"
    assert info["schema_version"] == int(
        pg.value("SELECT version FROM rus_schema"))
    assert (info["users"], info["groups"], info["sessions"]) == (3, 1, 0)
    text = ok(adm("db", "info"))
    assert text.splitlines()[0] == "store:            %s (from --store)" \
        % masked(pg)
    assert text.splitlines()[1] == "backend:          postgresql"
    assert js("db", "check") == {"ok": True, "result": "ok"}
    assert ok(adm("db", "check")).strip() == "ok"

    backup = tmp_path / "backup.db"
    err = refused(adm("db", "backup", str(backup)), 3, "pg_dump")
    assert masked(pg) in err
    assert not backup.exists()
    r = adm("--json", "db", "backup", str(backup))
    assert r.returncode == 3 and "pg_dump" in json.loads(r.stdout)["error"]

    # delete takes the user's memberships (and sessions) with it
    ok(adm("user", "delete", "alice"))
    assert pg.value("SELECT count(*) FROM user_groups") == "0"
    assert sorted(pg.rows("SELECT username FROM users")) == [("bob",),
                                                             ("cara",)]
    ok(adm("group", "delete", "staff"))
    assert pg.value("SELECT count(*) FROM groups") == "0"


def test_postgres_alias_and_environment(pg, tmp_path):
    """postgres:// is the same store; REMOTEUSER_STORE may be a URI."""
    alias = pg.uri().replace("postgresql://", "postgres://", 1)
    ok(run(tmp_path, "--store", alias, "db", "migrate"))
    ok(run(tmp_path, "--store", alias, "user", "add", "dora"))
    info = json.loads(ok(run(tmp_path, "--json", "db", "info",
                             env={"REMOTEUSER_STORE": pg.uri()})))
    assert info["store_from"] == "REMOTEUSER_STORE"
    assert info["backend"] == "postgresql" and info["users"] == 1
    assert SECRET not in json.dumps(info)


def test_config_follows_remoteuser_store(pg, tmp_path, scratch):
    """--config takes the URI httpd uses, names its file and line, and a
    warning about several stores masks every password."""
    srv = scratch(store=None, body="\n".join([
        "RemoteUserStore sqlite:store/decoy.db",
        "RemoteUserStore %s" % pg.uri(), BODY]))
    ok(run(tmp_path, "--store", pg.uri(), "db", "migrate"))
    ok(run(tmp_path, "--store", pg.uri(), "user", "add", "erin"))
    r = run(tmp_path, "--json", "--config", srv.conf, "db", "info")
    info = json.loads(ok(r))
    with open(srv.conf) as f:
        line = f.read().splitlines().index(
            "RemoteUserStore %s" % pg.uri()) + 1
    assert info["store_from"] == "%s:%d" % (srv.conf, line)
    assert info["store"] == masked(pg) and info["users"] == 1
    assert "2 RemoteUserStore directives" in r.stderr, r.stderr
    assert masked(pg) in r.stderr
    r = run(tmp_path, "--config", srv.conf, "user", "disable", "erin")
    assert ok(r).strip() == "disabled user erin, ended 0 sessions"
    assert pg.value("SELECT is_active::text FROM users") == "false"


def test_password_never_shown(pg, tmp_path):
    """Failures name the store by its masked URI: a server that does not
    answer, a wrong password, a scheme mistyped, a password= parameter."""
    dead = "postgresql://rus:%s@127.0.0.1:%d/rus?connect_timeout=2" % (
        SECRET, free_port())
    r = run(tmp_path, "--store", dead, "user", "list")
    assert r.returncode == 3, r.stderr
    assert "postgresql://rus:***@127.0.0.1" in r.stderr, r.stderr
    r = run(tmp_path, "--json", "--store", dead, "db", "info")
    assert r.returncode == 3 and json.loads(r.stdout)["code"] == 3
    wrong = pg.uri().replace(SECRET, SECRET + "x")
    r = run(tmp_path, "--store", wrong, "user", "list")
    assert r.returncode == 3 and SECRET + "x" not in r.stderr, r.stderr
    r = run(tmp_path, "--store", "postgresq://rus:%s@h/rus" % SECRET,
            "user", "list")
    refused(r, 2, "unknown store scheme 'postgresq'")
    assert "postgresq://rus:***@h/rus" in r.stderr
    param = "postgresql://rus@127.0.0.1:%d/rus?password=%s" % (
        free_port(), SECRET)
    r = run(tmp_path, "--store", param, "db", "info")
    assert r.returncode == 3, r.stderr


# ---- db copy -----------------------------------------------------------

def copy(tmp_path, src, dst, *extra):
    return run(tmp_path, *extra, "db", "copy", src, dst)


def whoami(h, token):
    r = h.get("/app/env", cookie(token))
    assert r.status == 200, (r.status, h.error_log())
    return r.env["REMOTE_USER"]


def test_copy_keeps_sessions_working_sqlite_to_pg_and_back(pg, tmp_path,
                                                           scratch):
    """An httpd on SQLite issues a cookie; the store is copied to
    PostgreSQL and the same httpd (same name and port: the session's
    scope) restarted on it: the cookie authenticates, as the same user,
    with the same groups. Then back to a new SQLite file, the same."""
    h = scratch(body=BODY, users=["alice", "bob"])
    h.start()
    token = token_of(login(h, "alice"))
    other = token_of(login(h, "bob"))
    assert whoami(h, token) == "alice"
    h.stop()
    sqlite_spec = "sqlite:" + h.db_path
    ok(run(tmp_path, "--db", h.db_path, "group", "add", "staff"))
    ok(run(tmp_path, "--db", h.db_path, "group", "add-member", "staff",
           "alice"))
    ok(run(tmp_path, "--db", h.db_path, "user", "add", "idle",
           "--inactive"))
    before = [tuple(r.values()) for r in h.rows(
        "SELECT id, username, is_active, date_joined, last_login"
        " FROM users ORDER BY id")]
    sessions = [tuple(r.values()) for r in h.rows(
        "SELECT token_hash, user_id, vhost, created_at, last_seen,"
        " expires_at FROM sessions ORDER BY token_hash")]

    text = ok(copy(tmp_path, sqlite_spec, pg.uri())).strip()
    assert text == ("copied 3 users, 1 groups, 1 memberships, 2 sessions, 0 attributes "
                    "from %s to %s" % (h.db_path, masked(pg)))
    got = pg.rows("SELECT id, username, is_active::int,"
                  " date_joined, COALESCE(last_login::text, 'null')"
                  " FROM users ORDER BY id")
    assert got == [(str(i), n, str(a), str(d),
                    "null" if l is None else str(l))
                   for (i, n, a, d, l) in before]
    assert pg.rows("SELECT token_hash, user_id, vhost, created_at,"
                   " last_seen, expires_at FROM sessions"
                   " ORDER BY token_hash") == [
        tuple(str(v) for v in s) for s in sessions]
    assert stored_hash(token) in [s[0] for s in sessions]

    # a second copy into the filled store is refused, and changes nothing
    r = copy(tmp_path, sqlite_spec, pg.uri())
    refused(r, 3, "not empty")
    assert pg.value("SELECT count(*) FROM users") == "3"
    refused(copy(tmp_path, pg.uri(), pg.uri()), 2, "the same store")

    h.write_conf(BODY, pg.uri())
    h.start()
    assert whoami(h, token) == "alice"
    assert whoami(h, other) == "bob"
    # and new users get ids after the copied ones
    token_new = token_of(login(h, "bob"))
    assert whoami(h, token_new) == "bob"
    h.stop()
    assert SECRET not in h.error_log()

    # back, to an SQLite file that does not exist yet
    back = os.path.join(h.store_dir, "back.db")
    r = copy(tmp_path, pg.uri(), "sqlite:" + back, "--json")
    got = json.loads(ok(r))
    assert got == {"ok": True, "from": masked(pg), "to": back, "users": 3,
                   "groups": 1, "memberships": 1, "sessions": 3,
                   "attributes": 0}
    h.write_conf(BODY, "sqlite:" + back)
    h.start()
    assert whoami(h, token) == "alice"
    assert whoami(h, token_new) == "bob"
    h.stop()


def test_copy_between_sqlite_files(tmp_path, scratch):
    """The same between two SQLite files (no PostgreSQL): ids and sessions
    kept, a target not empty refused, FROM == TO refused, store options
    refused."""
    h = scratch(body=BODY, users=["alice"])
    h.start()
    token = token_of(login(h, "alice"))
    h.stop()
    dst = os.path.join(h.store_dir, "copy.db")
    text = ok(copy(tmp_path, "sqlite:" + h.db_path, "sqlite:" + dst)).strip()
    assert text == ("copied 1 users, 0 groups, 0 memberships, 1 sessions, 0 attributes "
                    "from %s to %s" % (h.db_path, dst))
    refused(copy(tmp_path, "sqlite:" + h.db_path, "sqlite:" + dst), 3,
            "is not empty: it holds 1 user(s), 0 group(s) and 1 session(s)")
    refused(copy(tmp_path, "sqlite:" + dst, "sqlite:" + dst), 2,
            "FROM and TO are the same store")
    refused(run(tmp_path, "--db", dst, "db", "copy", "sqlite:" + dst,
                "sqlite:" + dst + "2"), 2, "--db does not apply")
    refused(copy(tmp_path, "sqlite:" + dst + "-missing", "sqlite:x.db"), 3,
            "No such file")
    h.write_conf(BODY, "sqlite:" + dst)
    h.start()
    assert whoami(h, token) == "alice"
