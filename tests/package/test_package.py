"""The Debian package, as an administrator meets it: build the .deb (no
warning), what it ships (the README, the log-id table, the README's
examples, the man page gzipped, the bash completion), install it with
apt-get (the postinst makes the state directory and enables the module),
configtest, one Basic login into the default store through the packaged
module in the system layout, remoteuser-admin finding the store through
/etc/apache2/apache2.conf, then purge, leaving only the state directory
(which the test then removes: it made it).

This changes the machine (it installs a package), so it runs only when
RUS_TEST_PACKAGE=1 (as .ci/run sets it), as root, and only on a machine
that has neither the package nor its state directory nor an installation
from source (pyrus.package): anywhere else every test fails at once with
the reason, before anything is built or installed. A failure rather than
a skip, because whoever set RUS_TEST_PACKAGE=1 asked for this stage: it
must not pass, or vanish from the totals, unseen. RUS_PACKAGE_ROOT (a
directory standing for /) is only for the refusal's own test
(tests/integration/test_793_package_guard.py)."""

import base64
import glob
import gzip
import pwd
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import pytest

from pyrus import package_refusal
from pyrus.package import PACKAGE as PKG
from pyrus.package import STATE_DIR as STATE

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
STORE = STATE + "/users.db"
DOC = "/usr/share/doc/" + PKG
COMPLETION = "/usr/share/bash-completion/completions/remoteuser-admin"

pytestmark = pytest.mark.skipif(
    os.environ.get("RUS_TEST_PACKAGE") != "1" or os.geteuid() != 0,
    reason="installs a package: RUS_TEST_PACKAGE=1 and root only")


def sh(*cmd, check=True, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True,
                       timeout=600, **kw)
    if check:
        assert r.returncode == 0, (cmd, r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module", autouse=True)
def nothing_to_destroy():
    """Before anything else of the module: nothing here that the test did
    not make and would replace or delete."""
    reasons = package_refusal(os.environ.get("RUS_PACKAGE_ROOT", "/"))
    if reasons:
        pytest.fail("refusing to run the package test, which installs and "
                    "purges %s and deletes %s: %s. Run it on a machine (or "
                    "a container) without them, or remove them yourself "
                    "first." % (PKG, STATE, "; ".join(reasons)),
                    pytrace=False)


@pytest.fixture(scope="module")
def build():
    """make package: (the .deb, what the build printed)."""
    r = subprocess.run(["make", "-C", TOP, "package"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-5000:]
    debs = glob.glob(os.path.join(TOP, "build", "package", PKG + "_*.deb"))
    assert len(debs) == 1, debs
    return debs[0], r.stdout


@pytest.fixture(scope="module")
def deb(build):
    return build[0]


@pytest.fixture(scope="module")
def unpacked(deb, tmp_path_factory):
    """The .deb's files, unpacked (not installed) into a directory."""
    d = str(tmp_path_factory.mktemp("deb"))
    sh("dpkg-deb", "-x", deb, d)
    return d


def test_build_has_no_warnings(build):
    # dpkg-gencontrol used to warn about ${misc:Recommends}, which nothing
    # of the package defines
    warned = [line for line in build[1].splitlines()
              if "warning" in line.lower() and line.startswith(
                  ("dpkg-", "dh_", "dh "))]
    assert warned == [], "\n".join(warned)


def test_ships_what_the_readme_points_to(unpacked):
    def read(path, opener=open):
        with opener(os.path.join(unpacked, path.lstrip("/")), "rb") as f:
            return f.read()

    def src(path):
        with open(os.path.join(TOP, path), "rb") as f:
            return f.read()

    def doc(name):
        """A file of /usr/share/doc/PKG, compressed or not (dh_compress
        decides by size)."""
        p = os.path.join(DOC, name)
        if os.path.exists(os.path.join(unpacked, p.lstrip("/") + ".gz")):
            return read(p + ".gz", gzip.open)
        return read(p)

    assert doc("README.md") == src("README.md")
    assert doc("log-ids.md") == src("docs/log-ids.md")
    examples = sorted(os.listdir(os.path.join(TOP, "examples")))
    assert examples, "examples/ is empty"
    assert sorted(os.listdir(os.path.join(
        unpacked, DOC.lstrip("/"), "examples"))) == examples
    for name in examples:
        assert doc("examples/" + name) == src("examples/" + name), name
    # the man page in section 8, gzipped (Debian policy 12.1)
    assert read("/usr/share/man/man8/remoteuser-admin.8.gz",
                gzip.open) == src("docs/remoteuser-admin.8")
    assert not os.path.exists(os.path.join(
        unpacked, "usr/share/man/man8/remoteuser-admin.8"))
    assert read(COMPLETION) == src("tools/remoteuser-admin.bash-completion")


def test_depends_on_the_libraries_it_links(deb):
    # ${shlibs:Depends} (dh_shlibdeps) from what the module and
    # remoteuser-admin link: the system libpq (the PostgreSQL store) and
    # libsqlite3, never a copy of either in the package
    depends = sh("dpkg-deb", "-f", deb, "Depends").stdout
    names = [d.strip().split()[0] for d in
             depends.replace("|", ",").split(",") if d.strip()]
    for lib in ("libpq5", "libsqlite3-0", "libc6"):
        assert lib in names, (lib, depends)
    r = sh("dpkg-deb", "-c", deb)
    assert "libpq" not in r.stdout and "libsqlite" not in r.stdout, r.stdout


def test_lintian_has_no_errors(deb):
    if shutil.which("lintian") is None:
        pytest.fail("lintian is not installed (scripts/install-deps.sh)")
    r = sh("lintian", "--fail-on", "error", deb, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_install_login_admin_purge(deb):
    root = None
    left = purge = None
    try:
        sh("apt-get", "install", "-y", "--allow-downgrades", deb)
        assert os.path.isdir(STATE)
        st = os.stat(STATE)
        assert oct(st.st_mode & 0o777) == "0o750"
        assert pwd.getpwuid(st.st_uid).pw_name == "www-data"
        # the postinst enabled the module: no a2enmod (the README says so)
        assert os.path.exists(
            "/etc/apache2/mods-enabled/remoteuser_session.load")
        assert os.path.exists(COMPLETION)
        r = sh("apache2ctl", "configtest")
        assert "Syntax OK" in r.stdout + r.stderr

        # the system layout: Debian's apache2.conf, our vhost on a high
        # port (the system's own port 80 site is left alone)
        port = 18000 + os.getpid() % 1000
        # pytest's tmp_path sits under a 0700 directory www-data cannot
        # traverse
        root = tempfile.mkdtemp(prefix="rus-pkg-")
        os.chmod(root, 0o755)
        with open(os.path.join(root, "htpasswd"), "w") as f:
            f.write("alice:{SHA}%s\n" % base64.b64encode(
                hashlib.sha1(b"secret").digest()).decode())
        os.chmod(os.path.join(root, "htpasswd"), 0o644)
        os.makedirs(os.path.join(root, "htdocs", "app"))
        with open(os.path.join(root, "htdocs", "app", "index.html"),
                  "w") as f:
            f.write("hello\n")
        os.chmod(os.path.join(root, "htdocs"), 0o755)
        conf = os.path.join(root, "site.conf")
        # Debian's layout (mods-enabled, as a2enmod left it) on a high port,
        # without apache2.conf's port 80 sites
        with open(conf, "w") as f:
            f.write("""ServerRoot /etc/apache2
ServerName 127.0.0.1
PidFile %(root)s/httpd.pid
DefaultRuntimeDir %(root)s
ErrorLog %(root)s/error.log
User www-data
Group www-data
IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Listen 127.0.0.1:%(port)d
<VirtualHost 127.0.0.1:%(port)d>
    DocumentRoot %(root)s/htdocs
    <Directory %(root)s/htdocs>
        Require all granted
    </Directory>
    <Location /app>
        AuthType Basic
        AuthName packaged
        AuthUserFile %(root)s/htpasswd
        Require valid-user
        RemoteUserEngine On
    </Location>
</VirtualHost>
""" % {"port": port, "root": root})
        env = dict(os.environ)
        env.update(APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
                   APACHE_PID_FILE=root + "/httpd.pid",
                   APACHE_RUN_DIR=root, APACHE_LOCK_DIR=root,
                   APACHE_LOG_DIR=root)
        proc = subprocess.Popen(
            ["/usr/sbin/apache2", "-DFOREGROUND", "-f", conf],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True)
        try:
            req = urllib.request.Request(
                "http://127.0.0.1:%d/app/" % port,
                headers={"Authorization": "Basic " + base64.b64encode(
                    b"alice:secret").decode()})
            body, last = None, None
            for _ in range(100):
                try:
                    body = urllib.request.urlopen(req, timeout=5).read()
                    break
                except OSError as e:
                    last = e
                    if proc.poll() is not None:
                        pytest.fail(proc.stderr.read().decode())
                    time.sleep(0.1)
            if body != b"hello\n":
                with open(os.path.join(root, "error.log")) as f:
                    pytest.fail("%r\n%s" % (last, f.read()[-3000:]))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        assert os.path.exists(STORE)
        out = sh("remoteuser-admin", "--config",
                 "/etc/apache2/apache2.conf", "user", "list").stdout
        assert "alice" in out
        assert sh("remoteuser-admin", "--version").stdout.startswith(
            "remoteuser-admin")
        assert sh("man", "-w", "remoteuser-admin").stdout.strip() == \
            "/usr/share/man/man8/remoteuser-admin.8.gz"
        with open(os.path.join(root, "error.log")) as f:
            assert "RUS00001: mod_remoteuser_session/" in f.read()
    finally:
        # nothing_to_destroy saw neither the package nor STATE before: both
        # are this test's own
        purge = sh("apt-get", "purge", "-y", PKG, check=False)
        left = os.path.exists(STORE)
        shutil.rmtree(STATE, ignore_errors=True)
        if root:
            shutil.rmtree(root, ignore_errors=True)
    # nothing left but the data (until the test removed it)
    assert purge.returncode == 0, purge.stdout + purge.stderr
    assert not os.path.exists(
        "/usr/lib/apache2/modules/mod_remoteuser_session.so")
    assert not os.path.exists("/usr/sbin/remoteuser-admin")
    assert not os.path.exists(COMPLETION)
    assert not glob.glob("/etc/apache2/mods-*/remoteuser_session.*")
    assert left, "the purge removed " + STORE
