"""The fault suite's server and load (tests/faults): a server whose
/login makes a user and a session for any name (mod_authn_anon) and whose
/app/ takes the session cookie, a preloaded store, and wrk in the
background with a Lua script that mixes first logins and session requests
and counts every response by status.

    h = fault_httpd(...).start(); preload(h); r = Load(h, seconds).result()
"""

import base64
import os
import re
import subprocess

from .conf import serve_htdocs, static_files
from .harness import Httpd
from .session import COOKIE
from . import store

SESSIONS = 200  # preloaded sessions the session requests cycle through
SEED = "faults"

# The load below is thousands of first logins a second, more than the
# store can write: with the default RemoteUserStoreMaxWriters a share of
# them get 503 at once (RUS00095), by design (tests/faults/
# test_write_flood.py). These tests look for wrong or lost answers under
# faults, so here every login waits for the store as before the cap.
CONF = """
RemoteUserStoreMaxWriters 0
<Location /login>
  AuthType Basic
  AuthName faults
  AuthBasicProvider anon
  Anonymous *
  Anonymous_NoUserID off
  Anonymous_MustGiveEmail off
  Require valid-user
  RemoteUserEngine On
  RemoteUserSession On
  SetHandler remoteuser-login
</Location>
<Location /app/>
  AuthType RemoteUser
  AuthName faults
  Require valid-user
  RemoteUserSession On
</Location>
"""

# Requests: 1 in 4 a first login with a user name never used before
# (302), the rest session requests on a preloaded cookie (200). Anything
# else that comes back is a failure; a request on a connection that died
# gets no response at all and shows in wrk's socket errors.
LUA = """
local tokens = {}
for line in io.lines("@TOKENS@") do tokens[#tokens + 1] = line end
local threads = {}
local close = @CLOSE@
setup = function(thread)
    local f = io.open("/dev/urandom", "rb")
    local raw = f:read(6)
    f:close()
    thread:set("prefix", "f" .. raw:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
    table.insert(threads, thread)
end
init = function(args)
    counter = 0
    ok = 0
    bad = 0
    five = 0
    statuses = ""
end
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function enc(data)
    return ((data:gsub('.', function(x)
        local r, b = '', x:byte()
        for i = 8, 1, -1 do
            r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0')
        end
        return r
    end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
        if (#x < 6) then return '' end
        local c = 0
        for i = 1, 6 do
            c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0)
        end
        return b64:sub(c + 1, c + 1)
    end) .. ({'', '==', '='})[#data % 3 + 1])
end
request = function()
    counter = counter + 1
    local h = {}
    if close then h["Connection"] = "close" end
    if counter % 4 == 0 then
        h["Authorization"] = "Basic " .. enc(prefix .. "-" .. counter .. ":x")
        return wrk.format("GET", "/login", h)
    end
    h["Cookie"] = "@COOKIE@=" .. tokens[(counter % #tokens) + 1]
    return wrk.format("GET", "/app/file.txt", h)
end
response = function(status, headers, body)
    if status == 200 or status == 302 then
        ok = ok + 1
    else
        bad = bad + 1
        if status >= 500 then five = five + 1 end
        if #statuses < 200 then statuses = statuses .. status .. " " end
    end
end
done = function(summary, latency, requests)
    local o, b, f, s = 0, 0, 0, ""
    for _, t in ipairs(threads) do
        o = o + t:get("ok")
        b = b + t:get("bad")
        f = f + t:get("five")
        s = s .. t:get("statuses")
    end
    local e = summary.errors
    io.write(string.format(
        "RESULT ok=%d bad=%d 5xx=%d connect=%d read=%d write=%d " ..
        "timeout=%d statuses=%s\\n",
        o, b, f, e.connect, e.read, e.write, e.timeout, s))
end
"""


def token(i):
    """Preloaded session token i: (cookie form, stored form)."""
    return store.token(i, SEED)


class Load:
    """wrk in the background for a bounded time."""

    def __init__(self, h, seconds, connections=16, close=False):
        tokens = store.write_tokens(os.path.join(h.root, "tokens.txt"),
                                    [token(i)[0]
                                     for i in range(1, SESSIONS + 1)])
        script = os.path.join(h.root, "load.lua")
        with open(script, "w") as f:
            f.write(LUA.replace("@TOKENS@", tokens)
                    .replace("@COOKIE@", COOKIE)
                    .replace("@CLOSE@", "true" if close else "false"))
        self.proc = subprocess.Popen(
            ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds,
             "--timeout", "5s", "-s", script,
             "http://127.0.0.1:%d/" % h.port],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.seconds = seconds

    def result(self):
        out, err = self.proc.communicate(timeout=self.seconds + 60)
        assert not err.strip(), err  # a broken script must not pass
        m = re.search(r"RESULT ok=(\d+) bad=(\d+) 5xx=(\d+) connect=(\d+) "
                      r"read=(\d+) write=(\d+) timeout=(\d+) statuses=(.*)",
                      out)
        assert m, out
        keys = ["ok", "bad", "5xx", "connect", "read", "write", "timeout"]
        r = {k: int(v) for k, v in zip(keys, m.groups()[:7])}
        r["statuses"] = m.group(8).strip()
        r["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
        return r


def preload(h):
    """SESSIONS users with a live session each, keyed for this vhost (the
    vhost key is read off a session the module made itself)."""
    r = h.get("/login", {"Authorization": "Basic " + base64.b64encode(
        b"preload:x").decode()})
    assert r.status == 302
    vhost = h.rows("SELECT vhost FROM sessions")[0]["vhost"]
    store.preload(h.db_path, SESSIONS, vhost, SEED)


def fault_httpd(**kw):
    """An unstarted Httpd of the fault suite (CONF, a static
    /app/file.txt); `kw` go to Httpd."""
    h = Httpd(CONF, users=[], extra_modules=["authn_anon"], **kw)
    static_files(h, "app")
    serve_htdocs(h)
    return h
