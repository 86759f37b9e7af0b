#!/usr/bin/env python3
"""make soak: the store's WAL and the children's memory under sustained
mixed load (review finding 12).

One httpd (mpm_event, bench/run.py's settings) on 127.0.0.1, one wrk
(keep-alive) for a bounded time with a Lua script that mixes, by request
count, 70 % session-cookie requests (1000 preloaded sessions), 20 % Basic
requests through the module (RemoteUserEngine On behind mod_auth_basic)
and 10 % first logins (a new user and session each). Every 2 s it samples
the size of PATH-wal and PATH and the RSS of every child. It prints the
maximum and final WAL size, the database size, and the per-child RSS
slope (MiB/min, least-squares fit over the samples after the warm-up),
and writes a JSON result under bench/results/.

    python3 bench/soak.py [--duration 180] [--warmup 30] [--connections 32]
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time

import _path  # noqa: F401  (tests/ on the import path: the harness)
from pyrus import Httpd, basic
from pyrus.bench import BASIC, CASES, COMMON, RESULTS, cookie_tokens, \
    store_file
from pyrus.conf import static_files

CONF = COMMON + """
<Location /f>
    AuthType RemoteUser
    Require valid-user
    RemoteUserSession On
</Location>
<Location /b>
    %s
    RemoteUserEngine On
</Location>
%s
""" % (BASIC, CASES["first-login"])

LUA = """
reqs = {}
init = function(args)
    for line in io.lines("@TOKENS@") do
        reqs[#reqs + 1] = wrk.format("GET", "/f/file.txt",
                                     {["Cookie"] = "remoteuser_session=" .. line})
    end
    basic_req = wrk.format("GET", "/b/file.txt",
                           {["Authorization"] = "@BASIC@"})
end
counter = 0
prefix = nil
setup = function(thread)
    local f = io.open("/dev/urandom", "rb")
    local raw = f:read(6)
    f:close()
    thread:set("prefix", "s" .. raw:gsub(".", function(c)
        return string.format("%02x", c:byte())
    end))
end
local bchars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(data)
    return ((data:gsub('.', function(x)
        local r, b = '', x:byte()
        for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
        return r
    end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
        if (#x < 6) then return '' end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
        return bchars:sub(c + 1, c + 1)
    end) .. ({'', '==', '='})[#data % 3 + 1])
end
-- by request count: 7 in 10 cookie, 2 in 10 Basic, 1 in 10 first login
request = function()
    counter = counter + 1
    local k = counter % 10
    if k < 7 then
        return reqs[(counter % #reqs) + 1]
    elseif k < 9 then
        return basic_req
    end
    local cred = prefix .. "-" .. counter .. ":x"
    return wrk.format("GET", "/login", {["Authorization"] = "Basic " .. b64(cred)})
end
"""


def file_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def child_rss(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])  # KiB
    except OSError:
        pass
    return None


def slope(points):
    """Least-squares slope of (t seconds, KiB) points, in MiB/min."""
    n = len(points)
    if n < 3:
        return None
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return None
    k = sum((t - mt) * (v - mv) for t, v in points) / den  # KiB/s
    return k * 60 / 1024


def soak(duration, warmup, connections, interval=2.0, label="soak",
         loglevel=None, keep_log=None):
    conf = CONF
    if loglevel:
        conf += "LogLevel %s\n" % loglevel
    h = Httpd(conf, store="sqlite:store/users.db", users=["benchuser"],
              extra_modules=["authn_anon"], cache_ttl=None)
    result = {}
    try:
        static_files(h, "f", "b")
        shutil.copy(store_file(1000), h.db_path)
        if os.geteuid() == 0:
            shutil.chown(h.db_path, "www-data", "www-data")
        tokens = cookie_tokens(os.path.join(h.root, "tokens.txt"), 1000)
        script = os.path.join(h.root, "soak.lua")
        with open(script, "w") as f:
            f.write(LUA.replace("@TOKENS@", tokens)
                    .replace("@BASIC@", basic("benchuser")["Authorization"]))
        h.start(malloc_checks=False)
        wal = h.db_path + "-wal"
        cmd = ["wrk", "-t2", "-c%d" % connections, "-d%ds" % duration,
               "--timeout", "10s", "--latency", "-s", script,
               "http://127.0.0.1:%d/" % h.port]
        t0 = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        samples = []
        while proc.poll() is None and time.time() - t0 < duration + 30:
            t = time.time() - t0
            rss = {}
            for pid in h.children():
                v = child_rss(pid)
                if v is not None:
                    rss[pid] = v
            samples.append({"t": round(t, 1), "wal": file_size(wal),
                            "db": file_size(h.db_path), "rss_kib": rss})
            time.sleep(interval)
        out, err = proc.communicate(timeout=60)
        if err.strip():
            sys.exit("wrk: %s" % err.strip())
        final = {"wal": file_size(wal), "db": file_size(h.db_path)}
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sock = re.search(r"Socket errors: (.*)", out)
        lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
        lmax = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
        per_child = {}
        for s in samples:
            if s["t"] < warmup:
                continue
            for pid, v in s["rss_kib"].items():
                per_child.setdefault(pid, []).append((s["t"], v))
        slopes = {str(pid): slope(pts) for pid, pts in per_child.items()
                  if len(pts) >= 5}
        slopes = {k: round(v, 3) for k, v in slopes.items() if v is not None}
        wal_max = max([s["wal"] for s in samples] + [final["wal"]])
        result = {
            "label": label,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": "%s, %d CPUs" % (platform.platform(), os.cpu_count()),
            "duration_s": duration, "warmup_s": warmup,
            "connections": connections,
            "rps": rps,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sock.group(1) if sock else None,
            "latency_p50": lat.get("50"), "latency_p99": lat.get("99"),
            "latency_max": lmax.group(1) if lmax else None,
            "wal_max_bytes": wal_max, "wal_final_bytes": final["wal"],
            "db_final_bytes": final["db"],
            "rss_slope_mib_per_min": slopes,
            "rss_slope_max": max(slopes.values()) if slopes else None,
            "samples": samples,
        }
    finally:
        if keep_log:
            shutil.copy(os.path.join(h.root, "logs", "error.log"), keep_log)
        h.cleanup()
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=180)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--label", default="soak")
    ap.add_argument("--loglevel", default=None,
                    help="e.g. 'error remoteuser_session:trace2'")
    ap.add_argument("--keep-log", default=None,
                    help="copy httpd's error log there at the end")
    opts = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    if not 10 <= opts.duration <= 600:
        sys.exit("--duration: 10 to 600 seconds")
    r = soak(opts.duration, opts.warmup, opts.connections, label=opts.label,
             loglevel=opts.loglevel, keep_log=opts.keep_log)
    mib = 1024.0 * 1024
    print("soak %d s, %d connections: %.0f req/s, %d non-2xx/3xx, socket "
          "errors: %s" % (r["duration_s"], r["connections"], r["rps"],
                          r["non2xx"], r["socket_errors"] or "none"))
    print("latency p50 %s, p99 %s, max %s" % (
        r["latency_p50"], r["latency_p99"], r["latency_max"]))
    print("WAL max %.1f MiB, final %.1f MiB; database %.1f MiB"
          % (r["wal_max_bytes"] / mib, r["wal_final_bytes"] / mib,
             r["db_final_bytes"] / mib))
    print("child RSS slope after %d s (MiB/min): %s" % (
        r["warmup_s"], ", ".join("%.2f" % v for v in
                                 sorted(r["rss_slope_mib_per_min"].values()))
        or "n/a"))
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS,
                       time.strftime("soak-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as f:
        json.dump(r, f, indent=1)
    print("written to %s" % out)
    if r["non2xx"]:
        sys.exit("INVALID: error responses")


if __name__ == "__main__":
    main()
