"""Regression tests for the second security review's finding 3: first
logins write (a user INSERT, a session INSERT), each write may wait up to
RemoteUserStoreBusyTimeout for the store's single write lock, and nothing
bounded how many workers waited at once, so a flood of first logins left
none for session cookies. Now at most RemoteUserStoreMaxWriters writes are
in flight per child; beyond it a login gets 503 at once (RUS00095,
Retry-After), and reads (the cookie path) never wait for a place.

The store's write lock is held from the test with BEGIN IMMEDIATE in a
connection of its own, as an admin tool or an sqlite3 shell would."""

import sqlite3
import threading
import time

import pytest

from pyrus import (Httpd, basic, cookie, location, login_location,
                   remoteuser_location, set_cookie, token_of)
from pyrus.fixtures import server_fixture, watched

CAP = 2
BUSY_MS = 8000
# requests sent at once while the lock is held: more than every child's
# places together (the harness's event MPM runs at most 2 children)
BURST = 10

CONF = "\n".join([
    "RemoteUserStoreMaxWriters %d" % CAP,
    remoteuser_location("/app/", "RemoteUserSession On"),
    remoteuser_location("/h/", "RemoteUserHeader X-Remote-User",
                        "RemoteUserTrustedProxy 127.0.0.1"),
    login_location(),
    location("/basic/", "RemoteUserEngine On", "RemoteUserSession On"),
    remoteuser_location("/hs/", "RemoteUserHeader X-Remote-User",
                        "RemoteUserTrustedProxy 127.0.0.1",
                        "RemoteUserSession On"),
])

USERS = ["u%02d" % i for i in range(BURST)] + ["alice"]


def make_server(mpm="event"):
    return Httpd(CONF, users=USERS, mpm=mpm, busy_timeout=BUSY_MS)


srv = server_fixture(make_server)


@pytest.fixture
def gate(srv):
    yield from watched(srv)


class Locked:
    """The store's write lock, held by another connection."""

    def __init__(self, h):
        self.con = sqlite3.connect(h.db_path, timeout=10,
                                   isolation_level=None)

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc):
        self.con.execute("ROLLBACK")
        self.con.close()


def burst(h, requests):
    """Send every (path, headers) at once; (status, seconds, Retry-After)
    of each, in order."""
    out = [None] * len(requests)

    def one(i, path, headers):
        t0 = time.monotonic()
        r = h.get(path, headers)
        out[i] = (r.status, time.monotonic() - t0,
                  r.headers.get("Retry-After"))

    threads = [threading.Thread(target=one, args=(i, p, hd))
               for i, (p, hd) in enumerate(requests)]
    for t in threads:
        t.start()
    return threads, out


def check_burst(out, hold):
    """Beyond the places, 503 at once with Retry-After; the writers that
    got a place waited for the lock and then succeeded."""
    fast = [o for o in out if o[0] == 503]
    waited = [o for o in out if o[0] != 503]
    assert fast and waited, out
    # at most CAP places per child, at most 2 children
    assert len(waited) <= 2 * CAP, out
    assert len(fast) >= BURST - 2 * CAP, out
    for status, seconds, retry in fast:
        assert seconds < 1.5, out  # not the busy timeout (8 s)
        assert retry == "1", out
    for status, seconds, retry in waited:
        assert status in (200, 302), out
        assert seconds >= hold - 0.5, out  # they waited for the lock


def test_first_logins_beyond_the_cap_get_503_at_once(gate):
    gate.allow("RUS00095")
    # a session to use while the writers are queueing
    r = gate.get("/login", basic("alice"))
    assert r.status == 302
    token = token_of(r)
    hold = 2.0
    with Locked(gate):
        threads, out = burst(gate, [
            ("/h/env", {"X-Remote-User": "flood%02d" % i})
            for i in range(BURST)])
        time.sleep(0.5)
        # the cookie path reads: it does not wait for the lock nor for a
        # place, although every place is taken
        t0 = time.monotonic()
        r = gate.get("/app/env", cookie(token))
        assert r.status == 200 and r.env["REMOTE_USER"] == "alice"
        assert time.monotonic() - t0 < 1.5
        time.sleep(hold - 0.5)
    for t in threads:
        t.join()
    check_burst(out, hold)
    assert "RUS00095" in gate.new_log()
    # the refused names were not created, the waiting ones were
    made = {r["username"] for r in gate.rows(
        "SELECT username FROM users WHERE username LIKE 'flood%'")}
    assert len(made) == len([o for o in out if o[0] == 200]), (made, out)


def test_session_inserts_beyond_the_cap_get_503_at_once(gate):
    gate.allow("RUS00095")
    # the users exist and logged in moments ago: a login only inserts its
    # session (last_login is not due)
    for i in range(BURST):
        assert gate.get("/login", basic("u%02d" % i)).status == 302
    before = gate.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"]
    hold = 2.0
    with Locked(gate):
        threads, out = burst(gate, [("/login", basic("u%02d" % i))
                                    for i in range(BURST)])
        time.sleep(hold)
    for t in threads:
        t.join()
    check_burst(out, hold)
    after = gate.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"]
    assert after - before == len([o for o in out if o[0] == 302]), out


def test_no_gate_without_contention(gate):
    # one writer at a time never meets the cap
    for i in range(3 * CAP):
        r = gate.get("/h/env", {"X-Remote-User": "calm%02d" % i})
        assert r.status == 200, r.body


@pytest.mark.parametrize("path,identity", [
    ("/basic/env", lambda: basic("alice")),
    ("/hs/env", lambda: {"X-Remote-User": "alice"}),
])
def test_authenticated_again_with_a_valid_session_mints_none(gate, path,
                                                             identity):
    """The front end (or the header) authenticates every request; a client
    that already holds a valid session for that same user gets no new
    one: no new row, no Set-Cookie."""
    r = gate.get(path, identity())
    assert r.status == 200
    token = token_of(r)
    n = gate.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"]
    for _ in range(5):
        r = gate.get(path, dict(identity(), **cookie(token)))
        assert r.status == 200 and r.env["REMOTE_USER"] == "alice"
        assert set_cookie(r) is None
    assert gate.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"] == n


def test_max_writers_is_checked(scratch):
    for bad in ("-1", "x", "100001", "2 3"):
        h = scratch("RemoteUserStoreMaxWriters %s" % bad)
        r = h.configtest()
        assert r.returncode != 0, bad
        assert "RemoteUserStoreMaxWriters" in r.stderr, r.stderr
    h = scratch("<VirtualHost 127.0.0.1:80>\n"
                "RemoteUserStoreMaxWriters 3\n</VirtualHost>")
    assert h.configtest().returncode != 0
    assert scratch("RemoteUserStoreMaxWriters 0").configtest().returncode == 0
