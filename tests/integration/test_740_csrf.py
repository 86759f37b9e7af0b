"""Regression tests for the second security review's findings 6, 7 and 9:
login CSRF, logout CSRF that clears the cookie and revokes nothing, and
the login/logout handlers run in subrequests.

The browser tests drive headless Chromium (Selenium, chromium-driver). The
attacker's pages are served by the same httpd under http://localhost:PORT,
which Chromium treats as another site than http://127.0.0.1:PORT, where
the victim's session lives: a true cross-site context on loopback only.
The header rules themselves are tested with http.client."""

import os
import re
import shutil
import tempfile
import time
import urllib.parse

import pytest

from pyrus import (COOKIE, Httpd, basic, cookie, login_location,
                   logout_location, remoteuser_location, set_cookie,
                   stored_hash, token_of)
from pyrus.fixtures import server_fixture, watched

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

CONF = """
AddType text/html .html .shtml
AddOutputFilter INCLUDES .shtml
Alias /evil/ "@ROOT@/evil/"
Alias /ssi/ "@ROOT@/ssi/"
<Directory "@ROOT@/evil">
    Require all granted
</Directory>
<Directory "@ROOT@/ssi">
    Options +Includes
    Require all granted
</Directory>
""" + "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    logout_location(),
    logout_location("/logoutget", "RemoteUserLogoutAllowGet On"),
])

USERS = ["alice", "bob", "carol", "dave", "erin", "mallory"]

# The attacker's pages (served as http://localhost:PORT/evil/...); TARGET
# is http://127.0.0.1:PORT.
EVIL = {
    "nav.html": """<!DOCTYPE html><html><body><script>
location.href = "http://mallory:secret@TARGET/login?next=%2Fapp%2Fenv";
</script></body></html>""",
    "get.html": """<!DOCTYPE html><html><body>
<form id="f" method="GET" action="http://mallory:secret@TARGET/login">
<input type="hidden" name="next" value="/app/env"></form>
<script>document.getElementById("f").submit();</script></body></html>""",
    "post.html": """<!DOCTYPE html><html><body>
<form id="f" method="POST"
      action="http://mallory:secret@TARGET/login?next=%2Fapp%2Fenv">
<input type="hidden" name="x" value="1"></form>
<script>document.getElementById("f").submit();</script></body></html>""",
    "logout.html": """<!DOCTYPE html><html><body>
<form id="f" method="POST" action="http://TARGET/logout">
<input type="hidden" name="x" value="1"></form>
<script>document.getElementById("f").submit();</script></body></html>""",
    # served from the victim's own origin: the application's logout button
    "own-logout.html": """<!DOCTYPE html><html><body>
<form id="f" method="POST" action="/logout?next=%2Fbye">
<button id="b" type="submit">Log out</button></form></body></html>""",
}

SSI = {
    "login.shtml": '<p>public</p><!--#include virtual="/login?next=/x" -->\n',
    "logout.shtml": '<p>public</p><!--#include virtual="/logoutget" -->\n',
}


def make_server(mpm="event"):
    h = Httpd(CONF, users=USERS, mpm=mpm, extra_modules=["include"])
    for d, files in (("evil", EVIL), ("ssi", SSI)):
        os.mkdir(os.path.join(h.root, d), 0o755)
        for name, text in files.items():
            with open(os.path.join(h.root, d, name), "w") as f:
                f.write(text.replace("TARGET", "127.0.0.1:%d" % h.port))
    return h


srv = server_fixture(make_server)


@pytest.fixture
def app(srv):
    yield from watched(srv)


def origin(app, host="127.0.0.1"):
    return "http://%s:%d" % (host, app.port)


def user_sessions(app, name):
    u = app.user(name)
    if u is None:
        return []
    return app.rows("SELECT * FROM sessions WHERE user_id = ?", (u["id"],))


def login(app, user, extra=None):
    h = dict(basic(user))
    h.update(extra or {})
    return app.get("/login?next=%2Fapp%2Fenv", h)


def valid(app, token):
    return app.get("/app/env", cookie(token)).status == 200


# -- finding 6: login CSRF, the header rules ----------------------------------

@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "@SELF@"},
    {"Origin": "http://localhost:@PORT@"},
    {"Origin": "null"},
    {"Origin": "http://127.0.0.1:1"},
    {"Origin": "https://127.0.0.1:@PORT@"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.test"},
], ids=["sfs-cross", "sfs-cross-own-origin", "origin-localhost",
        "origin-null", "origin-port", "origin-scheme", "origin-foreign"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_cross_site_login_mints_nothing(app, headers, method):
    app.allow("RUS00080")
    headers = {k: v.replace("@PORT@", str(app.port))
               .replace("@SELF@", origin(app)) for k, v in headers.items()}
    h = dict(basic("erin"))
    h.update(headers)
    before = len(user_sessions(app, "erin"))
    r = app.get("/login?next=%2Fapp%2Fenv", h, method=method)
    assert r.status == 403, r.body
    assert set_cookie(r) is None
    assert "Location" not in r.headers
    assert len(user_sessions(app, "erin")) == before
    assert app.wait_log("RUS00080")
    # the page names the user and links to the same URL, and is not framed
    assert b"Log in as erin?" in r.body
    assert b'href="/login?next=%2Fapp%2Fenv"' in r.body
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "no-store" in r.headers["Cache-Control"]


@pytest.mark.parametrize("headers", [
    {},                                    # curl, old browsers
    {"Sec-Fetch-Site": "none"},            # typed URL, bookmark
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "same-site"},       # sibling host: decided, allowed
    {"Origin": "@SELF@"},
    {"Origin": "HTTP://127.0.0.1:@PORT@"},
    {"Sec-Fetch-Site": "same-origin", "Origin": "@SELF@"},
], ids=["no-headers", "sfs-none", "sfs-same-origin", "sfs-same-site",
        "origin-own", "origin-own-case", "both-own"])
def test_same_origin_login_works(app, headers):
    headers = {k: v.replace("@PORT@", str(app.port))
               .replace("@SELF@", origin(app)) for k, v in headers.items()}
    r = login(app, "alice", headers)
    assert r.status == 302
    assert r.headers["Location"] == "/app/env"
    assert valid(app, token_of(r))


def test_own_origin_with_host_port_default(app):
    """Origin without a port is the scheme's default port: a request sent
    to Host 127.0.0.1 (no port) matches Origin http://127.0.0.1."""
    r = login(app, "alice", {"Host": "127.0.0.1",
                             "Origin": "http://127.0.0.1"})
    assert r.status == 302 and set_cookie(r) is not None
    app.allow("RUS00080")
    r = login(app, "alice", {"Host": "127.0.0.1",
                             "Origin": origin(app)})
    assert r.status == 403 and set_cookie(r) is None


def test_cross_site_with_own_session_only_redirects(app):
    """A deep link from another site while logged in: no new session is
    needed, the redirect is harmless, and no RUS00080."""
    token = token_of(login(app, "bob"))
    r = app.get("/login?next=%2Fapp%2Fenv",
                dict(cookie(token), **{"Sec-Fetch-Site": "cross-site"}))
    assert r.status == 302 and set_cookie(r) is None
    assert valid(app, token)


# -- finding 7: logout CSRF, the header rules ---------------------------------

@pytest.mark.parametrize("path,method,headers", [
    ("/logout", "POST", {"Sec-Fetch-Site": "cross-site"}),
    ("/logout", "POST", {"Sec-Fetch-Site": "same-site"}),
    ("/logout", "POST", {"Sec-Fetch-Site": "none"}),
    ("/logout", "POST", {"Origin": "http://localhost:@PORT@"}),
    ("/logout", "POST", {"Origin": "null"}),
    ("/logout", "POST", {"Sec-Fetch-Site": "same-origin",
                         "Origin": "http://evil.test"}),
    ("/logoutget", "GET", {"Sec-Fetch-Site": "cross-site"}),
    ("/logoutget", "GET", {"Origin": "http://localhost:@PORT@"}),
], ids=["post-sfs-cross", "post-sfs-same-site", "post-sfs-none",
        "post-origin-foreign", "post-origin-null", "post-mixed",
        "get-sfs-cross", "get-origin-foreign"])
def test_cross_site_logout_refused(app, path, method, headers):
    app.allow("RUS00081")
    headers = {k: v.replace("@PORT@", str(app.port))
               for k, v in headers.items()}
    token = token_of(login(app, "carol"))
    r = app.get(path, dict(cookie(token), **headers), method=method)
    assert r.status == 403
    assert set_cookie(r) is None
    assert valid(app, token)
    assert app.wait_log("RUS00081")


@pytest.mark.parametrize("path,method,headers", [
    ("/logout", "POST", {}),                              # curl
    ("/logout", "POST", {"Origin": "@SELF@"}),
    ("/logout", "POST", {"Sec-Fetch-Site": "same-origin"}),
    ("/logout", "POST", {"Sec-Fetch-Site": "same-origin", "Origin": "@SELF@"}),
    ("/logoutget", "GET", {}),
    ("/logoutget", "GET", {"Sec-Fetch-Site": "same-site"}),
    ("/logoutget", "GET", {"Sec-Fetch-Site": "none"}),
], ids=["post-no-headers", "post-origin-own", "post-sfs-same-origin",
        "post-both-own", "get-no-headers", "get-same-site", "get-none"])
def test_same_origin_logout_revokes(app, path, method, headers):
    headers = {k: v.replace("@SELF@", origin(app))
               for k, v in headers.items()}
    token = token_of(login(app, "carol"))
    r = app.get(path + "?next=%2Fbye", dict(cookie(token), **headers),
                method=method)
    assert r.status == 302 and r.headers["Location"] == "/bye"
    sc = set_cookie(r)
    assert sc is not None and "Max-Age=0" in sc
    assert not valid(app, token)
    assert app.rows("SELECT * FROM sessions WHERE token_hash = ?",
                    (stored_hash(token),)) == []


def test_logout_without_cookie_leaves_cookies_alone(app):
    r = app.get("/logout?next=%2Fbye", {"Origin": origin(app)},
                method="POST")
    assert r.status == 302 and r.headers["Location"] == "/bye"
    assert set_cookie(r) is None
    # another cookie only: not ours to expire
    r = app.get("/logout", {"Cookie": "other=1"}, method="POST")
    assert r.status == 302 and set_cookie(r) is None


def test_logout_expires_a_junk_cookie_of_our_name(app):
    r = app.get("/logout", {"Cookie": COOKIE + "=junk"}, method="POST")
    assert r.status == 302
    assert "Max-Age=0" in set_cookie(r)


# -- finding 9: subrequests -------------------------------------------------

def test_ssi_include_of_login_mints_nothing(app):
    before = len(user_sessions(app, "dave"))
    r = app.get("/ssi/login.shtml", basic("dave"))
    assert r.status == 200 and b"public" in r.body
    assert set_cookie(r) is None
    assert len(user_sessions(app, "dave")) == before


def test_ssi_include_of_login_keeps_the_session(app):
    token = token_of(login(app, "dave"))
    r = app.get("/ssi/login.shtml", dict(basic("dave"), **cookie(token)))
    assert r.status == 200 and set_cookie(r) is None
    assert valid(app, token)
    assert [s["token_hash"] for s in user_sessions(app, "dave")
            if s["token_hash"] == stored_hash(token)]


def test_ssi_include_of_logout_revokes_nothing(app):
    token = token_of(login(app, "dave"))
    r = app.get("/ssi/logout.shtml", cookie(token))
    assert r.status == 200 and set_cookie(r) is None
    assert valid(app, token)


# -- findings 6 and 7 in Chromium -------------------------------------------

def chromium_available():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return False
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return True


needs_chromium = pytest.mark.skipif(
    not chromium_available(),
    reason="needs chromium, chromium-driver and python3-selenium "
           "(scripts/install-deps.sh)")


@pytest.fixture
def browser():
    """Headless Chromium with a fresh profile (no cookies, no auth cache),
    loopback only."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rus-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu",
              "--disable-quic", "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--user-data-dir=" + profile):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def browser_cookies(drv, app):
    """The browser's cookies for http://127.0.0.1:PORT, HttpOnly ones
    included, as {name: value}."""
    got = drv.execute_cdp_cmd("Network.getCookies",
                              {"urls": [origin(app) + "/"]})
    return {c["name"]: c["value"] for c in got["cookies"]}


def plant_session(drv, app, user):
    """Log `user` in over http.client and give the browser the cookie, as
    if the user had logged in with it."""
    token = token_of(login(app, user))
    drv.execute_cdp_cmd("Network.setCookie", {
        "url": origin(app) + "/", "name": COOKIE, "value": token,
        "path": "/", "httpOnly": True, "sameSite": "Lax"})
    assert browser_cookies(drv, app).get(COOKIE) == token
    return token


def access_lines(app, start, pattern):
    """Access log lines after offset `start` matching `pattern`."""
    return [l for l in app.access_log()[start:].splitlines()
            if re.search(pattern, l)]


def wait_access(app, start, pattern, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = access_lines(app, start, pattern)
        if found:
            return found
        time.sleep(0.05)
    return []


def evil(app, page):
    return "http://localhost:%d/evil/%s" % (app.port, page)


@needs_chromium
def test_chromium_typed_login_url_logs_in(app, browser):
    """The normal flow in the same browser: a typed URL with credentials
    (Sec-Fetch-Site none) logs in; the login handler is not in the way."""
    start = len(app.access_log())
    browser.get("http://erin:secret@127.0.0.1:%d/login?next=%%2Fapp%%2Fenv"
                % app.port)
    assert wait_access(app, start, r' erin "GET /app/env HTTP/1.1" 200')
    token = browser_cookies(browser, app).get(COOKIE)
    assert token and valid(app, token)
    assert "REMOTE_USER=erin" in browser.page_source


@needs_chromium
@pytest.mark.parametrize("page,method", [
    ("nav.html", "GET"), ("get.html", "GET"), ("post.html", "POST")],
    ids=["top-level-navigation", "get-form", "post-form"])
def test_chromium_login_csrf(app, browser, page, method):
    """An attacker page on another site sends the browser to /login with
    mallory's credentials in the URL: no session for mallory, no cookie in
    the browser; the login handler answers 403 (RUS00080)."""
    app.allow("RUS00080")
    before = len(user_sessions(app, "mallory"))
    start = len(app.access_log())
    browser.get(evil(app, page))
    lines = wait_access(app, start, r'"%s /login\?next=' % method)
    assert lines, app.access_log()[start:]
    # Chromium sends the URL's credentials (it did not block them):
    # mallory's request reached the handler and was refused
    assert wait_access(app, start, r' mallory "%s /login\?next=[^"]*" 403'
                       % method), app.access_log()[start:]
    assert len(user_sessions(app, "mallory")) == before
    assert COOKIE not in browser_cookies(browser, app)
    assert "Log in as mallory?" in browser.page_source


@needs_chromium
def test_chromium_login_continue_link(app, browser):
    """A deep link from another site ends on the 403 page; its link is a
    same-origin navigation that logs in (here as the user the URL named)."""
    app.allow("RUS00080")
    start = len(app.access_log())
    browser.get(evil(app, "nav.html"))
    assert wait_access(app, start, r' mallory "GET /login\?next=[^"]*" 403')
    browser.find_element("id", "continue").click()
    assert wait_access(app, start, r' mallory "GET /app/env HTTP/1.1" 200')
    token = browser_cookies(browser, app).get(COOKIE)
    assert token and valid(app, token)


@needs_chromium
def test_chromium_logout_csrf(app, browser):
    """A cross-site POST form to /logout while the victim holds a session:
    SameSite=Lax keeps the cookie out of it; the handler answers 403
    (RUS00081) and sends no Set-Cookie, so the browser keeps its session
    and the session stays valid on the server."""
    app.allow("RUS00081")
    token = plant_session(browser, app, "bob")
    start = len(app.access_log())
    browser.get(evil(app, "logout.html"))
    assert wait_access(app, start, r'"POST /logout HTTP/1.1" 403'), \
        app.access_log()[start:]
    assert browser_cookies(browser, app).get(COOKIE) == token
    assert valid(app, token)


@needs_chromium
def test_chromium_same_origin_logout(app, browser):
    """The application's own logout button (a same-origin POST form, with
    Origin and Sec-Fetch-Site same-origin from Chromium) revokes the session
    and clears the cookie."""
    token = plant_session(browser, app, "bob")
    start = len(app.access_log())
    browser.get(origin(app) + "/evil/own-logout.html")
    browser.find_element("id", "b").click()
    assert wait_access(app, start, r'"POST /logout\?next=%2Fbye HTTP/1.1" 302')
    deadline = time.time() + 5
    while COOKIE in browser_cookies(browser, app) and time.time() < deadline:
        time.sleep(0.05)
    assert COOKIE not in browser_cookies(browser, app)
    assert not valid(app, token)
