#!/bin/bash
# The StepPay v2 and NicePay handlers under a real Apache httpd on
# 127.0.0.1, installed as the README's shared-hosting steps say: copied
# into the site's payhook/ (not cgi-bin/) with .fcgi names, the
# configuration file outside the web root named by SetEnv PAYHOOK_CONFIG
# in .htaccess; first as FastCGI programs (mod_fcgid), then as plain CGI
# (the same .htaccess where a host has no mod_fcgid); then with
# conf/apache/'s server configurations (mod_fcgid; mod_proxy_fcgi to
# spawn-fcgi). The same deliveries leave the same tables as plain CGI
# driven directly.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/apache.sh"
. "$top_srcdir/tests/lib/spawn-fcgi.sh"
. "$top_srcdir/tests/lib/scenario.sh"

[ -x /usr/sbin/apache2 ] && [ -f "$APACHE_MODULES/mod_fcgid.so" ] && command -v spawn-fcgi >/dev/null ||
	skip_all "apache2, libapache2-mod-fcgid or spawn-fcgi is not installed (tests/lib/install-deps.sh)"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null

# The merchant's home directory: the configuration beside public_html.
home=$(mktemp -d /tmp/payhook-home.XXXXXX)
ph_on_exit rm -rf "$home"
scenario_prepare "$home"
cgi=$home/public_html/payhook
mkdir -p "$cgi"
cp "$top_builddir/cgi-bin/steppay-v2.fcgi" "$top_builddir/cgi-bin/nicepay.fcgi" "$cgi/"
chmod 0750 "$cgi"/*.fcgi
# install_htaccess NAME: conf/apache/NAME as the site's .htaccess, naming
# our configuration file instead of the example's.
install_htaccess() {
	sed "s#/home/shop/payhook.conf#$SCN_CONF#" "$top_srcdir/conf/apache/$1" >"$cgi/.htaccess"
	apache_share "$cgi/.htaccess"
}
install_htaccess htaccess
apache_share "$home" "$SCN_CONF" "$home/public_html" "$cgi" "$cgi"/*.fcgi

# handler_pids: the processes running a handler from the site's payhook/.
handler_pids() {
	local f exe
	for f in /proc/[0-9]*/exe; do
		exe=$(readlink "$f" 2>/dev/null) || continue
		case $exe in "$cgi"/*.fcgi) f=${f#/proc/} && printf ' %s' "${f%/exe}" ;; esac
	done
}

# phase NAME URL_FORMAT [LOG...]: the deliveries through the running
# Apache, the replies and the tables compared with plain CGI's, the error
# log (and each LOG, where the handlers write theirs) checked.
phase() {
	local name=$1 fmt=$2
	shift 2
	scenario_run http "$fmt"
	is "$SCN_MISMATCHES" "0" "$name: every reply as expected"
	is "$SCN_TRANSCRIPT" "$want_transcript" "$name: the same replies as plain CGI"
	is "$(scenario_state)" "$want_state" "$name: the same tables as plain CGI (arrival times aside)"
	like "$(cat "$APACHE_ERRORLOG" "$@")" "endpoint=steppay-v2 status=200 outcome=applied event=subscription.created" \
		"$name: StepPay's request lines reach the error log"
	like "$(cat "$APACHE_ERRORLOG" "$@")" "endpoint=nicepay status=200 outcome=stale" \
		"$name: NicePay's too"
	ok "$name: no secret in the error log" sh -c \
		"! grep -q -e '$SCN_V2_SECRET' -e '$NP_KEY' '$APACHE_ERRORLOG' $*"
	ok "$name: no sanitizer report in the error log" sh -c \
		"! grep -q 'Sanitizer\|runtime error' '$APACHE_ERRORLOG' $*"
}

# --- the reference: the same deliveries as plain CGI, without a server -----------
scenario_run cgi
is "$SCN_MISMATCHES" "0" "plain CGI: every reply as expected"
want_transcript=$SCN_TRANSCRIPT
want_state=$(scenario_state)
like "$want_state" "payhook.payments .*\"status\": \"cancelled\"" "plain CGI: the tables hold the NicePay cancel"
like "$want_state" "payhook.webhook_events .*\"outcome\": \"stale\"" "plain CGI: and stale events"
scenario_reset

# --- shared hosting: mod_fcgid, configured by .htaccess ----------------------------
apache_start "$home/public_html"
ok "the web root does not serve the configuration" test "$(
	curl -s --path-as-is -o /dev/null -w '%{http_code}' --max-time 10 "$APACHE_URL/../payhook.conf")" != 200
phase ".htaccess mod_fcgid" "$APACHE_URL/payhook/%s.fcgi"

# SetEnv reaches a FastCGI program as a request parameter, not in its
# environment: payhook found its configuration there.
fcgi_pids=$(handler_pids)
ok "mod_fcgid runs the handlers as persistent processes ($fcgi_pids)" test -n "$fcgi_pids"
env_has_config=no
for p in $fcgi_pids; do
	! tr '\0' '\n' <"/proc/$p/environ" | grep -q '^PAYHOOK_CONFIG=' || env_has_config=yes
done
is "$env_has_config" "no" "PAYHOOK_CONFIG is not in their environment: it came as a request parameter"
if [ "$(id -u)" = 0 ]; then
	for p in $fcgi_pids; do
		is "$(stat -c %U "/proc/$p")" "$APACHE_USER" "handler process $p runs as $APACHE_USER, not root"
	done
fi

# The README's check of a new install: an unsigned delivery is refused
# with 401 and shows as rejected in the documented query.
printf '{}' >"$home/empty-object.json"
http_post "$APACHE_URL/payhook/steppay-v2.fcgi" application/json "$home/empty-object.json"
is "$HTTP_STATUS" "401" "README step 5: an unsigned delivery gets 401"
is "$(psql_q "SELECT endpoint, outcome FROM (SELECT id, received_at, endpoint, outcome, error
	FROM payhook.webhook_events ORDER BY id DESC LIMIT 5) q ORDER BY id DESC LIMIT 1")" \
	"steppay-v2|rejected" "README step 5: the documented query shows it rejected"

# A configuration every user can read is refused (503), also by a process
# that read it before the chmod.
chmod o+r "$SCN_CONF"
http_post "$APACHE_URL/payhook/nicepay.fcgi" 'application/json;charset=utf-8' "$home/np-paid.json"
is "$HTTP_STATUS" "503" "mod_fcgid: a configuration made world-readable is refused"
chmod o-r "$SCN_CONF"
apache_stop
scenario_reset

# --- shared hosting without FastCGI: the same .htaccess falls back to plain CGI ---
APACHE_NO_FCGID=1 apache_start "$home/public_html"
phase ".htaccess without mod_fcgid (CGI)" "$APACHE_URL/payhook/%s.fcgi"
is "$(handler_pids)" "" "no handler process stays: each request ran one as plain CGI"
apache_stop
scenario_reset
rm "$cgi/.htaccess"

# --- a server of one's own: conf/apache/payhook-fcgid.conf --------------------------
libexec=$home/libexec/payhook
mkdir -p "$libexec"
cp "$top_builddir/cgi-bin/steppay-v2.fcgi" "$top_builddir/cgi-bin/nicepay.fcgi" "$libexec/"
apache_share "$home/libexec" "$libexec" "$libexec"/*.fcgi
sed -e "s#/usr/local/libexec/payhook#$libexec#g" -e "s#/usr/local/etc/payhook.conf#$SCN_CONF#" \
	"$top_srcdir/conf/apache/payhook-fcgid.conf" >"$home/vhost-fcgid.conf"
apache_start "$home/public_html" "Include $home/vhost-fcgid.conf"
phase "payhook-fcgid.conf" "$APACHE_URL/payhook/%s.fcgi"
apache_stop
scenario_reset

# --- mod_proxy_fcgi to handlers under spawn-fcgi: conf/apache/payhook-proxy-fcgi.conf
run=$home/run
mkdir "$run"
apache_share "$run"
for ep in steppay-v2 nicepay; do
	spawnfcgi_start "$run/$ep.sock" "$libexec/$ep.fcgi" "$home/spawn-fcgi.log" \
		PAYHOOK_CONFIG="$SCN_CONF"
done
sed "s#/run/payhook/#$run/#g" "$top_srcdir/conf/apache/payhook-proxy-fcgi.conf" >"$home/vhost-proxy.conf"
apache_start "$home/public_html" "Include $home/vhost-proxy.conf"
phase "payhook-proxy-fcgi.conf" "$APACHE_URL/payhook/%s" "$home/spawn-fcgi.log"
pgid=$APACHE_PID
apache_stop
ok "Apache and every process it started are gone" eval '! srv_group_alive "$pgid"'

tap_done
