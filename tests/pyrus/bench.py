"""The benchmark's servers (bench/run.py, bench/soak.py), and the fault
test that reuses them (tests/faults/test_graceful_keepalive.py): the
settings every case shares, each case's location, the keep-alive cookie
script, and the cached store of n users with a live session each.

    h = Httpd(COMMON + CASES["session"], cache_ttl=None, ...)
    shutil.copy(store_file(1000), h.db_path)

session-metrics is session with `SetHandler remoteuser-metrics` at
METRICS_PATH; metric_sum() reads a sample's total from its scrape.

The PostgreSQL cases (session-pg, header-pg, first-login-pg) are the
cases of the same name without "-pg" on a database of their own of one
PostgreSQL server of the bench's (bench_postgres(), pyrus.pg): filled
with preload_pg(), counted with pg_counters().
"""

import os
import re
import time

from .harness import TOP
from .pg import ROLE
from . import store

CACHE = os.path.join(TOP, "bench", "cache")
RESULTS = os.path.join(TOP, "bench", "results")
# Every case's sessions are valid at every case's server (each has a port
# of its own, and a session is bound to the port without a scope): COMMON
# sets RemoteUserSessionScope SCOPE.
SCOPE = "bench"
VHOST = "scope=" + SCOPE
SESSION_TOKENS = 1000     # tokens the wrk script cycles through

COMMON = """
ServerName bench.local
RemoteUserSessionScope bench
StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
MinSpareThreads 32
MaxSpareThreads 128
KeepAliveTimeout 30
MaxKeepAliveRequests 0
LogLevel error
CustomLog /dev/null common
DocumentRoot "@ROOT@/htdocs"
<Directory "@ROOT@/htdocs">
    Require all granted
</Directory>
"""

BASIC = """AuthType Basic
    AuthName bench
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user"""

CASES = {
    "bare": "",
    "basic": "<Location /f>\n    %s\n</Location>" % BASIC,
    "frontend": "<Location /f>\n    %s\n    RemoteUserEngine On\n</Location>"
                % BASIC,
    "header": """<Location /f>
    AuthType RemoteUser
    Require valid-user
    RemoteUserHeader X-Auth-User
    RemoteUserTrustedProxy 127.0.0.1
</Location>""",
    "session": """<Location /f>
    AuthType RemoteUser
    Require valid-user
    RemoteUserSession On
</Location>""",
    "first-login": """<Location /login>
    AuthType Basic
    AuthName bench
    AuthBasicProvider anon
    Anonymous *
    Anonymous_NoUserID off
    Anonymous_MustGiveEmail off
    Require valid-user
    RemoteUserEngine On
    RemoteUserSession On
    SetHandler remoteuser-login
</Location>""",
}
CASES["session-1M"] = CASES["session"]
# The session load of "session" with the metrics handler configured, and
# scraped (bench/run.py: once after the warm-up, once before the server
# stops): what serving the counters costs the counted requests. The
# counters themselves are always on; the handler is what an
# administrator adds (with Require ip: the bench's httpd loads no
# mod_authz_host, and only 127.0.0.1 reaches it anyway).
METRICS_PATH = "/metrics"
CASES["session-metrics"] = CASES["session"] + """
<Location %s>
    SetHandler remoteuser-metrics
    Require all granted
</Location>""" % METRICS_PATH
# The session load of "session", while a writer commits unrelated changes
# to the store (bench/run.py's Churn): the same server configuration.
CASES["session-churn"] = CASES["session"]
# The session load of "session", while a second wrk floods /h with first
# logins (a trusted-header name never seen before: a user INSERT and a
# session INSERT each) on FLOOD_CONNECTIONS connections.
CASES["cookie-under-flood"] = CASES["session"] + """
<Location /h>
    AuthType RemoteUser
    Require valid-user
    RemoteUserHeader X-Auth-User
    RemoteUserTrustedProxy 127.0.0.1
    RemoteUserSession On
</Location>"""

# The PostgreSQL cases: the same server configuration as their SQLite
# case; only RemoteUserStore differs (bench/run.py).
PG_SUFFIX = "-pg"
for _base in ("header", "session", "first-login"):
    CASES[_base + PG_SUFFIX] = CASES[_base]


def sqlite_case(name):
    """The case a PostgreSQL case is the twin of ("session" for
    "session-pg"); any other name as it is."""
    return name[:-len(PG_SUFFIX)] if name.endswith(PG_SUFFIX) else name


LUA_COOKIES = """
-- requests are formatted once, in init() (when wrk knows the Host), not
-- per request: the client must not be the bottleneck of the measurement
reqs = {}
init = function(args)
    for line in io.lines("%s") do
        reqs[#reqs + 1] = wrk.format("GET", "/f/file.txt",
                                     {["Cookie"] = "remoteuser_session=" .. line})
    end
end
counter = 0
request = function()
    counter = counter + 1
    return reqs[(counter %% #reqs) + 1]
end
"""



def token(i):
    """Deterministic 256-bit token number i: cookie form and stored form."""
    return store.token(i, "bench")


def store_file(n):
    """The cached store of n users and one live session each (built once,
    copied for each run so every run starts from the same file)."""
    os.makedirs(CACHE, exist_ok=True)
    cached = os.path.join(CACHE, "store-%d-v4-%s.db" % (n, SCOPE))
    if not os.path.exists(cached):
        t0 = time.time()
        store.build_store(cached + ".tmp", n, VHOST, "bench")
        os.rename(cached + ".tmp", cached)
        print("  built %s in %.1f s" % (cached, time.time() - t0),
              flush=True)
    return cached


def cookie_tokens(path, n, step=1):
    """The file of the cookie tokens of store_file(n), every step-th."""
    return store.write_tokens(path, (token(i)[0]
                                     for i in range(1, n + 1, step)))


def bench_postgres():
    """A started PostgreSQL server of the bench's own (pyrus.pg: initdb in
    a temporary directory, 127.0.0.1, password authentication) with
    pg_stat_statements loaded, so that the statements the module sends can
    be counted. Call cleanup() on it."""
    from .pg import Postgres
    pg = Postgres().start()
    with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
        # every statement a client sent, utility statements (BEGIN,
        # COMMIT, LISTEN) included: one is one round trip. "top": not
        # what runs inside them (the triggers' inserts, foreign key checks)
        f.write("shared_preload_libraries = 'pg_stat_statements'\n"
                "pg_stat_statements.track = top\n"
                "pg_stat_statements.track_utility = on\n"
                "pg_stat_statements.max = 10000\n"
                "log_connections = off\n")
    pg.restart()
    pg.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
               db="postgres")
    return pg


def preload_pg(pg, db, n):
    """The PostgreSQL twin of store_file(n) in database db of pg (whose
    schema the module made): users user0000001.. with one session each,
    token(i), living ten years."""
    far = int(time.time()) + 10 * 365 * store.DAY
    store.preload_pg(pg, db, n, VHOST, SCOPE, prefix="user", last_seen=far,
                     expires=far)


def bench_database(pg, name):
    """A new database NAME of the module's role on pg; its URI."""
    pg.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name,
               db="postgres")
    pg.execute("CREATE DATABASE %s OWNER %s" % (name, ROLE), db="postgres")
    return pg.uri(db=name)


def pg_counters(pg, db):
    """The statements the module's role has sent to database db so far:
    pg_stat_statements' calls (every connection: requests, the listener,
    the maintenance). With PQexecParams each is one round trip."""
    return int(pg.value(
        "SELECT COALESCE(SUM(s.calls), 0) FROM pg_stat_statements s "
        "JOIN pg_roles r ON r.oid = s.userid "
        "JOIN pg_database d ON d.oid = s.dbid "
        "WHERE r.rolname = '%s' AND d.datname = '%s'" % (ROLE, db),
        db="postgres"))


def pg_top_statements(pg, db, limit=8):
    """The statements the module's role sent most to database db over the
    server's life: [(calls, query text on one line)]."""
    rows = pg.rows(
        "SELECT s.calls, regexp_replace(s.query, '\\s+', ' ', 'g') "
        "FROM pg_stat_statements s "
        "JOIN pg_roles r ON r.oid = s.userid "
        "JOIN pg_database d ON d.oid = s.dbid "
        "WHERE r.rolname = '%s' AND d.datname = '%s' "
        "ORDER BY s.calls DESC LIMIT %d" % (ROLE, db, limit), db="postgres")
    return [(int(c), q) for c, q in rows]


def metric_sum(text, name, **labels):
    """The sum of the samples of metric `name` in a Prometheus text
    exposition whose labels include `labels` (every virtual host's, for
    one without server_name); 0 when there is none."""
    total = 0.0
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        if metric != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total
