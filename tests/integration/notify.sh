#!/bin/bash
# NOTIFY payhook: off by default; with payhook.notify = on, a LISTEN
# session hears each recorded delivery once, at commit, with its final
# outcome and the object's key; re-deliveries are not notified.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"
P1="$top_srcdir/tests/payloads/steppay-v1"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf" PAYHOOK_DATABASE="$PH_TEST_CONNINFO"
NP_KEY="np-notify-secret-$$"
export PAYHOOK_NICEPAY_SECRET_KEY="$NP_KEY"
np_payload "$work/card.json" tid='"notify-tid-0001"'

# listen SECONDS OUT: a LISTEN session in the background for SECONDS.
listen() {
	printf 'LISTEN payhook;\nSELECT pg_sleep(%s);\n' "$1" |
		psql -X -q -At >"$2" 2>&1 &
	listener=$!
	# Until the session listens (bounded).
	for _ in $(seq 1 50); do
		[ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'")" = 1 ] && break
		sleep 0.1
	done
}

listen 3 "$work/off.out"
cgi_run "$V1" POST application/json "$P1/order-paid.json"
is "$CGI_STATUS" 200 "delivery stored"
wait "$listener" || true
ok "off by default: nothing notified" sh -c "! grep -q 'Asynchronous notification' '$work/off.out'"

psql_q "ALTER DATABASE payhook_test SET payhook.notify = on" >/dev/null
listen 8 "$work/on.out"
cgi_run "$V1" POST application/json "$P1/subscription-unpaid.json"
cgi_run "$NP" POST application/json "$work/card.json"
is "$CGI_STATUS" 200 "NicePay notification stored"
cgi_run "$NP" POST application/json "$work/card.json"
is "$CGI_STATUS" 200 "NicePay re-delivery answered"
wait "$listener" || true
n=$(grep -c 'Asynchronous notification "payhook"' "$work/on.out" || true)
is "$n" 2 "on: one notification per recorded delivery, none for the re-delivery"
like "$(cat "$work/on.out")" '"provider" : "steppay", "event_type" : "subscription", "key" : "4021", "outcome" : "applied"' \
	"the StepPay notice: provider, event type, key, outcome"
like "$(cat "$work/on.out")" '"provider" : "nicepay", "event_type" : "payment", "key" : "notify-tid-0001", "outcome" : "applied"' \
	"the NicePay notification: its tid"

tap_done
