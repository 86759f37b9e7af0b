"""The regression table: one test per class of vulnerability that modules
of this kind have had (the CVE in each docstring), against a real httpd.

| row | class                                            | CVE                 |
|-----|--------------------------------------------------|---------------------|
| 1   | underscore/dash look-alike of the trusted header | CVE-2015-0219       |
| 2   | client header taken for module state             | CVE-2018-1283       |
| 3   | session cookie valid across virtual hosts        | CVE-2017-6807       |
| 4   | open redirect after login/logout                 | CVE-2019-3877,      |
|     |                                                  | CVE-2019-13038,     |
|     |                                                  | CVE-2022-23527      |
| 5   | login/logout handler bypassed under ProxyPass    | CVE-2019-3878       |
| 6   | session fixation                                 | (class)             |
| 7   | CR, LF or NUL in a user name (headers, logs)     | (class)             |
| 8   | SQL metacharacters in a user name                | (class)             |
| 9   | 8 KB and larger cookie and header values         | (class)             |
| 10  | thousands of cookies in one header               | (class)             |
"""

import base64
import http.server
import threading
import urllib.parse

import pytest

from pyrus import (COOKIE, VHOSTS, Httpd, anon_location, basic, cookie,
                   location, login_location, logout_location,
                   remoteuser_location, set_cookie, token_of)
from pyrus.fixtures import server_fixture, watched


class Backend(http.server.ThreadingHTTPServer):
    """The application behind ProxyPass: records every path it serves."""

    daemon_threads = True

    def __init__(self):
        self.paths = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                outer.paths.append(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                body = b"backend " + self.path.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def backend():
    b = Backend()
    t = threading.Thread(target=b.serve_forever, daemon=True)
    t.start()
    yield b
    b.shutdown()
    b.server_close()


USERS = ["alice", "bob"]


def conf(backend_port):
    return "\n".join([
        "LimitRequestFieldSize 65536",
        # rows 1, 9: trusted header, Basic underneath
        location("/hdr/", "RemoteUserEngine On",
                 "RemoteUserHeader X-Auth-User",
                 "RemoteUserTrustedProxy 127.0.0.1",
                 "RemoteUserRequestHeader X-Remote-User"),
        # row 2: identity exported to the application as a header
        location("/export/", "RemoteUserEngine On",
                 "RemoteUserRequestHeader X-Remote-User",
                 "RemoteUserGroupsHeader X-Remote-Groups"),
        # rows 7, 8: any user name reaches the module
        anon_location("/anon/", "RemoteUserEngine On"),
        # rows 3, 4, 6, 9, 10: sessions
        remoteuser_location("/app/", "RemoteUserSession On",
                            "RemoteUserLoginURL /login"),
        login_location(),
        logout_location(),
        # row 5: the whole /px/ space is proxied, its login and logout
        # URLs included
        "ProxyPass /px/ http://127.0.0.1:%d/px/" % backend_port,
        remoteuser_location("/px/app/", "RemoteUserSession On",
                            "RemoteUserLoginURL /px/login"),
        login_location("/px/login"),
        logout_location("/px/logout"),
    ])


def make_server(mpm, backend):
    body = conf(backend.server_address[1])
    h = Httpd(body, users=USERS, mpm=mpm,
              extra_modules=["authn_anon", "proxy", "proxy_http"])
    h.write_conf(body + VHOSTS.replace("@PORT@", str(h.port)),
                 "sqlite:store/users.db",
                 extra_modules=["authn_anon", "proxy", "proxy_http"])
    return h


srv = server_fixture(make_server, mpms=None, needs=("backend",))


@pytest.fixture
def app(srv):
    yield from watched(srv)


def env(r):
    """The CGI's environment as a dict."""
    out = {}
    for line in r.body.decode("utf-8", "replace").splitlines():
        k, _, v = line.partition("=")
        out[k] = v
    return out


def login(app, user, path="/login", host=None, extra=None, nxt="/app/env"):
    h = dict(basic(user))
    if host:
        h["Host"] = host
    if extra:
        h.update(extra)
    return app.get(path + "?next=" + urllib.parse.quote(nxt, safe=""), h)


def anon_auth(name):
    """Basic credentials for mod_authn_anon with raw bytes as the name."""
    raw = name + b":x@example.com"
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


# -- 1 ----------------------------------------------------------------------

@pytest.mark.parametrize("spoof", ["X_Auth_User", "x_auth_user",
                                   "X-Auth_User", "X_AUTH-USER"])
def test_row1_header_lookalike_is_refused(app, spoof):
    """CVE-2015-0219: a proxy sets X-Auth-User but passes the client's
    X_Auth_User along; CGI would see both as HTTP_X_AUTH_USER."""
    app.allow("RUS00016")
    r = app.get("/hdr/env", {spoof: "admin", **basic("alice")})
    assert r.status == 400
    r = app.get("/hdr/env", {"X-Auth-User": "alice", spoof: "admin"})
    assert r.status == 400
    assert "RUS00016" in app.new_log()
    assert app.user("admin") is None


# -- 2 ----------------------------------------------------------------------

def test_row2_client_header_is_not_module_state(app):
    """CVE-2018-1283: mod_session took a client's "Session" request header
    for its own state. Here: the client's copies of the export headers and
    their look-alikes never reach the application; the module's values
    do."""
    r = app.get("/export/env", {"X-Remote-User": "admin",
                                "X_Remote_User": "admin",
                                "X-Remote-Groups": "wheel",
                                "X-Remote-Groups_": "wheel",
                                **basic("alice")})
    assert r.status == 200
    e = env(r)
    assert e["REMOTE_USER"] == "alice"
    assert e["HTTP_X_REMOTE_USER"] == "alice"
    assert e.get("HTTP_X_REMOTE_GROUPS", "") == ""
    assert "admin" not in r.body.decode()
    assert "wheel" not in r.body.decode()
    # a request header that merely looks like REMOTE_USER is no identity
    r = app.get("/app/env", {"Remote-User": "admin", "Remote_User": "admin"})
    assert r.status == 302


# -- 3 ----------------------------------------------------------------------

def test_row3_cookie_is_bound_to_its_vhost(app):
    """CVE-2017-6807: a session cookie valid on every virtual host."""
    token = token_of(login(app, "alice", host="a.test"))
    assert app.get("/app/env", cookie(token, "a.test")).status == 200
    assert app.get("/app/env", cookie(token, "b.test")).status == 302
    assert app.get("/app/env", cookie(token, "a.test")).status == 200


# -- 4 ----------------------------------------------------------------------

REDIRECT_ATTACKS = [
    "//evil.example", "///evil.example", "////evil.example",
    "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "https://evil.example", "http:evil.example", "//evil.example/%2F..",
    "/%2F/evil.example", "/%5Cevil.example", "%2F%2Fevil.example",
    "/\t/evil.example", "\t//evil.example", " //evil.example",
    "/\r\n/evil.example", "javascript:alert(1)", "data:text/html,x",
    "/%09/evil.example", "//evil.example@good", "evil.example",
    "/\x00//evil.example",
]


@pytest.mark.parametrize("attack", REDIRECT_ATTACKS)
@pytest.mark.parametrize("handler", ["/login", "/logout"])
def test_row4_no_open_redirect(app, handler, attack):
    """CVE-2019-3877, CVE-2019-13038, CVE-2022-23527: the target after
    login or logout must be a local path, whatever the encoding tricks."""
    q = "?next=" + urllib.parse.quote(attack, safe="")
    if handler == "/login":
        r = app.get(handler + q, basic("bob"))
    else:
        r = app.get(handler + q, method="POST")
    assert r.status in (302, 303), r.status
    loc = r.headers["Location"]
    parts = urllib.parse.urlsplit(loc)
    assert parts.scheme == "" and parts.netloc == "", loc
    assert loc.startswith("/") and not loc.startswith("//"), loc
    assert "\\" not in loc and "evil" not in loc.split("?")[0].lower()


# -- 5 ----------------------------------------------------------------------

def test_row5_handlers_run_under_proxypass(app, backend):
    """CVE-2019-3878: with ProxyPass covering the login and logout URLs,
    the requests must still be handled here, not sent to the back end
    (a logout that never revokes, a login that never happens)."""
    backend.paths.clear()
    r = login(app, "alice", path="/px/login", nxt="/px/app/x")
    assert r.status == 302, r.body
    assert r.headers["Location"] == "/px/app/x"
    token = token_of(r)
    # the session works on the proxied application
    r = app.get("/px/app/x", cookie(token))
    assert r.status == 200 and r.body == b"backend /px/app/x"
    # logout revokes it, here
    r = app.get("/px/logout", cookie(token), method="POST")
    assert r.status in (302, 303)
    assert set_cookie(r) is not None  # the cookie is cleared
    assert app.get("/px/app/x", cookie(token)).status == 302
    assert backend.paths == ["/px/app/x"], backend.paths


# -- 6 ----------------------------------------------------------------------

def test_row6_no_session_fixation(app):
    """A login never adopts the token the client came with, and every
    login issues a new one."""
    planted = base64.urlsafe_b64encode(b"\x02" * 32).decode()[:43]
    t1 = token_of(login(app, "bob", extra=cookie(planted)))
    assert t1 != planted
    assert app.get("/app/env", cookie(planted)).status == 302
    t2 = token_of(login(app, "bob", extra=cookie(t1)))
    assert t2 != t1
    assert app.get("/app/env", cookie(t1)).status == 302  # revoked
    assert app.get("/app/env", cookie(t2)).status == 200


# -- 7 ----------------------------------------------------------------------

@pytest.mark.parametrize("name", [b"evil\r\nX-Injected: yes",
                                  b"evil\nX-Injected: yes",
                                  b"evil\rX", b"ev\x00il", b"evil\x1b[31m",
                                  b"evil\x7f"])
def test_row7_control_characters_in_names(app, name):
    """CR, LF, NUL or other control characters in a user name never reach
    a response header, the application or a log line as such; no row."""
    app.allow("RUS00006")
    before = app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"]
    r = app.get("/anon/env", anon_auth(name))
    if b"\x00" in name:
        # C strings end at the NUL: httpd itself sees the name "ev"
        assert r.status == 200
        assert env(r)["REMOTE_USER"] == "ev"
        return
    assert r.status in (400, 403), r.status
    assert "X-Injected" not in r.headers
    log = app.new_log()
    assert "RUS00006" in log
    for line in log.splitlines():
        assert not line.startswith("X-Injected")
        assert "\x1b" not in line and "\x7f" not in line
    assert app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"] == before


# -- 8 ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["o'brien", "x'); DROP TABLE users;--",
                                  "a\" OR \"1\"=\"1", "%' OR 1=1 --",
                                  "robert'); DELETE FROM sessions; --"])
def test_row8_sql_metacharacters_are_just_characters(app, name):
    """A user name is data: bound, never spliced into SQL."""
    r = app.get("/anon/env", anon_auth(name.encode()))
    assert r.status == 200
    assert env(r)["REMOTE_USER"] == name
    rows = app.rows("SELECT username FROM users WHERE username = ?", (name,))
    assert rows == [{"username": name}]
    assert app.rows("SELECT COUNT(*) AS n FROM sqlite_master "
                    "WHERE name IN ('users', 'sessions')")[0]["n"] == 2
    assert app.get("/export/env", basic("alice")).status == 200


# -- 9 ----------------------------------------------------------------------

def test_row9_large_cookie_and_header_values(app):
    """8 KB and larger values: not a session, not a user, no crash."""
    app.allow("RUS00006")
    big = "A" * 8192
    assert app.get("/app/env", cookie(big)).status == 302
    r = app.get("/app/env", {"Cookie": "x=%s; %s=%s" % (big, COOKIE, big)})
    assert r.status == 302
    # from the trusted proxy: a name of 8 KB is refused with a reason
    r = app.get("/hdr/env", {"X-Auth-User": "a" * 8192})
    assert r.status in (400, 403)
    # larger than httpd's own limit (LimitRequestFieldSize): httpd's 400
    r = app.get("/hdr/env", {"X-Auth-User": "a" * 70000})
    assert r.status in (400, 413, 431)
    assert app.get("/app/env", cookie("A" * 43)).status == 302


# -- 10 ---------------------------------------------------------------------

def test_row10_thousands_of_cookies(app):
    """Thousands of cookies, many of them ours: bounded work (a Cookie
    header over 16 KB is not looked at, at most 4 of our cookies are),
    no crash, and a valid cookie among thousands of others still counts."""
    token = token_of(login(app, "alice"))
    decoys = "; ".join("%s=%s" % (COOKIE, "B" * 43) for _ in range(600))
    others = "; ".join("c%d=v" % i for i in range(2400))
    r = app.get("/app/env", {"Cookie": others + "; " + decoys + "; %s=%s"
                             % (COOKIE, token)})
    assert r.status == 302  # 56 KB: over the limit, not a session
    others = "; ".join("c%d=v" % i for i in range(1500))  # 12 KB
    r = app.get("/app/env", {"Cookie": "%s; %s=%s; %s=%s" % (
        others, COOKIE, "B" * 43, COOKIE, token)})
    assert r.status == 200
    assert env(r)["REMOTE_USER"] == "alice"
