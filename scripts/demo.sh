#!/bin/sh
# `make demo`: httpd on 127.0.0.1:8080 (DEMO_PORT to change) in the
# foreground, from a configuration generated into demo-run/. Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
DIR="$TOP/demo-run"
PORT=${DEMO_PORT:-8080}
APXS=${APXS:-apxs}
MODDIR=$($APXS -q LIBEXECDIR)
HTTPD="$($APXS -q SBINDIR)/$($APXS -q PROGNAME)"
MODULE=${RUS_MODULE:-$TOP/build/mod_remoteuser_session.so}

mkdir -p "$DIR/run" "$DIR/store"
chmod 755 "$DIR" "$DIR/run"
USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then
    # As root, httpd's children run as www-data, as in production: they must
    # be able to write the store's directory.
    USER_LINE="User www-data
Group www-data"
    chown www-data:www-data "$DIR/store" "$DIR/run"
    chmod o+x "$TOP"
fi

htpasswd -bc "$DIR/htpasswd" alice alice 2>/dev/null
htpasswd -b "$DIR/htpasswd" bob bob 2>/dev/null
htpasswd -b "$DIR/htpasswd" 'Carol@EXAMPLE.COM' carol 2>/dev/null

cat >"$DIR/app.cgi" <<'CGI'
#!/bin/sh
# What the application sees: the environment httpd hands to a CGI.
esc() { printf '%s' "$1" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'; }
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
cat <<HTML
<!doctype html><title>mod_remoteuser_session demo</title>
<h1>Hello, $(esc "${REMOTE_USER:-nobody}")</h1>
<table border=1 cellpadding=4>
<tr><th>REMOTE_USER</th><td>$(esc "${REMOTE_USER:-}")</td></tr>
<tr><th>REMOTE_USER_ID</th><td>$(esc "${REMOTE_USER_ID:-}")</td></tr>
<tr><th>REMOTE_USER_CREATED</th><td>$(esc "${REMOTE_USER_CREATED:-}")</td></tr>
<tr><th>AUTH_TYPE</th><td>$(esc "${AUTH_TYPE:-}")</td></tr>
</table>
<p>Log in as alice/alice, bob/bob or Carol@EXAMPLE.COM/carol: each name
becomes one row in the store (realm stripped, lower-cased).</p>
HTML
CGI
chmod 755 "$DIR/app.cgi"

sed -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@MODDIR@|$MODDIR|g" \
    -e "s|@MODULE@|$MODULE|g" \
    conf/examples/demo.conf.in >"$DIR/httpd.conf"
if [ -n "$USER_LINE" ]; then
    printf '%s\n' "$USER_LINE" >"$DIR/user.conf"
    sed -i -e "s|^@USER@$|Include \"$DIR/user.conf\"|" "$DIR/httpd.conf"
else
    sed -i -e "s|^@USER@$||" "$DIR/httpd.conf"
fi

"$HTTPD" -t -f "$DIR/httpd.conf"
cat <<MSG

mod_remoteuser_session demo on http://127.0.0.1:$PORT/app  (Ctrl-C stops it)

  curl -u alice:alice http://127.0.0.1:$PORT/app
  curl -u 'Carol@EXAMPLE.COM:carol' http://127.0.0.1:$PORT/app
  sqlite3 $DIR/store/users.db 'SELECT * FROM users'

MSG
exec "$HTTPD" -DFOREGROUND -f "$DIR/httpd.conf"
