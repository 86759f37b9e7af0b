#!/bin/sh
# `make demo`: a demo httpd on 127.0.0.1 in the foreground, from a
# configuration generated into demo-run/; it walks through a session with
# curl once httpd answers, then serves until Ctrl-C. --help says more.

usage() {
    cat <<'USAGE'
usage: make demo [DEMO_PORT=8080] [DEMO_DIR=DIR]
       DEMO_PORT=8081 sh scripts/demo.sh

Starts httpd on http://127.0.0.1:$DEMO_PORT/app in the foreground, with
Basic authentication (alice/alice, bob/bob, Carol@EXAMPLE.COM/carol) in
front of mod_remoteuser_session, a store group "staff" that alice is in,
/app/staff for its members, a login URL (/login) and a logout URL
(/logout). Once httpd answers, it walks through a session with curl and
prints each step and what came back; then it serves until Ctrl-C.

Environment:
  DEMO_PORT   port on 127.0.0.1, default 8080; it must be free
  DEMO_DIR    where the configuration, the store (DIR/store, mode 0750),
              the logs and the pid file go; default demo-run/ at the top
              of the tree. One demo at a time per directory.
  APXS        the apxs naming httpd and its modules (default: apxs)
  RUS_MODULE  the module (default: build/mod_remoteuser_session.so)
  RUS_ADMIN   remoteuser-admin (default: build/remoteuser-admin)
USAGE
}

case "${1:-}" in
-h | --help)
    usage
    exit 0
    ;;
"") ;;
*)
    usage >&2
    exit 2
    ;;
esac

set -eu
case ${DEMO_DIR:-} in
'' | /*) ;;
*) DEMO_DIR=$(pwd)/$DEMO_DIR ;; # relative to where the demo was started
esac
cd "$(dirname "$0")/.."
TOP=$(pwd)
DIR=${DEMO_DIR:-$TOP/demo-run}
PORT=${DEMO_PORT:-8080}
APXS=${APXS:-apxs}
MODULE=${RUS_MODULE:-$TOP/build/mod_remoteuser_session.so}
ADMIN=${RUS_ADMIN:-$TOP/build/remoteuser-admin}
BASE=http://127.0.0.1:$PORT
COOKIE=remoteuser_session
# The demo's own requests go straight to 127.0.0.1, whatever http_proxy says.
dcurl() { curl --noproxy '*' "$@"; }

die() {
    echo "demo: $*" >&2
    exit 1
}

case $PORT in
'' | *[!0-9]*) die "DEMO_PORT='$PORT' is not a port number" ;;
esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] ||
    die "DEMO_PORT=$PORT is not a port number (1 to 65535)"
command -v curl >/dev/null 2>&1 || die "curl is needed (scripts/install-deps.sh)"
command -v htpasswd >/dev/null 2>&1 ||
    die "htpasswd is needed (apache2-utils, scripts/install-deps.sh)"
MODDIR=$($APXS -q LIBEXECDIR)
HTTPD="$($APXS -q SBINDIR)/$($APXS -q PROGNAME)"
[ -f "$MODULE" ] || die "no module at $MODULE: run make (or set RUS_MODULE)"
[ -x "$ADMIN" ] || die "no remoteuser-admin at $ADMIN: run make (or set RUS_ADMIN)"

# One demo per directory: a live httpd behind its pid file is a demo that
# runs. Nothing of it is touched.
PIDFILE=$DIR/run/httpd.pid
if [ -s "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    if [ "$comm" = "$(basename "$HTTPD")" ]; then
        port=$(cat "$DIR/run/port" 2>/dev/null || echo "?")
        die "a demo already runs from $DIR (httpd pid $pid, on" \
            "http://127.0.0.1:$port/app): stop it with Ctrl-C where it" \
            "runs (or kill $pid), or give this one another DEMO_DIR"
    fi
    rm -f "$PIDFILE" # left by an httpd that is gone
fi

# The port, before anything is printed or written: curl's exit status 7
# means that nothing accepted the connection.
rc=0
dcurl -s -o /dev/null --max-time 3 "$BASE/" || rc=$?
[ "$rc" -eq 7 ] ||
    die "port $PORT on 127.0.0.1 is in use (another program, or a demo" \
        "from another directory): give another one, e.g." \
        "make demo DEMO_PORT=$((PORT % 65535 + 1))"

mkdir -p "$DIR/run" "$DIR/flow"
chmod 755 "$DIR" "$DIR/run"
# The store's directory, as the README advises: mode 0750, owned by the
# user the children run as.
mkdir -p "$DIR/store"
chmod 0750 "$DIR/store"
USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then
    # As root, httpd's children run as www-data, as in production: they must
    # be able to write the store's directory.
    USER_LINE="User www-data
Group www-data"
    chown www-data:www-data "$DIR/store" "$DIR/run"
    case $DIR in
    "$TOP"/*) chmod o+x "$TOP" ;;
    esac
fi

htpasswd -bc "$DIR/htpasswd" alice alice 2>/dev/null
htpasswd -b "$DIR/htpasswd" bob bob 2>/dev/null
htpasswd -b "$DIR/htpasswd" 'Carol@EXAMPLE.COM' carol 2>/dev/null

cat >"$DIR/app.cgi" <<'CGI'
#!/bin/sh
# What the application sees: the environment httpd hands to a CGI. Plain
# text for curl, a page for browsers.
VARS="REMOTE_USER REMOTE_USER_ID REMOTE_USER_CREATED REMOTE_USER_GROUPS
REMOTE_USER_SOURCE AUTH_TYPE"
case "${HTTP_ACCEPT:-}" in
*text/html*) ;;
*)
    printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
    printf 'Hello, %s\n' "${REMOTE_USER:-nobody}"
    for v in $VARS; do
        eval "val=\${$v:-}"
        printf '%s=%s\n' "$v" "$val"
    done
    exit 0
    ;;
esac
esc() { printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'; }
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
printf '<!doctype html><title>mod_remoteuser_session demo</title>\n'
printf '<h1>Hello, %s</h1>\n<table border=1 cellpadding=4>\n' \
    "$(esc "${REMOTE_USER:-nobody}")"
for v in $VARS; do
    eval "val=\${$v:-}"
    printf '<tr><th>%s</th><td>%s</td></tr>\n' "$v" "$(esc "$val")"
done
cat <<HTML
</table>
<p>REMOTE_USER_SOURCE is <code>frontend</code> when Basic authenticated
this request, <code>session</code> when the session cookie did.
<p>Log in as alice/alice, bob/bob or Carol@EXAMPLE.COM/carol: each name
becomes one row in the store (realm stripped, lower-cased). alice is in
the group staff and may see <a href="/app/staff">/app/staff</a>; bob gets
403 there.
<form method=post action=/logout><button>Log out</button></form>
<p>A browser keeps sending the Basic password it was given, so after a
logout the next page starts a new session; the curl steps the demo printed
show the flow without that.
HTML
CGI
chmod 755 "$DIR/app.cgi"

sed -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@MODDIR@|$MODDIR|g" \
    -e "s|@MODULE@|$MODULE|g" \
    scripts/demo.conf.in >"$DIR/httpd.conf"
if [ -n "$USER_LINE" ]; then
    printf '%s\n' "$USER_LINE" >"$DIR/user.conf"
    sed -i -e "s|^@USER@$|Include \"$DIR/user.conf\"|" "$DIR/httpd.conf"
else
    sed -i -e "s|^@USER@$||" "$DIR/httpd.conf"
fi

"$HTTPD" -t -f "$DIR/httpd.conf"
echo "$PORT" >"$DIR/run/port"
"$HTTPD" -DFOREGROUND -f "$DIR/httpd.conf" &
HTTPD_PID=$!
# Ctrl-C (or a TERM) stops httpd and, once it is gone, the demo. On any
# other way out, httpd goes too.
stop() {
    kill -TERM "$HTTPD_PID" 2>/dev/null || true
    wait "$HTTPD_PID" 2>/dev/null || true
    trap - EXIT
    echo "demo: stopped" >&2
    exit 0
}
trap stop INT TERM HUP
trap 'kill -TERM "$HTTPD_PID" 2>/dev/null || true' EXIT

tries=0
until [ "$(dcurl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/" ||
    true)" = 302 ]; do
    kill -0 "$HTTPD_PID" 2>/dev/null ||
        die "httpd stopped at startup (its messages are above)"
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "httpd does not answer on $BASE after 20 s"
    sleep 0.2
done

# The walk-through: each step as the command to type, then what came back.
FLOW=$DIR/flow
admin() { "$ADMIN" --db "$DIR/store/users.db" "$@"; }
fetch() { # curl ARGS...: prints the status; headers and body in $FLOW
    : >"$FLOW/headers"
    : >"$FLOW/body"
    dcurl -s -D "$FLOW/headers" -o "$FLOW/body" -w '%{http_code}' \
        --max-time 10 "$@" || true
}
header() { # NAME: the first such response header, the token shortened
    tr -d '\r' <"$FLOW/headers" | sed -n "s/^$1: *//Ip" | head -n 1 |
        sed "s/^\($COOKIE=[A-Za-z0-9_-]\{6\}\)[A-Za-z0-9_-]*/\1.../"
}
seen() { # what the application saw, on one line
    grep -E '^REMOTE_USER(_CREATED|_GROUPS|_SOURCE)?=' "$FLOW/body" |
        tr '\n' ' ' || true
}
say() { printf '%s\n' "$@"; }

say "" "The session flow, step by step (type the same commands to repeat it):" ""
say "1. alice goes into the store's group staff, before her first login:"
for args in "user add alice" "group add staff" "group add-member staff alice"; do
    say "   \$ $ADMIN --db $DIR/store/users.db $args"
    # shellcheck disable=SC2086
    admin $args >/dev/null 2>"$FLOW/admin.err" ||
        say "     ($(head -n 1 "$FLOW/admin.err"))"
done

say "2. alice logs in once, with Basic, at the login URL:"
say "   \$ curl -si -u alice:alice -c $FLOW/cookies '$BASE/login?next=/app'"
code=$(fetch -u alice:alice -c "$FLOW/cookies" "$BASE/login?next=/app")
say "   -> $code, Location: $(header Location), Set-Cookie: $(header Set-Cookie)"
token=$(tr -d '\r' <"$FLOW/headers" |
    sed -n "s/^Set-Cookie: *$COOKIE=\([^;]*\).*/\1/Ip" | head -n 1)

say "3. the session cookie alone authenticates her, with her groups:"
say "   \$ curl -s -b $FLOW/cookies $BASE/app"
code=$(fetch -b "$FLOW/cookies" "$BASE/app")
say "   -> $code: $(seen)"

say "4. and lets her into /app/staff (Require remoteuser-group staff):"
say "   \$ curl -s -b $FLOW/cookies $BASE/app/staff"
code=$(fetch -b "$FLOW/cookies" "$BASE/app/staff")
say "   -> $code: $(seen)"

say "5. bob, through Basic (created at his first request), is not in staff:"
say "   \$ curl -s -u bob:bob $BASE/app"
code=$(fetch -u bob:bob "$BASE/app")
say "   -> $code: $(seen)"
say "   \$ curl -s -u bob:bob $BASE/app/staff"
code=$(fetch -u bob:bob "$BASE/app/staff")
say "   -> $code"

say "6. alice logs out: the session is deleted in the store, the cookie expired:"
say "   \$ curl -si -X POST -b $FLOW/cookies -c $FLOW/cookies $BASE/logout"
code=$(fetch -X POST -b "$FLOW/cookies" -c "$FLOW/cookies" "$BASE/logout")
say "   -> $code, Location: $(header Location), Set-Cookie: $(header Set-Cookie)"

say "7. her old cookie, sent again, is no session any more:"
say "   \$ curl -s -b '$COOKIE=<the token of step 2>' $BASE/app"
code=$(fetch -b "$COOKIE=$token" "$BASE/app")
say "   -> $code, WWW-Authenticate: $(header WWW-Authenticate)"

say "8. the store now:"
say "   \$ $ADMIN --db $DIR/store/users.db user list"
admin user list 2>&1 | sed 's/^/     /' || true

cat <<MSG

mod_remoteuser_session demo on $BASE/app  (Ctrl-C stops it)

  users (Basic): alice/alice (group staff), bob/bob,
                 Carol@EXAMPLE.COM/carol (becomes carol)
  in a browser:  $BASE/app, $BASE/app/staff, $BASE/login?next=/app
  with curl:     curl -u alice:alice $BASE/app
  the store:     $ADMIN --db $DIR/store/users.db user list
                 sqlite3 $DIR/store/users.db 'SELECT * FROM sessions'
  logs:          the module's below (stderr), requests in $DIR/access.log

MSG

# Until httpd ends (Ctrl-C: stop() above).
rc=0
wait "$HTTPD_PID" || rc=$?
trap - EXIT
echo "demo: httpd ended (exit status $rc)" >&2
exit "$rc"
