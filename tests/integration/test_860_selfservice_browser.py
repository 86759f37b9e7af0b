"""Issue #21 in a real browser: a user sees and ends their own sessions
on the remoteuser-sessions page, and a JavaScript front end gets a 401
where a navigation gets the login redirect.

Headless Chromium (Selenium, chromium-driver) logs in with Basic
credentials in the URL (http://user:secret@127.0.0.1:PORT/login?next=...),
which this Chromium sends to the remoteuser-login handler; the other
sessions are curl's, each with a User-Agent of its own, from 127.0.0.2.
The attacker's page is served by the same httpd under
http://localhost:PORT, which Chromium treats as another site than
http://127.0.0.1:PORT, where the sessions live (see test_740_csrf.py).

A screenshot of the page is left in $RUS_TEST_ARTIFACTS, else in
build/test-artifacts/."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from pyrus import (COOKIE, TOP, Httpd, cookie, login, login_location,
                   remoteuser_location, stored_hash, token_of)
from pyrus.fixtures import server_fixture, watched

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# /app/ has no RemoteUserUnauthenticatedAction: the default, Auto.
CONF = """
AddType text/html .html
Alias /pages/ "@ROOT@/pages/"
<Directory "@ROOT@/pages">
    Require all granted
</Directory>
""" + "\n".join([
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    remoteuser_location("/sessions", "RemoteUserSession On",
                        "RemoteUserLoginURL /login",
                        "SetHandler remoteuser-sessions"),
    login_location(),
])

USERS = ["alice", "bob", "carol", "dave", "erin"]

# Pages of the site itself (http://127.0.0.1:PORT/pages/...): a front
# end's page and its link.
PAGES = {
    "front.html": """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>front end</title></head><body>
<a id="go" href="/app/">the application</a></body></html>""",
}

# The attacker's form, served as http://localhost:PORT/pages/evil.html
# (another site) and filled in by the test; it posts to the sessions page.
EVIL = """<!DOCTYPE html><html><body>
<form id="f" method="POST" action="http://127.0.0.1:PORT/sessions">
<input type="hidden" name="csrf" value="CSRF">
<input type="hidden" name="action" value="ACTION">
<input type="hidden" name="session" value="REF"></form>
<script>document.getElementById("f").submit();</script></body></html>"""


def make_server(mpm="event"):
    """The server, with the site's own pages under /pages/."""
    h = Httpd(CONF, users=USERS, mpm=mpm)
    os.mkdir(os.path.join(h.root, "pages"), 0o755)
    for name, text in PAGES.items():
        with open(os.path.join(h.root, "pages", name), "w") as f:
            f.write(text)
    return h


srv = server_fixture(make_server)


@pytest.fixture
def app(srv):
    yield from watched(srv)


def origin(app, host="127.0.0.1"):
    return "http://%s:%d" % (host, app.port)


def tools_available():
    """Are Chromium, its driver, Selenium and curl all here?"""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)
            and shutil.which("curl")):
        return False
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = pytest.mark.skipif(
    not tools_available(),
    reason="needs chromium, chromium-driver, python3-selenium and curl "
           "(scripts/install-deps.sh)")


@pytest.fixture
def browser():
    """Headless Chromium with a fresh profile (no cookies, no auth cache),
    loopback only, a window large enough for the page."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rus-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless", "--no-sandbox", "--disable-gpu",
              "--disable-quic", "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update", "--disable-sync",
              "--window-size=1280,800", "--user-data-dir=" + profile):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    drv.set_script_timeout(15)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def browser_token(drv, app):
    """The browser's session token for http://127.0.0.1:PORT (HttpOnly:
    read through CDP), or None."""
    got = drv.execute_cdp_cmd("Network.getCookies",
                              {"urls": [origin(app) + "/"]})
    for c in got["cookies"]:
        if c["name"] == COOKIE:
            return c["value"]
    return None


def browser_login(drv, app, user):
    """Log `user` in in the browser, a typed URL with the credentials in
    it; the login's redirect lands on the sessions page (Chromium keeps
    the credentials in the address it shows: open the page again without
    them)."""
    drv.get("http://%s:secret@127.0.0.1:%d/login?next=%%2Fsessions"
            % (user, app.port))
    token = browser_token(drv, app)
    assert token, drv.page_source[:500]
    assert urllib.parse.urlsplit(drv.current_url).path == "/sessions"
    drv.get(origin(app) + "/sessions")
    return token


class Curl:
    """One curl client with a cookie jar of its own, from 127.0.0.2."""

    def __init__(self, app, ua):
        self.app = app
        self.ua = ua
        fd, self.jar = tempfile.mkstemp(prefix="rus-curl-jar-")
        os.close(fd)

    def request(self, path, *args):
        """(status, Location) of one request with the jar."""
        out = subprocess.run(
            ["curl", "-s", "-S", "--interface", "127.0.0.2", "-A", self.ua,
             "-b", self.jar, "-c", self.jar, "-o", os.devnull,
             "-w", "%{http_code} %{redirect_url}"] + list(args)
            + [origin(self.app) + path],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        status, _, location = out.stdout.partition(" ")
        return int(status), location

    def login(self, user):
        status, location = self.request("/login?next=%2Fapp%2Fenv",
                                        "-u", user + ":secret")
        assert status == 302
        assert urllib.parse.urlsplit(location).path == "/app/env"
        assert self.token()

    def token(self):
        """The session token in the jar, or None."""
        with open(self.jar) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) == 7 and fields[5] == COOKIE:
                    return fields[6]
        return None

    def works(self):
        """Does the jar's session still authenticate? A refusal is the
        login redirect (curl sends Accept: */*, a navigation) or a 401."""
        status, location = self.request("/app/env")
        if status == 200:
            return True
        assert status == 401 or (
            status == 302 and location.startswith(
                origin(self.app) + "/login?next=")), (status, location)
        return False

    def close(self):
        os.unlink(self.jar)


@pytest.fixture
def curls(app):
    """curls(ua): a Curl of the test's own, its jar removed afterwards."""
    made = []

    def make(ua):
        c = Curl(app, ua)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def text(el):
    """An element's text, its white space collapsed."""
    return " ".join(el.text.split())


def rows(drv):
    """The page's session rows: [(tr element, [cell texts])]."""
    out = []
    for tr in drv.find_elements("css selector", "table#sessions tr.session"):
        out.append((tr, [text(td) for td in
                         tr.find_elements("css selector", "td")]))
    return out


def wait_for(cond, timeout=10):
    """cond()'s first true value within `timeout` seconds, else its last."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    return cond()


def access_lines(app, start, pattern):
    """Access log lines after offset `start` matching `pattern`."""
    return [l for l in app.access_log()[start:].splitlines()
            if re.search(pattern, l)]


def wait_access(app, start, pattern, timeout=10):
    """access_lines() once one matches (the log is written after the
    response)."""
    return wait_for(lambda: access_lines(app, start, pattern), timeout)


def artifact(name):
    """Where a test artifact goes ($RUS_TEST_ARTIFACTS, else
    build/test-artifacts/), its directory made."""
    d = os.environ.get("RUS_TEST_ARTIFACTS") or os.path.join(
        TOP, "build", "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def page_hides_tokens(drv, tokens):
    """No token of `tokens`, nor its stored hash, is in the page."""
    src = drv.page_source
    for t in tokens:
        assert t not in src and stored_hash(t) not in src


def user_agent(drv):
    """The browser's User-Agent, as it sends it."""
    return drv.execute_script("return navigator.userAgent")


# -- steps 1 to 4, and 6: the list, one sign-out, the screenshot --------------

def test_chromium_sessions_page_lists_and_signs_out_one(app, browser, curls):
    """The browser's page lists the user's two sessions (not bob's), marks
    its own, shows curl's address and User-Agent and no token; its Sign out
    button ends curl's session and nothing else."""
    start = len(app.access_log())
    token = browser_login(browser, app, "alice")
    other = curls("curl/8 rus-860 (the other session)")
    other.login("alice")
    assert other.works()
    bystander = curls("curl/8 rus-860 (bob's)")
    bystander.login("bob")

    browser.refresh()
    assert browser.title == "Your sessions"
    h1 = text(browser.find_element("css selector", "h1"))
    assert "Your sessions" in h1 and "alice" in h1
    got = rows(browser)
    assert len(got) == 2, [c for _, c in got]  # bob's is not there
    current = [(tr, c) for tr, c in got
               if "current" in tr.get_attribute("class").split()]
    others = [(tr, c) for tr, c in got
              if "current" not in tr.get_attribute("class").split()]
    assert len(current) == 1 and len(others) == 1
    # signed in, last seen, address, browser, action
    cells = current[0][1]
    assert len(cells) == 5 and cells[4] == "This session"
    assert cells[0] and cells[1]
    assert cells[2] == "127.0.0.1"
    assert cells[3] == " ".join(user_agent(browser).split())
    assert not current[0][0].find_elements("css selector", "form")
    cells = others[0][1]
    assert len(cells) == 5 and cells[2] == "127.0.0.2"
    assert cells[3] == other.ua
    assert browser.find_elements("id", "signout-others")
    page_hides_tokens(browser, [token, other.token(), bystander.token()])

    path = artifact("test_860_sessions.png")
    assert browser.save_screenshot(path)
    print("screenshot of the sessions page: %s" % path)
    assert os.path.getsize(path) > 1000
    # the same page on a phone's width
    browser.set_window_size(400, 800)
    path = artifact("test_860_sessions_narrow.png")
    assert browser.save_screenshot(path)
    print("screenshot of the sessions page, narrow: %s" % path)
    assert browser.execute_script(
        "return document.documentElement.scrollWidth") <= 400
    browser.set_window_size(1280, 800)

    # step 4: Sign out on the other session, a same-origin POST form
    mark = len(app.access_log())
    others[0][0].find_element(
        "css selector", "form.signout button[type=submit]").click()
    assert wait_access(app, mark, r'"POST /sessions[^"]* HTTP/1.1" 303')
    wait_for(lambda: browser.find_elements("css selector", "p.notice"))
    assert "Signed out 1 session" in text(
        browser.find_element("css selector", "p.notice"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/sessions"
    got = rows(browser)
    assert len(got) == 1
    assert "current" in got[0][0].get_attribute("class").split()
    assert not browser.find_elements("id", "signout-others")
    assert not other.works()
    assert bystander.works()
    assert app.get("/app/env", cookie(token)).status == 200
    path = artifact("test_860_sessions_after_signout.png")
    assert browser.save_screenshot(path)
    print("screenshot after the sign-out: %s" % path)
    assert access_lines(app, start, r' alice "GET /sessions HTTP/1.1" 200')


# -- step 5: Sign out all other sessions ------------------------------------

def test_chromium_sign_out_all_other_sessions(app, browser, curls):
    """Sign out all other sessions ends both of curl's; the browser's own
    session goes on."""
    token = browser_login(browser, app, "carol")
    others = [curls("curl/8 rus-860 (carol %d)" % i) for i in (1, 2)]
    for c in others:
        c.login("carol")
        assert c.works()
    browser.refresh()
    got = rows(browser)
    assert len(got) == 3
    assert sorted(c[3] for _, c in got
                  if c[4] != "This session") == sorted(c.ua for c in others)

    mark = len(app.access_log())
    browser.find_element(
        "css selector", "form#signout-others button[type=submit]").click()
    assert wait_access(app, mark, r'"POST /sessions[^"]* HTTP/1.1" 303')
    wait_for(lambda: browser.find_elements("css selector", "p.notice"))
    assert "Signed out 2 sessions" in text(
        browser.find_element("css selector", "p.notice"))
    assert [c[4] for _, c in rows(browser)] == ["This session"]
    for c in others:
        assert not c.works()
    # the browser's own session goes on, in the browser and on the server
    assert browser_token(browser, app) == token
    browser.get(origin(app) + "/app/env")
    assert "REMOTE_USER=carol" in browser.page_source
    assert app.get("/app/env", cookie(token)).status == 200


# -- step 7: the Sec-Fetch cases from the browser ---------------------------

FETCH = """
const done = arguments[arguments.length - 1];
const ctl = new AbortController();
setTimeout(() => ctl.abort(), 5000);
fetch(arguments[0], {signal: ctl.signal, headers: arguments[1]})
  .then(async r => done({status: r.status, url: r.url,
                         type: r.headers.get("Content-Type"),
                         auth: r.headers.get("WWW-Authenticate"),
                         body: await r.text()}))
  .catch(e => done({error: String(e)}));
"""


def test_chromium_fetch_gets_401_navigation_the_login(app, browser):
    """From a page of the site itself, without a session: fetch() (mode
    cors, Sec-Fetch-Mode not navigate) gets the 401 and can read it; a
    click on a link to the same URL (a navigation) is sent to the login
    URL. Before #21 the fetch followed the redirect into Basic's prompt."""
    browser.get(origin(app) + "/pages/front.html")
    start = len(app.access_log())
    r = browser.execute_async_script(FETCH, "/app/", {})
    assert r.get("status") == 401, r
    assert r["url"] == origin(app) + "/app/"
    assert r["auth"] == 'RemoteUser realm="Intranet"'
    r = browser.execute_async_script(FETCH, "/app/",
                                     {"Accept": "application/json"})
    assert r.get("status") == 401, r
    assert r["type"].startswith("application/json")
    assert json.loads(r["body"])["error"] == "unauthenticated"
    assert len(access_lines(app, start, r'"GET /app/ HTTP/1.1" 401')) == 2
    assert not access_lines(app, start, r'"GET /login')

    start = len(app.access_log())
    browser.find_element("id", "go").click()
    assert wait_access(app, start, r'"GET /login\?next=%2Fapp%2F HTTP')
    assert access_lines(app, start, r'"GET /app/ HTTP/1.1" 302')
    assert browser.current_url == origin(app) + "/login?next=%2Fapp%2F"


def plant_session(drv, app, user, samesite):
    """Log `user` in over http.client and give the browser the cookie with
    that SameSite (None goes with Secure, which Chromium keeps and sends
    on http://127.0.0.1, a secure context)."""
    token = token_of(login(app, user))
    drv.execute_cdp_cmd("Network.setCookie", {
        "url": origin(app) + "/", "name": COOKIE, "value": token,
        "path": "/", "httpOnly": True, "sameSite": samesite,
        "secure": samesite == "None"})
    assert browser_token(drv, app) == token
    return token


@pytest.mark.parametrize("samesite", ["None", "Lax"])
def test_chromium_cross_site_form_changes_nothing(app, browser, curls,
                                                   samesite):
    """An attacker's page on another site posts a complete form (the right
    CSRF token and session reference, read from the page's JSON) to the
    sessions page. With a cookie the browser sends cross-site (SameSite
    None) the handler sees the victim's session and refuses the form, 403;
    with the default SameSite=Lax the browser keeps the cookie out, and
    the request has no identity. Either way nothing is revoked."""
    app.allow("RUS00146")
    user = {"None": "dave", "Lax": "erin"}[samesite]
    victim = curls("curl/8 rus-860 (%s's other)" % user)
    victim.login(user)
    token = plant_session(browser, app, user, samesite)
    r = app.get("/sessions", dict(cookie(token),
                                  Accept="application/json"))
    assert r.status == 200, r.body
    page = json.loads(r.body)
    refs = [s["id"] for s in page["sessions"] if not s["current"]]
    assert len(refs) == 1
    for n, action in enumerate(("signout", "signout-others"), 1):
        evil = (EVIL.replace("PORT", str(app.port))
                .replace("CSRF", page["csrf"]).replace("ACTION", action)
                .replace("REF", refs[0]))
        with open(os.path.join(app.root, "pages", "evil.html"), "w") as f:
            f.write(evil)
        start = len(app.access_log())
        browser.get(origin(app, "localhost") + "/pages/evil.html")
        if samesite == "None":
            assert wait_access(app, start,
                               r' %s "POST /sessions HTTP/1.1" 403' % user), \
                app.access_log()[start:]
            assert wait_for(lambda: app.new_log().count("RUS00146") == n)
        else:
            assert wait_access(app, start,
                               r' - "POST /sessions HTTP/1.1" 401'), \
                app.access_log()[start:]
            assert "RUS00146" not in app.new_log()
        assert not access_lines(app, start, r'"POST /sessions[^"]*" [23]')
        assert victim.works()
        assert app.get("/app/env", cookie(token)).status == 200
        assert browser_token(browser, app) == token
    # the form was right but for its origin: sent as curl sends it (no
    # Origin, no Sec-Fetch-Site), it signs the other session out
    conn = app.connection()
    try:
        conn.request("POST", "/sessions", urllib.parse.urlencode(
            {"csrf": page["csrf"], "action": "signout", "session": refs[0]}),
            dict(cookie(token),
                 **{"Content-Type": "application/x-www-form-urlencoded"}))
        r = conn.getresponse()
        r.read()
    finally:
        conn.close()
    assert r.status == 303
    assert not victim.works()
