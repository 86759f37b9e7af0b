"""remoteuser-admin --config acts on the store httpd uses (review finding 6).

The tool asks httpd itself (-t -D DUMP_REMOTEUSER_STORE): the last
RemoteUserStore wins, Define/${VAR}, <IfDefine> and <IfModule> count as
httpd counts them, an envvars file beside the configuration is sourced as
apache2ctl does, and a configuration httpd rejects is an error, not a guess.
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
    assert ok(r).strip() == "disabled user mallory"
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
