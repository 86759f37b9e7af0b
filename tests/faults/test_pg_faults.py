"""PostgreSQL restarted under load (issue #18): an httpd on a PostgreSQL
store of the tests' own (pyrus.pg) answers a bounded load of first logins
and session requests from Python threads on 127.0.0.1, each request and
its answer recorded, while the server is restarted, once with a fast
shutdown and once with an immediate one (a crash, then recovery), under
mpm_event, and with an immediate one under prefork (a dozen children,
one of them the host's listener). The answer cache is on, as deployed.

Afterwards:

- no row lost: every login answered 302 with a Set-Cookie has its user row
  and the cookie's session row; every session request answered 200 carried
  a cookie of a session in the store (preloaded, or issued by a login of
  the load), and a cookie of no session never got 200;
- the database is sound: pg_amcheck (the amcheck extension, every table
  and index, heap against indexes) reports nothing; no duplicate user
  name, no orphan session or membership;
- the requests that failed failed the right way: 503, each child logging
  the store as unreachable with its password masked; no 500, no child
  crashed, no connection dropped; and requests are served again after the
  restart without restarting httpd.

The database's synchronous_commit is on (the tests' server has it off):
an immediate shutdown is a crash, and a commit acknowledged but not yet
written could otherwise be lost by the server, whatever the module did.

Each test prints one line of figures (requests, failures and why) that the
issue note quotes."""

import base64
import collections
import http.client
import os
import random
import re
import subprocess
import threading
import time

import pytest

from pyrus import pg as pyrus_pg
from pyrus import preload_pg, stored_hash
from pyrus.faults import COOKIE, SEED, token

pytestmark = pytest.mark.skipif(not pyrus_pg.available(),
                                reason="no PostgreSQL server programs")

SESSIONS = 200    # preloaded sessions the session requests cycle through
THREADS = 8       # client threads, one keep-alive connection each
LOAD_SECONDS = 10
RESTART_AT = 3.5  # seconds into the load
LOG_LEVEL = re.compile(r"\[(?:[a-z_]+:)?(emerg|alert|crit|error|warn)\]")
LOG_IDS = re.compile(r"\b(RUS\d{5}):")


def basic_header(name):
    return "Basic " + base64.b64encode(("%s:x" % name).encode()).decode()


class Load:
    """THREADS threads, each on one keep-alive connection (a new one after
    a failure), for `seconds`: 1 in 4 a first login of a new name, 1 in
    10 a session request with a cookie of no session, the rest session
    requests with a preloaded cookie or one a login of this thread got.
    Every request is recorded: (kind, status or the exception's name,
    cookie sent or issued, user name)."""

    def __init__(self, h, seconds):
        self.h = h
        self.seconds = seconds
        self.records = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,),
                                         daemon=True)
                        for i in range(THREADS)]
        self.t0 = time.time()
        for t in self.threads:
            t.start()

    def run(self, n):
        rnd = random.Random(n)
        own = []  # cookies this thread's logins got
        mine = []
        conn = None
        i = 0
        deadline = self.t0 + self.seconds
        while time.time() < deadline:
            i += 1
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.h.port,
                                                  timeout=15)
            if i % 4 == 0:
                kind, name = "login", "t%d-%d" % (n, i)
                path, headers = "/login", {
                    "Authorization": basic_header(name)}
                cookie = None
            else:
                name = None
                if i % 10 == 1:
                    kind = "bogus"
                    cookie = base64.urlsafe_b64encode(os.urandom(32)) \
                        .decode().rstrip("=")
                elif own and i % 3 == 0:
                    kind, cookie = "issued", rnd.choice(own)
                else:
                    kind = "preloaded"
                    cookie = token(rnd.randint(1, SESSIONS))[0]
                path = "/app/file.txt"
                headers = {"Cookie": "%s=%s" % (COOKIE, cookie)}
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if kind == "login":
                    m = re.search(r"%s=([A-Za-z0-9_-]{43})" % COOKIE,
                                  resp.getheader("Set-Cookie") or "")
                    cookie = m.group(1) if m else None
                    if status == 302 and cookie:
                        own.append(cookie)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
                conn.close()
                conn = None
            mine.append((time.time() - self.t0, kind, status, cookie, name))
        if conn is not None:
            conn.close()
        with self.lock:
            self.records += mine

    def result(self):
        for t in self.threads:
            t.join(timeout=self.seconds + 60)
        return self.records


def in_store(pg, hashes):
    """The token hashes of `hashes` that are session rows."""
    found = set()
    hashes = sorted(hashes)
    for k in range(0, len(hashes), 500):
        part = hashes[k:k + 500]
        found.update(r[0] for r in pg.rows(
            "SELECT token_hash FROM sessions WHERE token_hash IN (%s)"
            % ",".join("'%s'" % x for x in part)))
    return found


def users_in_store(pg, names):
    found = set()
    names = sorted(names)
    for k in range(0, len(names), 500):
        part = names[k:k + 500]
        found.update(r[0] for r in pg.rows(
            "SELECT username FROM users WHERE username IN (%s)"
            % ",".join("'%s'" % x for x in part)))
    return found


def pg_amcheck(pg):
    """pg_amcheck on database rus, as the superuser over the socket: every
    table and B-tree index, and each heap against its indexes. (exit
    status, what it printed)."""
    pg.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    r = subprocess.run(
        [os.path.join(pg.bin, "pg_amcheck"), "-h", pg.sock, "-p",
         str(pg.port), "-U", pyrus_pg.SUPERUSER, "--heapallindexed",
         "--parent-check", "--rootdescend", "--no-dependent-toast",
         pyrus_pg.DBNAME],
        capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout + r.stderr


def consistency(pg):
    """Duplicate user names, orphan sessions, orphan memberships: each a
    list of rows, all empty in a sound store."""
    return {
        "duplicate users": pg.rows(
            "SELECT username FROM users GROUP BY username "
            "HAVING COUNT(*) > 1"),
        "orphan sessions": pg.rows(
            "SELECT s.token_hash FROM sessions s LEFT JOIN users u "
            "ON u.id = s.user_id WHERE u.id IS NULL"),
        "orphan memberships": pg.rows(
            "SELECT m.user_id, m.group_id FROM user_groups m "
            "LEFT JOIN users u ON u.id = m.user_id "
            "LEFT JOIN groups g ON g.id = m.group_id "
            "WHERE u.id IS NULL OR g.id IS NULL"),
    }


def problem_lines(log):
    """The error log's lines at warn level or worse."""
    return [line for line in log.splitlines() if LOG_LEVEL.search(line)]


# prefork: several children, one of which holds the host's listener (the
# lease), and each its own connections
@pytest.mark.parametrize("mode,mpm", [("fast", "event"),
                                      ("immediate", "event"),
                                      ("immediate", "prefork")])
def test_pg_restart_under_load(fault_server, pg, mode, mpm):
    pg.execute("ALTER DATABASE %s SET synchronous_commit = on"
               % pyrus_pg.DBNAME, db="postgres")
    # the answer cache as deployed (the module's default TTL): the host's
    # listener and its board are under the fault too
    h = fault_server(store=pg.uri(), cache_ttl=None, mpm=mpm).start()
    # the vhost key of this server's sessions, off one the module made
    r = h.get("/login", {"Authorization": basic_header("preload")})
    assert r.status == 302, (r.status, h.error_log())
    vhost = pg.value("SELECT vhost FROM sessions")
    preload_pg(pg, pyrus_pg.DBNAME, SESSIONS, vhost, SEED)
    assert h.get("/app/file.txt", {"Cookie": "%s=%s" % (
        COOKIE, token(1)[0])}).status == 200

    load = Load(h, LOAD_SECONDS)
    time.sleep(RESTART_AT)
    t_down = time.time() - load.t0
    pg.restart(mode)
    t_up = time.time() - load.t0
    children = len(h.children())
    records = load.result()
    # served again after the restart, without an httpd restart; then the
    # children exit, with their held-back failure counts (RUS00106)
    r = h.get("/login", {"Authorization": basic_header("afterwards")})
    assert r.status == 302, r.status
    h.stop()
    log = h.error_log()

    statuses = collections.Counter(str(r[2]) for r in records)
    by_kind = collections.Counter((r[1], str(r[2])) for r in records)
    logins = [r for r in records if r[1] == "login" and r[2] == 302]
    no_cookie = [r for r in logins if not r[3]]
    cookies_ok = [r for r in records
                  if r[1] in ("preloaded", "issued") and r[2] == 200]
    bogus_ok = [r for r in records if r[1] == "bogus" and r[2] == 200]
    failed = [r for r in records
              if not (r[2] in (200, 302) or (r[1] == "bogus"
                                             and r[2] == 401))]
    after = [r for r in records if r[0] > t_up + 1.0
             and r[1] != "bogus"]
    problems = problem_lines(log)
    ids = collections.Counter(m for line in problems
                              for m in LOG_IDS.findall(line)[:1])
    samples = {}
    for line in problems:
        found = LOG_IDS.findall(line)
        if found and found[0] not in samples:
            samples[found[0]] = line.split("] ", 3)[-1][:300]

    # the database, looked at with the server up again
    missing_users = set(r[4] for r in logins) - users_in_store(
        pg, set(r[4] for r in logins))
    issued = set(stored_hash(r[3]) for r in logins if r[3])
    missing_sessions = issued - in_store(pg, issued)
    used = set(stored_hash(r[3]) for r in cookies_ok)
    unknown_used = used - in_store(pg, used)
    rc, amcheck = pg_amcheck(pg)
    unsound = {k: v for k, v in consistency(pg).items() if v}

    print("\nPostgreSQL %s restart under load, mpm_%s, %d children (down at "
          "%.1f s, up at %.1f s "
          "of %d s): %d requests, %d logins answered 302, %d session "
          "requests answered 200; failed %d: %s; log ids at warn or worse: "
          "%s; store: %s users, %s sessions; pg_amcheck exit %d%s"
          % (mode, mpm, children, t_down, t_up, LOAD_SECONDS, len(records),
             len(logins),
             len(cookies_ok), len(failed),
             dict(collections.Counter("%s %s" % (r[1], r[2])
                                      for r in failed)),
             dict(ids), pg.value("SELECT COUNT(*) FROM users"),
             pg.value("SELECT COUNT(*) FROM sessions"), rc,
             (": " + amcheck.strip()) if amcheck.strip() else ""))
    for k in sorted(samples):
        print("  %s" % samples[k])

    assert len(logins) > 100 and len(cookies_ok) > 300, dict(by_kind)
    # no row lost, no session invented
    assert no_cookie == [], no_cookie[:5]
    assert missing_users == set(), sorted(missing_users)[:10]
    assert missing_sessions == set(), sorted(missing_sessions)[:10]
    assert unknown_used == set(), sorted(unknown_used)[:10]
    assert bogus_ok == [], bogus_ok[:5]
    # a sound database
    assert rc == 0 and amcheck.strip() == "", amcheck
    assert unsound == {}, unsound
    # what failed, failed with 503 while the server was away, and said so
    assert set(str(r[2]) for r in failed) <= {"503"}, statuses
    assert failed, "the restart failed no request: it tested nothing"
    assert all(t_down - 1.0 <= r[0] <= t_up + 2.0 for r in failed), \
        sorted(r[0] for r in failed)[-5:]
    assert "rus-secret" not in log
    unreachable = [line for line in problems if "unreachable" in line]
    assert unreachable, "\n".join(problems[-20:])
    assert all(pg.uri(password=False).split("@")[1] in line
               for line in unreachable), unreachable[:3]
    # served again after the restart, without an httpd restart
    assert after and all(r[2] in (200, 302) for r in after), \
        collections.Counter(str(r[2]) for r in after)
    assert h.crashes() == []
