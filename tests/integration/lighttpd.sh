#!/bin/bash
# The StepPay v2 and NicePay handlers as FastCGI programs under a real
# lighttpd on 127.0.0.1 (mod_fastcgi, the configuration file named in the
# handlers' environment, as conf/lighttpd/ shows): the same deliveries
# leave the same tables as plain CGI driven directly, as under Apache
# (apache.sh) and nginx (nginx.sh).
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"
. "$top_srcdir/tests/lib/scenario.sh"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
home=$(mktemp -d /tmp/payhook-home.XXXXXX)
ph_on_exit rm -rf "$home"
chmod 0755 "$home"
scenario_prepare "$home"

# --- the reference: plain CGI -------------------------------------------------------
scenario_run cgi
is "$SCN_MISMATCHES" "0" "plain CGI: every reply as expected"
want_transcript=$SCN_TRANSCRIPT
want_state=$(scenario_state)
scenario_reset

# --- lighttpd ---------------------------------------------------------------------------
lighttpd_start "$top_builddir/cgi-bin/steppay-v2.fcgi" /payhook/steppay-v2 \
	"handler:/payhook/nicepay=$top_builddir/cgi-bin/nicepay.fcgi" \
	PAYHOOK_CONFIG="$SCN_CONF"
scenario_run http "$LIGHTTPD_URL/payhook/%s"
is "$SCN_MISMATCHES" "0" "lighttpd: every reply as expected"
is "$SCN_TRANSCRIPT" "$want_transcript" "lighttpd: the same replies as plain CGI"
is "$(scenario_state)" "$want_state" "lighttpd: the same tables as plain CGI (arrival times aside)"
like "$(cat "$LIGHTTPD_ERRORLOG")" "endpoint=steppay-v2 status=200 outcome=applied event=subscription.created" \
	"lighttpd: StepPay's request lines reach the error log"
like "$(cat "$LIGHTTPD_ERRORLOG")" "endpoint=nicepay status=200 outcome=stale" "lighttpd: NicePay's too"
ok "lighttpd: no secret in the log" sh -c \
	"! grep -q -e '$SCN_V2_SECRET' -e '$NP_KEY' '$LIGHTTPD_ERRORLOG'"
lighttpd_stop

tap_done
