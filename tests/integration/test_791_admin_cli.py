"""remoteuser-admin says what is wrong and what it did (issue #17): usage
errors that name the culprit, options anywhere, `help`, names checked as
requests check them with warnings where a location folds case or strips
realms, "already disabled" and the sessions a disable ended, JSON errors,
`session revoke ID`, `db backup FILE` while httpd serves, and the bash
completion. Where the tool finds its store is test_720_admin_config.py."""

import json
import os
import sqlite3
import stat
import subprocess
import threading

import pytest

from pyrus import (HTTPD, TOP, Httpd, anon_location, basic, cookie,
                   location, login, login_location, remoteuser_location,
                   run_admin, stored_hash, token_of)
from pyrus.fixtures import server_fixture, watched

USERS = ["alice", "bob", "carol"]
APP = remoteuser_location("/app/", "RemoteUserSession On",
                          "RemoteUserLoginURL /login")

srv = server_fixture(
    lambda mpm: Httpd("\n".join([APP, login_location(),
                                 anon_location("/anon/",
                                               "RemoteUserEngine On")]),
                      users=USERS, extra_modules=["authn_anon"]),
    mpms=None)


@pytest.fixture
def app(srv):
    yield from watched(srv)


def cli(h, *args, env=None):
    """remoteuser-admin --db <the server's store> ARGS."""
    return run_admin(h, "--db", h.db_path, *args, env=env)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def one_error(r, code, text):
    """Exit `code`, one line on stderr containing `text`, nothing on
    stdout."""
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert text in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == "", r.stdout


# ---- usage -----------------------------------------------------------------

@pytest.mark.parametrize("args,text", [
    (["bogus"], "unknown command 'bogus'"),
    ([], "missing COMMAND"),
    (["user"], "user: missing SUBCOMMAND (list, show, add,"),
    (["user", "bogus"], "unknown user command 'bogus'"),
    (["--jsn", "user", "list"], "unknown option '--jsn'"),
    (["user", "list", "-x"], "unknown option '-x'"),
    (["user", "add"], "user add: missing NAME"),
    (["user", "rename", "alice"], "user rename: missing NEW"),
    (["group", "add-member", "staff"], "group add-member: missing USER"),
    (["user", "add", "a", "b"], "user add: unexpected argument 'b'"),
    (["user", "list", "--inactive"],
     "user list: option '--inactive' does not apply here"),
    (["user", "show", "alice", "--user"], "option '--user' needs a value"),
    (["user", "list", "--json=yes"], "option '--json' takes no value"),
    (["session", "revoke"], "session revoke: give ID or --user NAME"),
    (["db", "backup"], "db backup: missing FILE"),
    (["help", "bogus"], "help: unknown command 'bogus'"),
    # a user named --help or --version, without '--': bad usage, not help
    # printed with exit status 0 and the user left as it was
    (["user", "disable", "alice", "--help"],
     "--help given with operands after COMMAND SUBCOMMAND"),
    (["user", "delete", "alice", "--version"],
     "--version given with operands after COMMAND SUBCOMMAND"),
])
def test_usage_errors_name_what_is_wrong(app, args, text):
    """Before: "bad usage; see 'remoteuser-admin --help'" for all of them
    (and --jsn was taken for a user name)."""
    one_error(cli(app, *args), 2, text)


def test_options_anywhere(app):
    """GNU style: global and subcommand options before, between or after
    the operands, --opt=value, and '--' for a name that starts with '-'."""
    a = ok(run_admin(app, "user", "list", "--json", "--db", app.db_path))
    b = ok(run_admin(app, "--json", "--db=" + app.db_path, "user", "list"))
    c = ok(run_admin(app, "user", "--db", app.db_path, "--json", "list"))
    assert a == b == c and isinstance(json.loads(a), list)
    try:
        got = json.loads(ok(cli(app, "--inactive", "user", "add",
                                "zoe", "--json")))
        assert got["username"] == "zoe" and got["is_active"] is False
        ok(cli(app, "user", "add", "--", "-dash"))
        assert app.user("-dash") is not None
    finally:
        for name in ("zoe", "-dash"):
            cli(app, "user", "delete", "--", name)


def test_help(app):
    for args, first in ((["help"], "usage: remoteuser-admin [OPTIONS]"),
                        (["--help"], "usage: remoteuser-admin [OPTIONS]"),
                        (["help", "session"],
                         "usage: remoteuser-admin session list"),
                        (["session", "--help"],
                         "usage: remoteuser-admin session list"),
                        (["db", "backup", "-h"],
                         "usage: remoteuser-admin db info")):
        r = run_admin(app, *args)  # no store needed
        assert r.returncode == 0, (args, r.stderr)
        assert r.stdout.startswith(first), (args, r.stdout)
        assert r.stderr == ""
    text = ok(run_admin(app, "help"))
    for word in ("backup", "REMOTEUSER_STORE", "help     [COMMAND]"):
        assert word in text


# ---- names -----------------------------------------------------------------

def test_names_pass_the_request_validator(app):
    """The tool refuses exactly what a request is refused for (RUS00006),
    and accepts what a request is accepted with: white space or control
    characters at the ends are refused, inside a name white space is a
    name (the validator's rule, tests/unit/test_username.c)."""
    app.allow("RUS00006")
    r = app.get("/anon/env", basic("admin "))
    assert r.status == 403
    one_error(cli(app, "user", "add", "admin2 "), 2,
              "user name starts or ends with white space")
    one_error(cli(app, "user", "add", "bad\x01name"), 2,
              "user name contains a control character")
    r = app.get("/anon/env", basic("Bad Name"))
    assert r.status == 200 and r.env["REMOTE_USER"] == "Bad Name"
    try:
        ok(cli(app, "user", "add", "Bad Name2"))
    finally:
        cli(app, "user", "delete", "Bad Name2")
        cli(app, "user", "delete", "Bad Name")


def test_name_warnings_from_the_configuration(scratch):
    """`user add Kim` where a location folds case: a warning naming the
    directive, its file and line, and the name requests carry; the same
    for realm stripping; none for a name requests do carry, and none when
    no configuration is known (--db). Before: no warning at all."""
    h = scratch(body="\n".join([
        location("/lower/", "RemoteUserEngine On", "RemoteUserLowercase On"),
        location("/krb/", "RemoteUserEngine On", "RemoteUserStripRealm On"),
        "<IfDefine NOPE>",
        location("/skipped/", "RemoteUserEngine On",
                 "RemoteUserLowercase On"),
        "</IfDefine>"]))
    ok(run_admin(h, "--db", h.db_path, "db", "migrate"))
    with open(h.conf) as f:
        lines = f.read().splitlines()
    lower = "%s:%d" % (h.conf, lines.index("  RemoteUserLowercase On") + 1)
    strip = "%s:%d" % (h.conf, lines.index("  RemoteUserStripRealm On") + 1)

    def add(name):
        return run_admin(h, "--config", h.conf, "user", "add", name,
                         timeout=60, env={"RUS_HTTPD": HTTPD})

    r = add("Kim")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        "remoteuser-admin: warning: under RemoteUserLowercase On (%s) "
        "requests carry 'kim', never 'Kim'" % lower], r.stderr
    r = add("alice@EXAMPLE.COM")
    assert r.returncode == 0, r.stderr
    assert ("under RemoteUserStripRealm On (%s) requests carry 'alice', "
            "never 'alice@EXAMPLE.COM'" % strip) in r.stderr, r.stderr
    assert "requests carry 'alice@example.com'" in r.stderr, r.stderr
    r = add("@EXAMPLE.COM")
    assert r.returncode == 0, r.stderr
    assert ("under RemoteUserStripRealm On (%s) requests never carry "
            "'@EXAMPLE.COM': empty user name" % strip) in r.stderr
    r = add("kim")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run_admin(h, "--config", h.conf, "user", "rename", "kim", "KIM2",
                  timeout=60, env={"RUS_HTTPD": HTTPD})
    assert r.returncode == 0 and "requests carry 'kim2'" in r.stderr
    r = run_admin(h, "--db", h.db_path, "user", "add", "Lee")
    assert r.returncode == 0 and r.stderr == "", r.stderr


# ---- saying what happened --------------------------------------------------

def test_disable_says_what_it_did(app):
    """The sessions a disable ended; "already disabled"/"already enabled"
    for a second one (exit 0, nothing changed). Before: "disabled user
    bob" every time."""
    tokens = [token_of(login(app, "bob", nxt="/app/env")) for _ in range(2)]
    assert app.get("/app/env", cookie(tokens[0])).status == 200
    assert ok(cli(app, "user", "disable", "bob")).strip() == \
        "disabled user bob, ended 2 sessions"
    try:
        assert app.get("/app/env", cookie(tokens[1])).status == 302
        assert app.rows("SELECT COUNT(*) AS n FROM sessions s JOIN users u"
                        " ON u.id = s.user_id WHERE username = 'bob'"
                        )[0]["n"] == 0
        assert ok(cli(app, "user", "disable", "bob")).strip() == \
            "user bob is already disabled"
        assert json.loads(ok(cli(app, "--json", "user", "disable", "bob"))) \
            == {"ok": True, "user": "bob", "changed": False,
                "sessions_ended": 0}
    finally:
        assert ok(cli(app, "user", "enable", "bob")).strip() == \
            "enabled user bob"
    assert ok(cli(app, "user", "enable", "bob")).strip() == \
        "user bob is already enabled"
    assert json.loads(ok(cli(app, "user", "enable", "bob", "--json"))) == {
        "ok": True, "user": "bob", "changed": False}


@pytest.mark.parametrize("args,code,error", [
    (["user", "show", "nosuch"], 1, "no user 'nosuch'"),
    (["user", "add", "alice"], 3, "user 'alice': already exists"),
    (["bogus"], 2, "unknown command 'bogus'"),
    (["user", "list", "--jsn"], 2, "unknown option '--jsn'"),
    (["session", "revoke", "0123456789ab"], 1,
     "no such session '0123456789ab'"),
])
def test_json_errors(app, args, code, error):
    """With --json (before or after the command), an error is JSON on
    stdout as well, with the exit code as "code"; stderr keeps the text.
    Before: nothing on stdout."""
    cli(app, "user", "add", "alice")  # there, whatever ran before
    for line in (["--json"] + args, args + ["--json"]):
        r = cli(app, *line)
        assert r.returncode == code, (line, r.returncode, r.stderr)
        got = json.loads(r.stdout)
        assert got["code"] == code and error in got["error"], got
        assert error in r.stderr


def test_json_is_json_whatever_the_bytes(app):
    """A name that is not UTF-8 comes back as U+FFFD in the JSON error,
    which stays valid JSON; the word after an option that takes a value is
    that value, even when it reads --json."""
    r = cli(app, "--json", "user", "show", b"caf\xc3\xa9\xff".decode(
        "utf-8", "surrogateescape"))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert json.loads(r.stdout)["error"] == "no user 'caf\u00e9\ufffd'"
    r = cli(app, "session", "list", "--user", "--json")
    assert r.returncode == 1 and r.stdout == "", (r.stdout, r.stderr)
    assert "no user '--json'" in r.stderr



# ---- session revoke ID -----------------------------------------------------

def test_session_revoke_by_id(app):
    """`session list` shows each session's public id (the first 12
    characters of its stored hash); `session revoke ID` ends that one
    session, by the id or any unique prefix of 8 or more; an unknown id
    is "no such session" (1), an ambiguous one says how many it matches
    (2). Before: revoke took --user only."""
    t1 = token_of(login(app, "carol", nxt="/app/env"))
    t2 = token_of(login(app, "carol", nxt="/app/env"))
    h1, h2 = stored_hash(t1), stored_hash(t2)
    rows = json.loads(ok(cli(app, "--json", "session", "list", "--user",
                             "carol")))
    assert sorted(r["id"] for r in rows) == sorted([h1[:12], h2[:12]])
    text = ok(cli(app, "session", "list", "--user", "carol"))
    assert h1[:12] in text and h1[:13] not in text

    out = ok(cli(app, "session", "revoke", h1[:12]))
    assert out.strip() == "revoked session %s of carol (127.0.0.1:%d)" % (
        h1[:12], app.port)
    assert app.get("/app/env", cookie(t1)).status == 302
    assert app.get("/app/env", cookie(t2)).status == 200
    one_error(cli(app, "session", "revoke", h1[:12]), 1,
              "no such session '%s'" % h1[:12])
    got = json.loads(ok(cli(app, "--json", "session", "revoke", h2[:8])))
    assert got == {"ok": True, "revoked": 1, "id": h2[:12],
                   "username": "carol"}
    assert app.get("/app/env", cookie(t2)).status == 302

    # two sessions share a prefix: refused, with the count
    uid = app.user("carol")["id"]
    for tail in ("0" * 52, "1" * 52):
        app.execute("INSERT INTO sessions (token_hash, user_id, vhost, "
                    "created_at, last_seen, expires_at) VALUES (?, ?, 'x:1', "
                    "1, 1, 9999999999)", ("abcdef012345" + tail, uid))
    try:
        one_error(cli(app, "session", "revoke", "abcdef01"), 2,
                  "session id 'abcdef01' is ambiguous: it matches 2 sessions")
        assert len(app.rows("SELECT 1 FROM sessions WHERE token_hash "
                            "LIKE 'abcdef01%'")) == 2
        ok(cli(app, "session", "revoke", "abcdef012345" + "1" * 52))
        assert [r["token_hash"] for r in app.rows(
            "SELECT token_hash FROM sessions WHERE token_hash LIKE "
            "'abcdef01%'")] == ["abcdef012345" + "0" * 52]
    finally:
        app.execute("DELETE FROM sessions WHERE token_hash LIKE 'abcdef01%'")
    for bad in ("abcdef0", "ABCDEF012345", "abcdef01234g", "a" * 65):
        one_error(cli(app, "session", "revoke", bad), 2,
                  "'%s' is not a session id" % bad)
    one_error(cli(app, "session", "revoke", h2[:12], "--user", "carol"), 2,
              "give ID or --user NAME, not both")
    # --user still ends them all
    token_of(login(app, "carol", nxt="/app/env"))
    assert json.loads(ok(cli(app, "--json", "session", "revoke", "--user",
                             "carol")))["revoked"] == 1


def test_session_list_address_and_browser(app):
    """`session list` shows the address and the User-Agent of each
    session's login (#21): ADDRESS and BROWSER columns, "-" when unknown,
    escaped as every stored text is (a User-Agent written by hand with an
    escape sequence and a byte that is not UTF-8 cannot reach the
    terminal), and "ip" / "user_agent" in --json, "" when unknown.
    Before: neither column nor field."""
    t1 = token_of(login(app, "bob", nxt="/app/env"))
    t2 = token_of(login(app, "bob", nxt="/app/env"))
    h1, h2 = stored_hash(t1), stored_hash(t2)
    app.execute("UPDATE sessions SET ip = '192.0.2.9', user_agent = "
                "'Mozilla/5.0 ' || char(27) || '[2J\\x' || "
                "CAST(X'ff' AS TEXT) || ' end' WHERE token_hash = ?", (h1,))
    app.execute("UPDATE sessions SET ip = '', user_agent = '' "
                "WHERE token_hash = ?", (h2,))
    try:
        text = ok(cli(app, "session", "list", "--user", "bob"))
        lines = text.splitlines()
        assert lines[0].split() == ["SESSION", "USER", "VHOST", "CREATED",
                                    "LAST_SEEN", "EXPIRES", "ADDRESS",
                                    "BROWSER"], text
        assert "\x1b" not in text
        one = [ln for ln in lines if ln.startswith(h1[:12])]
        two = [ln for ln in lines if ln.startswith(h2[:12])]
        assert len(one) == 1 and len(two) == 1, text
        assert one[0].endswith(
            "  192.0.2.9  Mozilla/5.0 \\x1b[2J\\\\x\\xff end"), one
        assert two[0].split()[-2:] == ["-", "-"], two

        rows = {r["token_hash"]: r for r in json.loads(ok(cli(
            app, "--json", "session", "list", "--user", "bob")))}
        assert rows[h1]["ip"] == "192.0.2.9"
        assert rows[h1]["user_agent"] == \
            "Mozilla/5.0 \x1b[2J\\x\ufffd end"
        assert rows[h2]["ip"] == "" and rows[h2]["user_agent"] == ""
    finally:
        ok(cli(app, "session", "revoke", "--user", "bob"))


# ---- db backup -------------------------------------------------------------

def test_db_backup_while_serving(app, tmp_path):
    """A consistent copy taken while logins write to the store: it opens,
    passes integrity_check and has the rows; mode 0600; an existing FILE
    is kept unless --force. Before: no such subcommand."""
    stop = threading.Event()
    errors = []

    def logins():
        while not stop.is_set():
            r = app.get("/login?next=%2Fapp%2Fenv", basic("alice"))
            if r.status != 302:
                errors.append(r.status)

    threads = [threading.Thread(target=logins) for _ in range(3)]
    for t in threads:
        t.start()
    out = str(tmp_path / "copy.db")
    try:
        r = cli(app, "db", "backup", out)
        again = cli(app, "db", "backup", out)
        forced = cli(app, "--json", "db", "backup", out, "--force")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert ok(r).strip() == "copied %s to %s" % (app.db_path, out)
    one_error(again, 3, "backup: %s exists (--force replaces it)" % out)
    assert json.loads(ok(forced)) == {"ok": True, "backup": out}
    assert stat.S_IMODE(os.lstat(out).st_mode) == 0o600
    db = sqlite3.connect(out)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {n for (n,) in db.execute("SELECT username FROM users")}
        assert {"alice", "bob", "carol"} <= names
        assert db.execute("SELECT COUNT(*) FROM sessions s JOIN users u ON "
                          "u.id = s.user_id WHERE u.username = 'alice'"
                          ).fetchone()[0] >= 1
    finally:
        db.close()
    leftovers = [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    assert leftovers == [], leftovers


# ---- bash completion -------------------------------------------------------

COMPLETION = os.path.join(TOP, "tools", "remoteuser-admin.bash-completion")


@pytest.mark.parametrize("words,want", [
    (["us"], "user"),
    ([""], "db group help session user"),
    (["user", "di"], "disable"),
    (["--json", "session", "re"], "revoke revoke-all"),
    (["db", "b"], "backup"),
    (["--js"], "--json"),
    (["user", "add", "x", "--in"], "--inactive"),
    (["db", "backup", "--fo"], "--force"),
    (["--db", "/x", "group", "add-"], "add-member"),
    (["db", "c"], "check copy"),
    (["db", "s"], "stats"),
    (["db", "copy", "p"], "postgres:// postgresql://"),
    (["db", "copy", "sqlite:/nonexistent-rus/"], ""),
    (["--store", "po"], "postgres:// postgresql://"),
])
def test_bash_completion(words, want):
    script = ("source %s; COMP_WORDS=(remoteuser-admin %s); "
              "COMP_CWORD=%d; _remoteuser_admin; "
              "printf '%%s\\n' \"${COMPREPLY[@]}\""
              % (COMPLETION, " ".join("'%s'" % w for w in words),
                 len(words)))
    r = subprocess.run(["bash", "-c", script], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert " ".join(sorted(r.stdout.split())) == want, r.stdout
