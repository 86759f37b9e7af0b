"""Two httpd hosts A and B on one PostgreSQL store (issue #18), each with
its answer cache on (RemoteUserCacheTTL 60: a stale answer would live a
minute) and its listener (one thread in one child per host, LISTEN
rus_changes, application_name remoteuser-session-listener), as a user
behind a load balancer sees them:

- a login on A gives a cookie that B takes;
- a logout on B, and a user disabled by psql, are refused by the other
  host (both hosts) within 100 ms, after its cache was warmed: the delays
  are measured and printed (pytest -s shows them);
- the control: the same psql change with the triggers disabled is not
  seen for a second, so the warmed cache was serving, and the invalidation
  is what the other tests see;
- 40 first logins of one new user at once over both hosts: one user row,
  40 sessions;
- PostgreSQL stopped: 503 on both hosts within a second, nothing served
  from the caches, a log line naming the store masked; started again: both
  serve, without an httpd restart, and invalidate again;
- the listeners' backends killed: invalidation goes on (the delay, with
  the reconnection, printed);
- a failover URI whose first host is down; configtest and startup without
  a server; never the password in a log.

The hosts share sessions by RemoteUserSessionScope (they listen on two
ports of one machine; behind a load balancer they would share a name)."""

import concurrent.futures
import os
import re
import subprocess
import threading
import time

import pytest

from pyrus import (Httpd, basic, cookie, free_port, login, login_location,
                   logout_location, remoteuser_location, token_of)
from pyrus.pg import PASSWORD, SUPERUSER, available

pytestmark = pytest.mark.skipif(not available(),
                                reason="no PostgreSQL server programs")

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "newbie"]

CONF = "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    logout_location(),
    "RemoteUserSessionScope fleet",
    # 40 sessions of one user, 20 logins at once per host
    "RemoteUserSessionMaxPerUser 0",
    "RemoteUserStoreMaxWriters 0",
])

# What a request of a valid session gets on a path with nothing behind it
# (cheaper than the CGI, so the polls below look every millisecond or two);
# a refused one is sent to the login page (302) or refused (403).
SERVED = 404
PROBE = "/app/nothing"

# The bound for a change to reach the other hosts.
BOUND = 0.100

MASKED = "postgresql://rus:***@127.0.0.1:%d/rus"


class Psql:
    """One psql session as the superuser, kept open: what a DBA typing in
    psql does, without a process start per statement. run() returns once
    the statement has committed."""

    def __init__(self, pg):
        self.proc = subprocess.Popen(
            [os.path.join(pg.bin, "psql"), "-X", "-q", "-At", "-v",
             "ON_ERROR_STOP=1", "-h", pg.sock, "-p", str(pg.port), "-U",
             SUPERUSER, "-d", "rus"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1)
        self.run("SELECT 1")

    def run(self, sql):
        self.proc.stdin.write(sql + ";\n\\echo psql-done\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            assert line, "psql exited: %s" % sql
            if line.strip() == "psql-done":
                return

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def psql(pg):
    p = Psql(pg)
    yield p
    p.close()


def host(scratch, store, cache_ttl=60):
    return scratch(CONF, store=store, users=USERS, cache_ttl=cache_ttl)


def no_password(*hosts):
    for h in hosts:
        for name in os.listdir(os.path.join(h.root, "logs")):
            with open(os.path.join(h.root, "logs", name),
                      errors="replace") as f:
                assert PASSWORD not in f.read(), name


def listeners(pg):
    return len(pg.rows("SELECT pid FROM pg_stat_activity WHERE "
                       "application_name = 'remoteuser-session-listener'"))


def following(pg, n, timeout=5):
    """Wait until `n` hosts' listeners follow the store: their caches are
    then in use (a feed publishes within a turn, 250 ms, of opening)."""
    deadline = time.time() + timeout
    while listeners(pg) < n:
        assert time.time() < deadline, "%d listeners" % listeners(pg)
        time.sleep(0.02)
    time.sleep(0.3)


@pytest.fixture
def hosts(pg, scratch):
    """A and B, both following the store."""
    a = host(scratch, pg.uri())
    b = host(scratch, pg.uri())
    a.start()
    b.start()
    following(pg, 2)
    yield a, b
    no_password(a, b)


def warm(h, token, n=16):
    """Ask `n` times for the session of `token`, each over a connection of
    its own: its answer is cached, and the children that will answer the
    polls have their connections open (prefork has four)."""
    for _ in range(n):
        r = h.get(PROBE, cookie(token))
        assert r.status == SERVED, r.status


def refused_after(h, token, start, limit=5.0):
    """Poll `h` with `token` until it is refused; the seconds since
    `start` (time.monotonic()) when it first was, and the statuses."""
    seen = []
    while True:
        r = h.get(PROBE, cookie(token))
        now = time.monotonic()
        seen.append(r.status)
        if r.status != SERVED:
            return now - start, seen
        assert now - start < limit, "never refused: %s" % seen[-5:]


def stale_window(h, token, start, limit=5.0):
    """As refused_after(), but the seconds from `start` to the start of
    the last request answered as before (0.0 when none was): how long a
    stale answer could be had, whatever time a request then waited for a
    child to take it (prefork makes new children once a second)."""
    seen, last_stale = [], None
    while True:
        sent = time.monotonic()
        r = h.get(PROBE, cookie(token))
        seen.append(r.status)
        if r.status != SERVED:
            return (0.0 if last_stale is None else last_stale - start), seen
        last_stale = sent
        assert sent - start < limit, "never refused: %s" % seen[-5:]


def race(fns):
    """Run the functions at once; their results."""
    with concurrent.futures.ThreadPoolExecutor(len(fns)) as ex:
        return [f.result() for f in [ex.submit(fn) for fn in fns]]


def report(what, delay):
    print("\n%s: %.1f ms" % (what, delay * 1000))


def test_login_on_a_cookie_on_b(pg, hosts):
    a, b = hosts
    tok = token_of(login(a, "alice"))
    r = b.get("/app/env", cookie(tok))
    assert r.status == 200, r.body
    assert r.env["REMOTE_USER"] == "alice"
    assert pg.rows("SELECT username, is_active::text FROM users") == [
        ("alice", "true")]
    assert pg.value("SELECT count(*) FROM sessions") == "1"


def logout_delays(a, b, users):
    """Log each of `users` in on A, warm both caches, log out on B; how
    long A took to refuse the cookie, each."""
    delays = []
    for user in users:
        tok = token_of(login(a, user))
        warm(a, tok)
        warm(b, tok)
        r = b.get("/logout", cookie(tok), method="POST")
        t0 = time.monotonic()
        assert r.status in (200, 302, 303), r.status
        assert b.get(PROBE, cookie(tok)).status == 302  # its own, at once
        delay, seen = refused_after(a, tok, t0)
        assert seen[-1] == 302, seen
        delays.append(delay)
    return delays


def disable_delays(a, b, psql, users):
    """Log each of `users` in on B, warm both caches, disable the user
    with psql; how long the slower host took to refuse the cookie,
    each."""
    delays = []
    for user in users:
        tok = token_of(login(b, user))
        warm(a, tok)
        warm(b, tok)
        t0 = time.monotonic()
        psql.run("UPDATE users SET is_active = false WHERE username = '%s'"
                 % user)
        (da, sa), (db, sb) = race([lambda: refused_after(a, tok, t0),
                                   lambda: refused_after(b, tok, t0)])
        assert sa[-1] in (302, 403) and sb[-1] in (302, 403), (sa, sb)
        delays.append(max(da, db))
    return delays


def test_logout_on_b_refused_on_a(pg, hosts):
    a, b = hosts
    delays = logout_delays(a, b, ("bob", "carol", "dave"))
    report("logout on B refused on A, worst of %d" % len(delays),
           max(delays))
    assert max(delays) < BOUND, delays


def test_disabled_by_psql_refused_on_both(pg, hosts, psql):
    a, b = hosts
    delays = disable_delays(a, b, psql, ("erin", "frank"))
    report("disabled by psql, refused on both hosts, worst", max(delays))
    assert max(delays) < BOUND, delays


def test_prefork_hosts(pg, scratch, psql):
    """The same with mpm_prefork: four children per host, of which one
    follows the store."""
    a = scratch(CONF, store=pg.uri(), users=USERS, cache_ttl=60,
                mpm="prefork")
    b = scratch(CONF, store=pg.uri(), users=USERS, cache_ttl=60,
                mpm="prefork")
    a.start()
    b.start()
    following(pg, 2)
    delays = logout_delays(a, b, ("bob", "carol"))
    delays += disable_delays(a, b, psql, ("erin", "frank"))
    report("prefork: logout and psql disable, worst", max(delays))
    assert max(delays) < BOUND, delays
    no_password(a, b)


def test_control_without_the_log_the_cache_serves(pg, hosts, psql):
    """The same change with the change log's triggers disabled: the
    warmed caches go on answering for a second (the change reaches them
    only at a miss), which is what the two tests above would see without
    the listener and the change log; then the hosts' statistics show that
    the cache served."""
    a, b = hosts
    tok = token_of(login(a, "alice"))
    warm(a, tok)
    warm(b, tok)
    psql.run("ALTER TABLE users DISABLE TRIGGER USER")
    psql.run("UPDATE users SET is_active = false WHERE username = 'alice'")
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        assert a.get(PROBE, cookie(tok)).status == SERVED
        assert b.get(PROBE, cookie(tok)).status == SERVED
    psql.run("ALTER TABLE users ENABLE TRIGGER USER")
    a.stop()
    b.stop()
    for h in (a, b):
        hits = [int(m) for m in re.findall(
            r"RUS00196: answer cache in this child: (\d+) hits",
            h.error_log())]
        assert sum(hits) > 10, h.error_log()


def test_40_first_logins_over_both_hosts(pg, hosts):
    a, b = hosts
    go = threading.Event()

    def one(h):
        go.wait()
        return h.get("/login?next=/app/env", basic("newbie"))

    with concurrent.futures.ThreadPoolExecutor(40) as ex:
        futs = [ex.submit(one, a if i % 2 else b) for i in range(40)]
        go.set()
        got = [f.result() for f in futs]
    assert [r.status for r in got] == [302] * 40, [r.status for r in got]
    assert pg.value("SELECT count(*) FROM users "
                    "WHERE username = 'newbie'") == "1"
    assert pg.value("SELECT count(*) FROM sessions s JOIN users u "
                    "ON u.id = s.user_id WHERE u.username = 'newbie'") == "40"
    # every cookie works on the other host
    toks = [token_of(r) for r in got]
    assert len(set(toks)) == 40
    for i, t in enumerate(toks[:6]):
        assert (b if i % 2 else a).get(PROBE, cookie(t)).status == SERVED


def test_children_come_and_go(pg, scratch, psql):
    """Children that exit (MaxConnectionsPerChild) give the lease up, and
    another child of the host follows at once: one listener per host at
    any time, and every change still refused within the bound."""
    a = scratch(CONF + "\nMaxConnectionsPerChild 10", store=pg.uri(),
                users=USERS, cache_ttl=60, mpm="prefork")
    b = host(scratch, pg.uri())
    a.start()
    b.start()
    following(pg, 2)
    worst, most = 0.0, 0
    for user in ("alice", "bob", "carol", "dave"):
        tok = token_of(login(b, user))
        warm(a, tok)
        most = max(most, listeners(pg))
        t0 = time.monotonic()
        psql.run("UPDATE users SET is_active = false WHERE username = '%s'"
                 % user)
        # the children exit in bursts here, and a request may wait up to
        # a second for prefork to make the next: what counts is that no
        # request that started later than the bound got the old answer
        delay, seen = stale_window(a, tok, t0)
        assert seen[-1] in (302, 403), seen
        worst = max(worst, delay)
        most = max(most, listeners(pg))
    report("prefork children exiting every 10 connections, stale answers "
           "up to", worst)
    assert worst < BOUND, worst
    assert most <= 2, most
    # children did exit meanwhile (each says how its cache served)
    assert a.error_log().count("RUS00196") >= 3, a.error_log()
    no_password(a, b)


def test_postgres_stopped_503_then_back(pg, hosts, psql):
    a, b = hosts
    tok = token_of(login(a, "alice"))
    warm(a, tok)
    warm(b, tok)
    psql.close()
    pg.stop()
    t0 = time.monotonic()
    try:
        (da, sa), (db, sb) = race([lambda: refused_after(a, tok, t0),
                                   lambda: refused_after(b, tok, t0)])
        report("PostgreSQL stopped, 503 on both hosts, worst", max(da, db))
        assert sa[-1] == 503 and sb[-1] == 503, (sa, sb)
        assert max(da, db) < 1.0, (da, db)
        # and nothing from the caches afterwards
        for h in (a, b):
            seen = [h.get(PROBE, cookie(tok)).status for _ in range(20)]
            assert seen == [503] * 20, seen
    finally:
        pg.start()
    t1 = time.monotonic()
    for h in (a, b):
        deadline = time.time() + 10
        while h.get(PROBE, cookie(tok)).status != SERVED:
            assert time.time() < deadline, "never served again"
            time.sleep(0.02)
    report("PostgreSQL started again, both hosts serve after",
           time.monotonic() - t1)
    for h in (a, b):
        log = h.error_log()
        assert re.search(r"RUS000(09|10|23): .*\(unreachable\).*"
                         + re.escape(MASKED % pg.port), log), log
        assert "RUS00120" in log, log
        assert h.wait_log("RUS00121", timeout=5) or "RUS00121" in log
    # the listeners are back: invalidation works again
    p = Psql(pg)
    try:
        warm(a, tok)
        warm(b, tok)
        t0 = time.monotonic()
        p.run("UPDATE users SET is_active = false WHERE username = 'alice'")
        (da, _), (db, _) = race([lambda: refused_after(a, tok, t0),
                                 lambda: refused_after(b, tok, t0)])
        report("after the restart, disabled by psql refused, worst",
               max(da, db))
        assert max(da, db) < BOUND, (da, db)
    finally:
        p.close()


def test_listener_killed_invalidation_goes_on(pg, hosts, psql):
    a, b = hosts
    tok = token_of(login(a, "bob"))
    warm(a, tok)
    warm(b, tok)
    killed = pg.rows("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE application_name = "
                     "'remoteuser-session-listener'")
    assert len(killed) == 2, killed  # one per host
    t0 = time.monotonic()
    psql.run("UPDATE users SET is_active = false WHERE username = 'bob'")
    (da, sa), (db, sb) = race([lambda: refused_after(a, tok, t0),
                               lambda: refused_after(b, tok, t0)])
    report("listeners killed, then disabled by psql: refused on both, "
           "worst (reconnection included)", max(da, db))
    assert sa[-1] in (302, 403) and sb[-1] in (302, 403), (sa, sb)
    assert max(da, db) < BOUND, (da, db)
    # both listen again, and keep invalidating
    following(pg, 2)
    tok = token_of(login(b, "carol"))
    warm(a, tok)
    warm(b, tok)
    t0 = time.monotonic()
    psql.run("UPDATE users SET is_active = false WHERE username = 'carol'")
    (da, _), (db, _) = race([lambda: refused_after(a, tok, t0),
                             lambda: refused_after(b, tok, t0)])
    report("listeners back, disabled by psql, worst", max(da, db))
    assert max(da, db) < BOUND, (da, db)


def test_failover_uri_first_host_down(pg, scratch, psql):
    dead = free_port()
    uri = "postgresql://rus:%s@127.0.0.1:%d,127.0.0.1:%d/rus" % (
        PASSWORD, dead, pg.port)
    a = host(scratch, uri)
    b = host(scratch, pg.uri())
    a.start()
    b.start()
    following(pg, 2)
    tok = token_of(login(a, "alice"))
    r = b.get("/app/env", cookie(tok))
    assert r.status == 200 and r.env["REMOTE_USER"] == "alice"
    warm(a, tok)
    t0 = time.monotonic()
    psql.run("UPDATE users SET is_active = false WHERE username = 'alice'")
    delay, _ = refused_after(a, tok, t0)
    assert delay < BOUND, delay
    assert "127.0.0.1:%d,127.0.0.1:%d" % (dead, pg.port) in a.error_log()
    no_password(a, b)


def test_configtest_and_start_without_a_server(pg, scratch):
    pg.stop()
    try:
        h = host(scratch, pg.uri())
        r = h.configtest()
        assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr
        assert PASSWORD not in r.stdout + r.stderr
        # httpd starts, says why the store cannot be used, answers 503
        h.start()
        log = h.error_log()
        assert "RUS00123" in log and MASKED % pg.port in log, log
        r = h.get("/login?next=/app/env", basic("alice"))
        assert r.status == 503, r.status
    finally:
        pg.start()
    # the server there: the schema is made by the first connection
    deadline = time.time() + 10
    while True:
        r = h.get("/login?next=/app/env", basic("alice"))
        if r.status == 302:
            break
        assert r.status == 503 and time.time() < deadline, r.status
        time.sleep(0.05)
    assert h.get("/app/env", cookie(token_of(r))).status == 200
    assert pg.value("SELECT version FROM rus_schema") is not None
    no_password(h)
