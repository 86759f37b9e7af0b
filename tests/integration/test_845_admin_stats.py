"""remoteuser-admin db stats (issue #20): the store-side figures of a
store httpd uses, exact after known traffic and known administrator
actions, in the table and in --json. The sessions the tool ends (session
revoke, revoke --user, revoke-all, user delete; user disable) are counted
by the store in the revocation's own transaction; those httpd ends (a
logout) are not (httpd's metrics count them). The same on PostgreSQL
through --store URI (pyrus.pg, the `pg` fixture)."""

import json
import subprocess

from pyrus.pg import PASSWORD
from pyrus import (ADMIN, cookie, login, login_location,
                   logout_location, remoteuser_location, run_admin,
                   sanitizer_env, token_of)

BODY = "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    logout_location("/logoutget", "RemoteUserLogoutAllowGet On"),
])

FIGURES = ("users", "groups", "sessions_active", "sessions_expired",
           "changes", "sessions_revoked_admin",
           "sessions_revoked_deactivation")


def table_of(text):
    """db stats' table as {FIGURE: int}; the header and the order are
    checked on the way."""
    lines = text.splitlines()
    assert lines[0].split() == ["FIGURE", "VALUE"], text
    rows = [line.split() for line in lines[1:]]
    assert [r[0] for r in rows] == list(FIGURES), text
    assert all(len(r) == 2 for r in rows), text
    return {r[0]: int(r[1]) for r in rows}


def test_db_stats_after_known_actions(scratch):
    h = scratch(BODY, users=["alice", "bob", "carol", "dave", "eve"])
    h.start()

    def adm(*args):
        r = run_admin(h, "--db", h.db_path, *args)
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        return r.stdout

    def stats():
        got = json.loads(adm("--json", "db", "stats"))
        assert got.pop("store") == h.db_path
        assert got.pop("backend") == "sqlite"
        assert table_of(adm("db", "stats")) == got
        return got

    assert stats() == dict.fromkeys(FIGURES, 0)

    tokens = {}
    for user, n in (("alice", 2), ("bob", 1), ("carol", 2), ("dave", 1)):
        tokens[user] = [token_of(login(h, user)) for _ in range(n)]
    adm("group", "add", "staff")
    adm("group", "add-member", "staff", "alice")
    # httpd's own revocation: a logout, not counted in the store
    assert h.get("/logoutget", cookie(tokens["alice"][0])).status == 302
    got = stats()
    assert got["sessions_active"] == 5
    assert got["sessions_revoked_admin"] == 0

    # the tool's: one session by id, --user (alice's last one), disable
    # (bob's one), delete (dave's one)
    carol = json.loads(adm("--json", "session", "list", "--user", "carol"))
    assert len(carol) == 2
    adm("session", "revoke", carol[0]["token_hash"][:16])
    assert json.loads(adm("--json", "session", "revoke", "--user",
                          "alice"))["revoked"] == 1
    assert json.loads(adm("--json", "user", "disable",
                          "bob"))["sessions_ended"] == 1
    adm("user", "delete", "dave")
    assert h.get("/app/env", cookie(tokens["dave"][0])).status == 302
    # carol's other one expired a minute ago (within the purge's grace of
    # an hour: not purged); eve logs in
    h.execute("UPDATE sessions SET expires_at ="
              " CAST(strftime('%s', 'now') AS INTEGER) - 60")
    token_of(login(h, "eve"))

    got = stats()
    assert got == {
        "users": 4,  # alice, bob (disabled), carol, eve
        "groups": 1,
        "sessions_active": 1,
        "sessions_expired": 1,
        "changes": h.rows("SELECT COUNT(*) AS n FROM changes")[0]["n"],
        "sessions_revoked_admin": 3,
        "sessions_revoked_deactivation": 1,
    }, got
    assert got["changes"] >= 6  # the logout, the revocations, the group
    # revoke-all reports (and counts) the expired row too
    assert json.loads(adm("--json", "session", "revoke-all"))["revoked"] == 2
    got = stats()
    assert (got["sessions_active"], got["sessions_expired"]) == (0, 0)
    assert got["sessions_revoked_admin"] == 5
    assert got["sessions_revoked_deactivation"] == 1
    # the rows the store keeps: bookkeeping, nothing in the change log
    assert {r["name"]: r["value"] for r in h.rows(
        "SELECT name, value FROM counters")} == {
            "revoked_admin": 5, "revoked_deactivation": 1}
    assert got["changes"] == h.rows(
        "SELECT COUNT(*) AS n FROM changes")[0]["n"]
    # httpd goes on with the store the tool counted in
    token_of(login(h, "carol"))
    assert stats()["sessions_active"] == 1


def test_db_stats_on_postgresql(pg, tmp_path):
    uri = pg.uri()
    env = dict(sanitizer_env(str(tmp_path), leaks=True),
               REMOTEUSER_APACHECTL="")
    env.pop("REMOTEUSER_STORE", None)

    def adm(*args):
        r = subprocess.run([ADMIN, "--store", uri] + list(args),
                           capture_output=True, text=True, timeout=60,
                           env=env)
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        assert PASSWORD not in r.stdout + r.stderr
        return r.stdout

    def stats():
        got = json.loads(adm("--json", "db", "stats"))
        assert got.pop("store") == uri.replace(":" + PASSWORD + "@",
                                               ":***@")
        assert got.pop("backend") == "postgresql"
        assert table_of(adm("db", "stats")) == got
        return got

    adm("db", "migrate")
    assert pg.value("SELECT version FROM rus_schema") == "4"
    assert stats() == dict.fromkeys(FIGURES, 0)
    for name in ("ann", "ben", "cy"):
        adm("user", "add", name)
    adm("group", "add", "ops")
    # sessions as httpd writes them: two of ann's, one of ben's, two of
    # cy's (one expired)
    pg.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
               " created_at, last_seen, expires_at)"
               " SELECT u.username || s.n, u.id, 'v:80', 10, 10,"
               " CASE WHEN s.n = 9 THEN 20 ELSE 4000000000 END"
               " FROM users u JOIN (VALUES ('ann', 1), ('ann', 2),"
               " ('ben', 1), ('cy', 1), ('cy', 9)) s (name, n)"
               " ON s.name = u.username")
    assert json.loads(adm("--json", "session", "revoke", "--user",
                          "ann"))["revoked"] == 2
    adm("user", "disable", "ben")
    adm("user", "delete", "cy")
    got = stats()
    assert got == {
        "users": 2, "groups": 1, "sessions_active": 0,
        "sessions_expired": 0,
        "changes": int(pg.value("SELECT count(*) FROM changes")),
        "sessions_revoked_admin": 4,  # ann's two, cy's two
        "sessions_revoked_deactivation": 1,
    }, got
    # ann's two, ben's one and his state, cy's live one and his row
    assert got["changes"] == 6
