"""The store around httpd's lifecycle: created at startup, refused when
unusable (httpd and configtest stop with a message naming the directive and
the path), failing closed at run time (5xx, never a pass-through) and
recovering without a restart once the fault is gone."""

import os
import pwd
import sqlite3
import threading
import time

import pytest

from pyrus import RUN_USER, basic, location

CONF = location("/basic/", "RemoteUserEngine On")


def new_server(scratch, **kw):
    return scratch(CONF, users=["alice", "bob", "carol", "dave", "erin"],
                   **kw)


@pytest.mark.parametrize("kind", ["missing-dir", "directory", "garbage",
                                  "newer-schema"])
def test_unusable_store_stops_configtest_and_start(scratch, kind):
    h = new_server(scratch)
    if kind == "missing-dir":
        path = os.path.join(h.root, "no-such-dir", "users.db")
        reason = "no-such-dir"
    elif kind == "directory":
        path = h.store_dir
        reason = "not a regular file"
    elif kind == "garbage":
        path = os.path.join(h.store_dir, "garbage.db")
        with open(path, "wb") as f:
            f.write(b"this is not an SQLite database" * 100)
        reason = "not a database"
    else:
        path = os.path.join(h.store_dir, "future.db")
        con = sqlite3.connect(path)
        con.execute("PRAGMA user_version = 99")
        con.close()
        reason = "schema version 99"
    h.write_conf(CONF, "sqlite:" + path)

    r = h.configtest()
    assert r.returncode != 0
    assert "RUS00002" in r.stderr
    assert "RemoteUserStore sqlite:" + path in r.stderr
    assert reason in r.stderr
    # the cause in words, never an SQLite code passed off as an APR status
    assert "APR does not understand" not in r.stderr

    rc, err = h.start(expect_ok=False)
    assert rc != 0
    assert "RemoteUserStore sqlite:" + path in err + h.error_log()


def test_malformed_spec_is_a_syntax_error(scratch):
    h = new_server(scratch, store="mysql:whatever")
    r = h.configtest()
    assert r.returncode != 0
    assert "RemoteUserStore mysql:whatever: unknown store scheme" in r.stderr
    assert "line" in r.stderr  # httpd names the line


def test_engine_without_store_is_refused(scratch):
    h = new_server(scratch, store=None)
    r = h.configtest()
    assert r.returncode != 0
    assert "RUS00004" in r.stderr


def test_configtest_creates_nothing(scratch):
    h = new_server(scratch)
    r = h.configtest()
    assert r.returncode == 0, r.stderr
    assert "Syntax OK" in r.stderr
    assert not os.path.exists(h.db_path)


def test_store_created_at_startup_relative_to_server_root(scratch):
    h = new_server(scratch)  # RemoteUserStore sqlite:store/users.db
    h.start()
    assert os.path.exists(h.db_path)
    con = sqlite3.connect(h.db_path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert con.execute("PRAGMA user_version").fetchone()[0] == 7
        cols = [r[1] for r in con.execute("PRAGMA table_info(users)")]
    finally:
        con.close()
    assert cols == ["id", "username", "is_active", "date_joined",
                    "last_login", "email", "first_name", "last_name"]
    st = os.stat(h.db_path)
    assert st.st_mode & 0o777 == 0o640
    if RUN_USER:
        assert st.st_uid == pwd.getpwnam(RUN_USER).pw_uid
    assert "RUS00001" in h.error_log()
    assert h.get("/basic/env", basic("alice")).status == 200


def test_unreadable_store_at_run_time_fails_closed_and_recovers(scratch):
    h = new_server(scratch)
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    h.mark_log()
    os.chmod(h.db_path, 0)
    time.sleep(1.1)  # a child looks at the file at most once a second
    try:
        for user in ("alice", "bob"):  # known and new
            r = h.get("/basic/env", basic(user))
            assert r.status == 503, user
        assert "RUS00009" in h.new_log()
    finally:
        os.chmod(h.db_path, 0o640)
    assert h.get("/basic/env", basic("alice")).status == 200
    assert h.get("/basic/env", basic("bob")).status == 200
    assert h.user("bob") is not None


def test_removed_store_fails_closed_and_recovers(scratch):
    h = new_server(scratch)
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    aside = h.db_path + ".aside"
    os.rename(h.db_path, aside)
    time.sleep(1.1)  # a child looks at the file at most once a second
    try:
        h.mark_log()
        assert h.get("/basic/env", basic("alice")).status == 503
        assert not os.path.exists(h.db_path)  # never recreated at run time
        assert "RUS00009" in h.new_log()
    finally:
        os.rename(aside, h.db_path)
    assert h.get("/basic/env", basic("alice")).status == 200


def test_store_locked_past_busy_timeout_answers_503(scratch):
    h = new_server(scratch, busy_timeout=200)
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    con = sqlite3.connect(h.db_path, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        h.mark_log()
        started = time.time()
        r = h.get("/basic/env", basic("carol"))  # creating needs the lock
        assert r.status == 503
        assert time.time() - started < 5
        assert "RUS00010" in h.new_log()
        # readers are not blocked in WAL mode: known users still get in
        assert h.get("/basic/env", basic("alice")).status == 200
    finally:
        con.execute("ROLLBACK")
        con.close()
    assert h.user("carol") is None  # nothing half-written
    assert h.get("/basic/env", basic("carol")).status == 200


def test_corrupt_store_answers_500(scratch):
    h = new_server(scratch)
    h.start()  # children open their connections on first use
    with open(h.db_path, "r+b") as f:
        f.write(b"garbage garbage garbage garbage " * 4)
    h.mark_log()
    r = h.get("/basic/env", basic("alice"))
    assert r.status == 500
    assert "RUS00009" in h.new_log()


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_parallel_creates_and_graceful_restarts(scratch, mpm):
    # 20 first logins at once may land in one child: more than the default
    # write cap (half of ThreadsPerChild), which answers the rest 503 by
    # design (test_740_write_gate). This test is about parallel creates
    # and restarts, so the cap is set above the burst.
    h = scratch(CONF + "\nRemoteUserStoreMaxWriters 32\n",
                users=["alice", "bob", "carol", "dave", "erin"], mpm=mpm)
    h.start()
    parent_fds = len(os.listdir("/proc/%d/fd" % h.proc.pid))
    for round_ in range(3):
        results = []
        go = threading.Event()

        def worker(user):
            go.wait()
            results.append(h.get("/basic/env", basic(user)).status)

        users = ["alice", "bob", "carol", "dave", "erin"] * 4
        threads = [threading.Thread(target=worker, args=(u,)) for u in users]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(60)
        assert results == [200] * len(users)
        assert h.rows("SELECT COUNT(*) AS n FROM users")[0]["n"] == 5
        h.graceful()
    # the parent never opens the store and leaks nothing across restarts
    fds = os.listdir("/proc/%d/fd" % h.proc.pid)
    assert len(fds) == parent_fds
    links = [os.readlink("/proc/%d/fd/%s" % (h.proc.pid, fd)) for fd in fds
             if os.path.exists("/proc/%d/fd/%s" % (h.proc.pid, fd))]
    assert not [p for p in links if p.startswith(h.db_path)]
    assert h.get("/basic/env", basic("alice")).status == 200
    assert not h.crashes()
