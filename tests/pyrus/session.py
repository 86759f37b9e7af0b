"""The session cookie as a client sees it: read it off a response, send it
back, log in through a remoteuser-login handler, and the form the store
keeps it in."""

import base64
import hashlib
import urllib.parse

from .harness import basic

COOKIE = "remoteuser_session"
GRACE = 3600  # RUS_CLOCK_GRACE: how long dead sessions are kept


def set_cookie(r):
    """The session cookie's Set-Cookie header, or None."""
    for v in r.headers.get_all("Set-Cookie") or []:
        if v.startswith(COOKIE + "="):
            return v
    return None


def token_of(r):
    """The session token a response set."""
    return set_cookie(r).split(";")[0].split("=", 1)[1]


def cookie(token, host=None):
    """Request headers that send the session token (to vhost `host`)."""
    h = {"Cookie": "%s=%s" % (COOKIE, token)}
    if host:
        h["Host"] = host
    return h


def login(app, user, host=None, extra=None, nxt="/app/env"):
    """Basic login at /login?next=NXT; asserts the redirect (302)."""
    h = dict(basic(user))
    if host:
        h["Host"] = host
    if extra:
        h.update(extra)
    r = app.get("/login?next=" + urllib.parse.quote(nxt, safe=""), h)
    assert r.status == 302, r.body
    return r


def stored_hash(token):
    """The store's token_hash of a session token."""
    raw = base64.urlsafe_b64decode(token + "=")
    assert len(raw) == 32
    return hashlib.sha256(raw).hexdigest()
