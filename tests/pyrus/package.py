"""What the Debian package test (tests/package) may not destroy.

The test installs libapache2-mod-remoteuser-session, purges it at the end
and then deletes the state directory that the package's postinst made. On
a machine that already has the package, its state directory (a user
store, perhaps) or an installation from source (`make install` puts files
where the package does: the test's install would overwrite them and its
purge remove them), the test must not run. `package_refusal()` says why
not, or nothing."""

import os
import subprocess

PACKAGE = "libapache2-mod-remoteuser-session"
STATE_DIR = "/var/lib/apache2/remoteuser_session"
# What the package installs that `make install` (PREFIX=/usr) would put in
# the same place.
INSTALLED_FILES = (
    "/usr/lib/apache2/modules/mod_remoteuser_session.so",
    "/usr/sbin/remoteuser-admin",
    "/usr/share/man/man8/remoteuser-admin.8",
    "/usr/share/man/man8/remoteuser-admin.8.gz",
    "/usr/share/bash-completion/completions/remoteuser-admin",
    "/etc/apache2/mods-available/remoteuser_session.load",
    "/etc/apache2/mods-available/remoteuser_session.conf",
)


def package_status(package=PACKAGE):
    """dpkg's state of the package ("installed", "config-files", ...), or
    None when dpkg has no record of it."""
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}",
                            package], capture_output=True, text=True,
                           timeout=60)
    except FileNotFoundError:
        return "unknown (no dpkg-query: not a Debian system)"
    if r.returncode == 1 and "no packages found" in r.stderr:
        return None
    if r.returncode != 0:
        return "unknown (dpkg-query: %s)" % r.stderr.strip()
    return r.stdout.strip() or None


def package_refusal(root="/"):
    """Why the package test must not run here: one line per reason, an
    empty list when none of it exists. root prefixes every path (a fake
    root for the refusal's own test)."""
    reasons = []
    status = package_status()
    if status not in (None, "not-installed"):
        reasons.append("the package %s is known to dpkg (state: %s); the "
                       "test would replace it and purge it with its "
                       "configuration" % (PACKAGE, status))
    state = os.path.join(root, STATE_DIR.lstrip("/"))
    if os.path.lexists(state):
        reasons.append("%s exists (it may hold a user store); the test "
                       "deletes that directory at the end" % state)
    for path in INSTALLED_FILES:
        full = os.path.join(root, path.lstrip("/"))
        if os.path.lexists(full):
            reasons.append("%s exists (installed from source?); the test's "
                           "install would overwrite it and its purge remove "
                           "it" % full)
    return reasons
