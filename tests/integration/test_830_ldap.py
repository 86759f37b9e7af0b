"""Attributes and groups from a real directory (issue #19): mod_authnz_ldap
against an OpenLDAP server of the tests' own (pyrus.ldap: slapd in a
temporary directory, entries loaded with slapadd, ldap://127.0.0.1 on a
high port, the memberof overlay) authenticates /login, and the module
copies what it sets (AUTHENTICATE_MAIL, _GIVENNAME, _SN, _TITLE and the
groups of AUTHENTICATE_MEMBEROF, "; "-joined DNs mapped to their cn) into
the store; /app, on the session cookie alone, shows them to the CGI from
the store without asking the directory again. After the entry changes, the
next login brings the store along; what an administrator added stays."""

import time

from pyrus import basic, cookie, run_admin, token_of
from pyrus.ldap import PEOPLE, group_dn, person_dn

PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}


def conf(slapd):
    """/probe shows what mod_authnz_ldap sets (the module off); /login is
    the module's login handler behind it; /app takes the cookie only.
    mod_ldap's search cache is off (LDAPCacheEntries 0): with it, a login
    within LDAPCacheTTL (600 s by default) gets the attributes the
    directory gave at the previous one."""
    url = "%sou=people,dc=example,dc=com?uid,mail,givenName,sn,title,memberOf" \
        % slapd.uri()
    front = ["  AuthType Basic", "  AuthName rus-ldap",
             "  AuthBasicProvider ldap", "  AuthLDAPURL \"%s\"" % url,
             "  Require valid-user"]
    return "\n".join(
        ["LDAPCacheEntries 0",
         "<Location /probe/>"] + front + ["</Location>",
         "<Location /login>"] + front + [
             "  RemoteUserEngine On",
             "  RemoteUserSession On",
             "  RemoteUserAttribute email env:AUTHENTICATE_MAIL",
             "  RemoteUserAttribute first_name env:AUTHENTICATE_GIVENNAME",
             "  RemoteUserAttribute last_name env:AUTHENTICATE_SN",
             "  RemoteUserAttribute title env:AUTHENTICATE_TITLE",
             "  RemoteUserGroupsFrom env:AUTHENTICATE_MEMBEROF \"; \"",
             "  RemoteUserGroupMap \"^cn=([^,]+),ou=groups,dc=example,"
             "dc=com$\" \"$1\"",
             "  RemoteUserGroupsSync Replace",
             "  SetHandler remoteuser-login",
             "</Location>",
             "<Location /app/>",
             "  AuthType RemoteUser",
             "  AuthName Intranet",
             "  Require valid-user",
             "  RemoteUserSession On",
             "  RemoteUserLoginURL /login",
             "</Location>"])


def start(scratch, slapd):
    return scratch(conf(slapd),
                   extra_modules=("ldap", "authnz_ldap")).start()


def login(h, user):
    """A Basic login at /login with the directory's password; the new
    session's token."""
    r = h.get("/login?next=%2Fapp%2Fenv", basic(user, PASSWORDS[user]))
    assert r.status == 302, (r.status, r.body, h.error_log())
    return token_of(r)


def memberships(h, user):
    """{group: origin} of the user in the store."""
    return {r["name"]: r["origin"] for r in h.rows(
        "SELECT g.name, ug.origin FROM user_groups ug"
        " JOIN groups g ON g.id = ug.group_id"
        " JOIN users u ON u.id = ug.user_id WHERE u.username = ?", (user,))}


def attributes(h, user):
    return {r["name"]: r["value"] for r in h.rows(
        "SELECT a.name, a.value FROM user_attributes a"
        " JOIN users u ON u.id = a.user_id WHERE u.username = ?", (user,))}


def asked(slapd):
    """What slapd has been asked so far: binds, searches, connections."""
    return (slapd.operations("BIND"), slapd.operations("SRCH"),
            slapd.connection_count())


def admin(h, *args):
    r = run_admin(h, "--db", h.db_path, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def test_what_mod_authnz_ldap_sets(scratch, slapd):
    """The variables the README's LDAP config reads: AUTHENTICATE_ and the
    attribute upper-cased, several values joined by "; ", an attribute the
    entry lacks set to "" (which clears the stored value)."""
    h = start(scratch, slapd)
    env = h.get("/probe/env", basic("alice", "alice-pw")).env
    assert env["REMOTE_USER"] == "alice"
    assert env["AUTHENTICATE_UID"] == "alice"
    assert env["AUTHENTICATE_MAIL"] == "alice@example.com"
    assert env["AUTHENTICATE_GIVENNAME"] == "Alice"
    assert env["AUTHENTICATE_SN"] == "Liddell"
    assert env["AUTHENTICATE_TITLE"] == "Chief Rabbit Chaser"
    dns = slapd.search("(uid=alice)", "memberOf")[person_dn("alice")]
    assert len(dns["memberOf"]) == 3
    assert env["AUTHENTICATE_MEMBEROF"] == "; ".join(dns["memberOf"])
    env = h.get("/probe/env", basic("bob", "bob-pw")).env
    assert env["AUTHENTICATE_TITLE"] == ""
    assert env["AUTHENTICATE_MEMBEROF"] == "; ".join(
        [group_dn("staff"), group_dn("ops")])
    # a wrong password is the directory's refusal
    assert h.get("/probe/env", basic("alice", "nope")).status == 401


def test_login_copies_the_entry_and_sessions_do_not_ask_again(scratch,
                                                             slapd):
    h = start(scratch, slapd)
    before = asked(slapd)
    token = login(h, "alice")
    at_login = asked(slapd)
    # the login asked the directory: a search for the entry, a bind as
    # the user (the counts are shown to move, so that "unchanged" below
    # means something)
    assert at_login[0] > before[0] and at_login[1] > before[1]
    u = h.user("alice")
    assert (u["email"], u["first_name"], u["last_name"]) == \
        ("alice@example.com", "Alice", "Liddell")
    assert attributes(h, "alice") == {"title": "Chief Rabbit Chaser"}
    # mapped to their cn; cn=vpn (under ou=people) matches no map
    assert memberships(h, "alice") == {"staff": "frontend",
                                       "devs": "frontend"}
    assert {r["name"] for r in h.rows("SELECT name FROM groups")} == \
        {"staff", "devs"}

    for _ in range(3):
        r = h.get("/app/env", cookie(token))
        assert r.status == 200, r.body
        env = r.env
        assert env["REMOTE_USER"] == "alice"
        assert env["REMOTE_USER_SOURCE"] == "session"
        assert env["REMOTE_USER_EMAIL"] == "alice@example.com"
        assert env["REMOTE_USER_FIRST_NAME"] == "Alice"
        assert env["REMOTE_USER_LAST_NAME"] == "Liddell"
        assert env["REMOTE_USER_ATTR_TITLE"] == "Chief Rabbit Chaser"
        assert env["REMOTE_USER_GROUPS"] == "devs,staff"
        # no front end ran: nothing of mod_authnz_ldap
        assert not [k for k in env if k.startswith("AUTHENTICATE_")]
    # slapd logs an operation as it starts it: whatever the session
    # requests had asked would be in its log by now
    time.sleep(0.3)
    assert asked(slapd) == at_login, slapd.server_log()[-3000:]


def test_the_store_follows_the_directory(scratch, slapd):
    h = start(scratch, slapd)
    first = login(h, "alice")
    assert memberships(h, "alice") == {"staff": "frontend",
                                       "devs": "frontend"}
    alice = person_dn("alice")
    slapd.modify("\n".join([
        "dn: %s" % alice, "changetype: modify",
        "replace: mail", "mail: alice@wonderland.example.com", "-",
        "replace: sn", "sn: Liddell-Hargreaves", "-",
        "delete: title", "",
        "dn: %s" % group_dn("devs"), "changetype: modify",
        "delete: member", "member: %s" % alice, "",
        "dn: %s" % group_dn("ops"), "changetype: modify",
        "add: member", "member: %s" % alice, ""]))
    # the overlay moved memberOf with the groups
    assert sorted(slapd.search("(uid=alice)", "memberOf")[alice]
                  ["memberOf"]) == sorted(
        [group_dn("staff"), group_dn("ops"), "cn=vpn," + PEOPLE])

    # until she logs in again, the store keeps what the last login said
    assert h.get("/app/env", cookie(first)).env["REMOTE_USER_EMAIL"] == \
        "alice@example.com"

    second = login(h, "alice")
    u = h.user("alice")
    assert (u["email"], u["first_name"], u["last_name"]) == \
        ("alice@wonderland.example.com", "Alice", "Liddell-Hargreaves")
    # the entry has no title now: mod_authnz_ldap sets it "", which clears
    assert attributes(h, "alice") == {}
    # a group left, a group joined
    assert memberships(h, "alice") == {"staff": "frontend",
                                       "ops": "frontend"}
    # a group nobody is in any more stays (administrators remove groups)
    assert {r["name"] for r in h.rows("SELECT name FROM groups")} == \
        {"staff", "devs", "ops"}

    # both sessions see the user as the store has it now: the values come
    # from the user row on every request, not from the session
    for token in (first, second):
        env = h.get("/app/env", cookie(token)).env
        assert env["REMOTE_USER_EMAIL"] == "alice@wonderland.example.com"
        assert env["REMOTE_USER_LAST_NAME"] == "Liddell-Hargreaves"
        assert env["REMOTE_USER_FIRST_NAME"] == "Alice"
        assert "REMOTE_USER_ATTR_TITLE" not in env
        assert env["REMOTE_USER_GROUPS"] == "ops,staff"

    # bob, untouched by all this, gets his own entry's values
    login(h, "bob")
    assert h.user("bob")["email"] == "bob@example.com"
    assert memberships(h, "bob") == {"staff": "frontend", "ops": "frontend"}
    assert attributes(h, "bob") == {}


def test_admin_memberships_survive_replace(scratch, slapd):
    h = start(scratch, slapd)
    login(h, "alice")
    admin(h, "group", "add", "auditors")
    admin(h, "group", "add-member", "auditors", "alice")
    # a membership the directory gave, taken over by an administrator
    admin(h, "group", "add-member", "devs", "alice")
    assert memberships(h, "alice") == {"staff": "frontend", "devs": "admin",
                                       "auditors": "admin"}

    alice = person_dn("alice")
    slapd.modify("\n".join([
        "dn: %s" % group_dn("devs"), "changetype: modify",
        "delete: member", "member: %s" % alice, "",
        "dn: %s" % group_dn("staff"), "changetype: modify",
        "delete: member", "member: %s" % alice, ""]))
    token = login(h, "alice")
    # Replace: the directory lists no group of ou=groups any more, so no
    # front-end membership is left; the administrator's two stay
    assert memberships(h, "alice") == {"devs": "admin", "auditors": "admin"}
    assert h.get("/app/env", cookie(token)).env["REMOTE_USER_GROUPS"] == \
        "auditors,devs"

    # back in staff in the directory: a front-end membership again, and
    # the administrator's are still what they were
    slapd.modify("\n".join([
        "dn: %s" % group_dn("staff"), "changetype: modify",
        "add: member", "member: %s" % alice, ""]))
    login(h, "alice")
    assert memberships(h, "alice") == {"staff": "frontend", "devs": "admin",
                                       "auditors": "admin"}
