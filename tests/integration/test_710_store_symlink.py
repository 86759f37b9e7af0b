"""Security review finding 1: root must never follow a symbolic link at the
store path. Anything running as the children's user (a CGI, a compromised
application) can write the store directory and so replace users.db, -wal or
-shm with a link to any file, such as /etc/ld.so.preload. Startup and
configtest refuse such a store naming the link; a graceful restart keeps
httpd up, leaves the files alone and fails requests closed; the children
and remoteuser-admin refuse links too; and a store directory others may
write is warned about."""

import grp
import os
import pwd
import shutil
import sqlite3
import time

import pytest

from pyrus import RUN_USER, basic, location, run_admin

CONF = (location("/basic/", "RemoteUserEngine On")
        + "\nAlias /static/ @ROOT@/static/\n"
        + "<Directory @ROOT@/static>\n  Require all granted\n</Directory>\n")

SUFFIXES = ["", "-wal", "-shm"]


def new_server(scratch, **kw):
    h = scratch(CONF, users=["alice", "bob"], **kw)
    static = os.path.join(h.root, "static")
    os.mkdir(static, 0o755)
    with open(os.path.join(static, "hello.txt"), "w") as f:
        f.write("hello\n")
    os.chmod(os.path.join(static, "hello.txt"), 0o644)
    # where an attacker would point the link: a root-owned directory the
    # children cannot write (think /etc)
    h.target_dir = os.path.join(h.root, "etc")
    os.mkdir(h.target_dir, 0o755)
    return h


def with_store(h):
    """Create the store once (start, stop), as a server that ran."""
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    h.stop()
    assert os.path.exists(h.db_path)


def plant(h, suffix, name="ld.so.preload"):
    """Replace PATH<suffix> with a link to a file that does not exist yet
    in a root-owned directory; returns (link, target)."""
    link = h.db_path + suffix
    target = os.path.join(h.target_dir, name)
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(target, link)
    return link, target


def wait_store_closed(h, timeout=20):
    """Until no child of this httpd has a file of its store open."""
    files = {h.db_path + sfx for sfx in ("", "-wal", "-shm")}
    deadline = time.time() + timeout
    while True:
        holders = []
        for pid in h.children():
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if target in files:
                    holders.append(pid)
        if not holders:
            return
        assert time.time() < deadline, "children %s keep the store" % holders
        time.sleep(0.05)


def assert_untouched(target):
    assert not os.path.lexists(target), "the link target was created"


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_symlink_stops_configtest_and_start(scratch, suffix):
    h = new_server(scratch)
    if suffix:
        with_store(h)
    link, target = plant(h, suffix)

    r = h.configtest()
    assert r.returncode != 0, r.stderr
    assert "RUS00050" in r.stderr, r.stderr
    assert link in r.stderr and "symbolic link" in r.stderr
    assert_untouched(target)

    rc, err = h.start(expect_ok=False)
    assert rc != 0
    out = err + h.error_log()
    assert "RUS00050" in out and link in out
    assert_untouched(target)
    assert os.path.islink(link)


def test_symlinked_directory_is_refused(scratch):
    h = new_server(scratch)
    linked = os.path.join(h.root, "linked-store")
    os.symlink(h.store_dir, linked)
    h.write_conf(CONF, "sqlite:" + os.path.join(linked, "users.db"))

    r = h.configtest()
    assert r.returncode != 0
    assert "RUS00050" in r.stderr and linked in r.stderr, r.stderr
    rc, err = h.start(expect_ok=False)
    assert rc != 0
    assert "RUS00050" in err + h.error_log()
    assert not os.path.exists(h.db_path)


@pytest.mark.parametrize("suffix", ["", "-wal"])
def test_graceful_restart_keeps_httpd_up_and_fails_closed(scratch, suffix):
    h = new_server(scratch)
    h.start()
    assert h.get("/basic/env", basic("alice")).status == 200
    parent = h.proc.pid
    # Hold the store open: the old children, the last to close it, would
    # otherwise checkpoint and unlink PATH-wal (the link) as they exit.
    holder = sqlite3.connect(h.db_path)
    holder.execute("SELECT COUNT(*) FROM users").fetchone()
    if not suffix:
        os.rename(h.db_path, h.db_path + ".aside")
    link, target = plant(h, suffix)
    h.mark_log()

    h.graceful()  # SIGUSR1, as logrotate's apache2 reload does

    assert h.proc.poll() is None, "httpd's parent exited"
    os.kill(parent, 0)
    assert_untouched(target)
    assert os.path.islink(link)
    log = h.new_log()
    assert "RUS00052" in log and link in log, log
    assert h.get("/static/hello.txt").status == 200
    for user in ("alice", "bob"):  # known and new
        assert h.get("/basic/env", basic(user)).status == 503
    assert h.wait_log("RUS00054")
    assert_untouched(target)

    # fixed by the administrator and restarted again: served as before.
    # Once the children that had the store open are gone (a child that
    # still holds it keeps the WAL's frames in the index after the holder
    # closes, and a -wal unlinked under it would then be missing them),
    # the holder is its last connection and checkpoints as it closes.
    wait_store_closed(h)
    os.unlink(link)
    holder.close()
    if not suffix:
        os.rename(h.db_path + ".aside", h.db_path)
    h.graceful()
    assert h.get("/basic/env", basic("alice")).status == 200
    assert not h.crashes()


def test_link_swapped_in_at_run_time_fails_closed(scratch):
    """A child opens its first connection at its first request: a link
    swapped in before then is refused, not followed."""
    h = new_server(scratch)
    h.start()
    # a usable store behind the link: only the link makes it refused
    elsewhere = os.path.join(h.root, "elsewhere")
    os.mkdir(elsewhere, 0o750)
    copy = os.path.join(elsewhere, "copy.db")
    shutil.copy(h.db_path, copy)
    if RUN_USER:
        pw = pwd.getpwnam(RUN_USER)
        for f in (elsewhere, copy):
            os.chown(f, pw.pw_uid, pw.pw_gid)
    aside = h.db_path + ".aside"
    os.rename(h.db_path, aside)
    os.symlink(copy, h.db_path)
    h.mark_log()
    for user in ("alice", "bob"):  # known and new
        assert h.get("/basic/env", basic(user)).status in (500, 503)
    assert "RUS00009" in h.new_log()
    assert h.proc.poll() is None
    con = sqlite3.connect(copy)
    try:  # nothing was written through the link
        assert not con.execute("SELECT * FROM users WHERE username = 'bob'"
                               ).fetchall()
    finally:
        con.close()
    os.unlink(h.db_path)
    os.rename(aside, h.db_path)


def admin(h, *args):
    return run_admin(h, "--db", h.db_path, *args)


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("cmd", [["db", "migrate"], ["user", "list"]])
def test_admin_refuses_symlinked_store(scratch, suffix, cmd):
    h = new_server(scratch)
    if suffix:
        assert admin(h, "db", "migrate").returncode == 0
    link, target = plant(h, suffix)
    r = admin(h, *cmd)
    assert r.returncode != 0, (r.stdout, r.stderr)
    assert link in r.stderr and "symbolic link" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert_untouched(target)
    assert os.path.islink(link)


def test_world_writable_store_dir_warns(scratch):
    h = new_server(scratch)
    os.chmod(h.store_dir, 0o1777)
    h.start()
    log = h.error_log()
    assert "RUS00057" in log and h.store_dir in log, log
    assert "RUS00056" not in log  # owned by the children's user
    assert h.get("/basic/env", basic("alice")).status == 200


@pytest.mark.skipif(not RUN_USER, reason="needs root to chown")
def test_store_dir_writable_by_another_group_warns(scratch):
    h = new_server(scratch)
    os.chown(h.store_dir, -1, grp.getgrnam("staff").gr_gid)
    os.chmod(h.store_dir, 0o770)
    h.start()
    log = h.error_log()
    assert "RUS00056" in log and "group %d" % grp.getgrnam("staff").gr_gid \
        in log, log
    assert "RUS00057" not in log
    assert h.get("/basic/env", basic("alice")).status == 200


@pytest.mark.skipif(not RUN_USER, reason="needs root to chown")
def test_store_dir_owned_by_another_user_warns(scratch):
    h = new_server(scratch)
    os.chown(h.store_dir, pwd.getpwnam("nobody").pw_uid,
             pwd.getpwnam(RUN_USER).pw_gid)
    os.chmod(h.store_dir, 0o770)
    h.start()
    log = h.error_log()
    assert "RUS00056" in log and "uid %d" % pwd.getpwnam("nobody").pw_uid \
        in log, log


def test_private_store_dir_does_not_warn(scratch):
    h = new_server(scratch)  # 0750, owned by the children's user
    h.start()
    assert not {"RUS00056", "RUS00057", "RUS00014"} & set(h.problem_ids())
