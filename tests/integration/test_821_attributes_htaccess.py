"""A .htaccess author with AllowOverride FileInfo (SetEnvIf, RewriteRule
[E=]) could set the request variables a login's groups and attributes are
read from: such a login is refused (403, RUS00035's sibling RUS00135)
unless RemoteUserTrustHtaccess On (review of #19, finding 1)."""
import os
import shutil

from pyrus import basic

CONF = """
ScriptAlias /fi/ "@ROOT@/fi-cgi/"
<Directory "@ROOT@/fi-cgi">
    AllowOverride FileInfo
    AuthType Basic
    AuthName rus-test
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user
    RemoteUserEngine On
    RemoteUserGroupsFrom env:AUTHENTICATE_MEMBEROF "; "
</Directory>
ScriptAlias /hdr/ "@ROOT@/hdr-cgi/"
<Directory "@ROOT@/hdr-cgi">
    AllowOverride FileInfo
    AuthType Basic
    AuthName rus-test
    AuthBasicProvider file
    AuthUserFile @HTPASSWD@
    Require valid-user
    RemoteUserEngine On
</Directory>
"""


def make(scratch, trust):
    h = scratch(CONF + ("RemoteUserTrustHtaccess On\n" if trust else ""),
                users=["alice"], extra_modules=["setenvif"])
    for d in ("fi-cgi", "hdr-cgi"):
        path = os.path.join(h.root, d)
        os.mkdir(path, 0o755)
        shutil.copy(os.path.join(h.root, "cgi-bin", "env.cgi"), path)
        with open(os.path.join(path, ".htaccess"), "w") as f:
            f.write('SetEnvIf Request_URI "." '
                    'AUTHENTICATE_MEMBEROF=admins\n')
    h.start()
    return h


def test_fileinfo_htaccess_cannot_choose_groups(scratch):
    h = make(scratch, trust=False)
    r = h.get("/fi/env.cgi", basic("alice"))
    assert r.status == 403
    log = h.new_log()
    assert "RUS00135" in log and "AllowOverride FileInfo" in log
    assert h.rows("SELECT * FROM user_groups") == []
    assert h.rows("SELECT * FROM users") == []
    # where nothing is read from variables, the same .htaccess is harmless
    r = h.get("/hdr/env.cgi", basic("alice"))
    assert r.status == 200
    assert r.env["REMOTE_USER"] == "alice"
    assert r.env.get("REMOTE_USER_GROUPS", "") == ""


def test_trusted_htaccess_may(scratch):
    h = make(scratch, trust=True)
    r = h.get("/fi/env.cgi", basic("alice"))
    assert r.status == 200
    assert r.env["REMOTE_USER_GROUPS"] == "admins"
    assert "RUS00135" not in h.new_log()
