"""Issue #21 without a browser: the sessions page (SetHandler
remoteuser-sessions) and its JSON, its sign-out forms and forged ones,
remoteuser-info for each source of identity, RemoteUserUnauthenticatedAction
(Auto, Redirect, 401), REMOTE_USER_SESSION_EXPIRES, the eviction under
RemoteUserSessionMaxPerUser as the page shows it, and what a session row
keeps of the login (address, cleaned User-Agent).

The CSRF tokens and session references are read off the JSON of the
page (never derived here): a forged POST uses what another session or
another user was shown."""

import json
import re
import urllib.parse

import pytest

from pyrus import (Httpd, Response, basic, cookie, location, login_location,
                   logout_location, remoteuser_location, stored_hash,
                   token_of)
from pyrus.fixtures import server_fixture, watched

HEADER = ("RemoteUserHeader X-Auth-User", "RemoteUserTrustedProxy 127.0.0.1",
          "RemoteUserAttribute email header:X-Mail",
          "RemoteUserAttribute team header:X-Team",
          "RemoteUserGroupsFrom header:X-Groups")

CONF = "\n".join([
    login_location(),
    login_location("/login2", "RemoteUserSessionMaxPerUser 2"),
    logout_location(),
    remoteuser_location("/me/", "RemoteUserSession On"),
    remoteuser_location("/me/sessions", "RemoteUserSession On",
                        "SetHandler remoteuser-sessions"),
    remoteuser_location("/me/info", "RemoteUserSession On",
                        "SetHandler remoteuser-info"),
    remoteuser_location("/short/", "RemoteUserSession On",
                        "RemoteUserSessionMaxAge 100"),
    location("/fe/", "RemoteUserEngine On"),
    location("/fe/sessions", "RemoteUserEngine On",
             "SetHandler remoteuser-sessions"),
    location("/fe/info", "RemoteUserEngine On", "SetHandler remoteuser-info"),
    remoteuser_location("/hdr/info", *HEADER, "SetHandler remoteuser-info"),
    location("/pub/info", "RemoteUserEngine On", "RemoteUserSession On",
             "Require all granted", "SetHandler remoteuser-info",
             auth=False),
    remoteuser_location("/auto/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    remoteuser_location("/redir/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login",
                        "RemoteUserUnauthenticatedAction Redirect"),
    remoteuser_location("/force401/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login",
                        "RemoteUserUnauthenticatedAction 401"),
])

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "kim", "oscar", "peggy"]

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

srv = server_fixture(lambda mpm: Httpd(CONF, users=USERS, mpm=mpm),
                     mpms=None)


@pytest.fixture
def app(srv):
    yield from watched(srv)


def log_in(app, user, ua="test-agent", path="/login"):
    """A fresh session of `user` (Basic at `path`, User-Agent `ua`): its
    token."""
    r = app.get(path + "?next=%2F", dict(basic(user), **{"User-Agent": ua}))
    assert r.status == 302, r.body
    return token_of(r)


def age(app, token, seconds):
    """Make the session of `token` `seconds` older (logins within one
    second are otherwise ordered by their hashes)."""
    app.execute("UPDATE sessions SET created_at = created_at - ?, "
                "last_seen = last_seen - ? WHERE token_hash = ?",
                (seconds, seconds, stored_hash(token)))


def page_json(app, token, accept="application/json"):
    r = app.get("/me/sessions", dict(cookie(token), Accept=accept))
    assert r.status == 200, r.body
    assert r.headers["Content-Type"].startswith("application/json")
    return json.loads(r.body)


def ref_of(page, ua):
    """The reference the page gives the session logged in with `ua`."""
    refs = [s["id"] for s in page["sessions"] if s["user_agent"] == ua]
    assert len(refs) == 1, page
    return refs[0]


def post(app, token, fields, headers=None):
    """A POST of the form `fields` to the page, with `token`'s cookie."""
    h = dict(cookie(token), **FORM)
    h.update(headers or {})
    conn = app.connection()
    try:
        conn.request("POST", "/me/sessions", urllib.parse.urlencode(fields),
                     h)
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def hashes_of(app, user):
    return {r["token_hash"] for r in app.rows(
        "SELECT s.token_hash FROM sessions s JOIN users u "
        "ON u.id = s.user_id WHERE u.username = ?", (user,))}


def valid(app, token):
    """Does the token still authenticate (a session location)?"""
    r = app.get("/me/env", cookie(token))
    assert r.status in (200, 401), r.body
    return r.status == 200


def no_secret_in(body, tokens, hashes):
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) \
        else body
    for t in tokens:
        assert t not in text
    for h in hashes:
        assert h not in text and h[:12] not in text


def test_list_json_html_and_no_secrets(app):
    """Three sessions of alice listed (newest first, this one marked), no
    session of bob; neither the tokens nor their stored hashes (nor their
    public ids) appear in the JSON or the HTML."""
    tokens = [log_in(app, "alice", "agent-%d" % i) for i in (1, 2, 3)]
    age(app, tokens[0], 30)
    age(app, tokens[1], 20)
    bob = log_in(app, "bob", "bob-agent")
    page = page_json(app, tokens[2])
    assert page["user"] == "alice"
    assert re.fullmatch(r"[0-9a-f]{64}", page["csrf"])
    assert [s["user_agent"] for s in page["sessions"]] == \
        ["agent-3", "agent-2", "agent-1"]
    assert [s["current"] for s in page["sessions"]] == [True, False, False]
    for s in page["sessions"]:
        assert re.fullmatch(r"[0-9a-f]{32}", s["id"])
        assert s["ip"] == "127.0.0.1"
        assert s["created"] <= s["last_seen"] < s["expires"]
    assert "bob-agent" not in json.dumps(page)
    html = app.get("/me/sessions", dict(cookie(tokens[2]),
                                        Accept="text/html"))
    assert html.status == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert html.headers["Cache-Control"] == "no-store"
    assert html.headers["X-Frame-Options"] == "DENY"
    assert html.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    text = html.body.decode()
    assert text.count('<tr class="session') == 3
    assert text.count('<tr class="session current">') == 1
    assert "This session" in text
    assert text.count('class="signout"') == 2
    assert 'id="signout-others"' in text
    assert 'action="/me/sessions"' in text
    assert "bob-agent" not in text
    # without Accept, or with both at the same q, HTML first: the page
    r = app.get("/me/sessions", cookie(tokens[2]))
    assert r.headers["Content-Type"].startswith("text/html")
    r = app.get("/me/sessions", dict(cookie(tokens[2]),
                Accept="text/html, application/json"))
    assert r.headers["Content-Type"].startswith("text/html")
    r = app.get("/me/sessions", dict(cookie(tokens[2]),
                Accept="application/json, text/html;q=0.9"))
    assert r.headers["Content-Type"].startswith("application/json")
    hashes = {r["token_hash"] for r in app.rows(
        "SELECT token_hash FROM sessions")}
    assert stored_hash(tokens[0]) in hashes
    for body in (html.body, json.dumps(page), r.body):
        no_secret_in(body, tokens + [bob], hashes)
    no_secret_in(page_json(app, bob, "application/json").__repr__(),
                 tokens + [bob], hashes)


def test_signout_one(app):
    """A signout POST with the page's csrf and a session's reference ends
    exactly that session: its cookie is refused next; 303 to the page,
    whose notice says so."""
    tokens = [log_in(app, "carol", "c-%d" % i) for i in (1, 2, 3)]
    page = page_json(app, tokens[2])
    app.mark_log()
    r = post(app, tokens[2], {"csrf": page["csrf"], "action": "signout",
                              "session": ref_of(page, "c-1")})
    assert r.status == 303, r.body
    assert r.headers["Location"].endswith("/me/sessions?done=1")
    assert r.headers["Cache-Control"] == "no-store"
    assert app.wait_log("RUS00153")
    assert not valid(app, tokens[0])
    assert valid(app, tokens[1]) and valid(app, tokens[2])
    assert hashes_of(app, "carol") == {stored_hash(t) for t in tokens[1:]}
    back = app.get("/me/sessions?done=1", cookie(tokens[2]))
    assert '<p class="notice"' in back.body.decode()
    assert "Signed out 1 session." in back.body.decode()
    # the notice never reflects the query's text
    odd = app.get("/me/sessions?done=%3Cb%3Ex", cookie(tokens[2]))
    assert b'class="notice"' not in odd.body and b"<b>" not in odd.body


def test_signout_others(app):
    """signout-others ends every other session of the user, not this one
    and not another user's."""
    tokens = [log_in(app, "dave", "d-%d" % i) for i in (1, 2, 3)]
    other = log_in(app, "erin", "e-1")
    page = page_json(app, tokens[1])
    r = post(app, tokens[1], {"csrf": page["csrf"],
                              "action": "signout-others"})
    assert r.status == 303, r.body
    assert r.headers["Location"].endswith("?done=2")
    assert not valid(app, tokens[0]) and not valid(app, tokens[2])
    assert valid(app, tokens[1]) and valid(app, other)
    assert hashes_of(app, "dave") == {stored_hash(tokens[1])}
    assert [s["current"] for s in page_json(app, tokens[1])["sessions"]] \
        == [True]


def test_signout_others_ends_only_what_the_page_shows(app):
    """A session past its expiry (not yet purged) is neither listed nor
    counted as signed out by signout-others (review of #21)."""
    tokens = [log_in(app, "peggy", "p-%d" % i) for i in (1, 2, 3)]
    app.execute("UPDATE sessions SET expires_at = 1 WHERE token_hash = ?",
                (stored_hash(tokens[0]),))
    page = page_json(app, tokens[2])
    assert len(page["sessions"]) == 2
    r = post(app, tokens[2], {"csrf": page["csrf"],
                              "action": "signout-others"})
    assert r.status == 303, r.body
    assert r.headers["Location"].endswith("?done=1")


def test_forged_posts(app):
    """No token, a wrong one, another session's, another user's session,
    this very session, a cross-site form, no form, too big a body, an
    unknown action: each 403 (415, 413) with its log id, nothing
    revoked. Then the same form, same-origin, works."""
    t1 = log_in(app, "frank", "f-1")
    t2 = log_in(app, "frank", "f-2")
    bob = log_in(app, "grace", "g-1")
    page = page_json(app, t2)
    other_page = page_json(app, t1)
    bob_page = page_json(app, bob)
    assert other_page["csrf"] != page["csrf"]
    ref1 = ref_of(page, "f-1")
    before = hashes_of(app, "frank") | hashes_of(app, "grace")
    origin = "http://127.0.0.1:%d" % app.port
    cases = [
        ({"action": "signout", "session": ref1}, {}, 403, "RUS00149"),
        ({"csrf": "0" * 64, "action": "signout", "session": ref1}, {}, 403,
         "RUS00149"),
        ({"csrf": "", "action": "signout", "session": ref1}, {}, 403,
         "RUS00149"),
        ({"csrf": other_page["csrf"], "action": "signout", "session": ref1},
         {}, 403, "RUS00149"),
        ({"csrf": bob_page["csrf"], "action": "signout", "session": ref1},
         {}, 403, "RUS00149"),
        ({"csrf": page["csrf"], "action": "signout",
          "session": bob_page["sessions"][0]["id"]}, {}, 403, "RUS00151"),
        ({"csrf": page["csrf"], "action": "signout",
          "session": ref_of(other_page, "f-1")}, {}, 403, "RUS00151"),
        ({"csrf": page["csrf"], "action": "signout",
          "session": ref_of(page, "f-2")}, {}, 403, "RUS00150"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Sec-Fetch-Site": "cross-site"}, 403, "RUS00146"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Sec-Fetch-Site": "same-site"}, 403, "RUS00146"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Origin": "http://evil.example"}, 403, "RUS00146"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Origin": "null"}, 403, "RUS00146"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Content-Type": "text/plain"}, 415, "RUS00147"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1},
         {"Content-Type": "multipart/form-data; boundary=x"}, 415,
         "RUS00147"),
        ({"csrf": page["csrf"], "action": "signout", "session": ref1,
          "pad": "x" * 5000}, {}, 413, "RUS00148"),
        ({"csrf": page["csrf"], "action": "revoke", "session": ref1}, {},
         403, "RUS00152"),
        ({"csrf": page["csrf"], "action": "signout"}, {}, 403, "RUS00152"),
    ]
    for fields, headers, status, logid in cases:
        app.mark_log()
        r = post(app, t2, fields, headers)
        assert r.status == status, (fields, headers, r.body)
        assert app.wait_log(logid), (fields, headers, app.new_log())
        assert hashes_of(app, "frank") | hashes_of(app, "grace") == before
        assert valid(app, t1)
    app.allow("RUS00146", "RUS00148", "RUS00149", "RUS00150", "RUS00151",
              "RUS00152")
    # the real form, as a browser sends it from the page: accepted
    r = post(app, t2, {"csrf": page["csrf"], "action": "signout",
                       "session": ref1},
             {"Origin": origin, "Sec-Fetch-Site": "same-origin"})
    assert r.status == 303, r.body
    assert not valid(app, t1)
    assert hashes_of(app, "grace") == {stored_hash(bob)}


def test_page_needs_a_session(app):
    """A front-end identity (Basic) on remoteuser-sessions: 403, RUS00144;
    no identity at all: the 401 of AuthType RemoteUser; other methods
    405."""
    app.mark_log()
    r = app.get("/fe/sessions", basic("heidi"))
    assert r.status == 403
    assert app.wait_log("RUS00144")
    app.allow("RUS00144")
    assert app.get("/me/sessions").status == 401
    t = log_in(app, "heidi")
    assert app.get("/me/sessions", cookie(t), method="PUT").status == 405
    # Basic credentials next to the cookie do not turn the page into the
    # front end's: the session authenticates there (AuthType RemoteUser)
    r = app.get("/me/sessions", dict(cookie(t), **basic("heidi")))
    assert r.status == 200


def test_info_sources(app):
    """remoteuser-info for a front-end, a header and a session identity:
    user, id, groups, attributes, source, and the session's times; JSON,
    no-store, no CORS header."""
    r = app.get("/hdr/info", {"X-Auth-User": "ivan",
                              "X-Mail": "ivan@example.org",
                              "X-Team": "blue", "X-Groups": "staff,dev"})
    assert r.status == 200, r.body
    info = json.loads(r.body)
    user = app.user("ivan")
    assert info["user"] == "ivan" and info["id"] == user["id"]
    assert info["source"] == "header"
    assert sorted(info["groups"]) == ["dev", "staff"]
    assert info["email"] == "ivan@example.org"
    assert info["attributes"] == {"team": "blue"}
    assert "created" not in info
    for resp in [r]:
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Cache-Control"] == "no-store"
    r = app.get("/fe/info", basic("ivan"))
    assert r.status == 200, r.body
    info = json.loads(r.body)
    assert info["source"] == "frontend" and info["user"] == "ivan"
    assert info["email"] == "ivan@example.org"
    assert "expires" not in info
    t = log_in(app, "ivan")
    r = app.get("/me/info", cookie(t))
    assert r.status == 200, r.body
    info = json.loads(r.body)
    row = app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                   (stored_hash(t),))[0]
    assert info["source"] == "session" and info["user"] == "ivan"
    assert info["created"] == row["created_at"]
    assert info["expires"] == row["expires_at"]
    assert info["idle_expires"] is None
    assert info["attributes"] == {"team": "blue"}
    for resp in [r]:
        assert resp.headers["Cache-Control"] == "no-store"
        assert not [k for k in resp.headers if
                    k.lower().startswith("access-control-")]
    no_secret_in(r.body, [t], [stored_hash(t)])
    assert app.get("/me/info", cookie(t), method="POST").status == 405


def test_info_401(app):
    """Without an identity: 401, the JSON body, a RemoteUser challenge
    (AuthName, else the server name), no-store, no CORS header."""
    r = app.get("/pub/info")
    assert r.status == 401
    assert json.loads(r.body) == {"error": "unauthenticated", "login": None}
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="127.0.0.1"'
    assert r.headers["Cache-Control"] == "no-store"
    assert not [k for k in r.headers if k.lower().startswith("access-")]
    # refused by AuthType RemoteUser before the handler runs: JSON all
    # the same, whatever the request accepts (a plain fetch() sends */*)
    for accept in ({"Accept": "application/json"}, {}, {"Accept": "*/*"},
                   {"Accept": "*/*", "Sec-Fetch-Mode": "cors"}):
        r = app.get("/me/info", accept)
        assert r.status == 401
        assert json.loads(r.body)["error"] == "unauthenticated"
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="Intranet"'


@pytest.mark.parametrize("headers", [
    {"X-Requested-With": "XMLHttpRequest"},
    {"Sec-Fetch-Mode": "cors", "Accept": "*/*"},
    {"Sec-Fetch-Mode": "no-cors"},
    {"Accept": "application/json"},
])
def test_auto_401(app, headers):
    """Auto: a script's request gets 401 with the challenge; one that
    accepts JSON gets the JSON body naming the login URL."""
    r = app.get("/auto/env", headers)
    assert r.status == 401, r.body
    assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="Intranet"'
    assert "Location" not in r.headers
    if headers.get("Accept") == "application/json":
        assert r.headers["Content-Type"].startswith("application/json")
        assert json.loads(r.body) == {"error": "unauthenticated",
                                      "login": "/login"}
    else:
        assert r.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("headers", [
    {},
    {"Accept": "*/*"},
    {"Sec-Fetch-Mode": "navigate", "Accept": "text/html,*/*;q=0.8"},
    {"Accept": "text/html"},
])
def test_auto_302(app, headers):
    """Auto: a navigation, curl (no Accept, */*) get the redirect."""
    r = app.get("/auto/env?x=1", headers)
    assert r.status == 302
    assert r.headers["Location"] == "/login?next=%2Fauto%2Fenv%3Fx%3D1"


def test_redirect_and_401_forced(app):
    """Redirect: even XHR gets the 302; 401: even a navigation gets 401."""
    r = app.get("/redir/env", {"X-Requested-With": "XMLHttpRequest",
                               "Accept": "application/json"})
    assert r.status == 302
    r = app.get("/force401/env", {"Sec-Fetch-Mode": "navigate",
                                  "Accept": "text/html"})
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == 'RemoteUser realm="Intranet"'
    assert r.headers["Content-Type"].startswith("text/plain")


def test_session_expires_variable(app):
    """REMOTE_USER_SESSION_EXPIRES on a cookie request: the stored
    expires_at, or created_at + a shorter MaxAge in force; none for a
    front-end identity."""
    t = log_in(app, "judy")
    row = app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                   (stored_hash(t),))[0]
    env = app.get("/me/env", cookie(t)).env
    assert env["REMOTE_USER_SOURCE"] == "session"
    assert int(env["REMOTE_USER_SESSION_EXPIRES"]) == row["expires_at"]
    env = app.get("/short/env", cookie(t)).env
    assert int(env["REMOTE_USER_SESSION_EXPIRES"]) == row["created_at"] + 100
    env = app.get("/fe/env", basic("judy")).env
    assert "REMOTE_USER_SESSION_EXPIRES" not in env


def test_max_per_user_eviction(app):
    """RemoteUserSessionMaxPerUser 2: after a third login the page lists
    two sessions, the oldest gone (its cookie refused)."""
    tokens = []
    for i in (1, 2, 3):
        for t in tokens:
            age(app, t, 10)
        tokens.append(log_in(app, "kim", "m-%d" % i, path="/login2"))
    page = page_json(app, tokens[2])
    assert [s["user_agent"] for s in page["sessions"]] == ["m-3", "m-2"]
    assert not valid(app, tokens[0])
    assert hashes_of(app, "kim") == {stored_hash(t) for t in tokens[1:]}


def test_row_keeps_address_and_clean_agent(app):
    """The session row keeps the client address and the User-Agent
    without its control characters (a tab, C1 controls in UTF-8), cut
    to 256 bytes."""
    ua = b"Mozilla/5.0\tX\xc2\x85Y\xc2\x9bZ" + b"a" * 400
    r = app.get("/login?next=%2F", dict(basic("alice"), **{"User-Agent": ua}))
    assert r.status == 302
    t = token_of(r)
    row = app.rows("SELECT ip, user_agent FROM sessions WHERE "
                   "token_hash = ?", (stored_hash(t),))[0]
    assert row["ip"] == "127.0.0.1"
    stored = row["user_agent"]
    assert stored.startswith("Mozilla/5.0XYZaaa")
    assert len(stored.encode()) == 256
    assert not [c for c in stored if ord(c) < 0x20 or 0x7f <= ord(c) < 0xa0]
    assert [s["user_agent"] for s in page_json(app, t)["sessions"]
            if s["current"]] == [stored]


def test_a_user_with_id_0_sees_no_other_users_sessions(app):
    """To the store's session list an id of 0 means everyone's: a user
    whose row has id 0 (made by hand) gets 500 (RUS00156) from the page,
    never the others' sessions (review of #21)."""
    app.allow("RUS00156")
    log_in(app, "bob", ua="bob-agent")
    app.execute("INSERT INTO users (id, username, is_active, date_joined,"
                " last_login) VALUES (0, 'oscar', 1, 1, 1)")
    tok = log_in(app, "oscar")
    r = app.get("/me/sessions", dict(cookie(tok), Accept="application/json"))
    assert r.status == 500
    assert b"bob-agent" not in r.body
    assert "RUS00156" in app.new_log()
