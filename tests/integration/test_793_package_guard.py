"""The package test never destroys what it did not create (issue #17).

tests/package/test_package.py installs the package, purges it and deletes
/var/lib/apache2/remoteuser_session. Here it runs as CI runs it
(RUS_TEST_PACKAGE=1, as root), from a copy of the test tree (so no .deb
built earlier can be found), against a fake root (RUS_PACKAGE_ROOT) that
holds what an administrator's machine might, with dpkg-query, make,
apt-get and the other commands it calls replaced by stubs that log their
calls. Where the package, its state directory or a source installation is
there, it must fail with the reason before it builds or installs
anything; where none is, it must go on (and calls the stub make)."""

import os
import shutil
import subprocess
import sys

import pytest

from pyrus import TOP

PKG = "libapache2-mod-remoteuser-session"
STATE = "var/lib/apache2/remoteuser_session"
STUBS = ("make", "apt-get", "apt", "dpkg", "dpkg-deb", "dpkg-buildpackage",
         "lintian", "a2enmod", "a2dismod", "apache2ctl", "remoteuser-admin",
         "man")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the package test runs as root only")


def stub_dir(d, log):
    os.makedirs(d)
    for name in STUBS:
        with open(os.path.join(d, name), "w") as f:
            f.write('#!/bin/sh\necho "%s $*" >>%s\nexit 0\n' % (name, log))
    # dpkg-query: the state in $FAKE_DPKG_STATE, else "no such package"
    with open(os.path.join(d, "dpkg-query"), "w") as f:
        f.write('#!/bin/sh\necho "dpkg-query $*" >>%s\n'
                'if [ -n "${FAKE_DPKG_STATE:-}" ]; then\n'
                '    printf %%s "$FAKE_DPKG_STATE"; exit 0\nfi\n'
                'echo "dpkg-query: no packages found matching $4" >&2\n'
                'exit 1\n' % log)
    for name in os.listdir(d):
        os.chmod(os.path.join(d, name), 0o755)


def run_package_test(tmp_path, files=(), dpkg_state=None):
    """The package suite on a copy of tests/ with a fake root holding
    files; (its CompletedProcess, the stub calls, the fake root)."""
    tree = tmp_path / "tree"
    for part in ("package", "pyrus"):
        shutil.copytree(os.path.join(TOP, "tests", part),
                        str(tree / "tests" / part),
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "pytest.ini"):
        shutil.copy(os.path.join(TOP, "tests", name), str(tree / "tests"))
    root = tmp_path / "root"
    root.mkdir()
    for path, content in files:
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(content)
    log = tmp_path / "calls"
    log.write_text("")
    stub_dir(str(tmp_path / "bin"), str(log))
    env = dict(os.environ, RUS_TEST_PACKAGE="1", RUS_PACKAGE_ROOT=str(root),
               PATH=str(tmp_path / "bin") + ":" + os.environ["PATH"])
    env.pop("FAKE_DPKG_STATE", None)
    if dpkg_state:
        env["FAKE_DPKG_STATE"] = dpkg_state
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "tests/package"],
                       cwd=str(tree), env=env, capture_output=True, text=True,
                       timeout=300)
    calls = [c.split()[0] for c in log.read_text().splitlines()]
    return r, calls, root


def assert_refused(r, calls, *why):
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "refusing to run the package test" in out, out
    for w in why:
        assert w in out, out
    # it asked dpkg, and did nothing else
    assert set(calls) == {"dpkg-query"}, calls


def test_refuses_when_the_state_directory_exists(tmp_path):
    r, calls, root = run_package_test(
        tmp_path, [(STATE + "/users.db", "the administrator's users\n")])
    assert_refused(r, calls, str(root / STATE) + " exists")
    assert (root / STATE / "users.db").read_text() == \
        "the administrator's users\n"


def test_refuses_when_the_package_is_installed(tmp_path):
    r, calls, _ = run_package_test(tmp_path, dpkg_state="installed")
    assert_refused(r, calls, "the package %s is known to dpkg (state: "
                   "installed)" % PKG)


def test_refuses_when_only_its_configuration_is_left(tmp_path):
    # removed, not purged: the purge would take the admin's conffiles
    r, calls, _ = run_package_test(tmp_path, dpkg_state="config-files")
    assert_refused(r, calls, "(state: config-files)")


def test_refuses_an_installation_from_source(tmp_path):
    r, calls, root = run_package_test(
        tmp_path, [("usr/sbin/remoteuser-admin", "#!/bin/sh\n"),
                   ("etc/apache2/mods-available/remoteuser_session.conf",
                    "RemoteUserStore sqlite:/srv/users.db\n")])
    assert_refused(r, calls, str(root / "usr/sbin/remoteuser-admin"),
                   "remoteuser_session.conf exists")


def test_goes_on_when_nothing_is_there(tmp_path):
    # the same run with nothing in the way: no refusal, the package gets
    # built (by the stub make, which builds nothing: the test then fails
    # for want of a .deb, which is all this copy can do)
    r, calls, _ = run_package_test(tmp_path)
    out = r.stdout + r.stderr
    assert "refusing" not in out, out
    assert "make" in calls, (calls, out)
