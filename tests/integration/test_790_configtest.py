"""configtest and startup catch configuration mistakes (issue #17).

- a directive that needs the engine (RemoteUserSession On, Require
  remoteuser-group, SetHandler remoteuser-login / remoteuser-logout) where
  no section turns RemoteUserEngine on: `httpd -t` fails with RUS00097,
  naming the file and line; with the engine on in the same or an
  enclosing section (or AuthType RemoteUser) it passes;
- a store directory the children's user cannot write: httpd refuses to
  start (RUS00096, naming the directory, the user and the fix);
- warnings: Secure-only cookie settings on a virtual host without TLS
  (RUS00098, one line per virtual host), a RemoteUserTrustedProxy block
  wider than /8 or /32 (RUS00099), an IdleTimeout longer than MaxAge
  (RUS00100);
- every ```apache block of the README passes configtest as written, in a
  generated harness configuration.
"""

import os
import pwd
import re
import subprocess

import pytest

from pyrus import MODDIR, RUN_USER, TOP, basic, location, login_location

GROUP = "Require remoteuser-group staff"


def conf_line(h, text, nth=1):
    """The line number of the nth line of h's configuration that holds
    `text` (stripped), as httpd counts them."""
    with open(h.conf) as f:
        found = [i + 1 for i, line in enumerate(f) if line.strip() == text]
    assert len(found) >= nth, (text, found)
    return found[nth - 1]


def refused(h, text, nth=1):
    """configtest fails, and RUS00097 names `text`'s file and line."""
    r = h.configtest()
    assert r.returncode != 0, r.stderr
    want = "RUS00097: %s on line %d of %s" % (text, conf_line(h, text, nth),
                                              h.conf)
    assert want in r.stderr, r.stderr
    return r


def passes(h):
    r = h.configtest()
    assert r.returncode == 0, r.stderr
    assert "RUS00097" not in r.stderr
    return r


# -- 1. directives that need the engine ----------------------------------------

def test_session_without_the_engine(scratch):
    refused(scratch(location("/s", "RemoteUserSession On")),
            "RemoteUserSession On")


def test_require_group_without_the_engine(scratch):
    refused(scratch(location("/g", GROUP)), GROUP)


def test_login_handler_without_the_engine(scratch):
    h = scratch(location("/login", "RemoteUserSession On",
                         "SetHandler remoteuser-login"))
    r = refused(h, "SetHandler remoteuser-login")
    assert "RUS00097: RemoteUserSession On on line" in r.stderr


def test_logout_handler_without_the_engine(scratch):
    refused(scratch(location("/logout", "SetHandler remoteuser-logout",
                             auth=False)),
            "SetHandler remoteuser-logout")


def test_engine_off_in_the_inner_section(scratch):
    h = scratch(location("/app", "RemoteUserEngine On") + "\n"
                + location("/app/x", "RemoteUserEngine Off", GROUP))
    refused(h, GROUP)


def test_another_authtype_inside_authtype_remoteuser(scratch):
    h = scratch("<Location /app>\n AuthType RemoteUser\n Require valid-user\n"
                "</Location>\n"
                + location("/app/basic", "RemoteUserSession On"))
    refused(h, "RemoteUserSession On")


def test_a_sibling_location_does_not_count(scratch):
    h = scratch(location("/app", "RemoteUserEngine On") + "\n"
                + location("/apple", "RemoteUserSession On"))
    refused(h, "RemoteUserSession On")


def test_another_virtual_host_does_not_count(scratch):
    body = ("<VirtualHost 127.0.0.1:@PORT@>\n ServerName a.test\n"
            + location("/app", "RemoteUserEngine On") + "\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:@PORT@>\n ServerName b.test\n"
            + location("/app", "RemoteUserSession On") + "\n</VirtualHost>\n")
    h = scratch()
    h.write_conf(body.replace("@PORT@", str(h.port)), "sqlite:store/users.db")
    refused(h, "RemoteUserSession On")


def test_every_offending_directive_is_named(scratch):
    h = scratch(location("/s", "RemoteUserSession On") + "\n"
                + location("/g", GROUP))
    r = refused(h, "RemoteUserSession On")
    assert r.stderr.count("RUS00097") == 2
    # and httpd does not start either
    rc, err = h.start(expect_ok=False)
    assert rc != 0 and "RUS00097" in err


@pytest.mark.parametrize("body", [
    # the same section
    location("/s", "RemoteUserEngine On", "RemoteUserSession On", GROUP),
    # an enclosing location
    location("/app", "RemoteUserEngine On") + "\n"
    + location("/app/admin", "RemoteUserSession On", GROUP),
    # AuthType RemoteUser, here or around
    "<Location /app>\n AuthType RemoteUser\n Require valid-user\n"
    " RemoteUserSession On\n</Location>\n"
    "<Location /app/admin>\n " + GROUP + "\n</Location>",
    # the server level
    "RemoteUserEngine On\n" + location("/s", "RemoteUserSession On"),
    # the engine on the login location, and on the logout one
    login_location("/login") + "\n"
    + location("/logout", "RemoteUserEngine On",
               "SetHandler remoteuser-logout", auth=False),
    # sessions set for the whole server, the engine where they apply
    "RemoteUserSession On\n" + location("/app", "RemoteUserEngine On"),
    # a section whose reach only requests show: not judged here
    "<LocationMatch \"^/a\">\n RemoteUserEngine On\n</LocationMatch>\n"
    + location("/app", "RemoteUserSession On"),
], ids=["same", "enclosing", "authtype", "server", "handlers", "global",
        "regex"])
def test_engine_in_force_passes(scratch, body):
    passes(scratch(body))


def test_the_engine_in_a_virtual_host_counts_for_its_locations(scratch):
    body = ("<VirtualHost 127.0.0.1:@PORT@>\n ServerName a.test\n"
            " RemoteUserEngine On\n"
            + location("/app", "RemoteUserSession On") + "\n</VirtualHost>\n")
    h = scratch()
    h.write_conf(body.replace("@PORT@", str(h.port)), "sqlite:store/users.db")
    passes(h)


# -- 2. a store directory the children cannot write ----------------------------

@pytest.mark.skipif(RUN_USER is None, reason="needs root: User www-data")
def test_store_directory_not_writable_by_the_child_user(scratch):
    h = scratch(location("/x", "RemoteUserEngine On"), users=["alice"])
    os.chown(h.store_dir, 0, 0)
    os.chmod(h.store_dir, 0o755)
    r = h.configtest()
    assert r.returncode != 0
    assert "RUS00096" in r.stderr
    assert "directory %s is not writable by %s" % (h.store_dir, RUN_USER) \
        in r.stderr
    assert "chown %s:%s %s" % (RUN_USER, RUN_USER, h.store_dir) in r.stderr
    rc, err = h.start(expect_ok=False)
    assert rc != 0
    assert "RUS00096" in err
    assert not os.path.exists(h.db_path)  # refused before creating it
    # the fix the message gives
    pw = pwd.getpwnam(RUN_USER)
    os.chown(h.store_dir, pw.pw_uid, pw.pw_gid)
    os.chmod(h.store_dir, 0o750)
    h.start()
    assert h.get("/x/env", basic("alice")).status == 200
    assert "RUS00096" not in h.error_log()


@pytest.mark.skipif(RUN_USER is None, reason="needs root: User www-data")
def test_store_directory_made_unwritable_before_a_restart(scratch):
    h = scratch(location("/x", "RemoteUserEngine On"), users=["alice"])
    h.start()
    assert h.get("/x/env", basic("alice")).status == 200
    os.chown(h.store_dir, 0, 0)
    os.chmod(h.store_dir, 0o755)
    h.mark_log()
    h.graceful()
    # a restart is not refused (that would take httpd down): the store is
    assert h.proc.poll() is None, "httpd's parent exited"
    log = h.new_log()
    assert "RUS00052" in log and "is not writable by %s" % RUN_USER in log
    assert h.get("/x/env", basic("alice")).status == 503
    pw = pwd.getpwnam(RUN_USER)
    os.chown(h.store_dir, pw.pw_uid, pw.pw_gid)
    h.graceful()
    assert h.get("/x/env", basic("alice")).status == 200


# -- 3.-5. warnings ------------------------------------------------------------

def warnings_of(h, log_id):
    """configtest passes; the lines with log_id it printed."""
    r = h.configtest()
    assert r.returncode == 0, r.stderr
    return [l for l in r.stderr.splitlines() if log_id in l]


def test_secure_cookie_on_a_plain_http_virtual_host(scratch):
    body = ("<VirtualHost 127.0.0.1:@PORT@>\n ServerName plain.test\n"
            + location("/app", "RemoteUserEngine On", "RemoteUserSession On",
                       "RemoteUserSessionCookieSameSite None")
            + "\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:@PORT@>\n ServerName https://tls.test\n"
            + location("/app", "RemoteUserEngine On", "RemoteUserSession On",
                       "RemoteUserSessionCookieSecure On")
            + "\n</VirtualHost>\n"
            "<VirtualHost 127.0.0.1:@PORT@>\n ServerName plain2.test\n"
            + location("/app", "RemoteUserEngine On", "RemoteUserSession On",
                       "RemoteUserSessionCookieSecure On",
                       "RemoteUserSessionCookieSameSite None")
            + "\n</VirtualHost>\n")
    h = scratch()
    h.write_conf(body.replace("@PORT@", str(h.port)), "sqlite:store/users.db")
    lines = warnings_of(h, "RUS00098")
    # one line per virtual host without TLS, none for the https:// one
    assert len(lines) == 2, lines
    assert "RemoteUserSessionCookieSameSite None on line %d" % conf_line(
        h, "RemoteUserSessionCookieSameSite None") in lines[0]
    assert "RemoteUserSessionCookieSecure On on line %d" % conf_line(
        h, "RemoteUserSessionCookieSecure On", 2) in lines[1]
    vhost = "<VirtualHost 127.0.0.1:%d>" % h.port
    assert "in %s on line %d of" % (vhost, conf_line(h, vhost, 1)) in lines[0]
    assert "in %s on line %d of" % (vhost, conf_line(h, vhost, 3)) in lines[1]
    # at startup, in the error log, still one line per virtual host
    h.start()
    assert h.error_log().count("RUS00098") == 2


def test_secure_cookie_on_an_sslengine_virtual_host_is_quiet(scratch):
    h = scratch(extra_modules=["ssl"])
    key, cert = (os.path.join(h.root, n) for n in ("key.pem", "cert.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=tls.test"], check=True,
                   capture_output=True)
    body = ("<VirtualHost 127.0.0.1:%d>\n ServerName tls.test\n"
            " SSLEngine on\n SSLCertificateFile %s\n"
            " SSLCertificateKeyFile %s\n" % (h.port, cert, key)
            + location("/app", "RemoteUserEngine On", "RemoteUserSession On",
                       "RemoteUserSessionCookieSameSite None")
            + "\n</VirtualHost>\n")
    h.write_conf(body, "sqlite:store/users.db", extra_modules=["ssl"])
    assert warnings_of(h, "RUS00098") == []


def test_secure_cookie_with_tls_or_auto_is_quiet(scratch):
    h = scratch(location("/app", "RemoteUserEngine On",
                         "RemoteUserSession On",
                         "RemoteUserSessionCookieSecure Auto",
                         "RemoteUserSessionCookieSameSite Lax"))
    assert warnings_of(h, "RUS00098") == []


def test_wide_trusted_proxy_blocks(scratch):
    h = scratch(location("/h", "RemoteUserEngine On",
                         "RemoteUserHeader X-Auth-User",
                         "RemoteUserTrustedProxy 0.0.0.0/0 ::/0 10.0.0.0/7 "
                         "10.0.0.0/8 2001:db8::/32 127.0.0.1",
                         auth=False))
    lines = warnings_of(h, "RUS00099")
    assert len(lines) == 3, lines
    for block, bits in (("0.0.0.0/0", 8), ("::/0", 32), ("10.0.0.0/7", 8)):
        assert any("RemoteUserTrustedProxy %s on line" % block in l
                   and "wider than a /%d" % bits in l for l in lines), lines
    h.start()
    assert h.error_log().count("RUS00099") == 3


def test_idle_timeout_longer_than_max_age(scratch):
    h = scratch(location("/a", "RemoteUserEngine On", "RemoteUserSession On",
                         "RemoteUserSessionMaxAge 3600",
                         "RemoteUserSessionIdleTimeout 7200") + "\n"
                + location("/b", "RemoteUserEngine On",
                           "RemoteUserSession On",
                           "RemoteUserSessionIdleTimeout 600"))
    lines = warnings_of(h, "RUS00100")
    assert len(lines) == 1, lines
    assert ("RemoteUserSessionIdleTimeout 7200 on line %d"
            % conf_line(h, "RemoteUserSessionIdleTimeout 7200")) in lines[0]
    assert "MaxAge of 3600 seconds" in lines[0]


def test_idle_timeout_against_an_inherited_max_age(scratch):
    h = scratch("RemoteUserSessionIdleTimeout 7200\n"
                + location("/a", "RemoteUserEngine On",
                           "RemoteUserSessionMaxAge 3600"))
    lines = warnings_of(h, "RUS00100")
    assert len(lines) == 1 and "<Location /a>" in lines[0], lines


# -- 6. the README's worked configurations -------------------------------------

# Directives and the modules they need, beyond the harness's own.
NEEDS = [
    (re.compile(r"^\s*(AuthLDAP|AuthBasicProvider\s+ldap)", re.M | re.I),
     ["ldap", "authnz_ldap"]),
    (re.compile(r"^\s*(Gssapi|AuthType\s+GSSAPI)", re.M | re.I),
     ["auth_gssapi"]),
    (re.compile(r"^\s*ProxyPass\b", re.M), ["proxy", "proxy_http"]),
    # what a balancer needs at run time (configtest would pass without)
    (re.compile(r"^\s*BalancerMember\b", re.M),
     ["proxy", "proxy_http", "proxy_balancer", "lbmethod_byrequests",
      "slotmem_shm"]),
    (re.compile(r"^\s*RequestHeader\b", re.M), ["headers"]),
    (re.compile(r"^\s*Require\s+(ip|host)\b", re.M), ["authz_host"]),
    (re.compile(r"^\s*(Mellon|AuthType\s+Mellon)", re.M | re.I),
     ["auth_mellon"]),
    (re.compile(r"^\s*OIDC", re.M), ["auth_openidc"]),
]


def readme_blocks():
    """(heading, first line, text) of every ```apache block of the README."""
    with open(os.path.join(TOP, "README.md")) as f:
        lines = f.read().split("\n")
    blocks, heading, i = [], "", 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        elif lines[i].startswith("```"):
            fence, start = lines[i].strip(), i + 1
            i += 1
            while lines[i].strip() != "```":
                i += 1
            if fence == "```apache":
                blocks.append((heading, start + 1,
                               "\n".join(lines[start:i])))
        i += 1
    return blocks


BLOCKS = readme_blocks()


def test_the_readme_has_its_worked_configurations():
    # the test would pass vacuously if the fence were renamed
    assert len(BLOCKS) >= 7
    for name in ("Kerberos (SPNEGO) with mod_auth_gssapi",
                 "Trusted header behind a proxy"):
        assert any(h == name for h, _, _ in BLOCKS), name


@pytest.mark.parametrize("heading,line,text", BLOCKS,
                         ids=["README:%d" % b[1] for b in BLOCKS])
def test_readme_block_passes_configtest(scratch, heading, line, text):
    # httpd has no trailing comments: "AuthType RemoteUser  # x" gives
    # AuthType two arguments, "RemoteUserStripRealm On # x" passes by
    # accident. Neither belongs in a configuration meant to be copied.
    for n, l in enumerate(text.split("\n")):
        assert not re.match(r"^\s*[^#\s][^#]*\s#", l), \
            "README.md:%d: a comment after a directive: %r" % (line + n, l)
    modules = []
    for pattern, mods in NEEDS:
        if pattern.search(text):
            modules += [m for m in mods if m not in modules]
    missing = [m for m in modules
               if not os.path.exists(os.path.join(MODDIR, "mod_%s.so" % m))]
    if missing:
        pytest.skip("README.md:%d (%s) needs mod_%s, not installed here"
                    % (line, heading, ", mod_".join(missing)))
    h = scratch(extra_modules=modules)
    body = text.replace("/var/lib/apache2/remoteuser_session/",
                        h.store_dir + "/")
    h.write_conf(body, "sqlite:store/users.db", extra_modules=modules)
    r = h.configtest()
    assert r.returncode == 0, "README.md:%d (%s):\n%s" % (line, heading,
                                                          r.stderr)
    assert not re.search(r"\[(?:[a-z_]+:)?(emerg|alert|crit|error|warn)\]"
                         r".*RUS\d{5}", r.stderr), r.stderr
