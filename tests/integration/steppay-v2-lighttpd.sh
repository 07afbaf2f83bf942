#!/bin/bash
# StepPay v2 as a FastCGI program under a real lighttpd on 127.0.0.1: the
# signature header travels as a real HTTP header, processes persist, and
# a configuration edit (secret rotation) is noticed without a restart.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"

H="$top_builddir/cgi-bin/steppay-v2.fcgi"
P="$top_srcdir/tests/payloads/steppay-v2"
SECRET="whsec-lighttpd-$$"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
printf 'database = %s\nsteppay_v2_secret = %s\n' "$PH_TEST_CONNINFO" "$SECRET" > "$work/payhook.conf"
chmod 0640 "$work/payhook.conf"
chmod 0755 "$work"

lighttpd_start "$H" /steppay-v2 PAYHOOK_CONFIG="$work/payhook.conf" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
U="$LIGHTTPD_URL/steppay-v2"

sign() { # FILE SECRET: a Steppay-Signature header value
	steppay_v2_signature "$1" "$2"
}
post() { # FILE [SECRET]
	http_post "$U" application/json "$1" -H "Steppay-Signature: $(sign "$1" "${2:-$SECRET}")"
}

post "$P/subscription-created.json"
is "$HTTP_STATUS $HTTP_BODY" "200 applied" "FastCGI: signed subscription.created applied"
post "$P/subscription-created.json"
is "$HTTP_STATUS $HTTP_BODY" "200 duplicate" "FastCGI: the same body again is a duplicate"
http_post "$U" application/json "$P/subscription-updated-pause.json" \
	-H "steppay-signature: $(sign "$P/subscription-updated-pause.json" "$SECRET")"
is "$HTTP_STATUS $HTTP_BODY" "200 applied" "FastCGI: the header name in lower case"
post "$P/subscription-created.json"
is "$(psql_q "SELECT status FROM payhook.subscriptions")" "PAUSE" "FastCGI: state is the newest snapshot"
post "$P/payment-completed.json" wrong-secret
is "$HTTP_STATUS" "401" "FastCGI: wrong signature 401"
http_post "$U" application/json "$P/payment-completed.json"
is "$HTTP_STATUS" "401" "FastCGI: no signature 401"
# The header twice: lighttpd joins the copies; conflicting ones are forged.
good=$(sign "$P/payment-completed.json" "$SECRET")
bad=$(sign "$P/payment-completed.json" "not-$SECRET")
before=$(psql_q "SELECT count(*) FROM payhook.payments")
http_post "$U" application/json "$P/payment-completed.json" \
	-H "Steppay-Signature: $bad" -H "Steppay-Signature: $good"
is "$HTTP_STATUS" "401" "FastCGI: header repeated, forged copy first: 401"
http_post "$U" application/json "$P/payment-completed.json" \
	-H "Steppay-Signature: $good" -H "Steppay-Signature: $bad"
is "$HTTP_STATUS" "401" "FastCGI: header repeated, forged copy last: 401"
is "$(psql_q "SELECT count(*) FROM payhook.payments")" "$before" \
	"FastCGI: a repeated conflicting header applies nothing"
like "$(cat "$LIGHTTPD_ERRORLOG")" "repeated with conflicting" "the log says why"
http_post "$U" "application/json; charset=utf-8" "$P/payment-completed.json" \
	-H "Steppay-Signature: $(sign "$P/payment-completed.json" "$SECRET")"
is "$HTTP_STATUS $HTTP_BODY" "200 applied" "FastCGI: application/json with a charset"

# Rotation without a restart: the processes notice the edited file.
sleep 1
printf 'database = %s\nsteppay_v2_secret = %s, new-%s\n' "$PH_TEST_CONNINFO" "$SECRET" "$SECRET" \
	> "$work/payhook.conf"
post "$P/customer-created.json" "new-$SECRET"
is "$HTTP_STATUS $HTTP_BODY" "200 applied" "FastCGI: a secret added to the file is used at once"

for f in customer-updated customer-deleted product-created price-created invoice-created \
	order-created order-payment-completed cover-sent-message; do
	post "$P/$f.json"
	[ "$HTTP_STATUS" = 200 ] || break
done
is "$HTTP_STATUS" "200" "FastCGI: more event types accepted"
backends=$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'steppay-v2'")
ok "at most one database connection per FastCGI process ($backends)" test "$backends" -le 2 -a "$backends" -ge 1

like "$(cat "$LIGHTTPD_ERRORLOG")" "endpoint=steppay-v2 status=200 outcome=applied event=subscription.created" \
	"request lines reach lighttpd's error log"
ok "the secret never reaches the log" sh -c "! grep -q '$SECRET' '$LIGHTTPD_ERRORLOG'"
ok "no sanitizer report in the error log" sh -c "! grep -q 'Sanitizer\|runtime error' '$LIGHTTPD_ERRORLOG'"

tap_done
