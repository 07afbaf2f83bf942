#!/bin/bash
# payhook reconcile: a date range of local rows against the fake provider
# API; each kind of difference is reported once, exit 1; a range without
# differences exits 0; API errors exit 3; nothing is written.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/fake-provider.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"
PAYHOOK="$top_builddir/bin/payhook"

pg_start
# As the writer role, which may only call payhook's functions.
"$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" >/dev/null
WRITER=$(pg_conninfo payhook_writer)
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
export FAKE_STEPPAY_TOKEN="sp-token-$$-$RANDOM"
export FAKE_NICEPAY_CLIENT="S2_client$$x$RANDOM"
export FAKE_NICEPAY_SECRET="np-secret-$$-$RANDOM"
NP_KEY=$FAKE_NICEPAY_SECRET
fake_start "$work"
F="$work/fixtures"
printf '%s\n' "database = $WRITER" "require_least_privilege = yes" \
	"steppay_api_key = $FAKE_STEPPAY_TOKEN" "steppay_api_url = $FAKE_URL" \
	"nicepay_client_key = $FAKE_NICEPAY_CLIENT" "nicepay_secret_key = $FAKE_NICEPAY_SECRET" \
	"nicepay_api_url = $FAKE_URL" > "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

order() { # ID PAID_AMOUNT PAYMENT_DATE|null
	printf '{"id": %s, "code": "order_%s", "type": "RECURRING", "paidAmount": %s, "paymentDate": %s, "createdAt": "2024-06-12T10:00:00", "modifiedAt": "2024-06-12T10:00:01"}\n' \
		"$1" "$1" "$2" "$3" > "$F/steppay/orders/$1.json"
}
notice() { # ORDER_ID
	printf '{"webHookType":"PAYMENT","orderId":%s}' "$1" > "$work/n.json"
	cgi_run "$V1" POST application/json "$work/n.json"
}
order 90417 32000.0 '"2024-06-12T10:00:00"'
order 90418 12000.0 '"2024-06-12T11:00:00"'
notice 90417
notice 66666
"$PAYHOOK" sync >/dev/null 2>&1 || true
is "$(psql_q "SELECT string_agg(order_id || ':' || verification, ' ' ORDER BY order_id) FROM payhook.orders")" \
	"66666:failed 90417:verified" "setup: 90417 verified, 66666 failed"
notice 77777           # pending, and StepPay does not know it
order 90417 30000.0 '"2024-06-12T10:00:00"'    # the provider's amount changed

TP=nictest1m0101260302101500p001   # paid locally, cancelled at NicePay
TU=nictest1m0101260302101500u001   # paid locally, unknown to NicePay
np_payload "$work/p.json" tid="\"$TP\""
cgi_run "$NP" POST 'application/json;charset=utf-8' "$work/p.json"
np_payload "$work/u.json" tid="\"$TU\"" orderId='"shop-2603-0002"'
cgi_run "$NP" POST 'application/json;charset=utf-8' "$work/u.json"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE provider = 'nicepay' AND status = 'paid'")" 2 \
	"setup: two NicePay payments paid"
python3 - "$work/p.json" "$F/nicepay/payments/$TP.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p.update(status="cancelled", balanceAmt=0, cancelledAt="2026-03-03T09:00:00.000+0900")
json.dump(p, open(sys.argv[2], "w"), ensure_ascii=False)
PY

before=$(psql_q "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM payhook.webhook_events x")
today=$(date -u +%F)
OUT=$("$PAYHOOK" reconcile --from 2024-06-01 --to "$today" 2>&1) && RC=0 || RC=$?
is "$RC" 1 "differences: exit 1"
like "$OUT" "steppay order 90417: amount differs \(local: paid 32000; StepPay: paid 30000\)" "amount differs"
like "$OUT" "steppay order 90418: missing locally \(local: -; StepPay: paid 12000\)" "missing locally"
like "$OUT" "steppay order 77777: unknown to StepPay \(local: paid -; StepPay: -\)" "unknown to StepPay"
like "$OUT" "nicepay payment $TP: status differs \(local: paid 27500 balance 27500; NicePay: cancelled 27500 balance 0\)" \
	"status differs"
like "$OUT" "nicepay payment $TU: unknown to NicePay" "unknown to NicePay"
if [[ $OUT == *66666* ]]; then tap_result 1 "failed verification left out"; else tap_result 0 "failed verification left out"; fi
like "$OUT" "reconcile 2024-06-01\.\.$today: 5 differences$" "summary"
is "$(psql_q "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM payhook.webhook_events x")" \
	"$before" "reconcile writes nothing"

OUT=$("$PAYHOOK" reconcile --provider steppay --from 2020-01-01 --to 2020-01-31 2>&1) && RC=0 || RC=$?
is "$RC" 0 "a range without differences: exit 0"
like "$OUT" "0 differences" "says 0 differences"

fake_control '{"faults": [{"path": "/", "mode": "500"}]}'
OUT=$("$PAYHOOK" reconcile --from 2024-06-01 --to "$today" --attempts 1 2>&1) && RC=0 || RC=$?
is "$RC" 3 "API errors: exit 3"
like "$OUT" "steppay orders: error - StepPay API GET /api/v1/orders\?startDate=2024-06-01.*HTTP 500" \
	"API errors: the call and status named"
like "$OUT" "some objects could not be checked" "API errors: the summary says so"
fake_control '{"faults": []}'

OUT=$("$PAYHOOK" reconcile --from 2024-06-02 --to 2024-06-01 2>&1) && RC=0 || RC=$?
is "$RC" 2 "--from after --to: usage error"
OUT=$("$PAYHOOK" reconcile --from 2024-6-1 --to 2024-06-30 2>&1) && RC=0 || RC=$?
is "$RC" 2 "a malformed date: usage error"

tap_done
