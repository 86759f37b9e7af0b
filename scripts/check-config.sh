#!/bin/sh
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Fails (exit 1) when the configuration code and its documentation drift
# apart (after mod_auth_openidc's test/check_directives.sh):
#
# - a member of rus_dir_conf or rus_server_conf (src/httpd_private.h) that
#   the create or the merge function of its struct (src/httpd_config.c)
#   does not assign: a forgotten member is "unset" after create and is
#   never inherited by an inner section (create assigns every member,
#   NULL ones included, so that this can see it);
# - a directive of the command table (src/httpd_config.c) without its row
#   in the README's Directives table, or a row there for a directive the
#   module does not have.
#
# Usage: scripts/check-config.sh [SOURCE_DIR]   (default: the repository
# this script is in). POSIX sh, awk and grep only.

set -eu

top=${1:-$(dirname "$0")/..}
header=$top/src/httpd_private.h
config=$top/src/httpd_config.c
readme=$top/README.md

for f in "$header" "$config" "$readme"; do
    if [ ! -r "$f" ]; then
        echo "check-config: cannot read $f" >&2
        exit 2
    fi
done

failed=0

# Print the file with its /* */ comments removed (across lines too).
strip_comments() {
    awk '
    {
        line = $0; out = ""
        while (line != "") {
            if (incomment) {
                i = index(line, "*/")
                if (i == 0) { line = ""; break }
                line = substr(line, i + 2); incomment = 0
            }
            else {
                i = index(line, "/*")
                if (i == 0) { out = out line; line = "" }
                else {
                    out = out substr(line, 1, i - 1)
                    line = substr(line, i + 2); incomment = 1
                }
            }
        }
        print out
    }' "$1"
}

# The members of "typedef struct NAME { ... } NAME;", one a line.
struct_members() {
    strip_comments "$header" | awk -v name="$1" '
    $0 ~ "^typedef struct " name " *\\{" { inside = 1; next }
    inside && $0 ~ "^} *" name " *;" { inside = 0; exit }
    inside {
        n = split($0, decls, ";")
        for (k = 1; k < n; k++) {
            d = decls[k]
            gsub(/\[[^]]*\]/, "", d)
            if (match(d, /[A-Za-z_][A-Za-z0-9_]* *$/)) {
                m = substr(d, RSTART, RLENGTH); gsub(/ /, "", m)
                print m
            }
        }
    }'
}

# The members a function of src/httpd_config.c assigns as "conf->MEMBER =".
assigned_in() {
    strip_comments "$config" | awk -v fn="$1" '
    index($0, fn "(") && $0 !~ /;[ \t]*$/ { inside = 1 }
    inside && /^}/ { inside = 0; exit }
    inside {
        line = $0 " "
        while (match(line, /conf->[A-Za-z_][A-Za-z0-9_]* *=[^=]/)) {
            m = substr(line, RSTART + 6, RLENGTH - 6)
            sub(/ *=.*/, "", m)
            print m
            line = substr(line, RSTART + RLENGTH)
        }
    }' | sort -u
}

check_struct() { # STRUCT CREATE MERGE
    members=$(struct_members "$1")
    if [ -z "$members" ]; then
        echo "check-config: no members found for $1 in $header" >&2
        failed=1
        return
    fi
    for fn in "$2" "$3"; do
        done_here=$(assigned_in "$fn")
        if [ -z "$done_here" ]; then
            echo "check-config: $fn not found in $config" >&2
            failed=1
            continue
        fi
        for m in $members; do
            if ! printf '%s\n' "$done_here" | grep -qx "$m"; then
                echo "check-config: $1.$m is not set in $fn" >&2
                failed=1
            fi
        done
    done
}

check_struct rus_dir_conf rus_httpd_create_dir_conf rus_httpd_merge_dir_conf
check_struct rus_server_conf rus_httpd_create_server_conf \
    rus_httpd_merge_server_conf

# Directives: the command table against the README's Directives table.
directives=$(strip_comments "$config" |
    grep -o 'AP_INIT_[A-Z0-9_]*("[A-Za-z]*"' | sed 's/.*("//; s/"$//' |
    sort -u)
documented=$(awk '
    /^## Directives/ { inside = 1; next }
    inside && /^## / { exit }
    inside && /^\| `RemoteUser[A-Za-z]*/ {
        m = $0; sub(/^\| `/, "", m); sub(/[^A-Za-z].*/, "", m); print m
    }' "$readme" | sort -u)
if [ -z "$directives" ]; then
    echo "check-config: no command table found in $config" >&2
    failed=1
fi
for d in $directives; do
    if ! printf '%s\n' "$documented" | grep -qx "$d"; then
        echo "check-config: directive $d has no row in the Directives table of README.md" >&2
        failed=1
    fi
done
for d in $documented; do
    if ! printf '%s\n' "$directives" | grep -qx "$d"; then
        echo "check-config: README.md documents $d, which is not in the command table" >&2
        failed=1
    fi
done

if [ "$failed" -ne 0 ]; then
    exit 1
fi
echo "check-config: $(printf '%s\n' $directives | wc -l | tr -d ' ') directives documented; every rus_dir_conf and rus_server_conf member created and merged"
