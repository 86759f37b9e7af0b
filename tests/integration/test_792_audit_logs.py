"""Logs an auditor can use (issue #17): who logged in and out with which
session, who was created from what name and source, store failures that
say what is wrong without flooding the log, and expired sessions purged
by the server itself.

- RUS00025 (session issued) and RUS00026 (logout) are notice lines naming
  the user and the session's public id (the first 12 hex characters of its
  stored hash); the access log prints the id through the request note
  `remoteuser-session` (`%{remoteuser-session}n`), and `%u` shows who
  logged out.
- RUS00011 (user created) names the name the front end sent, the cleaned
  name and the identity source; RUS00007 (unknown user) the sent name.
- A store that fails every request logs its first failure in full, then
  one RUS00106 line per 10 s per child with the count held back; every
  request still fails closed.
- Store failures name their cause (which file, which permission, the
  lock, the damage) and carry no raw `(120001)` nor a made-up errno.
- RemoteUserSessionPurgeInterval: one child deletes expired sessions.
"""

import os
import re
import sqlite3
import threading
import time
import urllib.parse

import pytest

from pyrus import (basic, cookie, location, login_location, logout_location,
                   remoteuser_location, stored_hash, token_of)

AUDIT_LOG = ('CustomLog @ROOT@/logs/audit.log '
             '"%u %{remoteuser-session}n %>s %m %U"')

SESSION_CONF = "\n".join([
    AUDIT_LOG,
    remoteuser_location("/app/", "RemoteUserSession On",
                        "RemoteUserLoginURL /login"),
    login_location(),
    logout_location(),
])


def audit_lines(h):
    """The lines of the test's own access log, split into fields."""
    with open(os.path.join(h.root, "logs", "audit.log")) as f:
        return [l.split() for l in f.read().splitlines()]


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def public_id(token):
    return stored_hash(token)[:12]


# -- session issued, used, logged out ------------------------------------


def test_session_lines_name_user_and_session_id(scratch):
    h = scratch(SESSION_CONF, users=["alice"])
    h.start()
    r = h.get("/login?next=%2Fapp%2Fenv", basic("alice"))
    assert r.status == 302
    token = token_of(r)
    sid = public_id(token)
    assert re.fullmatch(r"[0-9a-f]{12}", sid)
    assert h.wait_log("RUS00025")
    issued = [l for l in h.error_log().splitlines() if "RUS00025" in l]
    assert len(issued) == 1, issued
    assert "[remoteuser_session:notice]" in issued[0]
    assert ("RUS00025: session %s issued for user 'alice' (id 1), identity "
            "from r->user, AuthType Basic" % sid) in issued[0]

    assert h.get("/app/env", cookie(token)).status == 200
    r = h.get("/logout", cookie(token), method="POST")
    assert r.status == 302
    assert h.wait_log("RUS00026")
    out = [l for l in h.error_log().splitlines() if "RUS00026" in l]
    assert len(out) == 1, out
    assert "[remoteuser_session:notice]" in out[0]
    assert ("RUS00026: logout: 1 session(s) revoked: %s (user 'alice')"
            % sid) in out[0]
    # the session is gone: the same cookie is no session any more
    assert h.get("/app/env", cookie(token)).status == 302

    assert wait_for(lambda: len(audit_lines(h)) >= 4)
    # user, session id, status, method, path; each request's line is
    # written after its response, so not always in order
    assert sorted(audit_lines(h)) == sorted([
        ["alice", sid, "302", "GET", "/login"],
        ["alice", sid, "200", "GET", "/app/env"],
        ["alice", sid, "302", "POST", "/logout"],
        ["-", "-", "302", "GET", "/app/env"],
    ])


def test_logout_without_a_session_says_so(scratch):
    h = scratch(SESSION_CONF, users=["alice"])
    h.start()
    assert h.get("/logout", method="POST").status == 302
    assert h.wait_log("RUS00026")
    assert "RUS00026: logout: 0 session(s) revoked" in h.new_log()
    assert wait_for(lambda: len(audit_lines(h)) >= 1)
    assert audit_lines(h)[0] == ["-", "-", "302", "POST", "/logout"]


# -- user created, unknown user --------------------------------------------

IDENTITY_CONF = "\n".join([
    location("/basic/", "RemoteUserEngine On", "RemoteUserStripRealm On",
             "RemoteUserLowercase On"),
    location("/known/", "RemoteUserEngine On", "RemoteUserStripRealm On",
             "RemoteUserLowercase On", "RemoteUserCreateUnknown Off"),
    remoteuser_location("/hdr/", "RemoteUserHeader X-Auth-User",
                        "RemoteUserTrustedProxy 127.0.0.1",
                        "RemoteUserStripRealm On", "RemoteUserLowercase On"),
    remoteuser_location("/hdrknown/", "RemoteUserHeader X-Auth-User",
                        "RemoteUserTrustedProxy 127.0.0.1",
                        "RemoteUserStripRealm On",
                        "RemoteUserCreateUnknown Off"),
])


def test_user_created_names_sent_name_clean_name_and_source(scratch):
    h = scratch(IDENTITY_CONF, users=["Carol@EXAMPLE.COM"])
    h.start()
    h.mark_log()
    r = h.get("/basic/env", basic("Carol@EXAMPLE.COM"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "carol"
    assert h.wait_log("RUS00011")
    line = [l for l in h.new_log().splitlines() if "RUS00011" in l][0]
    assert "[remoteuser_session:notice]" in line
    assert ("RUS00011: created user 'carol' (id 1) from the name "
            "'Carol@EXAMPLE.COM' sent by r->user, AuthType Basic") in line

    h.mark_log()
    r = h.get("/hdr/env", {"X-Auth-User": "Dave@EXAMPLE.COM"})
    assert r.status == 200
    assert h.wait_log("RUS00011")
    line = [l for l in h.new_log().splitlines() if "RUS00011" in l][0]
    assert ("RUS00011: created user 'dave' (id 2) from the name "
            "'Dave@EXAMPLE.COM' sent by header X-Auth-User from "
            "127.0.0.1") in line


def test_unknown_user_line_shows_the_sent_name_escaped(scratch):
    h = scratch(IDENTITY_CONF, users=["Erin@EXAMPLE.COM"])
    h.start()
    h.mark_log()
    assert h.get("/known/env", basic("Erin@EXAMPLE.COM")).status == 403
    assert h.wait_log("RUS00007")
    line = [l for l in h.new_log().splitlines() if "RUS00007" in l][0]
    assert ("RUS00007: user 'erin' (sent as 'Erin@EXAMPLE.COM' by r->user, "
            "AuthType Basic) is not in the store") in line
    # through the header, a Windows-style name: its backslash is escaped
    # by httpd's error log, as every byte outside printable ASCII would be
    h.mark_log()
    assert h.get("/hdrknown/env", {"X-Auth-User": "CORP\\gina"}).status == 403
    assert h.wait_log("RUS00007")
    line = [l for l in h.new_log().splitlines() if "RUS00007" in l][0]
    assert ("user 'gina' (sent as 'CORP\\\\gina' by header X-Auth-User "
            "from 127.0.0.1)") in line


# -- store failures: rate-limited, and naming their cause -------------------

STORE_CONF = location("/basic/", "RemoteUserEngine On")
STORE_IDS = re.compile(r"\b(RUS000(?:09|10|23)):")
SUMMARY = re.compile(r"RUS00106: (\d+) more store failure\(s\) in this "
                     r"child in the last \d+ s, not logged one by one "
                     r"\(one line per 10 s\); the last: RUS00009: ")


def hammer(h, seconds, threads=8):
    """GETs from `threads` clients for `seconds`; the statuses."""
    statuses = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def client(n):
        while time.time() < stop:
            st = h.get("/basic/env", basic("user%d" % n)).status
            with lock:
                statuses.append(st)

    ts = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return statuses


def test_repeated_store_failures_are_rate_limited(scratch):
    h = scratch(STORE_CONF, users=["user%d" % n for n in range(8)])
    h.start()
    assert h.get("/basic/env", basic("user0")).status == 200
    os.chmod(h.db_path, 0)
    try:
        time.sleep(1.2)  # a child looks at the file at most once a second
        h.mark_log()
        statuses = hammer(h, 3)
    finally:
        os.chmod(h.db_path, 0o640)
    # fail closed, every one
    assert len(statuses) > 100, len(statuses)
    assert set(statuses) == {503}, set(statuses)
    # the summary comes once the 10 s after each child's first line are
    # over, told by its checkpoint thread
    full = lambda: [l for l in h.new_log().splitlines()
                    if STORE_IDS.search(l) and "RUS00106:" not in l]
    n_full = len(full())
    assert wait_for(lambda: len(SUMMARY.findall(h.new_log())) >= n_full,
                    timeout=15)
    log = h.new_log()
    lines = full()
    counts = [int(c) for c in SUMMARY.findall(log)]
    # one line in full per child (at most two children here), then the
    # count: every failed request is accounted for, none logged twice
    print("%d requests, all 503: %d RUS00009 lines in full, RUS00106 "
          "counts %s" % (len(statuses), len(lines), counts))
    assert 1 <= len(lines) <= 2, lines
    assert len(counts) == len(lines), log
    assert sum(counts) + len(lines) == len(statuses), (counts, len(lines),
                                                       len(statuses))
    assert "user store unavailable (permission denied)" in lines[0]
    assert "(13)Permission denied" in lines[0]
    assert "counted in one line, RUS00106" in lines[0]
    # and the store serves again
    assert h.get("/basic/env", basic("user1")).status == 200


def test_unwritable_store_file_says_permission_denied(scratch):
    """The store file readable but not writable by the children (a
    restored backup owned by root, 0644): before, a fresh connection
    opened it read-only and the write failed as `(30)Read-only file
    system`."""
    h = scratch(STORE_CONF, users=["bob"])
    h.start()  # the children open their connections on first use
    os.chown(h.db_path, 0, 0)
    os.chmod(h.db_path, 0o644)
    h.mark_log()
    assert h.get("/basic/env", basic("bob")).status == 503
    assert h.wait_log("RUS00010")
    line = [l for l in h.new_log().splitlines() if "RUS00010" in l][0]
    assert "Read-only file system" not in line
    assert "(13)Permission denied" in line
    assert ("RUS00010: user store failed (permission denied) resolving user "
            "'bob': create user: %s: Permission denied (mode 0644, owner uid "
            "0 gid 0; this process runs as uid " % h.db_path) in line


def test_corrupt_store_names_the_damage(scratch):
    h = scratch(STORE_CONF, users=["alice"])
    h.start()
    with open(h.db_path, "r+b") as f:
        f.write(b"garbage garbage garbage garbage " * 4)
    h.mark_log()
    assert h.get("/basic/env", basic("alice")).status == 500
    assert h.wait_log("RUS00009")
    line = [l for l in h.new_log().splitlines() if "RUS00009" in l][0]
    assert "120001" not in line
    assert "APR does not understand" not in line
    assert ("RUS00009: user store unavailable (corrupt): open: %s is damaged "
            "or not an SQLite database (sqlite: file is not a database)"
            % h.db_path) in line


def test_locked_store_names_the_lock_and_the_timeout(scratch):
    h = scratch(STORE_CONF, users=["alice", "carol"], busy_timeout=200)
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    con = sqlite3.connect(h.db_path, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        h.mark_log()
        assert h.get("/basic/env", basic("carol")).status == 503
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert h.wait_log("RUS00010")
    line = [l for l in h.new_log().splitlines() if "RUS00010" in l][0]
    assert "(70007)" not in line
    assert ("RUS00010: user store failed (locked) resolving user 'carol': "
            "create user: %s is locked: another connection held it for "
            "longer than the busy timeout (200 ms)" % h.db_path) in line


def test_missing_store_says_missing(scratch):
    h = scratch(STORE_CONF, users=["alice"])
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    aside = h.db_path + ".aside"
    os.rename(h.db_path, aside)
    try:
        time.sleep(1.2)
        h.mark_log()
        assert h.get("/basic/env", basic("alice")).status == 503
        assert h.wait_log("RUS00009")
    finally:
        os.rename(aside, h.db_path)
    line = [l for l in h.new_log().splitlines() if "RUS00009" in l][0]
    assert ("(2)No such file or directory: " in line)
    assert ("RUS00009: user store unavailable (missing): %s: No such file or "
            "directory" % h.db_path) in line


# -- expired sessions purged by the server ----------------------------------


def test_expired_sessions_are_purged_without_cron(scratch):
    h = scratch(SESSION_CONF + "\nRemoteUserSessionPurgeInterval 1\n",
                users=["alice"])
    h.start()
    token = token_of(h.get("/login?next=%2Fapp%2Fenv", basic("alice")))
    row = h.rows("SELECT user_id, vhost FROM sessions")[0]
    now = int(time.time())
    dead = ["%064x" % n for n in range(1, 4)]
    for t in dead:  # expired two hours ago: past the hour of clock grace
        h.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
                  " created_at, last_seen, expires_at) VALUES (?,?,?,?,?,?)",
                  (t, row["user_id"], row["vhost"], now - 3 * 3600,
                   now - 3 * 3600, now - 2 * 3600))
    recent = "%064x" % 99  # expired ten minutes ago: kept for now
    h.execute("INSERT INTO sessions (token_hash, user_id, vhost,"
              " created_at, last_seen, expires_at) VALUES (?,?,?,?,?,?)",
              (recent, row["user_id"], row["vhost"], now - 3600, now - 3600,
               now - 600))
    h.mark_log()
    left = lambda: {r["token_hash"] for r in
                    h.rows("SELECT token_hash FROM sessions")}
    assert wait_for(lambda: not (left() & set(dead)), timeout=5), left()
    assert left() == {stored_hash(token), recent}
    assert h.wait_log("RUS00029: purged 3 expired sessions")
    assert h.get("/app/env", cookie(token)).status == 200
