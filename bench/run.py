#!/usr/bin/env python3
"""make bench: what mod_remoteuser_session costs, against bare httpd.

Every case gets its own httpd (mpm_event, identical settings) on 127.0.0.1
serving one ~100-byte static file, driven by wrk over keep-alive
connections for a bounded time. httpd is bound to one CPU and wrk to
another, so req/s is the server's cost per request (the "cores" column
shows the server was saturated). Each case is measured several times, each
measurement paired with one of bare httpd driven the same way (for the
cookie cases, with the same wrk script), in alternating order, so drift of
the machine and the client's own cost cancel out. Ratios are medians of
those pairs; req/s, latencies and CPU per request are medians; RSS is the
children's after the first measured run and after the last.

cookie-under-flood runs the session load (16 connections) alone, under a
flood of 400 connections of static requests and under a flood of 400
connections of first logins (new trusted-header names), back to back on
one server, and reports the ratios to the rate alone (target: 0.5 under
the login flood).

session-churn is the cookie load of session while a writer in this process
(Python's sqlite3, on the store file, busy timeout 5 s) commits CHURN_RATE
unrelated changes a second, each a transaction of its own: users that the
load never sends disabled, enabled again, and given a new session (what a
login writes). It starts before the wrk run and stops after it, and runs on
the client's CPU. Invalidation per key leaves the load's answers cached:
target 0.90 x bare.

session-pg, header-pg and first-login-pg are session, header and
first-login with RemoteUserStore a PostgreSQL database of their own, on
one PostgreSQL 15 server that the bench starts itself (tests/pyrus/pg.py:
initdb in a temporary directory, 127.0.0.1, password authentication, the
module's role; fsync and synchronous_commit off, as the tests have it)
with pg_stat_statements loaded. The server runs on the client's CPU when
pinned (a real one runs on another machine). Each run of such a case also
counts the statements the module's role sent to its database
(pg_stat_statements' calls; with PQexecParams each is one round trip:
BEGIN and COMMIT count, the listener's and the maintenance's too) and
divides them by the requests wrk had answered: "PostgreSQL round trips per
request", the median of the runs. Targets: session-pg 0.93 x bare (cache
hits never touch PostgreSQL), first-login-pg 0.20 x bare.

session-metrics is the session case with the metrics handler configured
(`<Location /metrics> SetHandler remoteuser-metrics`), reported next to
session in the same run, as a ratio to bare like every case, and against
session (target 0.97: within the noise of a run). Its server is scraped
once after the warm-up and once after the last run: the requests the
counters gained by source "session" must be at least those wrk had
answered (and at most a few connections' more: requests in flight when
a run ended), else counting is broken and the case is marked so.

session, session-metrics, session-pg and session-churn log at info level for the module, so that each
child's answer-cache statistics (RUS00196, one line when it exits) are in
the error log; their sums give the hit rate of the case's server over its
whole life (warm-up included), "n/a" where the module logs no such line.

    python3 bench/run.py [--duration 3] [--repeats 9] [--no-pin]
"""

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

import _path  # noqa: F401  (tests/ on the import path: the harness)
from pyrus import Httpd, basic
from pyrus.bench import (CASES, COMMON, LUA_COOKIES, METRICS_PATH,
                         PG_SUFFIX, RESULTS, SESSION_TOKENS, VHOST,
                         bench_database, bench_postgres, cookie_tokens,
                         metric_sum, pg_counters, pg_top_statements,
                         preload_pg, sqlite_case, store_file)
from pyrus import pg as pyrus_pg
from pyrus.conf import static_files
from pyrus.store import preload

FLOOD_CONNECTIONS = 400
COOKIE_CONNECTIONS = 16  # the legitimate load, as the review measured it
WARMUP_CONNECTIONS = 8

TARGETS = {  # case: (reference case, minimum ratio)
    "session": ("bare", 0.95),
    "header": ("bare", 0.97),
    "frontend": ("basic", 0.95),
    "first-login": ("bare", 0.25),
    "session-1M": ("session", 0.95),
    "session-metrics": ("session", 0.97),
    "session-churn": ("bare", 0.90),
    "session-pg": ("bare", 0.93),
    "first-login-pg": ("bare", 0.20),
}
# session-churn: changes committed per second by its writer, and to how many
# users the load never sends
CHURN_RATE = 50
CHURN_USERS = 100
# cases whose server logs the module's info lines (the cache statistics)
CACHE_STATS_CASES = ("session", "session-metrics", "session-churn",
                     "session-pg")
# session-metrics: the counter its scrapes compare with wrk's answers
METRICS_SESSIONS = ("remoteuser_requests_total", {"source": "session"})
CACHE_STATS = re.compile(r"RUS00196: answer cache in this child: (\d+) hits,"
                         r" (\d+) misses, (\d+) invalidations")
# cookie-under-flood: its req/s under the flood / its req/s alone, on the
# same server, measured back to back
FLOOD_TARGET = 0.5

LUA_FIRST_LOGIN = """
counter = 0
prefix = nil
-- every thread of every run gets its own prefix: user names never repeat
setup = function(thread)
    local f = io.open("/dev/urandom", "rb")
    local raw = f:read(6)
    f:close()
    thread:set("prefix", "t" .. raw:gsub(".", function(c)
        return string.format("%%02x", c:byte())
    end))
end
request = function()
    counter = counter + 1
    local user = prefix .. "-" .. counter
    local cred = user .. ":x"
    return wrk.format("GET", "/login", {["Authorization"] = "Basic " .. b64(cred)})
end
local bchars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function b64(data)
    return ((data:gsub('.', function(x)
        local r, b = '', x:byte()
        for i = 8, 1, -1 do r = r .. (b %% 2 ^ i - b %% 2 ^ (i - 1) > 0 and '1' or '0') end
        return r
    end) .. '0000'):gsub('%%d%%d%%d?%%d?%%d?%%d?', function(x)
        if (#x < 6) then return '' end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
        return bchars:sub(c + 1, c + 1)
    end) .. ({'', '==', '='})[#data %% 3 + 1])
end
"""

LUA_FLOOD = """
counter = 0
prefix = nil
setup = function(thread)
    local f = io.open("/dev/urandom", "rb")
    local raw = f:read(6)
    f:close()
    thread:set("prefix", "fl" .. raw:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
end
request = function()
    counter = counter + 1
    return wrk.format("GET", "@PATH@",
                      {["X-Auth-User"] = prefix .. "-" .. counter})
end
"""


def children_rss(h):
    total = 0
    for pid in h.children():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total  # KiB


PIN = None  # (server CPU, client CPU) when pinned, see main()
PG = None  # the PostgreSQL server of the -pg cases (pyrus.pg), see main()


def pin_postgres(pg):
    """Bind the PostgreSQL server (the postmaster, and so every backend
    it forks from now on, and its running processes) to the client's
    CPU: httpd's CPU measures httpd alone, as for the other cases."""
    if PIN is None:
        return
    for p in postgres_pids(pg):
        subprocess.run(["taskset", "-a", "-p", "-c", str(PIN[1]), str(p)],
                       capture_output=True, check=False)


def pin_server(h):
    """Bind every thread of the httpd parent and children to the server
    CPU (children forked later inherit the parent's)."""
    if PIN is None:
        return
    for pid in [h.proc.pid] + h.children():
        subprocess.run(["taskset", "-a", "-p", "-c", str(PIN[0]), str(pid)],
                       capture_output=True, check=False)


def server_cpu(h):
    """CPU seconds (user + system) used so far by the parent and children."""
    return cpu_of([h.proc.pid] + h.children())


def postgres_pids(pg):
    """The PostgreSQL server's postmaster and its processes (backends)."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        pid = int(f.readline())
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [pid] + [int(p) for p in out]


def cpu_of(pids):
    """CPU seconds (user + system) used so far by the processes `pids`
    (with their children that have exited)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # utime, stime, cutime, cstime: the whole process, all threads
            total += sum(int(v) for v in fields[11:15])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def wrk(h, args, duration, connections, script=None):
    cmd = wrk_cmd(h, args, duration, connections, script)
    pin_server(h)
    cpu0 = server_cpu(h)
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          timeout=duration + 60)
    return wrk_result(h, proc.stdout, proc.stderr, duration, cpu0, t0)


def wrk_cmd(h, args, duration, connections, script=None, timeout="10s"):
    cmd = ["wrk", "-t1" if PIN else "-t2", "-c%d" % connections,
           "-d%ds" % duration, "--latency", "--timeout", timeout]
    if PIN:
        cmd = ["taskset", "-c", str(PIN[1])] + cmd
    if script:
        cmd += ["-s", script]
    # scripts set their own path
    cmd += args + ["http://127.0.0.1:%d/f/file.txt" % h.port]
    return cmd


def wrk_result(h, out, err, duration, cpu0, t0):
    """wrk's figures, and the server's CPU since cpu0 (taken at t0)."""
    if err.strip():
        # wrk reports a broken script on stderr and then silently sends
        # its default request: that would measure something else.
        sys.exit("wrk: %s" % err.strip())
    wall = time.time() - t0
    cpu = server_cpu(h) - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    lmax = re.search(r"^\s+Latency(?:\s+\S+){2}\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    served = rps * duration
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "server_cores": cpu / wall,
            "cpu_us_per_req": cpu / served * 1e6 if served else 0,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else None,
            "max": lmax.group(1) if lmax else None,
            "requests": int(total.group(1)) if total else 0}


class Churn:
    """A thread that commits `rate` changes a second to the store at
    `path`, paced to a schedule, until stop(): users `names` in turn
    disabled, enabled, and given a new session (vhost `vhost`). Runs on
    `cpu` when given."""

    def __init__(self, path, names, vhost, rate=CHURN_RATE, cpu=None):
        self.path = path
        self.names = names
        self.vhost = vhost
        self.rate = rate
        self.cpu = cpu
        self.done = 0
        self.error = None
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self):
        self.t0 = time.time()
        self.thread.start()
        return self

    def change(self, con, i):
        name = self.names[(i // 3) % len(self.names)]
        now = int(time.time())
        with con:
            if i % 3 == 0:
                con.execute("UPDATE users SET is_active = 0 "
                            "WHERE username = ?", (name,))
            elif i % 3 == 1:
                con.execute("UPDATE users SET is_active = 1 "
                            "WHERE username = ?", (name,))
            else:
                con.execute("INSERT INTO sessions (token_hash, user_id, "
                            "vhost, created_at, last_seen, expires_at) "
                            "SELECT ?, id, ?, ?, ?, ? "
                            "FROM users WHERE username = ?",
                            (os.urandom(32).hex(), self.vhost, now, now,
                             now + 86400, name))

    def run(self):
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})  # this thread only
        con = sqlite3.connect(self.path, timeout=5)
        try:
            while not self.halt.is_set():
                self.change(con, self.done)
                self.done += 1
                # the schedule, not the last commit, sets the next one
                wait = self.t0 + self.done / self.rate - time.time()
                if wait > 0:
                    self.halt.wait(wait)
        except sqlite3.Error as e:
            self.error = e
        finally:
            con.close()

    def stop(self):
        """Stop; the changes committed and the rate achieved."""
        self.halt.set()
        self.thread.join(timeout=30)
        if self.error is not None:
            sys.exit("session-churn: the writer failed: %s" % self.error)
        return self.done, self.done / (time.time() - self.t0)


def cache_stats(log):
    """The sums of the children's RUS00196 lines in an error log: (hits,
    misses, invalidations, children), or None when there is none."""
    found = [tuple(map(int, m)) for m in CACHE_STATS.findall(log)]
    if not found:
        return None
    return tuple(sum(f[k] for f in found) for k in range(3)) + (len(found),)


def hit_rate(stats):
    """hits / (hits + misses) of cache_stats(), or None."""
    if not stats or stats[0] + stats[1] == 0:
        return None
    return stats[0] / (stats[0] + stats[1])


def fmt_rate(rate):
    return "n/a" if rate is None else "%.4f" % rate


class Case:
    cache_ttl = None  # RemoteUserCacheTTL; None: the module's default

    def __init__(self, name, work, n_users):
        self.name = name
        # what the case does: a -pg case does what its SQLite twin does
        self.base = sqlite_case(name)
        self.pg_db = None
        if name.endswith(PG_SUFFIX):
            self.pg_db = "bench_" + self.base.replace("-", "_")
        self.work = work
        self.n_users = n_users
        self.h = None

    def start(self):
        body = COMMON + CASES[self.name]
        if self.name in CACHE_STATS_CASES:
            # one RUS00196 line per child at its exit (and the module's
            # few other info lines; nothing per request)
            body += "\nLogLevel error remoteuser_session:info\n"
        store = "sqlite:store/users.db" if self.name != "bare" else None
        if self.pg_db:
            store = bench_database(PG, self.pg_db)
        mods = ["authn_anon"] if self.base == "first-login" else []
        # the module's defaults, RemoteUserCacheTTL included
        h = Httpd(body, store=store, users=["benchuser"], extra_modules=mods,
                  cache_ttl=self.cache_ttl)
        static_files(h, "f", "h", "s")
        if self.n_users and not self.pg_db:
            shutil.copy(store_file(self.n_users), h.db_path)
            if self.name == "session-churn":
                # users the load never sends, for the writer to change
                self.churn_names = ["churn%04d" % i
                                    for i in range(1, CHURN_USERS + 1)]
                preload(h.db_path, CHURN_USERS, VHOST, "churn",
                        name="churn%04d")
            if os.geteuid() == 0:
                shutil.chown(h.db_path, "www-data", "www-data")
        self.args = []
        self.script = None
        if self.base in ("basic", "frontend"):
            self.args = ["-H", "Authorization: " +
                         basic("benchuser")["Authorization"]]
        elif self.base == "header":
            self.args = ["-H", "X-Auth-User: benchuser"]
        elif self.cookie_case():
            step = max(1, self.n_users // SESSION_TOKENS)
            tokens = cookie_tokens(os.path.join(h.root, "tokens.txt"),
                                   self.n_users, step)
            self.script = os.path.join(h.root, "cookie.lua")
            with open(self.script, "w") as f:
                f.write(LUA_COOKIES % tokens)
        if self.name == "cookie-under-flood":
            # the same flood on a static file without authentication: what
            # any flood of that size costs the cookie load
            self.flood_scripts = {}
            for kind, path in (("logins", "/h/file.txt"),
                               ("static", "/s/file.txt")):
                self.flood_scripts[kind] = os.path.join(h.root,
                                                        kind + ".lua")
                with open(self.flood_scripts[kind], "w") as f:
                    f.write(LUA_FLOOD.replace("@PATH@", path))
        elif self.base == "first-login":
            self.script = os.path.join(h.root, "login.lua")
            with open(self.script, "w") as f:
                f.write(LUA_FIRST_LOGIN % ())  # the template's %% are %
        h.start(malloc_checks=False)
        self.h = h
        if self.pg_db and self.n_users:
            # the module made the schema at startup
            preload_pg(PG, self.pg_db, self.n_users)
        # warm up: children up, connections to the store open
        wrk(h, self.args, 1, WARMUP_CONNECTIONS, self.script)
        self.rss_start = children_rss(h)
        if self.name == "session-metrics":
            self.scraped = [self.scrape()]
        return self

    def scrape(self):
        """session-metrics: one GET of the metrics handler; the session
        requests counted so far."""
        r = self.h.get(METRICS_PATH)
        body = r.body.decode("utf-8", "replace")
        if r.status != 200 or "remoteuser_" not in body:
            sys.exit("%s: %s answered %d: %s" % (self.name, METRICS_PATH,
                                                 r.status, body[:200]))
        name, labels = METRICS_SESSIONS
        return metric_sum(body, name, **labels)

    def cookie_case(self):
        """Driven with the session cookies of the store."""
        return self.name.startswith("session") or self.name == "cookie-"\
            "under-flood"

    def measure_flood(self, duration):
        """The cookie load alone, then while a flood of static requests
        runs, then while a flood of first logins runs. Returns the run
        under the logins, with the others and the ratios in it."""
        alone = wrk(self.h, self.args, duration, COOKIE_CONNECTIONS,
                    self.script)
        static = self.under_flood(duration, "static")
        under = self.under_flood(duration, "logins")
        under["alone_rps"] = alone["rps"]
        under["alone_max"] = alone["max"]
        under["flood_ratio"] = under["rps"] / alone["rps"]
        under["static_rps"] = static["rps"]
        under["static_ratio"] = static["rps"] / alone["rps"]
        return under

    def under_flood(self, duration, kind):
        """The cookie load while a second wrk floods the server (started
        first, ended last)."""
        flood_cmd = wrk_cmd(self.h, [], duration + 2, FLOOD_CONNECTIONS,
                            self.flood_scripts[kind])
        flood = subprocess.Popen(flood_cmd, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1)  # the flood is in full swing
            # wrk's timeout at 2 s: a cookie request that waits that long
            # counts as an error, not as a slow success
            cmd = wrk_cmd(self.h, self.args, duration, COOKIE_CONNECTIONS,
                          self.script, timeout="2s")
            pin_server(self.h)
            cpu0, t0 = server_cpu(self.h), time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=duration + 60)
            under = wrk_result(self.h, proc.stdout, proc.stderr, duration,
                               cpu0, t0)
        finally:
            fout, ferr = flood.communicate(timeout=duration + 60)
        f = wrk_result(self.h, fout, ferr, duration + 2, 0, time.time())
        under["flood_rps"] = f["rps"]
        under["flood_non2xx"] = f["non2xx"]
        under["flood_socket_errors"] = f["socket_errors"]
        return under

    def users(self):
        if self.pg_db:
            return int(PG.value("SELECT COUNT(*) FROM users",
                                db=self.pg_db))
        con = sqlite3.connect(self.h.db_path)
        try:
            return con.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        finally:
            con.close()

    def measure(self, duration, connections):
        if self.name == "cookie-under-flood":
            return self.measure_flood(duration)
        before = self.users() if self.base == "first-login" else 0
        statements = pg_counters(PG, self.pg_db) if self.pg_db else 0
        pg_cpu = cpu_of(postgres_pids(PG)) if self.pg_db else 0
        churn = None
        if self.name == "session-churn":
            churn = Churn(self.h.db_path, self.churn_names, VHOST,
                          cpu=PIN[1] if PIN else None).start()
            time.sleep(0.2)  # the writer is under way
        try:
            r = wrk(self.h, self.args, duration, connections, self.script)
        finally:
            if churn is not None:
                r_churn = churn.stop()
        if churn is not None:
            r["churn_changes"], r["churn_per_s"] = r_churn
        if self.pg_db:
            sent = pg_counters(PG, self.pg_db) - statements
            r["pg_statements"] = sent
            r["pg_per_req"] = sent / r["requests"] if r["requests"] else 0
            r["pg_cpu_us_per_req"] = ((cpu_of(postgres_pids(PG)) - pg_cpu)
                                      / r["requests"] * 1e6
                                      if r["requests"] else 0)
        if self.base == "first-login":
            # Each request must have made a user (and a session): check
            # the store, so a broken script cannot pass for a fast login.
            # Refused logins (503 from the write gate) make no user; they
            # are counted, and the row is marked INVALID for them.
            made = self.users() - before
            served = r["rps"] * duration - r["non2xx"]
            if made < 0.9 * served:
                sys.exit("%s: %d users created for about %d "
                         "requests" % (self.name, made, served))
            r["users_created"] = made
        return r

    def stop(self):
        if self.pg_db:
            self.pg_top = pg_top_statements(PG, self.pg_db)
        if self.name == "session-metrics":
            self.scraped.append(self.scrape())
        self.rss_end = children_rss(self.h)
        self.h.stop()  # the children exit: their RUS00196 lines
        self.cache = cache_stats(self.h.error_log())
        self.h.cleanup()


def main():
    global PIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=3,
                    help="seconds of each wrk run")
    ap.add_argument("--repeats", type=int, default=9,
                    help="measurements of each case, each paired with one "
                         "of bare")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--million", type=int, default=1000000,
                    help="users and sessions of the session-1M case")
    ap.add_argument("--cases", default="",
                    help="comma-separated subset of the cases to run")
    ap.add_argument("--cache-ttl", type=int, default=None,
                    help="RemoteUserCacheTTL for every case (default: the "
                         "module's)")
    ap.add_argument("--max-writers", type=int, default=None,
                    help="RemoteUserStoreMaxWriters for every case "
                         "(default: the module's)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not bind httpd and wrk to separate CPUs")
    opts = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    cpus = sorted(os.sched_getaffinity(0))
    if not opts.no_pin and len(cpus) >= 2 and shutil.which("taskset"):
        # httpd on one CPU, wrk on another: the client never competes with
        # the server for a core, so req/s measures the server's cost per
        # request (the "server cores" column shows it was saturated).
        PIN = (cpus[0], cpus[1])

    plan = [("basic", 0), ("frontend", 0), ("header", 0), ("session", 1000),
            ("session-metrics", 1000), ("session-churn", 1000), ("session-1M", opts.million),
            ("first-login", 0), ("header-pg", 0), ("session-pg", 1000),
            ("first-login-pg", 0), ("cookie-under-flood", 1000)]
    if opts.cases:
        wanted = opts.cases.split(",")
        unknown = set(wanted) - set(name for name, _ in plan)
        if unknown:
            sys.exit("unknown cases: %s" % ", ".join(sorted(unknown)))
        plan = [(name, n) for name, n in plan if name in wanted]
    Case.cache_ttl = opts.cache_ttl
    if opts.max_writers is not None:
        global COMMON
        COMMON += "RemoteUserStoreMaxWriters %d\n" % opts.max_writers
    for name, n in plan:
        if n and not name.endswith(PG_SUFFIX):
            store_file(n)  # build caches before any timing
    results = {name: [] for name, _ in plan}
    bare_runs = []
    paired = {name: [] for name, _ in plan}
    t_start = time.time()
    servers = {"bare": Case("bare", None, 0)}
    global PG
    if any(name.endswith(PG_SUFFIX) for name, _ in plan):
        if not pyrus_pg.available():
            sys.exit("the -pg cases need PostgreSQL's server programs "
                     "(apt-get install postgresql; scripts/install-deps.sh)")
        PG = bench_postgres()
        pin_postgres(PG)
    try:
        servers["bare"].start()
        for name, n in plan:
            servers[name] = Case(name, None, n).start()
        for rep in range(opts.repeats):
            for name, _ in plan:
                c = servers[name]
                # Bare httpd driven the same way (the same wrk script for
                # the cookie cases: bare ignores the cookie), so the
                # client's own cost is in both figures. The order flips
                # every repeat (ABBA) so a steady drift cancels.
                same = c.script if c.cookie_case() else None

                def run_bare():
                    bare_runs.append(wrk(servers["bare"].h, [],
                                         opts.duration, opts.connections,
                                         same))

                def run_case():
                    results[name].append(c.measure(opts.duration,
                                                   opts.connections))

                for step in ((run_bare, run_case) if rep % 2 == 0
                             else (run_case, run_bare)):
                    step()
                if rep == 0:
                    # RSS once every cache has been through a full run:
                    # what grows after that grows with requests served
                    c.rss_start = children_rss(c.h)
                    if name == plan[0][0]:
                        servers["bare"].rss_start = children_rss(
                            servers["bare"].h)
                paired[name].append(results[name][-1]["rps"]
                                    / bare_runs[-1]["rps"])
                print("  %-15s run %d: %8.0f req/s (bare %8.0f) %.3f"
                      % (name, rep + 1, results[name][-1]["rps"],
                         bare_runs[-1]["rps"], paired[name][-1]),
                      flush=True)
                last = results[name][-1]
                if "pg_per_req" in last:
                    print("  %-15s        %d PostgreSQL statements, %.3f a "
                          "request; PostgreSQL's CPU %.1f us a request"
                          % ("", last["pg_statements"], last["pg_per_req"],
                             last["pg_cpu_us_per_req"]), flush=True)
                if "churn_per_s" in last:
                    print("  %-15s        %d store changes, %.1f a second"
                          % ("", last["churn_changes"], last["churn_per_s"]),
                          flush=True)
                if "flood_ratio" in last:
                    print("  %-15s        alone %8.0f req/s (max %s); under "
                          "a static flood %.0f (%.3f); under the login "
                          "flood %.0f (%.3f; max %s, socket errors %s), "
                          "flood %.0f req/s, %d non-2xx"
                          % ("", last["alone_rps"], last["alone_max"],
                             last["static_rps"], last["static_ratio"],
                             last["rps"], last["flood_ratio"], last["max"],
                             last["socket_errors"], last["flood_rps"],
                             last["flood_non2xx"]), flush=True)
    finally:
        try:
            for c in servers.values():
                if c.h is not None:
                    c.stop()
        finally:
            if PG is not None:
                PG.cleanup()

    def med(runs, key="rps"):
        return statistics.median(r[key] for r in runs)

    def med_lat(runs, key):
        def to_ms(v):
            m = re.match(r"([\d.]+)(us|ms|s)", v or "0us")
            f = {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
            return float(m.group(1)) * f
        return statistics.median(to_ms(r[key]) for r in runs)

    def row(name, runs, ratio):
        c = servers[name]
        stats = getattr(c, "cache", None)
        rate = hit_rate(stats)
        return {"case": name, "rps": med(runs), "ratio": ratio,
                "cache_hits": stats[0] if stats else None,
                "cache_misses": stats[1] if stats else None,
                "cache_invalidations": stats[2] if stats else None,
                "cache_children": stats[3] if stats else None,
                "hit_rate": rate,
                "hit_rate_text": (fmt_rate(rate)
                                  if name in CACHE_STATS_CASES else None),
                "p50_ms": med_lat(runs, "p50"),
                "p99_ms": med_lat(runs, "p99"),
                "server_cores": med(runs, "server_cores"),
                "cpu_us_per_req": med(runs, "cpu_us_per_req"),
                "rss_start_kib": c.rss_start, "rss_end_kib": c.rss_end,
                "non2xx": sum(r["non2xx"] for r in runs)}

    # Ratio = median over repeats of (case / the bare run next to it): the
    # pairing cancels the drift of a shared machine better than a ratio of
    # medians.
    rows = [row("bare", bare_runs, 1.0)]
    for name, _ in plan:
        rows.append(row(name, results[name], statistics.median(paired[name])))
    by = {r["case"]: r for r in rows}
    if "session-churn" in by:
        runs = results["session-churn"]
        by["session-churn"]["churn_changes"] = sum(x["churn_changes"]
                                                   for x in runs)
        by["session-churn"]["churn_per_s"] = med(runs, "churn_per_s")
    for name, _ in plan:
        if name.endswith(PG_SUFFIX):
            by[name]["pg_round_trips_per_req"] = med(results[name],
                                                     "pg_per_req")
            by[name]["pg_cpu_us_per_req"] = med(results[name],
                                                "pg_cpu_us_per_req")
            by[name]["pg_top_statements"] = servers[name].pg_top
    if "session-metrics" in by:
        # what the counters gained between the scrapes against what wrk
        # had answered in the measured runs (the warm-up was before the
        # first scrape); a request per connection of each run (and of
        # the warm-up) may have been served after wrk stopped counting
        runs = results["session-metrics"]
        r = by["session-metrics"]
        scraped = servers["session-metrics"].scraped
        r["metrics_counted"] = int(scraped[1] - scraped[0])
        r["metrics_answered"] = sum(x["requests"] for x in runs)
        slack = opts.connections * len(runs) + WARMUP_CONNECTIONS
        r["metrics_ok"] = (r["metrics_answered"] <= r["metrics_counted"]
                           <= r["metrics_answered"] + slack)
    if "cookie-under-flood" in by:
        runs = results["cookie-under-flood"]
        r = by["cookie-under-flood"]
        r["alone_rps"] = med(runs, "alone_rps")
        r["flood_ratio"] = statistics.median(x["flood_ratio"] for x in runs)
        r["flood_rps"] = med(runs, "flood_rps")
        r["static_ratio"] = statistics.median(x["static_ratio"]
                                              for x in runs)
        r["flood_non2xx"] = sum(x["flood_non2xx"] for x in runs)
        r["max_latency"] = [x["max"] for x in runs]
        r["socket_errors"] = [x["socket_errors"] for x in runs]
        r["target"] = ("%s under the login flood >= %.2f x alone: %.3f %s "
                       "(under a static flood of the same size: %.3f)" % (
                           "cookie-under-flood", FLOOD_TARGET,
                           r["flood_ratio"],
                           "met" if r["flood_ratio"] >= FLOOD_TARGET
                           else "MISSED", r["static_ratio"]))
    for name, (ref, minimum) in TARGETS.items():
        if name not in by or ref not in by:
            continue
        got = by[name]["ratio"] / by[ref]["ratio"]
        by[name]["target"] = "%s >= %.2f x %s: %.3f %s" % (
            name, minimum, ref, got, "met" if got >= minimum else "MISSED")
        if by[name]["hit_rate_text"] is not None:
            by[name]["target"] += " (cache hit rate %s)" % (
                by[name]["hit_rate_text"])
        if "churn_per_s" in by[name]:
            by[name]["target"] += " (%.1f store changes a second)" % (
                by[name]["churn_per_s"])
        if "metrics_counted" in by[name]:
            by[name]["target"] += (
                " (%s: %d session requests counted between the scrapes, "
                "%d answered to wrk; %.3f x bare, session %.3f)" % (
                    "counting ok" if by[name]["metrics_ok"]
                    else "COUNTING WRONG", by[name]["metrics_counted"],
                    by[name]["metrics_answered"], by[name]["ratio"],
                    by[ref]["ratio"]))

    print()
    print("%-15s %8s %6s %7s %7s %6s %7s %10s %10s %7s %8s" % (
        "case", "req/s", "x bare", "p50 ms", "p99 ms", "cores", "us/req",
        "RSS run 1", "RSS end", "non-2xx", "hit rate"))
    for r in rows:
        print("%-15s %8.0f %6.3f %7.3f %7.3f %6.2f %7.1f %6d KiB %6d KiB %7d"
              " %8s"
              % (r["case"], r["rps"], r["ratio"], r["p50_ms"], r["p99_ms"],
                 r["server_cores"], r["cpu_us_per_req"], r["rss_start_kib"],
                 r["rss_end_kib"], r["non2xx"], r["hit_rate_text"] or ""))
    print()
    for r in rows:
        if "pg_round_trips_per_req" in r:
            print("%s: %.3f PostgreSQL round trips per request (statements "
                  "of the module's role in the case's database, "
                  "pg_stat_statements' calls, / requests answered; median "
                  "of the runs), PostgreSQL's CPU %.1f us a request (not "
                  "in us/req above); most sent over the server's life:"
                  % (r["case"], r["pg_round_trips_per_req"],
                     r["pg_cpu_us_per_req"]))
            for calls, query in r["pg_top_statements"]:
                print("    %9d  %s" % (calls, query[:100]))
    print()
    for r in rows:
        if "target" in r:
            print("target " + r["target"])
    bad = [r["case"] for r in rows if r["non2xx"]]
    wrong = [r["case"] for r in rows if r.get("metrics_ok") is False]
    if wrong:
        print("INVALID: the metrics of %s did not count the requests "
              "served" % ", ".join(wrong))
        bad += wrong
    if bad:
        print("INVALID: error responses in %s: those figures measure "
              "failures" % ", ".join(bad))
    report = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": "%s, %d CPUs, %s" % (platform.platform(), os.cpu_count(),
                                         platform.processor() or "?"),
        "settings": dict(vars(opts), pinned=PIN),
        "seconds": round(time.time() - t_start),
        "rows": rows,
    }
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, time.strftime("bench-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as f:
        json.dump(report, f, indent=2)
    print("\nwritten to %s (%d s)" % (out, report["seconds"]))
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
