"""Regression tests for the second security review's findings 1, 2, 4, 5
and 10, against a real httpd: mod_dir's DirectoryIndex and
FallbackResource, MultiViews, <Files> sections, ErrorDocument, mod_proxy
and mod_rewrite proxying back to the same server, and mod_http2 (h2c
upgrade and prior knowledge) through curl."""

import http.server
import json
import os
import shutil
import subprocess
import threading

import pytest

from pyrus import (ENV_CGI, Httpd, basic, cookie, location, login_location,
                   remoteuser_location, set_cookie, token_of)
from pyrus.fixtures import server_fixture, watched


class Echo(http.server.HTTPServer):
    """A back end that answers with the request headers it got, as JSON."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({k.lower(): v for k, v in
                                   self.headers.items()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="module")
def echo():
    b = Echo()
    t = threading.Thread(target=b.serve_forever, daemon=True)
    t.start()
    yield b
    b.shutdown()
    b.server_close()


EXPORT = ["RemoteUserRequestHeader X-Remote-User",
          "RemoteUserGroupsHeader X-Remote-Groups"]


def conf(echo_port):
    return "\n".join([
        'Alias /idx/ "@ROOT@/idx/"',
        'Alias /fb/ "@ROOT@/fb/"',
        'Alias /mv/ "@ROOT@/mv/"',
        'Alias /files/ "@ROOT@/files/"',
        # finding 1: the README's /reports, reached through DirectoryIndex
        remoteuser_location("/reports/", "RemoteUserSession On", *EXPORT)
        .replace("</Location>", "  ProxyPass http://127.0.0.1:%d/reports/\n"
                 "</Location>" % echo_port),
        '<Directory "@ROOT@/idx">',
        "  DirectoryIndex /reports/",
        "</Directory>",
        # FallbackResource to a session-authenticated CGI
        remoteuser_location("/app/", "RemoteUserSession On", *EXPORT),
        '<Directory "@ROOT@/fb">',
        "  FallbackResource /app/env",
        "</Directory>",
        # MultiViews: /mv/page finds page.cgi
        '<Directory "@ROOT@/mv">',
        "  Options +MultiViews +ExecCGI",
        "  MultiviewsMatch Any",
        "  AddHandler cgi-script .cgi",
        "  AuthType RemoteUser",
        "  Require valid-user",
        "  RemoteUserSession On",
        "  RemoteUserRequestHeader X-Remote-User",
        "</Directory>",
        # <Files>: only secret.cgi is under the engine
        '<Directory "@ROOT@/files">',
        "  Options +ExecCGI",
        "  AddHandler cgi-script .cgi",
        "  DirectoryIndex secret.cgi",
        '  <Files "secret.cgi">',
        "    AuthType RemoteUser",
        "    Require valid-user",
        "    RemoteUserSession On",
        "    RemoteUserRequestHeader X-Remote-User",
        "  </Files>",
        "</Directory>",
        login_location(),
        # finding 2: a login URL whose ErrorDocument is under it
        location("/xlogin", "RemoteUserEngine On", "RemoteUserSession On",
                 "SetHandler remoteuser-login",
                 "ErrorDocument 401 /xlogin/denied").replace(
            "Require valid-user", "Require user alice"),
        location("/xapp/", "RemoteUserEngine On", "RemoteUserSession On",
                 "ErrorDocument 401 /xapp/denied/env").replace(
            "Require valid-user", "Require user alice"),
        # findings 4, 5, 10: the trusted header
        location("/hdr/", "RemoteUserEngine On",
                 "RemoteUserHeader X-Auth-User",
                 "RemoteUserTrustedProxy 127.0.0.1", *EXPORT),
        "ProxyPass /mirror/ http://127.0.0.1:@PORT@/hdr/",
        "RewriteEngine On",
        "RewriteRule ^/legacy/(.*)$ http://127.0.0.1:@PORT@/hdr/$1 [P]",
        remoteuser_location("/pxapp/", "RemoteUserSession On", *EXPORT)
        .replace("</Location>", "  ProxyPass http://127.0.0.1:%d/pxapp/\n"
                 "</Location>" % echo_port),
        "Protocols h2c http/1.1",
    ])


def make_server(mpm, echo):
    h = Httpd("", users=["alice", "bob"], mpm=mpm,
              extra_modules=["dir", "negotiation", "proxy", "proxy_http",
                             "rewrite", "http2"])
    body = conf(echo.server_address[1]).replace("@PORT@", str(h.port))
    h.write_conf(body, "sqlite:store/users.db",
                 ["dir", "negotiation", "proxy", "proxy_http", "rewrite",
                  "http2"])
    for d in ("idx", "fb", "mv", "files"):
        os.mkdir(os.path.join(h.root, d), 0o755)
    for d, name in (("mv", "page.cgi"), ("files", "secret.cgi")):
        p = os.path.join(h.root, d, name)
        with open(p, "w") as f:
            f.write(ENV_CGI)
        os.chmod(p, 0o755)
    return h


srv = server_fixture(make_server, mpms=None, needs=("echo",))


@pytest.fixture
def app(srv):
    yield from watched(srv)


def login(app, user="alice"):
    r = app.get("/login", basic(user))
    assert r.status == 302
    return token_of(r)


FORGED = {"X-Remote-User": "admin", "X-Remote-Groups": "admins",
          "X_Remote_User": "admin"}


def forged(token):
    return dict(cookie(token), **FORGED)


# -- finding 1 ------------------------------------------------------------------

def test_f1_directory_index_into_a_proxied_section(app):
    token = login(app)
    r = app.get("/idx/", forged(token))
    assert r.status == 200, r.body
    seen = json.loads(r.body)
    assert seen.get("x-remote-user") == "alice"
    assert seen.get("x-remote-groups") == ""
    assert "admin" not in json.dumps(seen)
    assert "private" in r.headers["Cache-Control"]


def test_f1_fallback_resource_into_a_cgi(app):
    token = login(app)
    r = app.get("/fb/no/such/thing", forged(token))
    assert r.status == 200, r.body
    env = r.env
    assert env["REMOTE_USER"] == "alice"
    assert env.get("HTTP_X_REMOTE_USER") == "alice"
    assert "admin" not in r.body.decode()


def test_f1_multiviews_exports_the_identity(app):
    token = login(app)
    r = app.get("/mv/page", forged(token))
    assert r.status == 200, r.body
    env = r.env
    assert env["REMOTE_USER"] == "alice"
    assert env.get("REMOTE_USER_ID") == str(app.user("alice")["id"])
    assert env.get("HTTP_X_REMOTE_USER") == "alice"
    assert "HTTP_X_REMOTE_USER=admin" not in r.body.decode()


def test_f1_files_section_through_directory_index(app):
    token = login(app)
    r = app.get("/files/", forged(token))
    assert r.status == 200, r.body
    env = r.env
    assert env["REMOTE_USER"] == "alice"
    assert env.get("HTTP_X_REMOTE_USER") == "alice"
    assert "HTTP_X_REMOTE_USER=admin" not in r.body.decode()
    # without a session: the section's own AuthType answers
    assert app.get("/files/secret.cgi", FORGED).status == 401


# -- finding 2 ------------------------------------------------------------------

def test_f2_no_session_for_a_refused_login(app):
    app.allow("RUS00042")
    before = app.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"]
    r = app.get("/xlogin", basic("bob"))
    assert r.status == 401
    assert set_cookie(r) is None
    assert app.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"] == before
    # the fixups do not mint either, on an error document elsewhere
    r = app.get("/xapp/x", basic("bob"))
    assert r.status == 401
    assert set_cookie(r) is None
    assert app.rows("SELECT COUNT(*) AS n FROM sessions")[0]["n"] == before
    # alice still gets hers
    assert set_cookie(app.get("/xlogin", basic("alice"))) is not None


# -- finding 4 ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/legacy/env", "/mirror/env"])
def test_f4_header_does_not_pass_when_httpd_proxies_to_itself(app, path):
    app.allow("RUS00019")
    r = app.get(path, {"X-Auth-User": "admin"}, source="127.0.0.2")
    assert b"REMOTE_USER=admin" not in r.body
    assert r.status == 401
    # from the trusted peer itself it still works, directly
    r = app.get("/hdr/env", {"X-Auth-User": "admin"})
    assert r.status == 200 and r.env["REMOTE_USER"] == "admin"


# -- finding 5 ------------------------------------------------------------------

@pytest.mark.parametrize("connection", [
    "close, X-Remote-User, X-Remote-Groups", "X_Remote_User",
    "keep-alive,x-auth-user"])
def test_f5_connection_cannot_drop_the_export_headers(app, connection):
    app.allow("RUS00043")
    token = login(app)
    r = app.get("/pxapp/x", dict(cookie(token), Connection=connection))
    assert r.status == 400
    assert "RUS00043" in app.new_log()
    r = app.get("/pxapp/x", cookie(token))
    assert json.loads(r.body).get("x-remote-user") == "alice"


# -- finding 10 -----------------------------------------------------------------

@pytest.mark.parametrize("mode", ["--http2", "--http2-prior-knowledge"])
def test_f10_header_identity_over_h2c(app, mode):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(
        ["curl", "-s", "-S", mode, "-H", "X-Auth-User: bob", "-o", "-",
         "-w", "\n%{http_code} %{http_version}\n",
         "http://127.0.0.1:%d/hdr/env" % app.port],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body, status = out.stdout.rsplit("\n", 2)[0], out.stdout.split()[-2:]
    assert status == ["200", "2"], out.stdout[-300:]
    assert "REMOTE_USER=bob" in body
    assert "HTTP_X_AUTH_USER" not in body
