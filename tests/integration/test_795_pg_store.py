"""One httpd on a PostgreSQL store (issue #18), the answer cache off: the
backend as a request sees it. A login makes a user row and a session row;
the cookie authenticates; a logout and a user disabled by psql are
refused at once; PostgreSQL stopped gives 503 (naming the store, never its
password) and the same httpd serves again once it is back. The two-host
and listener tests are test_800_pg_hosts.py."""

import os

import pytest

from pyrus import (Httpd, cookie, login, login_location, logout_location,
                   remoteuser_location, token_of)
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
