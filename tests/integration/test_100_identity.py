"""REMOTE_USER resolution behind a real front end (mod_auth_basic): users
are created, found, refused and cleaned as the README says, and the
application behind (a CGI) sees the result."""

import os
import shutil
import threading
import time

import pytest

from pyrus import Httpd, basic, location
from pyrus.fixtures import server_fixture, watched

INVALID_NAMES = [
    b"bad\x01name",          # C0 control
    b"bad\x7fname",          # DEL
    b"bad\xc2\x85name",      # C1 control (NEL) in UTF-8
    b"bad\xffname",          # not UTF-8
    b"bad\xc0\xafname",      # overlong UTF-8
    b"x" * 151,              # too long
    b"@EXAMPLE.COM",         # empty once the realm is stripped
]

USERS = ["alice", "bob", "carol", "dave", "erin", "ALICE", "Frank",
         "Grace@EXAMPLE.COM", "EXAMPLE\\Heidi", "Ivan@EXAMPLE.COM",
         "judy", "mallory", "niaj", "olivia", "peggy", "INHERIT", "Inner",
         "x" * 150, "\u00e9milie", "\u4e2d\u6587",
         "a'; DROP TABLE users; --", "wrongpw"] + [
    "par%02d" % i for i in range(1)] + INVALID_NAMES


CONF = "\n".join([
    location("/basic/", "RemoteUserEngine On"),
    location("/nocreate/", "RemoteUserEngine On",
             "RemoteUserCreateUnknown Off"),
    location("/allowinactive/", "RemoteUserEngine On",
             "RemoteUserAllowInactive On"),
    location("/strip/", "RemoteUserEngine On", "RemoteUserStripRealm On"),
    location("/striplower/", "RemoteUserEngine On", "RemoteUserStripRealm On",
             "RemoteUserLowercase On"),
    location("/off/", "RemoteUserEngine Off"),
    location("/plain/"),
    location("/inherit/", "RemoteUserEngine On", "RemoteUserLowercase On"),
    location("/inherit/inner/", "RemoteUserCreateUnknown Off", auth=False),
    location("/requser/", "RemoteUserEngine On", "RemoteUserLowercase On",
             auth=True).replace("Require valid-user", "Require user alice"),
])


# The administrator trusts .htaccess authors here (RemoteUserTrustHtaccess
# On); test_730_review shows what happens without it.
HTACCESS_CONF = """
RemoteUserTrustHtaccess On
ScriptAlias /ht/ "@ROOT@/ht-cgi/"
<Directory "@ROOT@/ht-cgi">
    AllowOverride AuthConfig
</Directory>
"""

HTACCESS = """AuthType Basic
AuthName rus-test
AuthUserFile %s
Require valid-user
RemoteUserEngine On
"""


def make_server(mpm="event"):
    h = Httpd(CONF + HTACCESS_CONF, users=USERS, mpm=mpm)
    # a CGI directory whose .htaccess turns the engine on (AuthConfig)
    ht = os.path.join(h.root, "ht-cgi")
    os.mkdir(ht, 0o755)
    shutil.copy(os.path.join(h.root, "cgi-bin", "env.cgi"), ht)
    with open(os.path.join(ht, ".htaccess"), "w") as f:
        f.write(HTACCESS % h.htpasswd)
    os.chmod(os.path.join(ht, ".htaccess"), 0o644)
    return h


# The whole module runs against mpm_event (threads) and mpm_prefork.
srv = server_fixture(make_server, mpms=("event", "prefork"))


@pytest.fixture
def app(srv):
    yield from watched(srv)


def test_unknown_user_is_created_once(app):
    before = int(time.time())
    r = app.get("/basic/env", basic("alice"))
    assert r.status == 200
    env = r.env
    assert env["REMOTE_USER"] == "alice"
    assert env["REMOTE_USER_CREATED"] == "1"
    row = app.user("alice")
    assert row is not None
    assert env["REMOTE_USER_ID"] == str(row["id"])
    assert row["is_active"] == 1
    assert before <= row["date_joined"] <= int(time.time())
    assert row["last_login"] == row["date_joined"]
    assert app.wait_log("RUS00011")  # "created user" at info level

    r = app.get("/basic/env", basic("alice"))
    assert r.status == 200
    assert "REMOTE_USER_CREATED" not in r.env
    assert r.env["REMOTE_USER_ID"] == str(row["id"])
    assert len(app.rows("SELECT id FROM users WHERE username = 'alice'")) == 1


def test_each_request_gets_its_own_user(app):
    conn = app.connection()  # one keep-alive connection for both
    try:
        a = app.get("/basic/env", basic("bob"), conn=conn)
        b = app.get("/basic/env", basic("carol"), conn=conn)
    finally:
        conn.close()
    assert (a.status, b.status) == (200, 200)
    assert a.env["REMOTE_USER"] == "bob"
    assert b.env["REMOTE_USER"] == "carol"
    assert a.env["REMOTE_USER_ID"] != b.env["REMOTE_USER_ID"]
    assert b.env["REMOTE_USER_ID"] == str(app.user("carol")["id"])


def test_create_unknown_off_refuses_without_a_row(app):
    app.allow("RUS00007")
    r = app.get("/nocreate/env", basic("dave"))
    assert r.status == 403
    assert app.user("dave") is None
    assert "RUS00007" in app.new_log() and "'dave'" in app.new_log()
    # a user who exists is let in there
    assert app.get("/basic/env", basic("erin")).status == 200
    r = app.get("/nocreate/env", basic("erin"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "erin"


def test_inactive_user_is_refused_unless_allowed(app):
    app.allow("RUS00008")
    assert app.get("/basic/env", basic("judy")).status == 200
    app.execute("UPDATE users SET is_active = 0, last_login = 1000 "
                "WHERE username = 'judy'")
    r = app.get("/basic/env", basic("judy"))
    assert r.status == 403
    assert "RUS00008" in app.new_log()
    assert app.user("judy")["last_login"] == 1000  # no login recorded

    r = app.get("/allowinactive/env", basic("judy"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "judy"
    assert app.user("judy")["last_login"] >= int(time.time()) - 5


def test_realm_strip_and_lowercase(app):
    r = app.get("/strip/env", basic("Grace@EXAMPLE.COM"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "Grace"
    assert app.user("Grace") is not None
    assert app.user("Grace@EXAMPLE.COM") is None

    r = app.get("/striplower/env", basic("EXAMPLE\\Heidi"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "heidi"

    r = app.get("/striplower/env", basic("Ivan@EXAMPLE.COM"))
    assert r.env["REMOTE_USER"] == "ivan"
    assert app.user("ivan") is not None
    # the access log's %u is the cleaned name too
    time.sleep(0.2)
    assert " ivan \"GET /striplower/env" in app.access_log()


def test_require_user_sees_the_cleaned_name(app):
    r = app.get("/requser/env", basic("ALICE"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "alice"
    assert app.get("/requser/env", basic("bob")).status == 401


def test_unicode_and_sql_metacharacters_are_just_names(app):
    for name in ["\u00e9milie", "\u4e2d\u6587", "a'; DROP TABLE users; --",
                 "x" * 150]:
        r = app.get("/basic/env", basic(name))
        assert r.status == 200, name
        assert app.user(name) is not None, name
    assert app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"] >= 4


@pytest.mark.parametrize("raw", INVALID_NAMES)
def test_invalid_names_are_refused_without_a_row(app, raw):
    app.allow("RUS00006")
    count = app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"]
    r = app.get("/strip/env", basic(raw))
    assert r.status == 403
    log = app.new_log()
    assert "RUS00006" in log
    assert app.rows("SELECT COUNT(*) AS n FROM users")[0]["n"] == count
    # nothing raw reaches the log: control bytes are escaped
    for bad in ("\x01", "\x7f", "\x85"):
        assert bad not in log


def test_front_end_refusal_is_untouched(app):
    r = app.get("/basic/env", basic("wrongpw", password="nope"))
    assert r.status == 401
    assert app.user("wrongpw") is None
    assert "RUS0" not in app.new_log()


def test_engine_off_behaves_as_without_the_module(app):
    for path in ("/off/env", "/plain/env"):
        r = app.get(path, basic("mallory"))
        assert r.status == 200
        assert r.env["REMOTE_USER"] == "mallory"
        assert "REMOTE_USER_ID" not in r.env
    assert app.user("mallory") is None


def test_inner_section_inherits_what_it_does_not_set(app):
    app.allow("RUS00007")
    r = app.get("/inherit/env", basic("INHERIT"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "inherit"  # Lowercase On
    # inner: engine and lowercase inherited, creation switched off
    r = app.get("/inherit/inner/env", basic("INHERIT"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "inherit"
    assert r.env["REMOTE_USER_ID"] == str(app.user("inherit")["id"])
    r = app.get("/inherit/inner/env", basic("Inner"))
    assert r.status == 403
    assert app.user("inner") is None


def test_engine_in_htaccess(app):
    r = app.get("/ht/env.cgi", basic("olivia"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "olivia"
    assert r.env["REMOTE_USER_ID"] == str(app.user("olivia")["id"])


def test_last_login_written_at_most_once_a_minute(app):
    assert app.get("/basic/env", basic("niaj")).status == 200
    now = int(time.time())
    app.execute("UPDATE users SET last_login = ? WHERE username = 'niaj'",
                (now - 3600,))
    assert app.get("/basic/env", basic("niaj")).status == 200
    assert app.user("niaj")["last_login"] >= now
    # within the minute: not written again
    app.execute("UPDATE users SET last_login = ? WHERE username = 'niaj'",
                (now - 10,))
    assert app.get("/basic/env", basic("niaj")).status == 200
    assert app.user("niaj")["last_login"] == now - 10


def test_parallel_first_requests_create_one_row(app):
    results = []
    lock = threading.Lock()
    go = threading.Event()

    def worker():
        go.wait()
        r = app.get("/basic/env", basic("par00"))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=worker) for _ in range(40)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(60)
    assert len(results) == 40
    assert [r.status for r in results] == [200] * 40
    rows = app.rows("SELECT id FROM users WHERE username = 'par00'")
    assert len(rows) == 1
    assert {r.env["REMOTE_USER_ID"] for r in results} == {str(rows[0]["id"])}
    assert sum(1 for r in results if "REMOTE_USER_CREATED" in r.env) == 1


def test_parent_holds_no_store_connection(app):
    """Connections are opened after fork, in the children only."""
    fds = os.listdir("/proc/%d/fd" % app.proc.pid)
    targets = []
    for fd in fds:
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (app.proc.pid, fd)))
        except OSError:
            pass
    assert not [t for t in targets if t.startswith(app.db_path)], targets
