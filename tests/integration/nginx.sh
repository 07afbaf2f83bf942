#!/bin/bash
# The StepPay v2 and NicePay handlers under spawn-fcgi behind a real nginx
# on 127.0.0.1, configured with conf/nginx/payhook.conf: first with the
# configuration file named by a fastcgi_param, then started as the systemd
# unit conf/nginx/payhook-fcgi@.service starts them (its ExecStart and
# Environment lines), with PAYHOOK_CONFIG in their environment. The same
# deliveries leave the same tables as plain CGI driven directly.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/nginx.sh"
. "$top_srcdir/tests/lib/spawn-fcgi.sh"
. "$top_srcdir/tests/lib/scenario.sh"

command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip_all "nginx is not installed (tests/lib/install-deps.sh)"
command -v spawn-fcgi >/dev/null || skip_all "spawn-fcgi is not installed (tests/lib/install-deps.sh)"
unit=$top_srcdir/conf/nginx/payhook-fcgi@.service

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null

home=$(mktemp -d /tmp/payhook-home.XXXXXX)
ph_on_exit rm -rf "$home"
chmod 0755 "$home"
scenario_prepare "$home"
libexec=$home/libexec/payhook
run=$home/run
mkdir -p "$libexec" "$run"
cp "$top_builddir/cgi-bin/steppay-v2.fcgi" "$top_builddir/cgi-bin/nicepay.fcgi" "$libexec/"
chmod 0755 "$home/libexec" "$libexec" "$libexec"/*.fcgi
if [ "$(id -u)" = 0 ]; then
	chgrp "$SPAWNFCGI_USER" "$SCN_CONF"
	chown "$SPAWNFCGI_USER" "$run"
fi
chmod 0750 "$run"
[ "$(id -u)" != 0 ] || chgrp "$NGINX_USER" "$run"

# phase NAME LOG: the deliveries through nginx, compared with plain CGI's.
phase() {
	local name=$1 log=$2
	scenario_run http "$NGINX_URL/payhook/%s"
	is "$SCN_MISMATCHES" "0" "$name: every reply as expected"
	is "$SCN_TRANSCRIPT" "$want_transcript" "$name: the same replies as plain CGI"
	is "$(scenario_state)" "$want_state" "$name: the same tables as plain CGI (arrival times aside)"
	like "$(cat "$log")" "endpoint=steppay-v2 status=200 outcome=applied event=subscription.created" \
		"$name: StepPay's request lines reach the handlers' log"
	like "$(cat "$log")" "endpoint=nicepay status=200 outcome=stale" "$name: NicePay's too"
	ok "$name: no secret in the logs" sh -c \
		"! grep -q -e '$SCN_V2_SECRET' -e '$NP_KEY' '$log' '$NGINX_ERRORLOG'"
	ok "$name: no sanitizer report in the logs" sh -c \
		"! grep -q 'Sanitizer\|runtime error' '$log' '$NGINX_ERRORLOG'"
}

# --- the reference: plain CGI -------------------------------------------------------
scenario_run cgi
is "$SCN_MISMATCHES" "0" "plain CGI: every reply as expected"
want_transcript=$SCN_TRANSCRIPT
want_state=$(scenario_state)
scenario_reset

# --- spawn-fcgi by hand; PAYHOOK_CONFIG as a fastcgi_param ---------------------------
for ep in steppay-v2 nicepay; do
	spawnfcgi_start "$run/$ep.sock" "$libexec/$ep.fcgi" "$home/handlers.log"
done
sed -e "s#/run/payhook/#$run/#" -e "s#/usr/local/etc/payhook.conf#$SCN_CONF#" \
	"$top_srcdir/conf/nginx/payhook.conf" >"$home/payhook-param.conf"
ok "the example names the configuration with a fastcgi_param" \
	grep -q "fastcgi_param PAYHOOK_CONFIG $SCN_CONF;" "$home/payhook-param.conf"
nginx_start "$home/payhook-param.conf"
phase "nginx, fastcgi_param" "$home/handlers.log"
if [ "$(id -u)" = 0 ]; then
	for p in $SPAWNFCGI_PIDS; do
		is "$(stat -c %U "/proc/$p")" "$SPAWNFCGI_USER" "handler $p runs as $SPAWNFCGI_USER"
	done
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$NGINX_URL/payhook/nicepay")
is "$code" "405" "nginx: GET reaches the handler (405)"
nginx_stop
spawnfcgi_stop_all
scenario_reset

# --- as the systemd unit runs them; PAYHOOK_CONFIG in the environment ----------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
unit_env=$(sed -n 's/^Environment=//p' "$unit")
like "$exec_start" "^/usr/bin/spawn-fcgi -n -s /run/payhook/%i.sock " "the unit runs spawn-fcgi in the foreground"
is "$unit_env" "PAYHOOK_CONFIG=/usr/local/etc/payhook.conf" "the unit names the configuration"
unit_user=$(sed -n 's/^User=//p' "$unit")
: >"$home/unit.log"
for ep in steppay-v2 nicepay; do
	cmd=$(printf '%s\n' "$exec_start" | sed -e "s#%i#$ep#g" -e "s#/run/payhook/#$run/#" \
		-e "s#/usr/local/libexec/payhook/#$libexec/#" -e "s#^/usr/bin/spawn-fcgi#$(command -v spawn-fcgi)#")
	env=$(printf '%s\n' "$unit_env" | sed "s#/usr/local/etc/payhook.conf#$SCN_CONF#")
	as=()
	# systemd's User= and Group=: the unit's user, when we are root.
	[ "$(id -u)" != 0 ] || as=(setpriv --reuid="$unit_user" --regid="$unit_user" --init-groups)
	# shellcheck disable=SC2086 # the unit's command line, split as systemd does (no quotes in it)
	srv_spawn "$home/unit.log" env -i PATH="$PATH" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
		${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} "$env" "${as[@]}" $cmd
	SPAWNFCGI_PIDS="$SPAWNFCGI_PIDS $SRV_PID"
	SPAWNFCGI_LOGS="$SPAWNFCGI_LOGS $home/unit.log"
	for i in $(seq 1 100); do
		[ ! -S "$run/$ep.sock" ] || break
		sleep 0.1
	done
done
ok "the unit's command line listens on the sockets" test -S "$run/steppay-v2.sock" -a -S "$run/nicepay.sock"
sed -e "s#/run/payhook/#$run/#" -e '/fastcgi_param PAYHOOK_CONFIG/d' \
	"$top_srcdir/conf/nginx/payhook.conf" >"$home/payhook-env.conf"
nginx_start "$home/payhook-env.conf"
phase "nginx, systemd unit's command line" "$home/unit.log"
pgid=$NGINX_PID
nginx_stop
spawnfcgi_stop_all
ok "nginx and every process it started are gone" eval '! srv_group_alive "$pgid"'

tap_done
