"""One httpd on a PostgreSQL store (issue #18), the answer cache off: the
backend as a request sees it. A login makes a user row and a session row;
the cookie authenticates; a logout and a user disabled by psql are
refused at once; PostgreSQL stopped gives 503 (naming the store, never its
password) and the same httpd serves again once it is back; what a login
says about its user (issue #19) lands in the new columns and tables. The
two-host and listener tests are test_800_pg_hosts.py."""

import os

import pytest

from pyrus import (Httpd, cookie, location, login, login_location,
                   logout_location, remoteuser_location, token_of)
from pyrus.pg import available, PASSWORD

pytestmark = pytest.mark.skipif(not available(),
                                reason="no PostgreSQL server programs")

CONF = "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    logout_location(),
])


def error_log(h):
    with open(os.path.join(h.root, "logs", "error.log")) as f:
        return f.read()


@pytest.fixture
def srv(pg, scratch):
    h = scratch(CONF, store=pg.uri(), users=["alice", "bob"])
    h.start()
    yield h
    h.stop()


def test_pg_login_cookie_logout(pg, srv):
    r = login(srv, "alice")
    tok = token_of(r)
    assert pg.rows("SELECT username, is_active FROM users") == [
        ("alice", "t")]
    assert pg.value("SELECT count(*) FROM sessions") == "1"
    r = srv.get("/app/env", cookie(tok))
    assert r.status == 200, r.body
    assert b"REMOTE_USER=alice" in r.body
    r = srv.get("/logout", cookie(tok), method="POST")
    assert r.status in (200, 302, 303), r.status
    assert pg.value("SELECT count(*) FROM sessions") == "0"
    assert srv.get("/app/env", cookie(tok)).status != 200
    assert PASSWORD not in error_log(srv)


def test_pg_disabled_by_psql(pg, srv):
    tok = token_of(login(srv, "bob"))
    assert srv.get("/app/env", cookie(tok)).status == 200
    pg.execute("UPDATE users SET is_active = false WHERE username = 'bob'")
    assert srv.get("/app/env", cookie(tok)).status != 200
    # the log has it, for the other hosts' caches
    assert int(pg.value("SELECT count(*) FROM changes")) >= 1


def test_pg_down_503_then_back(pg, srv):
    tok = token_of(login(srv, "alice"))
    assert srv.get("/app/env", cookie(tok)).status == 200
    pg.stop()
    try:
        statuses = [srv.get("/app/env", cookie(tok)).status
                    for _ in range(3)]
        assert statuses == [503] * 3, statuses
    finally:
        pg.start()
    assert srv.get("/app/env", cookie(tok)).status == 200
    log = error_log(srv)
    assert "postgresql://rus:***@127.0.0.1:%d/rus" % pg.port in log, log
    assert PASSWORD not in log


PROFILE_CONF = location(
    "/login/", "RemoteUserEngine On", "RemoteUserSession On",
    "RemoteUserHeader X-Auth-User", "RemoteUserTrustedProxy 127.0.0.1",
    "RemoteUserAttribute email header:X-Email",
    "RemoteUserAttribute last_name header:X-Last",
    "RemoteUserAttribute title header:X-Title",
    "RemoteUserGroupsFrom header:X-Groups")


def test_pg_login_profile_in_the_tables(pg, scratch):
    """A login's profile, as psql sees it: users.email and last_name,
    a user_attributes row, the groups created and user_groups rows of
    origin 'frontend'; the next login's changes replace them (an
    administrator's membership added by psql kept), each logged; a
    session request shows the stored values."""
    h = scratch(PROFILE_CONF, store=pg.uri(), users=["alice"])
    h.start()
    r = h.get("/login/env", {"X-Auth-User": "alice",
                             "X-Email": "alice@example.com",
                             "X-Last": "Liddell", "X-Title": "CTO",
                             "X-Groups": "red,green"})
    assert r.status == 200, r.body
    assert pg.rows("SELECT email, first_name, last_name FROM users"
                   " WHERE username = 'alice'") == [
        ("alice@example.com", "", "Liddell")]
    assert pg.rows("SELECT name, value FROM user_attributes") == [
        ("title", "CTO")]
    members = ("SELECT g.name, ug.origin FROM user_groups ug"
               " JOIN groups g ON g.id = ug.group_id ORDER BY g.name")
    assert pg.rows(members) == [("green", "frontend"), ("red", "frontend")]
    pg.execute("INSERT INTO groups (name) VALUES ('ops');"
               " INSERT INTO user_groups (user_id, group_id)"
               " SELECT u.id, g.id FROM users u, groups g"
               " WHERE g.name = 'ops'")
    before = int(pg.value("SELECT count(*) FROM changes"))
    r = h.get("/login/env", {"X-Auth-User": "alice",
                             "X-Email": "alice@example.org",
                             "X-Title": "", "X-Groups": "green,blue"})
    assert r.status == 200, r.body
    tok = token_of(r)
    assert pg.rows("SELECT email, last_name FROM users") == [
        ("alice@example.org", "Liddell")]
    assert pg.rows("SELECT count(*) FROM user_attributes") == [("0",)]
    assert pg.rows(members) == [("blue", "frontend"), ("green", "frontend"),
                                ("ops", "admin")]
    assert int(pg.value("SELECT count(*) FROM changes")) > before
    r = h.get("/login/env", cookie(tok))
    assert r.status == 200, r.body
    assert r.env["REMOTE_USER_SOURCE"] == "session"
    assert r.env["REMOTE_USER_EMAIL"] == "alice@example.org"
    assert r.env["REMOTE_USER_LAST_NAME"] == "Liddell"
    assert "REMOTE_USER_ATTR_TITLE" not in r.env
    assert r.env["REMOTE_USER_GROUPS"] == "blue,green,ops"
