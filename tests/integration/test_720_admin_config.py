"""remoteuser-admin --config acts on the store httpd uses (review finding 6).

The tool asks httpd itself (-t -D DUMP_REMOTEUSER_STORE): the last
RemoteUserStore wins, Define/${VAR}, <IfDefine> and <IfModule> count as
httpd counts them, an envvars file beside the configuration is sourced as
apache2ctl does, and a configuration httpd rejects is an error, not a guess.

Without a store option (issue #17): $REMOTEUSER_STORE, else the
configuration apachectl -V names (REMOTEUSER_APACHECTL points the tool at
a stand-in here: no test reads this machine's /etc/apache2); db info says
where the store came from; several RemoteUserStore lines are a warning; a
missing --config file is "No such file".
"""

import json
import os

from pyrus import HTTPD, MODDIR, basic, location, run_admin

APP = location("/app/", "RemoteUserEngine On")


def admin(srv, *args, conf=None):
    """remoteuser-admin --config with the harness's httpd binary."""
    return run_admin(srv, "--config", conf or srv.conf, *args, timeout=60,
                     env={"RUS_HTTPD": HTTPD})


def admin_db(srv, path, *args):
    r = run_admin(srv, "--db", path, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def line_of(path, text):
    """1-based number of the line of `path` that is exactly `text`."""
    with open(path) as f:
        lines = [l.strip() for l in f.read().splitlines()]
    assert lines.count(text) == 1, (text, lines)
    return lines.index(text) + 1


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)


def info(srv, conf=None):
    return json.loads(ok(admin(srv, "--json", "db", "info", conf=conf)))


def test_last_store_wins_end_to_end(scratch):
    """The first RemoteUserStore sits in an Include'd file, httpd uses the
    last one: disabling mallory through --config must lock her out of the
    running server (before the fix the tool disabled her in the decoy
    store, said so, exited 0, and she still got 200)."""
    srv = scratch(users=["mallory"], store=None,
                  body="\n".join(["Include @ROOT@/first.conf",
                                  "RemoteUserStore sqlite:store/users.db",
                                  "RemoteUserCacheTTL 0", APP]))
    decoy = os.path.join(srv.store_dir, "decoy.db")
    write(os.path.join(srv.root, "first.conf"),
          "RemoteUserStore sqlite:store/decoy.db\n")
    admin_db(srv, decoy, "db", "migrate")
    admin_db(srv, decoy, "user", "add", "mallory")
    srv.start()
    assert srv.get("/app/env", basic("mallory")).status == 200

    r = admin(srv, "user", "disable", "mallory")
    assert ok(r).strip() == "disabled user mallory, ended 0 sessions"
    assert srv.get("/app/env", basic("mallory")).status == 403
    assert srv.user("mallory")["is_active"] == 0

    # db info says which store and which line of which file
    where = "%s:%d" % (srv.conf,
                       line_of(srv.conf, "RemoteUserStore sqlite:store/users.db"))
    text = ok(admin(srv, "db", "info"))
    assert text.splitlines()[0].split(None, 1)[1] == (
        "%s (from %s)" % (srv.db_path, where)), text
    got = info(srv)
    assert got["store"] == srv.db_path and got["store_from"] == where


def test_define_and_variables(scratch):
    """Define + ${VAR} in the spec of the last RemoteUserStore."""
    srv = scratch(store=None, body="\n".join([
        "RemoteUserStore sqlite:store/users.db",
        "Define STOREDIR @ROOT@/defined",
        "RemoteUserStore sqlite:${STOREDIR}/users.db"]))
    os.mkdir(os.path.join(srv.root, "defined"))
    ok(admin(srv, "db", "migrate"))
    got = info(srv)
    assert got["store"] == os.path.join(srv.root, "defined", "users.db")
    assert got["store_from"] == "%s:%d" % (srv.conf, line_of(
        srv.conf, "RemoteUserStore sqlite:${STOREDIR}/users.db"))
    assert not os.path.exists(srv.db_path)


def test_ifdefine_and_ifmodule(scratch):
    """Decoys in sections httpd skips, before and after the real store,
    which sits in a section httpd does read (<IfDefine !NOPE>)."""
    srv = scratch(store=None, body="\n".join([
        "<IfModule nonexistent_module>",
        "  RemoteUserStore sqlite:store/decoy1.db",
        "</IfModule>",
        "<IfDefine !NOPE>",
        "  RemoteUserStore sqlite:store/users.db",
        "</IfDefine>",
        "<IfDefine NOPE>",
        "  RemoteUserStore sqlite:store/decoy2.db",
        "</IfDefine>",
        "<IfModule !remoteuser_session_module>",
        "  RemoteUserStore sqlite:store/decoy3.db",
        "</IfModule>"]))
    ok(admin(srv, "db", "migrate"))
    got = info(srv)
    assert got["store"] == srv.db_path
    assert got["store_from"] == "%s:%d" % (
        srv.conf, line_of(srv.conf, "RemoteUserStore sqlite:store/users.db"))
    assert not os.path.exists(os.path.join(srv.store_dir, "decoy1.db"))


def test_envvars_beside_the_config(scratch):
    """Debian: an envvars file beside the configuration is sourced as
    apache2ctl sources it, APACHE_ARGUMENTS included; the caller's own
    environment does not reach httpd."""
    srv = scratch(store=None, body="\n".join([
        "<IfDefine RUSTEST>",
        "  RemoteUserStore sqlite:${RUS_T_STOREDIR}/users.db",
        "</IfDefine>"]))
    os.mkdir(os.path.join(srv.root, "fromenvvars"))
    write(os.path.join(srv.root, "envvars"),
          "export RUS_T_STOREDIR=%s/fromenvvars\n"
          "export APACHE_ARGUMENTS='-D RUSTEST'\n" % srv.root)
    ok(admin(srv, "db", "migrate"))
    got = info(srv)
    assert got["store"] == os.path.join(srv.root, "fromenvvars", "users.db")


def test_config_httpd_rejects(scratch):
    """A configuration httpd refuses: non-zero, with httpd's own message,
    on one line; nothing is guessed from the file."""
    srv = scratch(store=None, body="\n".join([
        "RemoteUserStore sqlite:store/users.db",
        "NoSuchDirective here"]))
    r = admin(srv, "user", "list")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Invalid command 'NoSuchDirective'" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == ""


def test_no_store_in_the_config(scratch):
    """The module is not loaded there (its RemoteUserStore line sits in an
    <IfModule> httpd skips): an error that says so, not a guess."""
    srv = scratch(store=None)
    conf = os.path.join(srv.root, "bare.conf")
    write(conf, "\n".join([
        "ServerRoot %s" % srv.root,
        "ServerName 127.0.0.1",
        "Listen 127.0.0.1:%d" % srv.port,
        "DefaultRuntimeDir %s/run" % srv.root,
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % MODDIR,
        "<IfModule remoteuser_session_module>",
        "  RemoteUserStore sqlite:store/users.db",
        "</IfModule>", ""]))
    r = admin(srv, "user", "list", conf=conf)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "names no RemoteUserStore" in r.stderr, r.stderr
    # and the tool says which httpd it asked
    assert HTTPD in r.stderr


# ---- issue #17: the default store, and what the tool says about it ------

def fake_apachectl(srv, config_file, root=None):
    """A stand-in for apachectl that prints what `apachectl -V` prints
    (abridged), naming `config_file` under HTTPD_ROOT `root`."""
    path = os.path.join(srv.root, "fake-apachectl")
    write(path, "#!/bin/sh\n"
          "[ \"$1\" = -V ] || exit 9\n"
          "cat <<'EOF'\n"
          "Server version: Apache/2.4.99 (Debian)\n"
          "Server compiled with....\n"
          " -D APR_HAS_SENDFILE\n"
          " -D HTTPD_ROOT=\"%s\"\n"
          " -D SUEXEC_BIN=\"/usr/lib/apache2/suexec\"\n"
          " -D DEFAULT_PIDLOG=\"/var/run/apache2.pid\"\n"
          " -D SERVER_CONFIG_FILE=\"%s\"\n"
          "EOF\n" % (root or srv.root, config_file))
    os.chmod(path, 0o755)
    return path


def bare(srv, *args, env=None):
    """remoteuser-admin without a store option."""
    return run_admin(srv, *args, timeout=60,
                     env=dict({"RUS_HTTPD": HTTPD}, **(env or {})))


def test_default_store_from_apachectl(scratch):
    """No --db, --store or --config: SERVER_CONFIG_FILE under HTTPD_ROOT of
    apachectl -V, then as --config; db info names FILE:LINE. Before: "--db
    PATH, --store SPEC or --config FILE is needed" (exit 2)."""
    srv = scratch(users=["ann"], body=APP)
    srv.start()
    assert srv.get("/app/env", basic("ann")).status == 200
    where = "%s:%d" % (srv.conf, line_of(
        srv.conf, "RemoteUserStore sqlite:store/users.db"))
    for name in ("httpd.conf", srv.conf):  # relative to HTTPD_ROOT, absolute
        env = {"REMOTEUSER_APACHECTL": fake_apachectl(srv, name)}
        text = ok(bare(srv, "db", "info", env=env))
        assert text.splitlines()[0] == "store:            %s (from %s)" % (
            srv.db_path, where), text
        got = json.loads(ok(bare(srv, "--json", "db", "info", env=env)))
        assert got["store"] == srv.db_path and got["store_from"] == where
    users = json.loads(ok(bare(srv, "user", "list", "--json", env=env)))
    assert [u["username"] for u in users] == ["ann"]

    # a name looked up on PATH
    env = {"REMOTEUSER_APACHECTL": "fake-apachectl",
           "PATH": srv.root + ":" + os.environ["PATH"]}
    fake_apachectl(srv, "httpd.conf")
    assert json.loads(ok(bare(srv, "--json", "db", "info", env=env))
                      )["store_from"] == where

    # the file it names is missing: said so, with the path
    env = {"REMOTEUSER_APACHECTL": fake_apachectl(srv, "nope.conf")}
    r = bare(srv, "db", "info", env=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "%s/nope.conf: No such file or directory" % srv.root in r.stderr

    # apachectl fails: its exit code and message
    env = {"REMOTEUSER_APACHECTL": "/bin/false"}
    r = bare(srv, "db", "info", env=env)
    assert r.returncode == 2 and "/bin/false -V failed (exit 1)" in r.stderr

    # no apachectl: what to do instead
    r = bare(srv, "db", "info")  # the harness sets REMOTEUSER_APACHECTL=""
    assert r.returncode == 2
    assert ("no store given: use --db PATH, --store SPEC or --config FILE, "
            "or set REMOTEUSER_STORE") in r.stderr, r.stderr


def test_store_from_environment_and_options(scratch):
    """REMOTEUSER_STORE (a spec, as --store) comes before apachectl; db
    info says --db, --store or REMOTEUSER_STORE. Before: REMOTEUSER_STORE
    was not read, and db info named no origin for --db."""
    srv = scratch(users=["ann"], body=APP)
    ok(run_admin(srv, "--db", srv.db_path, "db", "migrate"))
    ok(run_admin(srv, "--db", srv.db_path, "user", "add", "envuser"))
    env = {"REMOTEUSER_STORE": "sqlite:" + srv.db_path,
           "REMOTEUSER_APACHECTL": "/bin/false"}
    got = json.loads(ok(bare(srv, "--json", "db", "info", env=env)))
    assert got["store_from"] == "REMOTEUSER_STORE" and got["users"] == 1
    assert ok(bare(srv, "db", "info", env=env)).splitlines()[0] == (
        "store:            %s (from REMOTEUSER_STORE)" % srv.db_path)
    for opt, value in (("--db", srv.db_path),
                       ("--store", "sqlite:" + srv.db_path)):
        got = json.loads(ok(bare(srv, opt, value, "--json", "db", "info",
                                 env=env)))
        assert got["store_from"] == opt, got


def test_several_stores_warn(scratch):
    """Two RemoteUserStore lines httpd reads (one in an Include'd file) and
    one in a section it skips: a warning naming the two it read, by file
    and line, and the one it uses (the last). Before: silence."""
    srv = scratch(store=None, body="\n".join([
        "Include @ROOT@/first.conf",
        "<IfDefine NOPE>",
        "  RemoteUserStore sqlite:store/skipped.db",
        "</IfDefine>",
        "RemoteUserStore sqlite:store/users.db", APP]))
    first = os.path.join(srv.root, "first.conf")
    write(first, "RemoteUserStore sqlite:store/decoy.db\n")
    used = "%s:%d" % (srv.conf, line_of(
        srv.conf, "RemoteUserStore sqlite:store/users.db"))
    r = admin(srv, "db", "migrate")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "remoteuser-admin: warning: 2 RemoteUserStore directives: "
        "%s:1 (sqlite:store/decoy.db), %s (sqlite:store/users.db); httpd "
        "uses the last one, %s (sqlite:%s)" % (first, used, used,
                                               srv.db_path)], r.stderr
    assert info(srv)["store_from"] == used
    # one store: no warning
    write(first, "\n")
    r = admin(srv, "db", "info")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_config_missing_file(scratch):
    """--config naming a missing file: "No such file", with its path, exit
    2; httpd is not run. Before: "... names no RemoteUserStore"."""
    srv = scratch(store=None)
    missing = os.path.join(srv.root, "missing.conf")
    r = admin(srv, "user", "list", conf=missing)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip() == (
        "remoteuser-admin: %s: No such file or directory" % missing), r.stderr
    assert "RemoteUserStore" not in r.stderr
    r = admin(srv, "--json", "user", "list", conf=missing)
    assert json.loads(r.stdout) == {
        "error": "%s: No such file or directory" % missing, "code": 2}
