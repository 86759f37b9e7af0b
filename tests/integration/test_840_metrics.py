"""Observability (#20): known traffic, then a scrape of SetHandler
remoteuser-metrics. The counters equal the traffic exactly; the text is
what Prometheus's reference parser (python3-prometheus-client) reads and
what `promtool check metrics` accepts; ?format=json agrees; server-status
?auto has the RemoteUser... lines; counts survive a graceful restart and
each virtual host has its own server_name label."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time

import pytest

from pyrus import (TOP, basic, cookie, location, login_location,
                   logout_location, token_of)
from pyrus.harness import run_admin

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # scripts/install-deps.sh installs it
    text_string_to_metric_families = None

PROMTOOL = shutil.which("promtool")

METRICS = """<Location /metrics>
  SetHandler remoteuser-metrics
  Require ip 127.0.0.1
</Location>"""

STATUS = """<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>"""

CONF = "\n".join([
    METRICS,
    location("/basic/", "RemoteUserEngine On", "RemoteUserSession On",
             "RemoteUserSessionMaxPerUser 2"),
    location("/idle/", "RemoteUserEngine On", "RemoteUserSession On",
             "RemoteUserSessionIdleTimeout 60"),
    location("/nocreate/", "RemoteUserEngine On",
             "RemoteUserCreateUnknown Off"),
    location("/hdr/", "RemoteUserEngine On", "RemoteUserHeader X-Auth-User",
             "RemoteUserTrustedProxy 127.0.0.1", auth=False).replace(
        "<Location /hdr/>", "<Location /hdr/>\n  AuthType RemoteUser\n"
        "  AuthName Intranet\n  Require valid-user"),
    logout_location(),
])

LONG = "x" * 200  # beyond the 150 bytes of a user name
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", LONG]


def new_server(scratch, body=CONF, extra_modules=(), **kw):
    """A scratch server with mod_authz_host (Require ip) loaded."""
    return scratch(body, users=USERS,
                   extra_modules=["authz_host"] + list(extra_modules), **kw)


def scrape(h, query=""):
    r = h.get("/metrics" + query)
    assert r.status == 200, r.body
    return r


def families(text):
    """{family name: prometheus_client Metric} of an exposition."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text):
    """{(sample name, frozenset of labels without server_name): value}
    summed over the virtual hosts."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            labels = frozenset((k, v) for k, v in s.labels.items()
                               if k != "server_name")
            out[(s.name, labels)] = out.get((s.name, labels), 0) + s.value
    return out


def value(text, name, **labels):
    return samples(text).get((name, frozenset(labels.items())), 0)


def by_host(text, name, **labels):
    """{server_name: value} of one sample name and label set."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            rest = {k: v for k, v in s.labels.items() if k != "server_name"}
            if s.name == name and rest == labels:
                out[s.labels.get("server_name")] = s.value
    return out


def need_parser():
    if text_string_to_metric_families is None:
        pytest.skip("python3-prometheus-client is not installed "
                    "(scripts/install-deps.sh)")


def raw_get(h, path, headers, source=None):
    lines = ["GET %s HTTP/1.1" % path, "Host: x"] + headers
    return h.raw("\r\n".join(lines + ["Connection: close", "", ""]),
                 source=source)


class Expected:
    """What the traffic should have counted, kept next to it."""

    def __init__(self):
        self.n = {}

    def add(self, key, k=1):
        self.n[key] = self.n.get(key, 0) + k

    def __getitem__(self, key):
        return self.n.get(key, 0)


def drive(h):
    """Known traffic; returns the Expected counts. With the answer cache
    off (the harness's RemoteUserCacheTTL 0) every lookup asks the store,
    so the store calls are known too."""
    e = Expected()

    def login(user, headers=None, path="/basic/env"):
        hd = dict(basic(user), **(headers or {}))
        r = h.get(path, hd)
        assert r.status == 200, (user, r.status)
        e.add("logins")
        e.add("frontend")
        e.add("store", 2)  # the user's lookup, the session's mint
        e.add("minted")
        return r

    # n = 3 front-end logins of new users, each minting a session
    tok = {}
    for u in ("alice", "bob", "carol"):
        tok[u] = token_of(login(u))
        e.add("created")
    # m = 4 requests with alice's cookie alone
    for _ in range(4):
        r = h.get("/basic/env", cookie(tok["alice"]))
        assert r.status == 200 and r.env["REMOTE_USER"] == "alice"
        e.add("session")
        e.add("validated")
        e.add("store")  # the session's lookup
    # frank logs in over alice's session: it is revoked (user switch)
    tok["frank"] = token_of(login("frank", cookie(tok["alice"])))
    e.add("created")
    e.add("user_switch")
    e.add("store")  # the cookie's lookup
    # frank logs out
    r = h.get("/logout", cookie(tok["frank"]), method="POST")
    assert r.status in (200, 302, 303), r.status
    e.add("logout")
    e.add("store")
    # alice three more times: a third session evicts her oldest (MaxPerUser
    # 2)
    for _ in range(3):
        login("alice")
    e.add("evicted")
    assert h.rows("SELECT COUNT(*) AS n FROM sessions s JOIN users u ON "
                  "u.id = s.user_id WHERE u.username = 'alice'")[0]["n"] == 2
    # k refusals of each cause
    for args in (("user", "add", "dave"), ("user", "disable", "dave")):
        p = run_admin(h, "--db", h.db_path, *args)
        assert p.returncode == 0, p.stderr
    for _ in range(2):
        assert h.get("/basic/env", basic("dave")).status == 403
        e.add("inactive")
        e.add("store")
    for _ in range(2):
        assert h.get("/nocreate/env", basic("erin")).status == 403
        e.add("unknown")
        e.add("store")
    for _ in range(3):
        assert h.get("/basic/env", basic(LONG)).status == 403
        e.add("invalid_name")
    for _ in range(2):
        r = h.get("/hdr/env", {"X-Auth-User": "alice"}, source="127.0.0.2")
        assert r.status == 403
        e.add("untrusted_peer")
    assert raw_get(h, "/hdr/env", ["X_Auth_User: alice"]) == 400
    assert raw_get(h, "/hdr/env", ["X-Auth-User: alice",
                                   "X-Auth-User: bob"]) == 400
    e.add("spoofed_header", 2)
    # one login through the trusted header
    r = h.get("/hdr/env", {"X-Auth-User": "henry"})
    assert r.status == 200 and r.env["REMOTE_USER"] == "henry"
    e.add("header")
    e.add("logins")
    e.add("created")
    e.add("store")
    # bob's session past its expires_at, carol's idle beyond 60 s
    now = int(time.time())
    h.execute("UPDATE sessions SET expires_at = ? WHERE user_id = ?",
              (now - 1, h.user("bob")["id"]))
    assert h.get("/basic/env", cookie(tok["bob"])).status == 401
    e.add("absolute")
    e.add("store")
    h.execute("UPDATE sessions SET last_seen = ? WHERE user_id = ?",
              (now - 120, h.user("carol")["id"]))
    assert h.get("/idle/env", cookie(tok["carol"])).status == 401
    e.add("idle")
    e.add("store")
    # a store error: the write lock held past RemoteUserStoreBusyTimeout
    con = sqlite3.connect(h.db_path, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        assert h.get("/basic/env", basic("grace")).status == 503
    finally:
        con.execute("ROLLBACK")
        con.close()
    e.add("busy")
    e.add("store")
    return e


def json_agrees(text, doc):
    """Every sample of the exposition `text` has its value in the JSON
    `doc`: a family remoteuser_X_total as server_names[host][X] (by label
    value when labelled), the histogram as buckets / sum / count, the
    gauges under gauges."""
    seen = 0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            host = s.labels.get("server_name")
            rest = {k: v for k, v in s.labels.items()
                    if k not in ("server_name", "le")}
            if host is None:  # a gauge
                node = doc["gauges"][fam.name[len("remoteuser_"):]]
            else:
                node = doc["server_names"][host][fam.name[len("remoteuser_"):]]
            if s.name.endswith("_bucket"):
                node = node["buckets"][s.labels["le"]]
            elif fam.type == "histogram":
                node = node[s.name.rsplit("_", 1)[1]]
            for v in rest.values():
                node = node[v]
            assert node == pytest.approx(s.value), (s, node)
            seen += 1
    assert seen > 40


def check_counts(text, e):
    v = lambda name, **kw: value(text, name, **kw)  # noqa: E731
    assert v("remoteuser_requests_total", source="frontend") == e["frontend"]
    assert v("remoteuser_requests_total", source="header") == e["header"]
    assert v("remoteuser_requests_total", source="session") == e["session"]
    assert v("remoteuser_users_created_total") == e["created"]
    assert v("remoteuser_logins_total") == e["logins"]
    for cause in ("inactive", "unknown", "invalid_name", "untrusted_peer",
                  "spoofed_header", "htaccess"):
        assert v("remoteuser_refusals_total", cause=cause) == e[cause], cause
    assert v("remoteuser_sessions_minted_total") == e["minted"]
    assert v("remoteuser_sessions_validated_total") == e["validated"]
    assert v("remoteuser_sessions_expired_total", kind="absolute") \
        == e["absolute"]
    assert v("remoteuser_sessions_expired_total", kind="idle") == e["idle"]
    for reason in ("logout", "user_switch", "evicted"):
        assert v("remoteuser_sessions_revoked_total", reason=reason) \
            == e[reason], reason
    # the cache is off: never asked
    assert v("remoteuser_cache_requests_total", result="hit") == 0
    assert v("remoteuser_cache_requests_total", result="miss") == 0
    assert v("remoteuser_store_errors_total", kind="busy") == e["busy"]
    for kind in ("unavailable", "corrupt", "other"):
        assert v("remoteuser_store_errors_total", kind=kind) == 0, kind
    # every store call of a request, and only those
    assert v("remoteuser_store_call_duration_seconds_count") == e["store"]
    assert v("remoteuser_store_call_duration_seconds_bucket", le="+Inf") \
        == e["store"]
    # the 503 waited RemoteUserStoreBusyTimeout (200 ms) at least
    assert v("remoteuser_store_call_duration_seconds_sum") >= 0.2
    assert v("remoteuser_store_call_duration_seconds_bucket", le="0.1") \
        < e["store"]


def wait_gauges(h, users, active, timeout=12):
    """The gauges as they are after at most `timeout` s (they are read
    every 10 s): the text of the first scrape that shows them."""
    deadline = time.time() + timeout
    while True:
        text = scrape(h).body.decode()
        got = (value(text, "remoteuser_users"),
               value(text, "remoteuser_sessions_active"))
        if got == (users, active) or time.time() > deadline:
            assert got == (users, active), text
            return text
        time.sleep(0.5)


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_counters_equal_the_traffic(scratch, mpm):
    """Under prefork the traffic is spread over several processes: one set
    of counters for all of them."""
    need_parser()
    h = new_server(scratch, busy_timeout=200, mpm=mpm)
    h.start()
    e = drive(h)
    text = scrape(h).body.decode()
    check_counts(text, e)
    # the gauges, read from the store by the maintenance thread
    now = int(time.time())
    users = h.rows("SELECT COUNT(*) AS n FROM users")[0]["n"]
    active = h.rows("SELECT COUNT(*) AS n FROM sessions WHERE expires_at > ?",
                    (now,))[0]["n"]
    assert users == 6  # alice bob carol frank dave henry
    text = wait_gauges(h, users, active)
    # reading never resets
    check_counts(scrape(h).body.decode(), e)

    # the reference parser: every family typed, one server_name
    fams = families(text)
    assert fams["remoteuser_logins"].type == "counter"
    assert fams["remoteuser_store_call_duration_seconds"].type == "histogram"
    assert fams["remoteuser_users"].type == "gauge"
    names = {s.labels.get("server_name") for s in
             fams["remoteuser_logins"].samples}
    assert names == {"127.0.0.1"}
    for name, fam in fams.items():
        assert name.startswith("remoteuser_"), name
        assert fam.documentation, name

    # JSON: the same figures
    r = scrape(h, "?format=json")
    assert r.headers["Content-Type"] == "application/json"
    json_agrees(text, json.loads(r.body))


def test_promtool_accepts_the_exposition(scratch):
    if PROMTOOL is None:
        pytest.skip("promtool is not installed (scripts/install-deps.sh)")
    h = new_server(scratch)
    h.start()
    token_of(h.get("/basic/env", basic("alice")))
    h.get("/basic/env", basic(LONG))
    text = scrape(h).body
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, (p.stdout, p.stderr, text)
    assert p.stdout.strip() == b"" and p.stderr.strip() == b"", p


def test_handler_methods_formats_and_headers(scratch):
    h = new_server(scratch)
    h.start()
    r = h.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"] == \
        "text/plain; version=0.0.4; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    assert b"# TYPE remoteuser_logins_total counter" in r.body
    r = h.get("/metrics?format=prometheus")
    assert r.status == 200 and b"remoteuser_logins_total" in r.body
    r = h.get("/metrics", method="HEAD")
    assert r.status == 200 and r.body == b""
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for method in ("POST", "PUT", "DELETE"):
        r = h.get("/metrics", method=method)
        assert r.status == 405, method
        assert r.headers["Allow"] == "GET, HEAD"
    assert h.get("/metrics?format=xml").status == 400
    assert h.get("/metrics?format=").status == 400
    # access control is the administrator's: Require ip 127.0.0.1
    assert h.get("/metrics", source="127.0.0.2").status == 403


def test_cache_hits_misses_and_invalidations(scratch):
    need_parser()
    h = new_server(scratch, cache_ttl=30)
    h.start()
    tok = token_of(h.get("/basic/env", basic("alice")))  # a user miss
    for _ in range(5):
        assert h.get("/basic/env", cookie(tok)).status == 200
    text = scrape(h).body.decode()
    hits = value(text, "remoteuser_cache_requests_total", result="hit")
    misses = value(text, "remoteuser_cache_requests_total", result="miss")
    assert hits + misses == 6  # one user lookup, five session lookups
    assert misses >= 1 and hits >= 4
    # only the store calls were timed (every miss, and the mint), not the
    # hits
    assert value(text, "remoteuser_store_call_duration_seconds_count") \
        == misses + 1
    before = value(text, "remoteuser_cache_invalidations_total")
    # another process (remoteuser-admin) disables alice: the change log
    # tells this host, which drops her answers
    p = run_admin(h, "--db", h.db_path, "user", "disable", "alice")
    assert p.returncode == 0, p.stderr
    assert h.get("/basic/env", cookie(tok)).status != 200
    text = scrape(h).body.decode()
    assert value(text, "remoteuser_cache_invalidations_total") > before


def test_server_status_lines(scratch):
    h = new_server(scratch, CONF + "\n" + STATUS, extra_modules=["status"])
    h.start()
    for u in ("alice", "bob"):
        assert h.get("/basic/env", basic(u)).status == 200
    r = h.get("/server-status?auto")
    assert r.status == 200
    lines = dict(l.split(": ", 1) for l in r.body.decode().splitlines()
                 if l.startswith("RemoteUser"))
    assert lines["RemoteUserLogins"] == "2"
    assert lines["RemoteUserSessionsMinted"] == "2"
    assert "RemoteUserCacheHitRatio" in lines
    float(lines["RemoteUserCacheHitRatio"])
    r = h.get("/server-status")
    assert r.status == 200
    assert b"<h2>remoteuser_session</h2>" in r.body


def test_counts_survive_a_graceful_restart(scratch):
    need_parser()
    h = new_server(scratch)
    h.start()
    for u in ("alice", "bob"):
        assert h.get("/basic/env", basic(u)).status == 200
    assert value(scrape(h).body.decode(), "remoteuser_logins_total") == 2
    h.graceful()
    assert value(scrape(h).body.decode(), "remoteuser_logins_total") == 2
    assert h.get("/basic/env", basic("carol")).status == 200
    assert value(scrape(h).body.decode(), "remoteuser_logins_total") == 3
    # a stop and a start begin from zero
    h.stop()
    h.start()
    assert value(scrape(h).body.decode(), "remoteuser_logins_total") == 0


def test_virtual_hosts_have_their_own_sets(scratch):
    need_parser()
    h = new_server(scratch, "")
    vh = "\n".join([
        "<VirtualHost 127.0.0.1:%d>" % h.port,
        "  ServerName a.test",
        CONF,
        "</VirtualHost>",
        "<VirtualHost 127.0.0.1:%d>" % h.port,
        "  ServerName b.test",
        CONF,
        "</VirtualHost>"])
    h.write_conf(vh, "sqlite:store/users.db", ["authz_host"])
    h.start()
    for u in ("alice", "bob"):
        assert h.get("/basic/env", dict(basic(u), Host="a.test")).status \
            == 200
    assert h.get("/basic/env", dict(basic("carol"), Host="b.test")).status \
        == 200
    r = h.get("/metrics", {"Host": "b.test"})
    assert r.status == 200
    got = by_host(r.body.decode(), "remoteuser_logins_total")
    assert got.get("a.test") == 2 and got.get("b.test") == 1, got
    # the same answer from either host: the figures are the host's
    assert by_host(h.get("/metrics", {"Host": "a.test"}).body.decode(),
                   "remoteuser_logins_total") == got


def test_an_error_document_chain_counts_once(scratch):
    """A refusal whose ErrorDocument is under the engine too meets the same
    refusal again (and logs it again): counted once for the chain."""
    need_parser()
    h = new_server(scratch, CONF + "\n" + location(
        "/err/", "RemoteUserEngine On", "ErrorDocument 403 /basic/env"))
    h.start()
    for args in (("user", "add", "dave"), ("user", "disable", "dave")):
        assert run_admin(h, "--db", h.db_path, *args).returncode == 0
    assert h.get("/err/env", basic("dave")).status == 403
    assert h.get("/err/env", basic(LONG)).status == 403
    assert h.error_log().count("RUS00008") == 2  # the request and its
    assert h.error_log().count("RUS00006") == 2  # error document
    text = scrape(h).body.decode()
    assert value(text, "remoteuser_refusals_total", cause="inactive") == 1
    assert value(text, "remoteuser_refusals_total", cause="invalid_name") == 1
    # a login whose page is an internal redirect: one login, one request
    assert h.get("/err/env", basic("alice")).status == 200
    text = scrape(h).body.decode()
    assert value(text, "remoteuser_logins_total") == 1
    assert value(text, "remoteuser_requests_total", source="frontend") == 1


def test_store_counts_the_admin_tools_revocations(scratch):
    """remoteuser-admin's revocations are another process's: the store
    counts them (remoteuser_store_sessions_revoked_total), this host does not."""
    need_parser()
    h = new_server(scratch)
    h.start()
    for u in ("alice", "alice", "bob", "carol"):
        assert h.get("/basic/env", basic(u)).status == 200
    for args in (("session", "revoke", "--user", "alice"),
                 ("user", "disable", "bob")):
        p = run_admin(h, "--db", h.db_path, *args)
        assert p.returncode == 0, p.stderr
    deadline = time.time() + 12
    while True:
        text = scrape(h).body.decode()
        got = (value(text, "remoteuser_store_sessions_revoked_total",
                     reason="admin"),
               value(text, "remoteuser_store_sessions_revoked_total",
                     reason="deactivation"),
               value(text, "remoteuser_sessions_active"))
        if got == (2, 1, 1) or time.time() > deadline:
            break
        time.sleep(0.5)
    assert got == (2, 1, 1), text
    for reason in ("logout", "user_switch", "evicted"):
        assert value(text, "remoteuser_sessions_revoked_total",
                     reason=reason) == 0


def readme_metrics_block():
    """The README's example location of the handler (Monitoring)."""
    with open(os.path.join(TOP, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"## Monitoring\n.*?```apache\n(.*?)```", text, re.S)
    assert m and "SetHandler remoteuser-metrics" in m.group(1)
    return m.group(1)


def test_the_readme_location_admits_the_scraper_and_admins(scratch):
    """As the README configures it: the scraper's address without any
    authentication, an administrator by the session of a login, nobody
    else."""
    h = new_server(scratch, readme_metrics_block() + "\n" + login_location())
    h.start()
    assert h.get("/remoteuser-metrics").status == 200  # 127.0.0.1
    outside = "127.0.0.2"
    assert h.get("/remoteuser-metrics", source=outside).status == 401
    admin = token_of(h.get("/login", basic("alice")))
    other = token_of(h.get("/login", basic("bob")))
    for args in (("group", "add", "admins"),
                 ("group", "add-member", "admins", "alice")):
        assert run_admin(h, "--db", h.db_path, *args).returncode == 0
    r = h.get("/remoteuser-metrics", cookie(admin), source=outside)
    assert r.status == 200 and b"remoteuser_logins_total" in r.body
    assert h.get("/remoteuser-metrics", cookie(other),
                 source=outside).status == 403


def test_a_login_over_the_own_session_is_no_user_switch(scratch):
    """The login handler replaces the user's own session: not counted as
    a user switch; a login as someone else over it is (review of #20)."""
    h = new_server(scratch, CONF + "\n" + login_location())
    h.start()
    tok = token_of(h.get("/basic/env", basic("alice")))
    r = h.get("/login", dict(basic("alice"), **cookie(tok)))
    assert r.status == 302
    t = scrape(h).body.decode()
    assert value(t, "remoteuser_sessions_revoked_total",
                 reason="user_switch") == 0
    tok = token_of(r)
    r = h.get("/login", dict(basic("bob"), **cookie(tok)))
    assert r.status == 302
    t = scrape(h).body.decode()
    assert value(t, "remoteuser_sessions_revoked_total",
                 reason="user_switch") == 1


def test_a_fileinfo_htaccess_cannot_publish_the_counters(scratch):
    """SetHandler remoteuser-metrics from a .htaccess (AllowOverride
    FileInfo) would show every virtual host's counts: 403, RUS00136."""
    h = new_server(scratch, CONF + """
Alias /tenant/ "@ROOT@/tenant/"
<Directory "@ROOT@/tenant">
    AllowOverride FileInfo
    Require all granted
</Directory>
""")
    d = os.path.join(h.root, "tenant")
    os.mkdir(d, 0o755)
    with open(os.path.join(d, ".htaccess"), "w") as f:
        f.write("SetHandler remoteuser-metrics\n")
    h.start()
    r = h.get("/tenant/x")
    assert r.status == 403
    assert b"remoteuser_" not in r.body
    assert "RUS00136" in h.new_log()
    assert h.get("/metrics").status == 200


def test_htaccess_refusals_and_profile_syncs_are_counted(scratch):
    """The two counters the traffic test does not drive: a refusal under a
    .htaccess that may set authentication (RUS00035), and a login that
    writes a changed profile (#19's attributes), counted once each."""
    h = new_server(scratch, METRICS + """
Alias /ht/ "@ROOT@/ht/"
<Directory "@ROOT@/ht">
    AllowOverride AuthConfig
    AuthType Basic
    AuthName rus-test
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user
    RemoteUserEngine On
</Directory>
""" + location("/prof/", "RemoteUserEngine On",
               "RemoteUserHeader X-Auth-User", "RemoteUserTrustedProxy 127.0.0.1",
               "RemoteUserAttribute email header:X-Email", auth=False).replace(
        "<Location /prof/>", "<Location /prof/>\n  AuthType RemoteUser\n"
        "  AuthName Intranet\n  Require valid-user"))
    d = os.path.join(h.root, "ht")
    os.mkdir(d, 0o755)
    with open(os.path.join(d, ".htaccess"), "w") as f:
        f.write("# may set authentication\n")
    with open(os.path.join(d, "x"), "w") as f:
        f.write("x\n")
    h.start()
    assert h.get("/ht/x", basic("alice")).status == 403
    assert "RUS00035" in h.new_log()
    # the creation writes the profile with the row: not a sync
    assert h.get("/prof/env", {"X-Auth-User": "bob",
                               "X-Email": "b@example.com"}).status == 200
    # the same value again: nothing written
    assert h.get("/prof/env", {"X-Auth-User": "bob",
                               "X-Email": "b@example.com"}).status == 200
    # a changed one: one sync
    r = h.get("/prof/env", {"X-Auth-User": "bob", "X-Email": "bob@example.com"})
    assert r.status == 200 and r.env["REMOTE_USER_EMAIL"] == "bob@example.com"
    t = scrape(h).body.decode()
    assert value(t, "remoteuser_refusals_total", cause="htaccess") == 1
    assert value(t, "remoteuser_profile_syncs_total") == 1
