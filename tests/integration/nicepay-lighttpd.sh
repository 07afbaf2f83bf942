#!/bin/bash
# NicePay endpoint as a FastCGI program under a real lighttpd with
# mod_fastcgi on 127.0.0.1: the reply NicePay checks, byte for byte, for
# every kind of delivery it answers 200, and the rest of the contract.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

H="$top_builddir/cgi-bin/nicepay.fcgi"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
NP_KEY="np-lighttpd-secret-$$"
printf 'database = %s\nnicepay_secret_key = %s\nallow_from_nicepay = 121.133.126.86/32, 121.133.126.87/32, 127.0.0.1/32\n' \
	"$PH_TEST_CONNINFO" "$NP_KEY" > "$work/payhook.conf"
chmod 0640 "$work/payhook.conf"
chmod 0755 "$work"

lighttpd_start "$H" /nicepay param:PAYHOOK_CONFIG="$work/payhook.conf" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
U="$LIGHTTPD_URL/nicepay"
CT='application/json;charset=utf-8'

# post NAME FILE [CURL_ARG...]: posts FILE and checks NicePay's reply: 200,
# the body exactly the two bytes OK, Content-Type text/html;charset=utf-8.
post_ok() {
	local name=$1 file=$2
	shift 2
	http_post "$U" "$CT" "$file" "$@"
	is "$HTTP_STATUS" "200" "$name: status 200"
	if printf 'OK' | cmp -s - "$ph_http_dir/http-body"; then
		tap_result 0 "$name: body exactly OK"
	else
		tap_result 1 "$name: body exactly OK"
		diag "body: $(od -c "$ph_http_dir/http-body" | head -n 4)"
	fi
	like "$HTTP_HEADERS" $'(^|\n)Content-Type: text/html;charset=utf-8(\n|$)' \
		"$name: Content-Type text/html;charset=utf-8"
}
outcome() {
	psql_q "SELECT outcome FROM payhook.webhook_events ORDER BY id DESC LIMIT 1"
}

T=nictest2m0101260320090000a101
np_payload "$work/paid.json" tid="\"$T\"" orderId='"lt-0001"' ediDate='"2026-03-20T09:00:00.100+0900"'
np_payload "$work/cancel.json" tid="\"$T\"" orderId='"lt-0001"' status='"cancelled"' balanceAmt=0 \
	ediDate='"2026-03-21T09:00:00.100+0900"' cancelledAt='"2026-03-21T09:00:00.000+0900"' \
	cancels='[{"tid":"nictest2m0101260321090000k101","amount":27500,"cancelledAt":"2026-03-21T09:00:00.000+0900","reason":"변심"}]'

post_ok "applied" "$work/paid.json"
is "$(outcome)" "applied" "FastCGI: applied"
post_ok "duplicate" "$work/paid.json"
is "$(psql_q "SELECT delivery_count FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" "2" \
	"FastCGI: duplicate counted"
post_ok "cancel" "$work/cancel.json"
post_ok "paid again after the cancel" "$work/paid.json"
is "$(psql_q "SELECT status || ' ' || balance_amount || ' ' ||
	(SELECT count(*) FROM payhook.payment_cancels) FROM payhook.payments WHERE payment_key = '$T'")" \
	"cancelled 0 1" "FastCGI: cancelled, one cancel row"
np_payload "$work/late.json" tid="\"$T\"" orderId='"lt-0001"' ediDate='"2026-03-22T09:00:00.000+0900"'
post_ok "late paid" "$work/late.json"
is "$(outcome)" "stale" "FastCGI: late paid is stale"

np_payload "$work/unsigned-failed.json" tid='"nictest2m0101260320100000b102"' signature=- \
	status='"failed"' balanceAmt=0
post_ok "unverified" "$work/unsigned-failed.json"
is "$(outcome)" "unverified" "FastCGI: unsigned failed is unverified"

: > "$work/empty"
post_ok "empty sample" "$work/empty"
is "$(outcome)" "test" "FastCGI: empty body is a test"
np_payload "$work/sample.json" tid='"UTWEBHOOKm05012603200000003999"' status='""' payMethod='""' \
	signature='"0000000000000000000000000000000000000000000000000000000000000000"'
post_ok "UTWEBHOOK sample" "$work/sample.json"
is "$(outcome)" "test" "FastCGI: sample is a test"

NP_KEY=wrong np_payload "$work/forged.json" tid='"nictest2m0101260320110000c103"'
http_post "$U" "$CT" "$work/forged.json"
is "$HTTP_STATUS" "401" "FastCGI: forged signature 401"
psql_q "SELECT payhook.nicepay_open_registration_window(60)" >/dev/null
post_ok "forged inside the registration window" "$work/forged.json"
is "$(outcome)" "test" "FastCGI: stored as test"
psql_q "SELECT payhook.nicepay_close_registration_window()" >/dev/null
http_post "$U" "$CT" "$work/forged.json"
is "$HTTP_STATUS" "401" "FastCGI: window closed, 401 again"

np_payload "$work/bad.json" amount=1.5
http_post "$U" "$CT" "$work/bad.json"
is "$HTTP_STATUS" "400" "FastCGI: fractional amount 400"
http_post "$U" text/plain "$work/paid.json"
is "$HTTP_STATUS" "415" "FastCGI: text/plain 415"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$U")
is "$code" "405" "FastCGI: GET 405"

# The database goes away: 503 (NicePay retries), then the process reconnects.
np_payload "$work/paid2.json" tid='"nictest2m0101260320120000d104"' ediDate='"2026-03-20T12:00:00.000+0900"'
pg_stop
http_post "$U" "$CT" "$work/paid2.json"
is "$HTTP_STATUS" "503" "database down: 503"
pg_restart
# No spool_dir is usable here: 503 until the handler's backoff is over.
http_post_until_up "$U" "$CT" "$work/paid2.json"
post_ok "after reconnect" "$work/paid2.json"

like "$(cat "$LIGHTTPD_ERRORLOG")" "endpoint=nicepay status=200 outcome=applied event=payment" \
	"request lines reach lighttpd's error log"
ok "the secret key never reaches the log" sh -c "! grep -q 'np-lighttpd-secret' '$LIGHTTPD_ERRORLOG'"
ok "no sanitizer report in the error log" sh -c "! grep -q 'Sanitizer\|runtime error' '$LIGHTTPD_ERRORLOG'"

tap_done
