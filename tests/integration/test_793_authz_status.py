"""Under AuthType RemoteUser an authenticated user whom Require refuses
gets 403 (RUS00101), not a 401 without WWW-Authenticate (issue #17); a
request without identity still gets 401 with WWW-Authenticate: RemoteUser
(or the redirect to the login URL), and with another AuthType in front a
refusal stays httpd's 401 with that front end's challenge."""

import pytest

from pyrus import (Httpd, basic, cookie, location, login_location,
                   run_admin, token_of)
from pyrus.fixtures import server_fixture, watched

TRUST = ("RemoteUserHeader X-Auth-User", "RemoteUserTrustedProxy 127.0.0.1")


def only_remoteuser(path, require, *directives):
    """<Location path> authenticated by this module alone, with `require`
    in place of Require valid-user."""
    return "\n".join(["<Location %s>" % path, "  AuthType RemoteUser",
                      "  AuthName Intranet"]
                     + ["  " + r for r in require.split("\n")]
                     + ["  " + d for d in directives] + ["</Location>"])


CONF = "\n".join([
    only_remoteuser("/hdr/", "Require remoteuser-group staff", *TRUST),
    only_remoteuser("/hdrnot/", "<RequireAll>\n  Require valid-user\n"
                    "  Require not remoteuser-group suspended\n</RequireAll>",
                    *TRUST),
    only_remoteuser("/hdruser/", "Require user bob", *TRUST),
    only_remoteuser("/sess/", "Require remoteuser-group staff",
                    "RemoteUserSession On"),
    login_location(),
    location("/basic/", "RemoteUserEngine On").replace(
        "Require valid-user", "Require remoteuser-group staff"),
])


def make_server(mpm):
    return Httpd(CONF, users=["bob", "carol"], mpm=mpm)


srv = server_fixture(make_server, mpms=("event", "prefork"))


@pytest.fixture
def app(srv):
    yield from watched(srv)


@pytest.fixture(scope="module", autouse=True)
def groups(srv):
    """bob: staff; carol: suspended."""
    for u in ("bob", "carol"):
        assert srv.get("/basic/env", basic(u)).status in (200, 401)
    for args in (("group", "add", "staff"), ("group", "add", "suspended"),
                 ("group", "add-member", "staff", "bob"),
                 ("group", "add-member", "suspended", "carol")):
        r = run_admin(srv, "--db", srv.db_path, *args)
        assert r.returncode == 0, r.stderr


def refused_403(app, r):
    assert r.status == 403
    assert r.headers.get("WWW-Authenticate") is None
    assert app.wait_log("RUS00101")


def test_header_user_not_in_the_group_gets_403(app):
    assert app.get("/hdr/env", {"X-Auth-User": "bob"}).status == 200
    refused_403(app, app.get("/hdr/env", {"X-Auth-User": "carol"}))
    assert "user 'carol' not authorized for /hdr/env" in app.new_log()


def test_require_not_group_gets_403(app):
    assert app.get("/hdrnot/env", {"X-Auth-User": "bob"}).status == 200
    refused_403(app, app.get("/hdrnot/env", {"X-Auth-User": "carol"}))


def test_require_user_gets_403(app):
    assert app.get("/hdruser/env", {"X-Auth-User": "bob"}).status == 200
    refused_403(app, app.get("/hdruser/env", {"X-Auth-User": "carol"}))


def test_session_user_not_in_the_group_gets_403(app):
    t_bob = token_of(app.get("/login", basic("bob")))
    t_carol = token_of(app.get("/login", basic("carol")))
    assert app.get("/sess/env", cookie(t_bob)).status == 200
    refused_403(app, app.get("/sess/env", cookie(t_carol)))


@pytest.mark.parametrize("path", ["/hdr/env", "/sess/env", "/hdrnot/env"])
def test_no_identity_stays_401_with_a_challenge(app, path):
    for method in ("GET", "POST"):
        r = app.get(path, method=method)
        assert r.status == 401
        assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="Intranet"'
    assert "RUS00101" not in app.new_log()


def test_another_front_end_keeps_its_401(app):
    # Basic may ask for other credentials: httpd's 401 with its challenge
    assert app.get("/basic/env", basic("bob")).status == 200
    r = app.get("/basic/env", basic("carol"))
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert "RUS00101" not in app.new_log()
