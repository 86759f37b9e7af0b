"""The benchmark's servers (bench/run.py, bench/soak.py), and the fault
test that reuses them (tests/faults/test_graceful_keepalive.py): the
settings every case shares, each case's location, the keep-alive cookie
script, and the cached store of n users with a live session each.

    h = Httpd(COMMON + CASES["session"], cache_ttl=None, ...)
    shutil.copy(store_file(1000), h.db_path)
"""

import os
import time

from .harness import TOP
from . import store

CACHE = os.path.join(TOP, "bench", "cache")
RESULTS = os.path.join(TOP, "bench", "results")
# Every case's sessions are valid at every case's server (each has a port
# of its own, and a session is bound to the port without a scope): COMMON
# sets RemoteUserSessionScope SCOPE.
SCOPE = "bench"
VHOST = "scope=" + SCOPE
SESSION_TOKENS = 1000     # tokens the wrk script cycles through

COMMON = """
ServerName bench.local
RemoteUserSessionScope bench
StartServers 2
ServerLimit 4
ThreadsPerChild 32
MaxRequestWorkers 128
MinSpareThreads 32
MaxSpareThreads 128
KeepAliveTimeout 30
MaxKeepAliveRequests 0
LogLevel error
CustomLog /dev/null common
DocumentRoot "@ROOT@/htdocs"
<Directory "@ROOT@/htdocs">
    Require all granted
</Directory>
"""

BASIC = """AuthType Basic
    AuthName bench
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user"""

CASES = {
    "bare": "",
    "basic": "<Location /f>\n    %s\n</Location>" % BASIC,
    "frontend": "<Location /f>\n    %s\n    RemoteUserEngine On\n</Location>"
                % BASIC,
    "header": """<Location /f>
    AuthType RemoteUser
    Require valid-user
    RemoteUserHeader X-Auth-User
    RemoteUserTrustedProxy 127.0.0.1
</Location>""",
    "session": """<Location /f>
    AuthType RemoteUser
    Require valid-user
    RemoteUserSession On
</Location>""",
    "first-login": """<Location /login>
    AuthType Basic
    AuthName bench
    AuthBasicProvider anon
    Anonymous *
    Anonymous_NoUserID off
    Anonymous_MustGiveEmail off
    Require valid-user
    RemoteUserEngine On
    RemoteUserSession On
    SetHandler remoteuser-login
</Location>""",
}
CASES["session-1M"] = CASES["session"]
# The session load of "session", while a writer commits unrelated changes
# to the store (bench/run.py's Churn): the same server configuration.
CASES["session-churn"] = CASES["session"]
# The session load of "session", while a second wrk floods /h with first
# logins (a trusted-header name never seen before: a user INSERT and a
# session INSERT each) on FLOOD_CONNECTIONS connections.
CASES["cookie-under-flood"] = CASES["session"] + """
<Location /h>
    AuthType RemoteUser
    Require valid-user
    RemoteUserHeader X-Auth-User
    RemoteUserTrustedProxy 127.0.0.1
    RemoteUserSession On
</Location>"""

LUA_COOKIES = """
-- requests are formatted once, in init() (when wrk knows the Host), not
-- per request: the client must not be the bottleneck of the measurement
reqs = {}
init = function(args)
    for line in io.lines("%s") do
        reqs[#reqs + 1] = wrk.format("GET", "/f/file.txt",
                                     {["Cookie"] = "remoteuser_session=" .. line})
    end
end
counter = 0
request = function()
    counter = counter + 1
    return reqs[(counter %% #reqs) + 1]
end
"""



def token(i):
    """Deterministic 256-bit token number i: cookie form and stored form."""
    return store.token(i, "bench")


def store_file(n):
    """The cached store of n users and one live session each (built once,
    copied for each run so every run starts from the same file)."""
    os.makedirs(CACHE, exist_ok=True)
    cached = os.path.join(CACHE, "store-%d-v4-%s.db" % (n, SCOPE))
    if not os.path.exists(cached):
        t0 = time.time()
        store.build_store(cached + ".tmp", n, VHOST, "bench")
        os.rename(cached + ".tmp", cached)
        print("  built %s in %.1f s" % (cached, time.time() - t0),
              flush=True)
    return cached


def cookie_tokens(path, n, step=1):
    """The file of the cookie tokens of store_file(n), every step-th."""
    return store.write_tokens(path, (token(i)[0]
                                     for i in range(1, n + 1, step)))
