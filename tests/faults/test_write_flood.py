"""A flood of first logins next to a legitimate session-cookie load
(second security review, finding 3). Every first login writes (a user
INSERT, a session INSERT) and may wait for the store's single write lock;
before RemoteUserStoreMaxWriters nothing bounded how many workers waited,
so the flood held every one of them and the cookie load starved: its
requests timed out. Now the writes beyond the cap get 503 at once and the
cookie load keeps its workers.

Bounded: 4 s alone, 4 s under the flood (wrk on 127.0.0.1), about 15 s
with start and stop. Prints one line of figures."""

import os
import re
import subprocess
import time

import pytest

from pyrus import Httpd, preload, serve_htdocs, static_files, write_tokens

SESSIONS = 300
SECONDS = 4
COOKIE_CONNECTIONS = 16
FLOOD_CONNECTIONS = 400
# Margins for a shared 2-CPU machine, not pinned: before the cap the
# cookie load got 0.015 to 0.019 of its rate alone under this flood, and
# with 400 connections every one of its connections timed out; after it,
# 0.34 to 0.46 (the flood takes its share of the CPU, as a static flood of
# the same size does).
MIN_RATIO = 0.08

CONF = """
RemoteUserSessionScope flood
<Location /app/>
  AuthType RemoteUser
  AuthName flood
  Require valid-user
  RemoteUserSession On
</Location>
<Location /h/>
  AuthType RemoteUser
  AuthName flood
  Require valid-user
  RemoteUserHeader X-Auth-User
  RemoteUserTrustedProxy 127.0.0.1
  RemoteUserSession On
</Location>
"""

COOKIE_LUA = """
local reqs = {}
init = function(args)
    for line in io.lines("@TOKENS@") do
        reqs[#reqs + 1] = wrk.format("GET", "/app/file.txt",
            {["Cookie"] = "remoteuser_session=" .. line})
    end
end
local n = 0
request = function()
    n = n + 1
    return reqs[(n % #reqs) + 1]
end
"""

FLOOD_LUA = """
local n = 0
setup = function(thread)
    local f = io.open("/dev/urandom", "rb")
    local raw = f:read(6)
    f:close()
    thread:set("prefix", "fl" .. raw:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
end
request = function()
    n = n + 1
    return wrk.format("GET", "/h/file.txt",
                      {["X-Auth-User"] = prefix .. "-" .. n})
end
"""


def wrk(h, script, connections, seconds, timeout="2s"):
    return subprocess.Popen(
        ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds,
         "--timeout", timeout, "-s", script,
         "http://127.0.0.1:%d/" % h.port],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def figures(proc, seconds):
    out, err = proc.communicate(timeout=seconds + 60)
    assert not err.strip(), err  # a broken script must not pass
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), "
                     r"write (\d+), timeout (\d+)", out)
    return {"requests": total,
            "non2xx": int(bad.group(1)) if bad else 0,
            "timeouts": int(sock.group(4)) if sock else 0,
            "max": re.search(r"Latency(?:\s+\S+){2}\s+(\S+)", out).group(1)}


@pytest.fixture
def server():
    if subprocess.run(["which", "wrk"], capture_output=True).returncode:
        pytest.skip("wrk is not installed")
    h = Httpd(CONF, cache_ttl=None)
    static_files(h, "app", "h")
    serve_htdocs(h)
    try:
        h.start(malloc_checks=False)
        yield h
    finally:
        h.stop()
        crashes = h.crashes()
        h.cleanup()
        assert not crashes, crashes


def test_cookie_load_survives_a_first_login_flood(server):
    h = server
    # SESSIONS users with a live session each (RemoteUserSessionScope flood)
    tokens = write_tokens(os.path.join(h.root, "tokens.txt"),
                          preload(h.db_path, SESSIONS, "scope=flood",
                                  "flood"))
    cookie = os.path.join(h.root, "cookie.lua")
    with open(cookie, "w") as f:
        f.write(COOKIE_LUA.replace("@TOKENS@", tokens))
    flood = os.path.join(h.root, "flood.lua")
    with open(flood, "w") as f:
        f.write(FLOOD_LUA)
    figures(wrk(h, cookie, 4, 1), 1)  # warm up
    alone = figures(wrk(h, cookie, COOKIE_CONNECTIONS, SECONDS), SECONDS)
    flooder = wrk(h, flood, FLOOD_CONNECTIONS, SECONDS + 2)
    try:
        time.sleep(1)
        under = figures(wrk(h, cookie, COOKIE_CONNECTIONS, SECONDS), SECONDS)
    finally:
        fl = figures(flooder, SECONDS + 2)
    ratio = under["requests"] / max(1, alone["requests"])
    print("\ncookie load alone %d requests (max %s); under a flood of %d "
          "first logins (%d answered, %d of them 503 or other non-2xx) %d "
          "requests (max %s, %d timeouts): %.3f"
          % (alone["requests"], alone["max"], fl["requests"],
             fl["requests"], fl["non2xx"], under["requests"], under["max"],
             under["timeouts"], ratio))
    assert alone["non2xx"] == 0 and alone["timeouts"] == 0, alone
    # no cookie request waited 2 s, none failed, and the load went on
    assert under["timeouts"] == 0, under
    assert under["non2xx"] == 0, under
    assert ratio >= MIN_RATIO, (alone, under)
    # the flood was real: it got answers, some of them 503 at once
    assert fl["requests"] > 0
