"""Regression tests for the first security review's findings (one group of
tests per finding, numbered as in the review), each against a real httpd:
a userdir-style .htaccess, real mod_cache (disk and socache), two virtual
hosts on two ports, TLS for the __Host- cookie, concurrent logouts."""

import base64
import http.client
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest

from pyrus import (COOKIE, Httpd, basic, cookie, free_port, location,
                   login_location, logout_location, remoteuser_location,
                   set_cookie, sha_entry, stored_hash, token_of)
from pyrus.fixtures import server_fixture, watched

# -- finding 2: .htaccess authors ---------------------------------------------

HT_CONF = """
Alias /~mallory/ "@ROOT@/home/mallory/public_html/"
Alias /~trudy/ "@ROOT@/home/trudy/public_html/"
<Directory "@ROOT@/home">
    AllowOverride FileInfo AuthConfig Limit Indexes
    Require all granted
</Directory>
""" + "\n".join([
    remoteuser_location("/admin/", "RemoteUserSession On",
                        "Require remoteuser-group staff"),
    login_location(),
    # a login URL where the administrator did not turn sessions on
    location("/login-nosession", "RemoteUserEngine On",
             "SetHandler remoteuser-login"),
])

# mallory's own file: an "admin" with a password she chose
MALLORY_HTACCESS = """AuthType Basic
AuthName mine
AuthUserFile %s
Require valid-user
RemoteUserEngine On
SetHandler remoteuser-login
"""

# trudy does not even name the module: the server-wide engine and
# sessions would take her front end's users
TRUDY_HTACCESS = """AuthType Basic
AuthName mine
AuthUserFile %s
Require valid-user
"""


def userdir(h, user, htaccess):
    d = os.path.join(h.root, "home", user, "public_html")
    os.makedirs(d, 0o755)
    own = os.path.join(h.root, "home", user, "users")
    with open(own, "wb") as f:
        f.write(sha_entry(b"admin", "chosen"))
    os.chmod(own, 0o644)
    with open(os.path.join(d, ".htaccess"), "w") as f:
        f.write(htaccess % own)
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("mine\n")
    os.chmod(os.path.join(d, ".htaccess"), 0o644)


def make_ht(mpm="event"):
    h = Httpd(HT_CONF, users=["admin"], mpm=mpm, extra_modules=["dir"])
    userdir(h, "mallory", MALLORY_HTACCESS)
    userdir(h, "trudy", TRUDY_HTACCESS)
    return h


ht_srv = server_fixture(make_ht)


@pytest.fixture
def ht(ht_srv):
    yield from watched(ht_srv)


def make_admin_staff(app):
    assert app.get("/login", basic("admin")).status == 302  # the real one
    uid = app.user("admin")["id"]
    app.execute("INSERT OR IGNORE INTO groups (name) VALUES ('staff')")
    app.execute("INSERT OR IGNORE INTO user_groups (user_id, group_id)"
                " SELECT ?, id FROM groups WHERE name = 'staff'", (uid,))


def test_f2_htaccess_cannot_mint_a_session_for_a_store_user(ht):
    ht.allow("RUS00041")
    make_admin_staff(ht)
    before = ht.rows("SELECT token_hash FROM sessions")
    h = basic("admin", "chosen")
    r = ht.get("/~mallory/", h)
    assert r.status == 500
    assert set_cookie(r) is None
    assert "RUS00041" in ht.new_log()
    assert ht.rows("SELECT token_hash FROM sessions") == before


def test_f2_htaccess_auth_under_server_wide_sessions_is_refused(scratch):
    # the variant: engine and sessions on at server level, the .htaccess
    # only brings its own AuthType and users
    h = scratch("RemoteUserEngine On\nRemoteUserSession On\n" + HT_CONF,
                users=["admin"], extra_modules=["dir"])
    userdir(h, "trudy", TRUDY_HTACCESS)
    h.start()
    r = h.get("/~trudy/", basic("admin", "chosen"))
    assert r.status == 403
    assert set_cookie(r) is None
    assert "RUS00035" in h.new_log()
    assert h.rows("SELECT * FROM sessions") == []
    # the administrator's own locations still work
    assert h.get("/login", basic("admin")).status == 302


def test_f2_allow_override_list_is_refused_too(scratch):
    # AllowOverride None, but the authentication directives listed
    h = scratch("RemoteUserEngine On\nRemoteUserSession On\n" + HT_CONF
                .replace("AllowOverride FileInfo AuthConfig Limit Indexes",
                         "AllowOverride None\n    AllowOverrideList AuthType "
                         "AuthName AuthUserFile Require"),
                users=["admin"], extra_modules=["dir"])
    userdir(h, "trudy", TRUDY_HTACCESS)
    h.start()
    for _ in range(3):
        r = h.get("/~trudy/", basic("admin", "chosen"))
        assert r.status == 403 and set_cookie(r) is None
    assert "RUS00035" in h.new_log()
    assert h.rows("SELECT * FROM sessions") == []


def test_f2_trusting_htaccess_is_the_administrators_choice(scratch):
    h = scratch("RemoteUserTrustHtaccess On\n" + HT_CONF, users=["admin"],
                extra_modules=["dir"])
    userdir(h, "trudy", TRUDY_HTACCESS.replace(
        "Require valid-user", "Require valid-user\nRemoteUserEngine On"))
    h.start()
    r = h.get("/~trudy/", basic("admin", "chosen"))
    assert r.status == 200
    assert h.user("admin") is not None


def test_f2_login_handler_needs_sessions_on(ht):
    ht.allow("RUS00040")
    r = ht.get("/login-nosession", basic("admin"))
    assert r.status == 500
    assert set_cookie(r) is None
    assert "RUS00040" in ht.new_log()


# -- finding 3: shared caches -------------------------------------------------

CACHE_CONF = """
CacheDefaultExpire 600
CacheIgnoreNoLastMod On
Alias /app/ "@ROOT@/htdocs/"
Alias /hdr/ "@ROOT@/htdocs/"
""" + "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    location("/hdr/", "RemoteUserEngine On", "RemoteUserHeader X-Remote-User",
             "RemoteUserTrustedProxy 127.0.0.1", auth=False).replace(
        "</Location>", "  AuthType RemoteUser\n  Require user alice\n"
        "</Location>"),
])


@pytest.mark.parametrize("kind", ["disk", "socache"])
def test_f3_shared_cache_never_keeps_identity_dependent_responses(scratch,
                                                                  kind):
    mods = ["cache", "cache_disk"] if kind == "disk" else [
        "cache", "socache_shmcb", "cache_socache"]
    extra = ('CacheRoot "@ROOT@/cache"\nCacheEnable disk /\n' if kind == "disk" else
             "CacheSocache shmcb\nCacheEnable socache /\n")
    h = scratch(CACHE_CONF + "\n" + extra, users=["alice", "bob"],
                extra_modules=mods)
    os.mkdir(os.path.join(h.root, "htdocs"), 0o755)
    os.mkdir(os.path.join(h.root, "cache"), 0o755)
    if os.geteuid() == 0:
        shutil.chown(os.path.join(h.root, "cache"), "www-data", "www-data")
    with open(os.path.join(h.root, "htdocs", "page.txt"), "w") as f:
        f.write("secret page\n")
    # a day old: mod_cache's heuristic (CacheLastModifiedFactor) keeps it
    # fresh for hours
    day = time.time() - 86400
    os.utime(os.path.join(h.root, "htdocs", "page.txt"), (day, day))
    h.start()
    token = token_of(h.get("/login", basic("alice")))
    r = h.get("/app/page.txt", cookie(token))
    assert r.status == 200 and r.body == b"secret page\n"
    assert "private" in r.headers["Cache-Control"]
    for _ in range(3):
        r = h.get("/app/page.txt")
        assert r.status == 302, "an anonymous client got the cached page"
    # the trusted header: bob never gets alice's page
    r = h.get("/hdr/page.txt", {"X-Remote-User": "alice"})
    assert r.status == 200
    assert "private" in r.headers["Cache-Control"]
    for _ in range(3):
        r = h.get("/hdr/page.txt", {"X-Remote-User": "bob"})
        # refused by Require under AuthType RemoteUser: 403 (issue #17)
        assert r.status == 403 and b"secret" not in r.body
        assert h.get("/hdr/page.txt").status == 401


CC_CGI = """#!/bin/sh
printf 'Cache-Control: %s\\r\\nSurrogate-Control: max-age=3600\\r\\n'"""\
    """ "$QUERY_STRING" | sed 's/%20/ /g; s/%22/"/g; s/%3D/=/g; s/%2C/,/g'
printf 'Content-Type: text/plain\\r\\n\\r\\nuser=%s\\n' "$REMOTE_USER"
"""


@pytest.mark.parametrize("sent,expected", [
    ("public, max-age=60, s-maxage=600", "private, max-age=60"),
    ("no-cache, max-age=0, must-revalidate",
     "private, no-cache, max-age=0, must-revalidate"),
    ('private="Set-Cookie", max-age=600',
     'private, private="Set-Cookie", max-age=600'),
    ("private, max-age=5", "private, max-age=5"),
    ("no-store", "no-store"),
])
def test_f3_application_cache_control_is_kept_but_made_private(scratch, sent,
                                                                expected):
    h = scratch("\n".join([
        'ScriptAlias /cc/ "@ROOT@/cc-bin/"',
        location("/cc/", "RemoteUserEngine On")]), users=["alice"])
    d = os.path.join(h.root, "cc-bin")
    os.mkdir(d, 0o755)
    with open(os.path.join(d, "cc.cgi"), "w") as f:
        f.write(CC_CGI)
    os.chmod(os.path.join(d, "cc.cgi"), 0o755)
    h.start()
    r = h.get("/cc/cc.cgi?" + urllib.parse.quote(sent), basic("alice"))
    assert r.status == 200 and r.body == b"user=alice\n"
    assert r.headers["Cache-Control"] == expected
    assert r.headers.get("Surrogate-Control") is None


# -- finding 4: sessions belong to the virtual host, port included ------------

def two_port_conf(p1, p2, scope=None):
    body = ["Listen 127.0.0.1:%d" % p2]
    for p in (p1, p2):
        body += ["<VirtualHost 127.0.0.1:%d>" % p, "ServerName same.test"]
        if scope:
            body.append("RemoteUserSessionScope %s" % scope)
        body += [remoteuser_location("/app/", "RemoteUserSession On"),
                 login_location(),
                 "</VirtualHost>"]
    return "\n".join(body)


def get_port(port, path, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        r.read()
        return r
    finally:
        c.close()


@pytest.mark.parametrize("scope", [None, "corp"])
def test_f4_session_bound_to_vhost_and_port(scratch, scope):
    h = scratch("", users=["alice"])
    p2 = free_port()
    h.write_conf(two_port_conf(h.port, p2, scope), "sqlite:store/users.db")
    h.start()
    r = get_port(h.port, "/login", dict(basic("alice"), Host="same.test"))
    token = token_of(r)
    c = dict(cookie(token), Host="same.test")
    assert get_port(h.port, "/app/env", c).status == 200
    row = h.rows("SELECT vhost FROM sessions")[0]
    if scope is None:
        assert row["vhost"] == "same.test:%d" % h.port
        # the other port's virtual host does not take it
        assert get_port(p2, "/app/env", c).status == 401
    else:
        assert row["vhost"] == "scope=corp"
        assert get_port(p2, "/app/env", c).status == 200


def test_f4_scope_name_is_checked(scratch):
    h = scratch("RemoteUserSessionScope 'a b'")
    r = h.configtest()
    assert r.returncode != 0
    assert "not a scope name" in r.stderr


# -- findings 5, 7, 8, 9: one server ------------------------------------------

SESS_CONF = "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On"),
    login_location(),
    logout_location(),
    # finding 8: a Basic location with sessions, for clients without cookies
    location("/api/", "RemoteUserEngine On", "RemoteUserSession On",
             "RemoteUserSessionMaxPerUser 3"),
    location("/api20/", "RemoteUserEngine On", "RemoteUserSession On"),
    # finding 7: the same name on both paths
    location("/basic/", "RemoteUserEngine On"),
    location("/hdr/", "RemoteUserEngine On", "RemoteUserHeader X-Remote-User",
             "RemoteUserTrustedProxy 127.0.0.1", auth=False).replace(
        "</Location>", "  AuthType RemoteUser\n  Require valid-user\n"
        "</Location>"),
    # finding 9: a lax location whose error page is a strict one
    remoteuser_location("/lax/", "RemoteUserSession On",
                        "ErrorDocument 404 /strict/env"),
    remoteuser_location("/strict/", "RemoteUserSession On",
                        "RemoteUserSessionMaxAge 600",
                        "RemoteUserSessionIdleTimeout 60"),
])

SESS_USERS = ["alice", "mallory", "bob", "carol", "dave", "erin", "frank",
              "admin ", "admin\u00a0", "admin"]


def make_sess(mpm="event"):
    return Httpd(SESS_CONF, users=SESS_USERS, mpm=mpm)


sess_srv = server_fixture(make_sess)


@pytest.fixture
def app(sess_srv):
    yield from watched(sess_srv)


def login(app, user):
    r = app.get("/login", basic(user))
    assert r.status == 302
    return token_of(r)


def junk(i):
    return base64.urlsafe_b64encode(bytes([i]) * 32).decode().rstrip("=")


def test_f5_two_valid_sessions_are_none(app):
    app.allow("RUS00037")
    a, m = login(app, "alice"), login(app, "mallory")
    both = {"Cookie": "%s=%s; %s=%s" % (COOKIE, m, COOKIE, a)}
    r = app.get("/app/env", both)
    assert r.status == 401
    assert "RUS00037" in app.new_log()
    # one of them alone still works
    assert app.get("/app/env", cookie(a)).env["REMOTE_USER"] == "alice"
    # a login with both revokes both
    r = app.get("/login", dict(basic("alice"), **both))
    assert r.status == 302
    for t in (a, m):
        assert app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                        (stored_hash(t),)) == []


def test_f5_junk_cannot_hide_the_real_cookie(app):
    a = login(app, "bob")
    many = "; ".join("%s=%s" % (COOKIE, v) for v in
                     ["x", "y" * 43, "!" * 43, "z", "w" * 10, junk(1)])
    r = app.get("/app/env", {"Cookie": many + "; %s=%s" % (COOKIE, a)})
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "bob"


def test_f5_logout_revokes_every_candidate(app):
    a, m = login(app, "carol"), login(app, "mallory")
    sent = [junk(i) for i in range(2, 8)] + [m, a]
    r = app.get("/logout", {"Cookie": "; ".join(
        "%s=%s" % (COOKIE, v) for v in sent)}, method="POST")
    assert r.status == 302
    for t in (a, m):
        assert app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                        (stored_hash(t),)) == []
        assert app.get("/app/env", cookie(t)).status == 401


@pytest.mark.parametrize("path,headers", [
    ("/basic/env", basic("admin ")),
    ("/basic/env", basic("admin\u00a0")),
    ("/hdr/env", {"X-Remote-User": "admin\u00a0".encode().decode("latin-1")}),
])
def test_f7_edge_white_space_is_refused_on_every_path(app, path, headers):
    app.allow("RUS00006")
    r = app.get(path, headers)
    assert r.status == 403
    log = app.new_log()
    assert "RUS00006" in log and "white space" in log
    assert app.rows("SELECT username FROM users WHERE username != 'admin'"
                    " AND username LIKE 'admin%'") == []


def test_f8_sessions_per_user_are_bounded(app):
    for _ in range(10):
        r = app.get("/api/env", basic("dave"))
        assert r.status == 200 and set_cookie(r) is not None
        # the session just issued is never the one trimmed
        assert app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                        (stored_hash(token_of(r)),)) != []
    uid = app.user("dave")["id"]
    rows = app.rows("SELECT * FROM sessions WHERE user_id = ?", (uid,))
    assert len(rows) == 3
    assert "RUS00039" in app.new_log()
    for _ in range(25):
        assert app.get("/api20/env", basic("erin")).status == 200
    uid = app.user("erin")["id"]
    assert len(app.rows("SELECT * FROM sessions WHERE user_id = ?",
                        (uid,))) == 20


def test_f9_each_location_applies_its_own_limits(app):
    token = login(app, "frank")
    h = stored_hash(token)
    now = int(time.time())
    # three hours old, used a minute ago
    app.execute("UPDATE sessions SET created_at = ?, last_seen = ?"
                " WHERE token_hash = ?", (now - 10800, now - 30, h))
    assert app.get("/lax/env", cookie(token)).status == 200
    assert app.get("/strict/env", cookie(token)).status == 401
    # through the lax location's error page: not served as frank
    r = app.get("/lax/missing", cookie(token))
    assert b"REMOTE_USER=frank" not in r.body
    # young, but idle for two minutes before this request touched it
    app.execute("UPDATE sessions SET created_at = ?, last_seen = ?"
                " WHERE token_hash = ?", (now - 100, now - 120, h))
    r = app.get("/lax/missing", cookie(token))
    assert b"REMOTE_USER=frank" not in r.body


# -- finding 5: __Host- cookies ------------------------------------------------

def self_signed(root):
    key, crt = os.path.join(root, "key.pem"), os.path.join(root, "crt.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                    "-subj", "/CN=127.0.0.1"], check=True,
                   capture_output=True)
    os.chmod(key, 0o644)
    return key, crt


def test_f5_host_prefixed_cookie(scratch):
    h = scratch("", users=["alice"], extra_modules=["ssl", "socache_shmcb"])
    key, crt = self_signed(h.root)
    tls = free_port()
    body = "\n".join([
        "RemoteUserSessionCookieName __Host-rus",
        "RemoteUserSessionCookieDomain example.test",
        login_location(),
        remoteuser_location("/app/", "RemoteUserSession On"),
        "Listen 127.0.0.1:%d" % tls,
        "<VirtualHost 127.0.0.1:%d>" % tls,
        "SSLEngine on", "SSLCertificateFile %s" % crt,
        "SSLCertificateKeyFile %s" % key, "</VirtualHost>"])
    h.write_conf(body, "sqlite:store/users.db", ["ssl", "socache_shmcb"])
    h.start()
    # plain HTTP: refused, nothing stored
    r = h.get("/login", basic("alice"))
    assert r.status == 403
    assert "RUS00038" in h.new_log()
    assert h.rows("SELECT * FROM sessions") == []
    # TLS: Secure, Path=/, never a Domain
    c = http.client.HTTPSConnection(
        "127.0.0.1", tls, timeout=30,
        context=ssl._create_unverified_context())
    c.request("GET", "/login", headers=basic("alice"))
    r = c.getresponse()
    r.read()
    assert r.status == 302
    sc = [v for v in r.headers.get_all("Set-Cookie")
          if v.startswith("__Host-rus=")][0]
    attrs = [a.strip() for a in sc.split(";")]
    assert "Secure" in attrs and "Path=/" in attrs
    assert not [a for a in attrs if a.startswith("Domain")]
    token = attrs[0].split("=", 1)[1]
    c.request("GET", "/app/env", headers={"Cookie": "__Host-rus=" + token})
    r = c.getresponse()
    assert r.status == 200 and b"REMOTE_USER=alice" in r.read()
    c.close()
    # the same cookie over plain HTTP is not looked at
    r = h.get("/app/env", {"Cookie": "__Host-rus=" + token})
    assert r.status == 401


# -- finding 10: a logout racing requests with the same cookie ----------------

def test_f10_no_request_after_logout_is_served(scratch):
    h = scratch("\n".join([
        remoteuser_location("/app/", "RemoteUserSession On"),
        login_location(),
        logout_location()]),
        users=["alice"], cache_ttl=10)
    h.start()
    late = []
    for _ in range(40):
        token = token_of(h.get("/login", basic("alice")))
        done = threading.Event()
        stop = threading.Event()
        t_logout = [None]

        def hammer():
            c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)
            while not stop.is_set():
                started = time.monotonic()
                c.request("GET", "/app/env", headers=cookie(token))
                r = c.getresponse()
                r.read()
                if (r.status == 200 and done.is_set()
                        and started > t_logout[0]):
                    late.append(started - t_logout[0])
            c.close()

        threads = [threading.Thread(target=hammer) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.02)
        r = h.get("/logout", cookie(token), method="POST")
        assert r.status == 302
        t_logout[0] = time.monotonic()
        done.set()
        time.sleep(0.15)
        stop.set()
        for t in threads:
            t.join()
    assert late == [], "%d requests after a logout were served" % len(late)
