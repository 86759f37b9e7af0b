"""Configuration builders: the httpd configuration fragments the suites
share. Each returns text for the `body` of an Httpd (where @HTPASSWD@ and
@ROOT@ are replaced by the server's own); nothing here starts anything."""

import os


def location(path, *directives, auth=True):
    """<Location path> with the directives, one a line; with `auth`,
    mod_auth_basic against the server's htpasswd file in front (every
    user's password is 'secret') and Require valid-user."""
    out = ["<Location %s>" % path]
    if auth:
        out += ["  AuthType Basic", "  AuthName rus-test",
                "  AuthBasicProvider file", "  AuthUserFile @HTPASSWD@",
                "  Require valid-user"]
    out += ["  " + d for d in directives]
    out.append("</Location>")
    return "\n".join(out)


def remoteuser_location(path, *directives):
    """<Location path> where this module alone authenticates (AuthType
    RemoteUser, AuthName Intranet, Require valid-user), then the
    directives."""
    return location(path, *directives, auth=False).replace(
        "<Location %s>" % path,
        "<Location %s>\n  AuthType RemoteUser\n  AuthName Intranet\n"
        "  Require valid-user" % path)


def login_location(path="/login", *directives):
    """A remoteuser-login handler behind Basic: the engine and sessions on,
    then the directives, then SetHandler."""
    return location(path, "RemoteUserEngine On", "RemoteUserSession On",
                    *directives, "SetHandler remoteuser-login")


def logout_location(path="/logout", *directives):
    """A remoteuser-logout handler (no front end; the engine on, as every
    handler of the module needs), then the directives."""
    return location(path, "RemoteUserEngine On",
                    "SetHandler remoteuser-logout", *directives, auth=False)


def anon_location(path, *directives):
    """A location whose front end accepts any user name (mod_authn_anon,
    in extra_modules), so hostile names reach the module as r->user."""
    return location(path, *directives, auth=False).replace(
        "<Location %s>" % path,
        "<Location %s>\n  AuthType Basic\n  AuthName rus-test\n"
        "  AuthBasicProvider anon\n  Anonymous *\n"
        "  Anonymous_NoUserID off\n  Anonymous_MustGiveEmail off\n"
        "  Require valid-user" % path)


# Two name-based virtual hosts on the server's own port: a.test, b.test.
VHOSTS = """
<VirtualHost 127.0.0.1:@PORT@>
    ServerName a.test
</VirtualHost>
<VirtualHost 127.0.0.1:@PORT@>
    ServerName b.test
</VirtualHost>
"""


def vhosts(h):
    """VHOSTS for the server h (its port filled in)."""
    return VHOSTS.replace("@PORT@", str(h.port))


def static_files(h, *dirs):
    """<root>/htdocs/<d>/file.txt (100 bytes) for each d: the static file
    the load tests request."""
    for d in dirs:
        os.makedirs(os.path.join(h.root, "htdocs", d))
        with open(os.path.join(h.root, "htdocs", d, "file.txt"), "w") as f:
            f.write("x" * 99 + "\n")


def serve_htdocs(h):
    """Append to h's configuration a DocumentRoot of <root>/htdocs that
    everyone may read."""
    with open(h.conf, "a") as f:
        f.write('DocumentRoot "%s/htdocs"\n<Directory "%s/htdocs">\n'
                "  Require all granted\n</Directory>\n" % (h.root, h.root))
