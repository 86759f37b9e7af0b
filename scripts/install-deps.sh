#!/bin/sh
# Installs what building, the demo and the tests need on Debian 12
# (bookworm). Run as root, or through sudo.
set -eu
PACKAGES="
    make gcc pkg-config
    apache2 apache2-dev apache2-utils
    libapr1-dev libaprutil1-dev
    libsqlite3-dev sqlite3
    check
    curl procps
    python3 python3-pytest
    chromium chromium-driver python3-selenium
    faketime
    clang-format
    clang libclang-rt-14-dev llvm-14 valgrind util-linux
    krb5-kdc krb5-admin-server krb5-user libapache2-mod-auth-gssapi
    wrk
    build-essential debhelper dpkg-dev lintian man-db
"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
# The Debian package starts a system httpd on port 80; the demo and the
# tests run their own and do not need it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q apache2 2>/dev/null; then
    echo "note: the system apache2 service is running; the demo and tests use their own httpd" >&2
fi
