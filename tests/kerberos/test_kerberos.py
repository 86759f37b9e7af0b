"""Kerberos/SPNEGO end to end: a throwaway MIT Kerberos realm (krb5kdc on a
127.0.0.1 high port), mod_auth_gssapi on /login only, sessions everywhere
else, curl --negotiate as the browser. The Kerberos packages are installed
by scripts/install-deps.sh; if they are missing the test fails, it does not
skip."""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from pyrus import (COOKIE, Httpd, free_port, location, logout_location,
                   remoteuser_location)
from pyrus.fixtures import server_fixture

REALM = "EXAMPLE.TEST"
PASSWORDS = {"alice": "alice-Pw-1", "bob": "bob-Pw-2", "carol": "carol-Pw-3"}


def sbin(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise AssertionError("%s is not installed (scripts/install-deps.sh "
                         "installs krb5-kdc, krb5-admin-server, krb5-user)"
                         % name)


class Realm:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rus-krb-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.keytab = os.path.join(self.dir, "http.keytab")
        with open(self.conf, "w") as f:
            f.write("""[libdefaults]
    default_realm = %(realm)s
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    ignore_acceptor_hostname = false
    udp_preference_limit = 1
[realms]
    %(realm)s = {
        kdc = 127.0.0.1:%(port)d
    }
[domain_realm]
    localhost = %(realm)s
""" % {"realm": REALM, "port": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write("""[kdcdefaults]
    kdc_ports = %(port)d
    kdc_tcp_ports = %(port)d
[realms]
    %(realm)s = {
        database_name = %(dir)s/principal
        key_stash_file = %(dir)s/stash
        acl_file = %(dir)s/kadm5.acl
        kdc_ports = %(port)d
        kdc_tcp_ports = %(port)d
        supported_enctypes = aes256-cts:normal aes128-cts:normal
    }
[logging]
    kdc = FILE:%(dir)s/kdc.log
""" % {"realm": REALM, "port": self.port, "dir": self.dir})
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()
        self.env = dict(os.environ, KRB5_CONFIG=self.conf,
                        KRB5_KDC_PROFILE=self.kdc_conf,
                        KRB5RCACHETYPE="none")
        self.kdc = None

    def run(self, *cmd, stdin=None):
        r = subprocess.run(list(cmd), env=self.env, input=stdin,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (cmd, r.stdout, r.stderr)
        return r.stdout

    def kadmin(self, query):
        return self.run(sbin("kadmin.local"), "-r", REALM, "-q", query)

    def start(self):
        self.run(sbin("kdb5_util"), "create", "-s", "-r", REALM, "-P",
                 "master-Pw-0")
        for user, pw in PASSWORDS.items():
            self.kadmin("addprinc -pw %s %s" % (pw, user))
        self.kadmin("addprinc -randkey HTTP/localhost")
        self.kadmin("ktadd -k %s HTTP/localhost" % self.keytab)
        os.chmod(self.keytab, 0o644)  # a throwaway keytab, for www-data
        self.kdc = subprocess.Popen([sbin("krb5kdc"), "-n"], env=self.env,
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        time.sleep(0.5)
        assert self.kdc.poll() is None, "krb5kdc did not start"
        return self

    def kinit(self, user):
        cc = os.path.join(self.dir, "cc_" + user)
        env = dict(self.env, KRB5CCNAME="FILE:" + cc)
        r = subprocess.run([shutil.which("kinit"), user], env=env,
                           input=PASSWORDS[user] + "\n",
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return env

    def kdc_log(self):
        with open(os.path.join(self.dir, "kdc.log")) as f:
            return f.read()

    def stop(self):
        if self.kdc:
            os.killpg(self.kdc.pid, signal.SIGTERM)
            self.kdc.wait(timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def realm():
    r = Realm().start()
    yield r
    r.stop()


def make_server(mpm, realm):
    conf = "\n".join([
        location("/login", "RemoteUserEngine On", "RemoteUserSession On",
                 "RemoteUserStripRealm On", "SetHandler remoteuser-login",
                 auth=False).replace(
            "<Location /login>",
            "<Location /login>\n  AuthType GSSAPI\n  AuthName Kerberos\n"
            "  GssapiCredStore keytab:%s\n  GssapiAllowedMech krb5\n"
            "  GssapiBasicAuth Off\n  Require valid-user" % realm.keytab),
        remoteuser_location("/app/", "RemoteUserSession On",
                            "RemoteUserLoginURL /login"),
        logout_location(),
    ])
    # httpd (mod_auth_gssapi) reads the realm's krb5.conf
    h = Httpd(conf, mpm=mpm, extra_modules=["auth_gssapi"],
              env={"KRB5_CONFIG": realm.conf})
    h.write_conf(conf, "sqlite:store/users.db", ["auth_gssapi"])
    return h


srv = server_fixture(make_server, mpms=None, needs=("realm",))


def curl(h, env, path, *extra, negotiate=True, jar=None):
    """curl as the browser: returns (status, headers text, body)."""
    url = "http://localhost:%d%s" % (h.port, path)
    cmd = ["curl", "-s", "-D", "-", "--resolve",
           "localhost:%d:127.0.0.1" % h.port]
    if negotiate:
        cmd += ["--negotiate", "-u", ":"]
    if jar:
        cmd += ["-b", jar, "-c", jar]
    cmd += list(extra) + [url]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    # every response of the exchange (text mode turned CRLF into LF)
    parts = re.split(r"\n\n", r.stdout)
    heads = [p for p in parts if p.startswith("HTTP/")]
    status = int(heads[-1].split()[1])
    return status, heads, parts[-1]


def test_kerberos_login_then_session(srv, realm, tmp_path):
    env = realm.kinit("alice")
    jar = str(tmp_path / "jar")

    # 1. the application sends us to the login URL
    status, heads, _ = curl(srv, env, "/app/env", negotiate=False, jar=jar)
    assert status == 302
    assert "Location: /login?next=%2Fapp%2Fenv" in heads[-1]

    # 2. /login challenges with Negotiate; the SPNEGO exchange (curl sends
    #    its token as soon as it knows the scheme) gets the cookie + 302
    status, heads, _ = curl(srv, env, "/login?next=%2Fapp%2Fenv",
                            negotiate=False)
    assert status == 401
    assert "WWW-Authenticate: Negotiate" in heads[-1]
    status, heads, _ = curl(srv, env, "/login?next=%2Fapp%2Fenv", jar=jar)
    assert status == 302
    assert "Location: /app/env" in heads[-1]
    assert "Set-Cookie: %s=" % COOKIE in heads[-1]
    tgs_before = realm.kdc_log().count("TGS_REQ")

    # 3. the application with the cookie alone: alice, realm stripped, no
    #    Negotiate anywhere
    status, heads, body = curl(srv, env, "/app/env", negotiate=False,
                               jar=jar)
    assert status == 200
    assert "WWW-Authenticate" not in heads[-1]
    assert "REMOTE_USER=alice\n" in body
    assert "AUTH_TYPE=RemoteUser" in body
    assert realm.kdc_log().count("TGS_REQ") == tgs_before
    row = srv.user("alice")
    assert row is not None and srv.user("alice@" + REALM) is None

    # 4. logout, then the application sends us to the login URL again
    status, heads, _ = curl(srv, env, "/logout", "-X", "POST",
                            negotiate=False, jar=jar)
    assert status == 302
    status, heads, _ = curl(srv, env, "/app/env", negotiate=False, jar=jar)
    assert status == 302
    assert "/login?next=" in heads[-1]


def test_second_principal_gets_a_second_user(srv, realm, tmp_path):
    env = realm.kinit("bob")
    jar = str(tmp_path / "jar")
    status, heads, _ = curl(srv, env, "/login", jar=jar)
    assert status == 302
    status, _, body = curl(srv, env, "/app/env", negotiate=False, jar=jar)
    assert status == 200 and "REMOTE_USER=bob\n" in body
    assert srv.user("bob")["id"] != srv.user("alice")["id"]


def test_inactive_principal_is_refused_at_login(srv, realm, tmp_path):
    env = realm.kinit("carol")
    srv.execute("INSERT INTO users (username, is_active, date_joined) "
                "VALUES ('carol', 0, 1)")
    status, heads, _ = curl(srv, env, "/login", jar=str(tmp_path / "jar"))
    assert status == 403
    assert not any("Set-Cookie: %s=" % COOKIE in h for h in heads)
    assert "RUS00008" in srv.error_log()
