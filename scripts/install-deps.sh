#!/bin/sh
# Installs what building, the demo and the tests need on Debian 12
# (bookworm). Run as root, or through sudo.
set -eu
PACKAGES="
    make gcc pkg-config
    apache2 apache2-dev apache2-utils
    libapr1-dev libaprutil1-dev
    libsqlite3-dev sqlite3
    libpq-dev postgresql
    check
    curl procps
    python3 python3-pytest
    chromium chromium-driver python3-selenium
    faketime
    clang-format
    clang libclang-rt-14-dev llvm-14 valgrind util-linux
    krb5-kdc krb5-admin-server krb5-user libapache2-mod-auth-gssapi
    slapd ldap-utils
    wrk
    prometheus python3-prometheus-client
    build-essential debhelper dpkg-dev lintian man-db
"
export DEBIAN_FRONTEND=noninteractive
# PostgreSQL: the tests and the bench run a server of their own
# (tests/pyrus/pg.py: initdb and pg_ctl in a temporary directory), never
# the system's. So no "main" cluster is created when the server package is
# first installed (the server package's postinst asks pg_conftool for
# create_main_cluster, which reads createcluster.conf and the drop-in
# directory it includes; createcluster.conf itself is left to
# postgresql-common, which installs it with ucf), and nothing of PostgreSQL
# is started by this install.
mkdir -p /etc/postgresql-common/createcluster.d
printf '%s\n' '# scripts/install-deps.sh of mod_remoteuser_session: its tests run' \
    '# a server of their own, and need no main cluster.' \
    'create_main_cluster = false' \
    >/etc/postgresql-common/createcluster.d/remoteuser-session.conf
CONF=/etc/postgresql-common/createcluster.conf
if [ -f "$CONF" ] && ! grep -q "createcluster.d" "$CONF" &&
    ! grep -qE '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*(false|off)' "$CONF"; then
    # an older postgresql-common, without the drop-in directory
    echo 'create_main_cluster = false' >>"$CONF"
fi
# OpenLDAP: the LDAP tests run a slapd of their own (tests/pyrus/ldap.py:
# slapd.conf and an mdb database in a temporary directory), never the
# system's. debconf is told to leave the package unconfigured: no
# /etc/ldap/slapd.d, no database under /var/lib/ldap, no admin password
# asked for.
echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
# Prometheus: the tests only run promtool (check metrics) and parse with
# python3-prometheus-client; the package's prometheus (and
# prometheus-node-exporter, were recommends on) service is refused below.
# Services are started through invoke-rc.d, which asks policy-rc.d: refuse
# PostgreSQL's, slapd's and Prometheus's for the length of this script (an existing
# policy-rc.d, a container's "exit 101" say, is left alone and decides
# instead).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
    # shellcheck disable=SC2016
    printf '%s\n' '#!/bin/sh' \
        '# scripts/install-deps.sh of mod_remoteuser_session, removed when it ends' \
        'for a in "$@"; do case "$a" in postgresql* | slapd* | prometheus*) exit 101 ;; esac; done' \
        'exit 0' >"$POLICY"
    chmod 0755 "$POLICY"
    trap 'rm -f "$POLICY"' EXIT
    trap 'rm -f "$POLICY"; exit 1' HUP INT TERM
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
# The Debian package starts a system httpd on port 80; the demo and the
# tests run their own and do not need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q apache2 2>/dev/null; then
    echo "note: the system apache2 service is running; the demo and tests use their own httpd" >&2
fi
if pgrep -x prometheus >/dev/null 2>&1; then
    echo "note: a prometheus runs on this machine; the tests only use promtool" >&2
fi
if pgrep -x slapd >/dev/null 2>&1; then
    echo "note: a slapd runs on this machine; the LDAP tests run their own" >&2
fi
if command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    echo "note: this machine has PostgreSQL clusters of its own (pg_lsclusters); the tests never use them" >&2
fi
