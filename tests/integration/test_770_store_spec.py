"""remoteuser-admin --store SPEC names the store as RemoteUserStore does
(issue #15): `--store sqlite:PATH` is the store `--db PATH` is, a relative
location is taken from the current directory, an unknown scheme is bad
usage that lists the known ones, and --store excludes --db and --config.
"""

import json
import os
import subprocess

from pyrus import ADMIN, basic, location, sanitizer_env

APP = location("/app/", "RemoteUserEngine On")


def run(srv, *args, cwd=None):
    return subprocess.run([ADMIN] + list(args), capture_output=True,
                          text=True, timeout=30, cwd=cwd,
                          env=sanitizer_env(srv.root, leaks=True))


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def test_store_spec_is_the_db_store(scratch):
    """What httpd wrote, --store reads, exactly as --db does; and what
    --store changes, the running httpd sees."""
    srv = scratch(users=["alice", "bob"],
                  body="\n".join(["RemoteUserCacheTTL 0", APP]))
    srv.start()
    assert srv.get("/app/env", basic("alice")).status == 200
    spec = "sqlite:" + srv.db_path
    for args in (["--json", "user", "list"], ["user", "show", "alice"],
                 ["group", "list"]):
        assert ok(run(srv, "--store", spec, *args)) == \
            ok(run(srv, "--db", srv.db_path, *args)), args
    # db info the same but for where the store came from (issue #17)
    via_store = json.loads(ok(run(srv, "--store", spec, "--json", "db",
                                  "info")))
    via_db = json.loads(ok(run(srv, "--db", srv.db_path, "--json", "db",
                               "info")))
    assert via_store.pop("store_from") == "--store"
    assert via_db.pop("store_from") == "--db"
    assert via_store == via_db
    users = json.loads(ok(run(srv, "--store", spec, "--json", "user",
                              "list")))
    assert [u["username"] for u in users] == ["alice"]
    assert json.loads(ok(run(srv, "--json", "--store", spec, "db", "info"))
                      )["store"] == srv.db_path

    # the global option anywhere, as --db; and --store=SPEC
    assert ok(run(srv, "user", "disable", "alice", "--store", spec)
              ).strip() == "disabled user alice, ended 0 sessions"
    assert srv.get("/app/env", basic("alice")).status == 403
    assert ok(run(srv, "--store=" + spec, "user", "enable", "alice")
              ).strip() == "enabled user alice"
    assert srv.get("/app/env", basic("alice")).status == 200


def test_store_spec_relative_to_cwd(scratch):
    srv = scratch(store=None)
    where = os.path.join(srv.root, "rel")
    os.mkdir(where)
    got = ok(run(srv, "--store", "sqlite:users.db", "db", "migrate",
                 cwd=where))
    path = os.path.join(where, "users.db")
    assert got.strip() == "%s: schema version 7" % path
    assert json.loads(ok(run(srv, "--json", "--store", "sqlite:" + path,
                             "db", "check"))) == {"ok": True,
                                                  "result": "ok"}


def test_store_spec_refused(scratch):
    srv = scratch(store=None)
    db = os.path.join(srv.root, "x.db")
    for args, text in (
            (["--store", "mysql:whatever"],
             "unknown store scheme 'mysql' (known: sqlite, postgresql)"),
            (["--store", db], "expected SCHEME:LOCATION"),
            (["--store", "sqlite:"], "the store location is empty"),
            (["--store", "sqlite:" + db, "--db", db],
             "--store and --db exclude each other"),
            (["--store", "sqlite:" + db, "--config", srv.conf],
             "--store and --config exclude each other")):
        r = run(srv, *args, "user", "list")
        assert r.returncode == 2, (args, r.returncode, r.stdout, r.stderr)
        assert text in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stdout == ""
    assert not os.path.exists(db)


def test_store_in_help(scratch):
    srv = scratch(store=None)
    out = ok(run(srv, "--help"))
    assert "--store SPEC" in out and "--db PATH" in out
