"""Group authorization (Require remoteuser-group), identity export to CGI
and to proxied applications, and the remoteuser-admin command line against
the store of a running httpd."""

import json
import subprocess
import urllib.parse

import pytest

from pyrus import (ADMIN, Httpd, basic, cookie, location, login_location,
                   remoteuser_location, run_admin, sanitizer_env, token_of)
from pyrus.fixtures import server_fixture, watched

USERS = ["alice", "bob", "carol", "dave", "eve", "mallory", "newbie"]

TRUST = ("RemoteUserHeader X-Auth-User", "RemoteUserTrustedProxy 127.0.0.1")
EXPORT = ("RemoteUserRequestHeader X-Remote-User",
          "RemoteUserGroupsHeader X-Remote-Groups")


def conf(backend_port):
    back = "http://127.0.0.1:%d/plain/" % backend_port
    return "\n".join([
        # an authenticated user refused by Require gets 403, not httpd's
        # default 401 (which invites a new login)
        "<Location />\n  AuthzSendForbiddenOnFailure On\n</Location>",
        location("/grp/", "RemoteUserEngine On").replace(
            "Require valid-user", "Require remoteuser-group staff"),
        location("/grpany/", "RemoteUserEngine On").replace(
            "Require valid-user",
            "<RequireAny>\n    Require remoteuser-group admins\n"
            "    Require user bob\n  </RequireAny>"),
        location("/grpnot/", "RemoteUserEngine On").replace(
            "Require valid-user",
            "<RequireAll>\n    Require valid-user\n"
            "    Require not remoteuser-group banned\n  </RequireAll>"),
        location("/hdrgrp/", "RemoteUserEngine On", *TRUST).replace(
            "Require valid-user", "Require remoteuser-group staff"),
        remoteuser_location("/sessgrp/", "RemoteUserSession On",
                            "RemoteUserLoginURL /login").replace(
            "Require valid-user", "Require remoteuser-group staff"),
        login_location(),
        # proxied application
        location("/export/", "RemoteUserEngine On", *EXPORT,
                 "ProxyPass " + back),
        location("/exportpublic/", "RemoteUserEngine On", *EXPORT,
                 "ProxyPass " + back, auth=False).replace(
            "<Location /exportpublic/>",
            "<Location /exportpublic/>\n  Require all granted"),
        location("/export403/", "RemoteUserEngine On", *EXPORT,
                 "ErrorDocument 403 /backend-error").replace(
            "Require valid-user", "Require remoteuser-group nobodys"),
        location("/export401/", "RemoteUserEngine On", *EXPORT,
                 "ErrorDocument 401 /backend-error"),
        location("/backend-error", "ProxyPass %senv" % back, auth=False),
    ])


@pytest.fixture(scope="module")
def backend():
    h = Httpd(location("/plain/", auth=False).replace(
        "<Location /plain/>", "<Location /plain/>\n  Require all granted"),
        store=None)
    try:
        h.start()
        yield h
    finally:
        h.cleanup()


def make_server(mpm, backend):
    h = Httpd("", users=USERS, mpm=mpm,
              extra_modules=["proxy", "proxy_http", "headers"])
    h.write_conf(conf(backend.port), "sqlite:store/users.db",
                 ["proxy", "proxy_http", "headers"])
    return h


srv = server_fixture(make_server, mpms=None, needs=("backend",))


@pytest.fixture
def app(srv):
    yield from watched(srv)


def admin(srv, *args, expect=0, config=False):
    where = ["--config", srv.conf] if config else ["--db", srv.db_path]
    r = run_admin(srv, *where, *args)
    assert r.returncode == expect, (args, r.returncode, r.stdout, r.stderr)
    if expect != 0:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stdout


def ajson(srv, *args):
    return json.loads(admin(srv, "--json", *args))


@pytest.fixture(scope="module", autouse=True)
def groups(srv):
    """alice: staff, admins; bob: staff; mallory: banned."""
    for u in ("alice", "bob", "carol", "mallory"):
        srv.get("/grpnot/env", basic(u))  # creates the users
    for g in ("staff", "admins", "banned"):
        admin(srv, "group", "add", g)
    for g, u in (("staff", "alice"), ("admins", "alice"), ("staff", "bob"),
                 ("banned", "mallory")):
        admin(srv, "group", "add-member", g, u)


def test_require_group_with_the_front_end(app):
    assert app.get("/grp/env", basic("alice")).status == 200
    assert app.get("/grp/env", basic("bob")).status == 200
    assert app.get("/grp/env", basic("carol")).status == 403
    assert app.get("/grp/env", {}).status == 401


def test_require_group_combines(app):
    assert app.get("/grpany/env", basic("alice")).status == 200  # admins
    assert app.get("/grpany/env", basic("bob")).status == 200    # user bob
    assert app.get("/grpany/env", basic("carol")).status == 403
    assert app.get("/grpnot/env", basic("carol")).status == 200
    assert app.get("/grpnot/env", basic("mallory")).status == 403


def test_require_group_with_the_header(app):
    assert app.get("/hdrgrp/env", {"X-Auth-User": "bob"}).status == 200
    assert app.get("/hdrgrp/env", {"X-Auth-User": "carol"}).status == 403


def test_require_group_with_a_session(app):
    nxt = urllib.parse.quote("/sessgrp/env", safe="")
    t_alice = token_of(app.get("/login?next=" + nxt, basic("alice")))
    t_carol = token_of(app.get("/login?next=" + nxt, basic("carol")))
    r = app.get("/sessgrp/env", cookie(t_alice))
    assert r.status == 200
    assert r.env["REMOTE_USER_SOURCE"] == "session"
    assert app.get("/sessgrp/env", cookie(t_carol)).status == 403


def test_cgi_sees_every_variable(app):
    env = app.get("/grp/env", basic("alice")).env
    assert env["REMOTE_USER"] == "alice"
    assert env["REMOTE_USER_ID"] == str(app.user("alice")["id"])
    assert env["REMOTE_USER_GROUPS"] == "admins,staff"
    assert env["REMOTE_USER_SOURCE"] == "frontend"
    assert "REMOTE_USER_CREATED" not in env
    env = app.get("/grpnot/env", basic("newbie")).env
    assert env["REMOTE_USER_CREATED"] == "1"
    assert env["REMOTE_USER_GROUPS"] == ""
    env = app.get("/hdrgrp/env", {"X-Auth-User": "bob"}).env
    assert env["REMOTE_USER_SOURCE"] == "header"
    assert env["REMOTE_USER_GROUPS"] == "staff"


SPOOF = {"X-Remote-User": "admin", "X_Remote_User": "admin",
         "X-Remote-Groups": "admins", "x_remote_groups": "admins"}


def test_proxied_app_sees_export_headers_and_no_client_copy(app):
    r = app.get("/export/env", dict(basic("alice"), **SPOOF))
    assert r.status == 200
    env = r.env
    assert env["HTTP_X_REMOTE_USER"] == "alice"
    assert env["HTTP_X_REMOTE_GROUPS"] == "admins,staff"


def test_public_location_strips_client_copies(app):
    r = app.get("/exportpublic/env", SPOOF)
    assert r.status == 200
    assert "HTTP_X_REMOTE_USER" not in r.env
    assert "HTTP_X_REMOTE_GROUPS" not in r.env


@pytest.mark.parametrize("path,creds,status", [
    ("/export403/env", basic("carol"), 403),
    ("/export401/env", basic("carol", "wrong"), 401),
])
def test_error_paths_never_pass_client_copies(app, path, creds, status):
    r = app.get(path, dict(creds, **SPOOF))
    # httpd answers with the status of the proxied error page itself
    assert r.status in (status, 200)
    env = r.env  # the error page is the proxied application
    assert env.get("REQUEST_URI", "").startswith("/plain/env")
    assert "HTTP_X_REMOTE_USER" not in env
    assert "HTTP_X_REMOTE_GROUPS" not in env


# ---- remoteuser-admin -----------------------------------------------------

def test_admin_help_and_usage(srv):
    for args in ([], ["user"], ["group"], ["session"], ["db"]):
        r = subprocess.run([ADMIN] + args + ["--help"], capture_output=True,
                           text=True, env=sanitizer_env(srv.root))
        assert r.returncode == 0 and "usage:" in r.stdout
    admin(srv, "frobnicate", expect=2)
    admin(srv, "user", "add", expect=2)
    admin(srv, "user", "add", "bad\x01name", expect=2)
    admin(srv, "user", "add", "x" * 151, expect=2)
    admin(srv, "group", "add", "has space", expect=2)
    admin(srv, "group", "add", "a,b", expect=2)
    r = subprocess.run([ADMIN, "user", "list"], capture_output=True,
                       text=True, env=sanitizer_env(srv.root))
    assert r.returncode == 2
    assert "--version" in subprocess.run(
        [ADMIN, "--help"], capture_output=True, text=True,
        env=sanitizer_env(srv.root)).stdout
    assert subprocess.run([ADMIN, "--version"], capture_output=True,
                          text=True, env=sanitizer_env(srv.root)
                          ).stdout.startswith("remoteuser-admin")


def test_admin_users(app):
    out = admin(app, "user", "list")
    assert out.splitlines()[0].split() == ["ID", "USERNAME", "ACTIVE",
                                          "JOINED", "LAST_LOGIN", "GROUPS"]
    users = {u["username"]: u for u in ajson(app, "user", "list")}
    assert users["alice"]["groups"] == ["admins", "staff"]
    assert ajson(app, "user", "show", "bob")["groups"] == ["staff"]
    admin(app, "user", "show", "nosuch", expect=1)

    added = ajson(app, "user", "add", "quinn", "--inactive")
    assert added["is_active"] is False and added["last_login"] is None
    admin(app, "user", "add", "quinn", expect=3)
    admin(app, "user", "enable", "quinn")
    assert app.user("quinn")["is_active"] == 1
    admin(app, "user", "rename", "quinn", "quentin")
    admin(app, "user", "rename", "quentin", "alice", expect=3)
    admin(app, "user", "rename", "nosuch", "x", expect=1)
    admin(app, "user", "delete", "quentin")
    admin(app, "user", "delete", "quentin", expect=1)
    assert app.user("quentin") is None


def test_admin_changes_reach_the_running_server(app):
    app.allow("RUS00008")
    assert app.get("/grp/env", basic("carol")).status == 403
    admin(app, "group", "add-member", "staff", "carol")
    admin(app, "group", "add-member", "staff", "carol", expect=3)
    assert app.get("/grp/env", basic("carol")).status == 200
    assert app.get("/grp/env", basic("carol")).env[
        "REMOTE_USER_GROUPS"] == "staff"
    assert admin(app, "group", "members", "staff").split() == [
        "alice", "bob", "carol"]
    admin(app, "group", "remove-member", "staff", "carol")
    admin(app, "group", "remove-member", "staff", "carol", expect=1)
    assert app.get("/grp/env", basic("carol")).status == 403

    # disabling ends the sessions at once and refuses the next request
    nxt = urllib.parse.quote("/sessgrp/env", safe="")
    token = token_of(app.get("/login?next=" + nxt, basic("bob")))
    assert app.get("/sessgrp/env", cookie(token)).status == 200
    admin(app, "user", "disable", "bob")
    try:
        assert ajson(app, "session", "list", "--user", "bob") == []
        assert app.get("/sessgrp/env", cookie(token)).status == 302
        assert app.get("/grp/env", basic("bob")).status == 403
    finally:
        admin(app, "user", "enable", "bob")
    assert app.get("/grp/env", basic("bob")).status == 200


def test_admin_groups(app):
    groups = {g["name"]: g for g in ajson(app, "group", "list")}
    assert groups["staff"]["members"] >= 2
    admin(app, "group", "add", "staff", expect=3)
    admin(app, "group", "add", "temp")
    admin(app, "group", "add-member", "temp", "nosuch", expect=1)
    admin(app, "group", "add-member", "nosuch", "alice", expect=1)
    admin(app, "group", "add-member", "temp", "alice")
    assert "temp" in ajson(app, "user", "show", "alice")["groups"]
    admin(app, "group", "delete", "temp")
    admin(app, "group", "delete", "temp", expect=1)
    admin(app, "group", "members", "temp", expect=1)
    assert "temp" not in ajson(app, "user", "show", "alice")["groups"]


def test_admin_sessions(app):
    nxt = urllib.parse.quote("/sessgrp/env", safe="")
    t1 = token_of(app.get("/login?next=" + nxt, basic("alice")))
    t2 = token_of(app.get("/login?next=" + nxt, basic("alice")))
    rows = ajson(app, "session", "list", "--user", "alice")
    assert len(rows) >= 1
    assert all(len(r["token_hash"]) == 64 for r in rows)
    assert t2 not in admin(app, "session", "list")
    assert "alice" in admin(app, "session", "list")
    res = ajson(app, "session", "revoke", "--user", "alice")
    assert res["ok"] is True and res["revoked"] == len(rows)
    assert app.get("/sessgrp/env", cookie(t2)).status == 302
    assert app.get("/sessgrp/env", cookie(t1)).status == 302
    app.execute("UPDATE sessions SET expires_at = 1")
    assert ajson(app, "session", "purge")["purged"] >= 0
    assert app.rows("SELECT COUNT(*) AS n FROM sessions "
                    "WHERE expires_at <= 1")[0]["n"] == 0
    token_of(app.get("/login?next=" + nxt, basic("bob")))
    assert ajson(app, "session", "revoke-all")["revoked"] >= 1
    assert ajson(app, "session", "list") == []
    admin(app, "session", "list", "--user", "nosuch", expect=1)


def test_admin_db_and_config(app):
    info = ajson(app, "db", "info")
    assert info["schema_version"] == 7
    assert info["users"] == len(app.rows("SELECT id FROM users"))
    assert admin(app, "db", "check").strip() == "ok"
    assert ajson(app, "db", "check")["ok"] is True
    assert ajson(app, "db", "migrate")["schema_version"] == 7
    # the store found through httpd's own configuration
    via_conf = json.loads(admin(app, "--json", "db", "info", config=True))
    assert via_conf["store"] == app.db_path
