"""Trusted-header identity through a real two-hop chain: a front httpd
(mod_auth_basic + mod_proxy_http + RequestHeader) sets X-Auth-User and
proxies to the httpd under test, which trusts 127.0.0.1 only. Direct
clients bound to 127.0.0.2 are not trusted."""

import pytest

from pyrus import Httpd, basic, location
from pyrus.fixtures import server_fixture, watched

HEADER_DIRECTIVES = ("RemoteUserHeader X-Auth-User",
                     "RemoteUserTrustedProxy 127.0.0.1 ::1")

BACKEND = "\n".join([
    # header wins over Basic when present; Basic when absent
    location("/hdr/", "RemoteUserEngine On", *HEADER_DIRECTIVES),
    # this module alone authenticates
    location("/only/", "RemoteUserStripRealm On", "AuthName Intranet",
             "ErrorDocument 404 /hdr/env",
             *HEADER_DIRECTIVES, auth=False).replace(
        "<Location /only/>",
        "<Location /only/>\n  AuthType RemoteUser\n  Require valid-user"),
    # a public page: the header is only scrubbed
    location("/public/", "Require all granted", *HEADER_DIRECTIVES,
             auth=False),
    # the trusted list of an outer section is replaced, not extended
    location("/narrow/", "RemoteUserEngine On", *HEADER_DIRECTIVES),
    location("/narrow/inner/", "RemoteUserTrustedProxy 10.0.0.0/8",
             auth=False),
])

USERS = ["alice", "bob", "carol", "basicuser"]  # Basic front end


def make_backend(mpm="event"):
    return Httpd(BACKEND, users=USERS, mpm=mpm)


backend = server_fixture(make_backend)


@pytest.fixture
def app(backend):
    yield from watched(backend)


@pytest.fixture(scope="module")
def front(backend):
    conf = location(
        "/front/",
        "RequestHeader set X-Auth-User \"expr=%{REMOTE_USER}\"",
        "ProxyPass http://127.0.0.1:%d/hdr/" % backend.port)
    h = Httpd(conf, store=None, users=USERS,
              extra_modules=["proxy", "proxy_http", "headers"])
    try:
        h.start()
        yield h
    finally:
        h.cleanup()


def hdr(value, name="X-Auth-User"):
    return {name: value}


def test_two_hop_chain_resolves_the_proxy_user(app, front):
    r = front.get("/front/env", basic("alice"))
    assert r.status == 200
    env = r.env
    assert env["REMOTE_USER"] == "alice"
    assert env["AUTH_TYPE"] == "RemoteUser"
    assert env["REMOTE_USER_ID"] == str(app.user("alice")["id"])
    assert "HTTP_X_AUTH_USER" not in env   # the app never sees the header
    assert "HTTP_AUTHORIZATION" not in env


def test_spoofed_variant_through_the_proxy_is_refused(app, front):
    """CVE-2015-0219: the proxy sets X-Auth-User but passes X_Auth_User."""
    app.allow("RUS00016")
    h = dict(basic("bob"))
    h["X_Auth_User"] = "admin"
    r = front.get("/front/env", h)
    assert r.status == 400
    assert "RUS00016" in app.new_log() and "X_Auth_User" in app.new_log()
    assert app.user("admin") is None


def test_untrusted_peer_is_refused(app):
    app.allow("RUS00019")
    r = app.get("/hdr/env", hdr("alice"), source="127.0.0.2")
    assert r.status == 403
    assert "RUS00019" in app.new_log() and "127.0.0.2" in app.new_log()
    # even with valid Basic credentials: the header is never ignored
    h = dict(basic("basicuser"), **hdr("alice"))
    assert app.get("/hdr/env", h, source="127.0.0.2").status == 403


def test_trusted_peer_header_wins_over_basic(app):
    r = app.get("/hdr/env", hdr("carol"))  # no Authorization at all
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "carol"
    h = dict(basic("basicuser"), **hdr("carol"))
    r = app.get("/hdr/env", h)
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "carol"


@pytest.mark.parametrize("name", ["X_Auth_User", "X-Auth_User", "x_auth-user",
                                  "X_AUTH_USER", "x-auth_user"])
@pytest.mark.parametrize("source", ["127.0.0.1", "127.0.0.2"])
def test_every_variant_spelling_is_refused(app, name, source):
    app.allow("RUS00016")
    r = app.get("/hdr/env", hdr("alice", name), source=source)
    assert r.status == 400
    assert "RUS00016" in app.new_log()


def test_case_of_the_exact_name_does_not_matter(app):
    r = app.get("/hdr/env", hdr("alice", "x-auth-user"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "alice"


def test_duplicate_header_is_refused(app):
    app.allow("RUS00017")
    status = app.raw("GET /hdr/env HTTP/1.1\r\nHost: x\r\n"
                     "X-Auth-User: alice\r\nX-Auth-User: bob\r\n"
                     "Connection: close\r\n\r\n")
    assert status == 400
    assert "RUS00017" in app.new_log()


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_empty_header_counts_as_absent(app, value):
    r = app.get("/hdr/env", hdr(value))
    assert r.status == 401           # Basic asks
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    h = dict(basic("basicuser"), **hdr(value))
    r = app.get("/hdr/env", h)
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "basicuser"


def test_absent_header_falls_back_to_basic(app):
    r = app.get("/hdr/env", basic("basicuser"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "basicuser"
    assert r.env["AUTH_TYPE"] == "Basic"


def test_value_is_trimmed(app):
    r = app.get("/hdr/env", hdr("  bob\t "))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "bob"


@pytest.mark.parametrize("value", [b"ali\x01ce", b"ali\x7fce", b"ali\xffce",
                                   b"ali\xc2\x85ce", b"ali\xc0\xafce"])
def test_bad_values_are_refused(app, value):
    """httpd's own parser already refuses C0 controls in header values
    (HttpProtocolOptions Strict); what it lets through, the module does."""
    app.allow("RUS00020")
    count = app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"]
    r = app.get("/hdr/env", {"X-Auth-User": value})
    assert r.status == 400
    if value not in (b"ali\x01ce", b"ali\x7fce"):
        assert "RUS00020" in app.new_log()
    assert app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"] == count


def test_authtype_remoteuser(app):
    r = app.get("/only/env")
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="Intranet"'
    r = app.get("/only/env", hdr("Dave@EXAMPLE.COM"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "Dave"
    assert app.user("Dave") is not None
    # Basic credentials mean nothing here
    assert app.get("/only/env", basic("basicuser")).status == 401


def test_internal_redirect_keeps_the_header_identity(app):
    """The 404 page lives under /hdr/ (another configuration, Basic as the
    fallback): authentication runs again there, after the header was
    consumed, and must not fall back to Basic."""
    r = app.get("/only/missing", hdr("erin"))
    assert r.status == 404
    env = r.env
    assert env["REMOTE_USER"] == "erin"
    assert env["REMOTE_USER_ID"] == str(app.user("erin")["id"])
    assert "HTTP_X_AUTH_USER" not in env


def test_public_page_never_passes_the_header_on(app):
    for name in ("X-Auth-User", "X_Auth_User"):
        r = app.get("/public/env", hdr("admin", name), source="127.0.0.2")
        assert r.status == 200
        assert "HTTP_X_AUTH_USER" not in r.env
        assert "REMOTE_USER" not in r.env


def test_inner_trusted_list_replaces_the_outer_one(app):
    app.allow("RUS00019")
    assert app.get("/narrow/env", hdr("alice")).status == 200
    assert app.get("/narrow/inner/env", hdr("alice")).status == 403


def test_header_without_trusted_peer_stops_startup(scratch):
    conf = location("/x/", "RemoteUserEngine On",
                    "RemoteUserHeader X-Auth-User")
    h = scratch(conf)
    r = h.configtest()
    assert r.returncode != 0
    assert "RUS00015" in r.stderr
    assert "RemoteUserTrustedProxy" in r.stderr


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0.1/8", "::1/129",
                                 "10.0.0.0/", "10.0.0.0/abc", "010.0.0.1",
                                 "256.0.0.1", "example.com", "10.0.0.0/-1",
                                 "1.2.3"])
def test_bad_trusted_proxy_is_a_syntax_error(scratch, bad):
    conf = location("/x/", "RemoteUserEngine On",
                    "RemoteUserHeader X-Auth-User",
                    "RemoteUserTrustedProxy " + bad)
    h = scratch(conf)
    r = h.configtest()
    assert r.returncode != 0
    assert "RemoteUserTrustedProxy" in r.stderr
