#!/bin/bash
# StepPay legacy endpoint as a FastCGI program under a real lighttpd with
# mod_fastcgi on 127.0.0.1: persistent processes, persistent database
# connections, and reconnection after the database restarts.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"

H="$top_builddir/cgi-bin/steppay-v1.fcgi"
P="$top_srcdir/tests/payloads/steppay-v1"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
printf 'database = %s\nsteppay_v1_token = t0k\n' "$PH_TEST_CONNINFO" > "$work/payhook.conf"
chmod 0640 "$work/payhook.conf"
chmod 0755 "$work"

# The configuration is named the way Apache's SetEnv names it: as a
# FastCGI request parameter, not in the process environment.
lighttpd_start "$H" /steppay-v1 param:PAYHOOK_CONFIG="$work/payhook.conf" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
U="$LIGHTTPD_URL/steppay-v1?token=t0k"

http_post "$U" application/json "$P/subscription-active.json"
is "$HTTP_STATUS" "200" "FastCGI: subscription notice 200"
is "$HTTP_BODY" "applied" "FastCGI: applied"
http_post "$U" application/json "$P/subscription-active.json"
is "$HTTP_BODY" "duplicate" "FastCGI: duplicate"
http_post "$U" application/json "$P/subscription-pause.json"
http_post "$U" application/json "$P/subscription-active.json"
is "$(psql_q "SELECT status || ' ' || (SELECT count(*) FROM payhook.subscription_status_history)
	FROM payhook.subscriptions WHERE subscription_id = '4021'")" "ACTIVE 3" \
	"ACTIVE -> PAUSE -> ACTIVE: three history rows"
http_post "$U" application/x-www-form-urlencoded "$P/payment.form"
is "$HTTP_BODY" "applied" "FastCGI: form-encoded payment notice"
http_post "$U" application/json "$P/order-paid.json"
is "$(psql_q "SELECT count(*) FROM payhook.orders WHERE paid_at IS NOT NULL")" "1" "FastCGI: order paid"

http_post "$LIGHTTPD_URL/steppay-v1" application/json "$P/order-paid.json"
is "$HTTP_STATUS" "401" "FastCGI: no token 401"
http_post "$U" application/json "$P/bad-truncated.json"
is "$HTTP_STATUS" "400" "FastCGI: malformed JSON 400"
http_post "$U" text/plain "$P/order-paid.json"
is "$HTTP_STATUS" "415" "FastCGI: text/plain 415"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$U")
is "$code" "405" "FastCGI: GET 405"
like "$(curl -s -D - -o /dev/null --max-time 10 "$U")" "Allow: POST" "FastCGI: 405 carries Allow"
head -c 1048577 /dev/zero | tr '\0' ' ' > "$work/big.json"
http_post "$U" application/json "$work/big.json"
is "$HTTP_STATUS" "413" "FastCGI: body over the default max_body_bytes 413"

# Many requests, few processes: one connection per process, not per request.
for i in $(seq 1 40); do
	printf '{"id":%d,"status":"ACTIVE"}' $((5000 + i)) > "$work/s.json"
	http_post "$U" application/json "$work/s.json"
	[ "$HTTP_STATUS" = 200 ] || break
done
is "$HTTP_STATUS" "200" "40 more deliveries accepted"
backends=$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'steppay-v1'")
ok "at most one database connection per FastCGI process ($backends)" test "$backends" -le 2 -a "$backends" -ge 1

# The database goes away and comes back: 503 meanwhile, then reconnect.
pg_stop
http_post "$U" application/json "$P/subscription-unpaid.json"
is "$HTTP_STATUS" "503" "database down: 503"
pg_restart
# No spool_dir is usable here: 503 until the handler's backoff is over.
http_post_until_up "$U" application/json "$P/subscription-unpaid.json"
is "$HTTP_STATUS" "200" "database back: the same process reconnects"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '4021'")" \
	"UNPAID" "delivery after reconnect applied"

like "$(cat "$LIGHTTPD_ERRORLOG")" "endpoint=steppay-v1 status=200 outcome=applied" \
	"request lines reach lighttpd's error log"
ok "the token never reaches the log" sh -c "! grep -q 't0k' '$LIGHTTPD_ERRORLOG'"
ok "no sanitizer report in the error log" sh -c "! grep -q 'Sanitizer\|runtime error' '$LIGHTTPD_ERRORLOG'"

tap_done
