#!/bin/bash
# payhook sync against the fake provider API: legacy StepPay notices and
# unsigned NicePay notices confirmed (or refuted) by the API, through the
# real handlers, the real payhook command and a real PostgreSQL; API
# errors, timeouts, bad JSON and 429s leave the tables as they were; the
# keys never show in output or argv; two runs never overlap.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/fake-provider.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"
P="$top_srcdir/tests/payloads/steppay-v1"
PAYHOOK="$top_builddir/bin/payhook"

pg_start
# As a merchant should run it: the handlers and payhook sync as the
# writer role, which may only call payhook's functions.
"$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" >/dev/null
WRITER=$(pg_conninfo payhook_writer)
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"

# The keys: the fake knows them from its environment, payhook from its
# configuration file; neither ever gets them on a command line.
export FAKE_STEPPAY_TOKEN="sp-token-$$-$RANDOM"
export FAKE_NICEPAY_CLIENT="S2_client$$x$RANDOM"
export FAKE_NICEPAY_SECRET="np-secret-$$-$RANDOM"
NP_KEY=$FAKE_NICEPAY_SECRET
fake_start "$work"
F="$work/fixtures"
printf '%s\n' "database = $WRITER" "require_least_privilege = yes" \
	"steppay_api_key = $FAKE_STEPPAY_TOKEN" "steppay_api_url = $FAKE_URL" \
	"nicepay_client_key = $FAKE_NICEPAY_CLIENT" \
	"nicepay_secret_key = $FAKE_NICEPAY_SECRET, second-key-unused" \
	"nicepay_api_url = $FAKE_URL" > "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"
unset PAYHOOK_DATABASE

# Every state table and the event log, as one hash per table.
dump() {
	local t out=
	for t in orders order_items subscriptions subscription_items subscription_status_history \
		payments payment_cancels webhook_events; do
		out="$out $t=$(psql_q "SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, ',' ORDER BY x::text)), '-') FROM payhook.$t x")"
	done
	printf '%s\n' "$out"
}
# sync [ARG...]: runs payhook sync; sets OUT (stdout and stderr) and RC.
all_out="$work/all-output"
sync() {
	# shellcheck disable=SC2086
	OUT=$(${PH_TEST_WRAPPER:-} "$PAYHOOK" sync --jobs 2 "$@" 2>&1) && RC=0 || RC=$?
	printf '%s\n' "$OUT" >> "$all_out"
}

# --- the API's objects (REST names: orderedProductName, customer{}) ------
fake_steppay_objects "$F"

# --- legacy deliveries: one genuine, one forged --------------------------
cgi_run "$V1" POST application/json "$P/order-paid.json"
is "$CGI_STATUS" 200 "legacy order notice accepted"
printf '{"webHookType":"PAYMENT","orderId":66666}' > "$work/forged.json"
cgi_run "$V1" POST application/json "$work/forged.json"
is "$CGI_STATUS" 200 "forged legacy order notice accepted (unauthenticated)"
cgi_run "$V1" POST application/json "$P/subscription-active.json"
cgi_run "$V1" POST application/json "$P/payment.json"
is "$(psql_q "SELECT string_agg(order_id || ':' || verification || ':' || (paid_at IS NOT NULL), ' ' ORDER BY order_id) FROM payhook.orders")" \
	"66666:pending:true 90417:pending:true" "before sync: both orders pending, paid_at set"

# --- NicePay: an unsigned failed notice, stored unverified ---------------
TF=nictest1m0101260302101500f001
np_payload "$work/np-failed.json" tid="\"$TF\"" status='"failed"' signature=null \
	paidAt='"0"' failedAt='"2026-03-02T10:16:00.000+0900"'
cgi_run "$NP" POST 'application/json;charset=utf-8' "$work/np-failed.json"
is "$CGI_STATUS" 200 "unsigned failed NicePay notice answered 200"
is "$(psql_q "SELECT outcome FROM payhook.webhook_events WHERE provider = 'nicepay' ORDER BY id DESC LIMIT 1")" \
	"unverified" "stored unverified"
TG=nictest1m0101260302101500g001     # a notice NicePay never sent
np_payload "$work/np-ghost.json" tid="\"$TG\"" status='"expired"' signature=null
cgi_run "$NP" POST 'application/json;charset=utf-8' "$work/np-ghost.json"
python3 - "$work/np-failed.json" "$F/nicepay/payments/$TF.json" "$NP_KEY" <<'PY'
import hashlib, json, sys
p = json.load(open(sys.argv[1]))
p["resultMsg"] = "결제 실패"
p["signature"] = hashlib.sha256((p["tid"] + str(p["amount"]) + p["ediDate"] + sys.argv[3]).encode()).hexdigest()
json.dump(p, open(sys.argv[2], "w"), ensure_ascii=False)
PY

before=$(dump)

# --- API errors leave every table unchanged --------------------------------
fake_control '{"faults": [{"path": "/api/", "mode": "500"}, {"path": "/v1/", "mode": "500"}]}'
sync --attempts 2
is "$RC" 3 "HTTP 500: exit 3"
like "$OUT" "steppay order 90417: error - StepPay API GET /api/v1/orders/90417: HTTP 500 \(after 2 attempts\)" \
	"HTTP 500: the line names the call, the status and the attempts"
like "$OUT" "nicepay payment $TF: error - NicePay API GET /v1/payments/$TF: HTTP 500" "HTTP 500: NicePay too"
is "$(fake_count /api/v1/orders/90417)" 2 "HTTP 500 retried: 2 attempts"
like "$OUT" "0 verified, 0 failed verification, 0 kept newer state, 6 not checked" "HTTP 500: summary"
is "$(dump)" "$before" "HTTP 500: tables unchanged"

fake_control '{"faults": [{"path": "/", "mode": "429", "retry_after": 1}]}'
t0=$(date +%s%N)
sync --attempts 2 --jobs 1 --limit 1
t1=$(date +%s%N)
is "$RC" 3 "429: exit 3"
like "$OUT" "HTTP 429.*rate limited \(after 2 attempts\)" "429: says rate limited"
ok "429: Retry-After honoured (waited >= 1 s)" test $(((t1 - t0) / 1000000)) -ge 1000
is "$(dump)" "$before" "429: tables unchanged"

fake_control '{"faults": [{"path": "/", "mode": "slow", "delay": 4}]}'
sync --timeout 1 --attempts 1 --limit 1
is "$RC" 3 "timeout: exit 3"
like "$OUT" "error - (StepPay|NicePay) API GET /[^ ]*: .*timed out" "timeout: says so"
is "$(dump)" "$before" "timeout: tables unchanged"

fake_control '{"faults": [{"path": "/", "mode": "badjson"}]}'
sync --attempts 3
is "$RC" 3 "bad JSON: exit 3"
like "$OUT" "HTTP 200 but the reply is not a JSON object" "bad JSON: says so"
is "$(fake_count /api/v1/orders/90417)" 3 "bad JSON not retried (3 requests: 2 from the 500 run, 1 now)"
is "$(dump)" "$before" "bad JSON: tables unchanged"

fake_control '{"faults": [{"path": "/v1/", "mode": "resultcode", "code": "U104", "msg": "auth failed"}, {"path": "/api/", "mode": "resultcode", "status": 401, "code": "UNAUTHORIZED", "msg": "bad token"}]}'
sync
is "$RC" 3 "provider error codes: exit 3"
like "$OUT" "HTTP 401, errorCode UNAUTHORIZED \(bad token\)" "StepPay errorCode and errorMessage shown"
like "$OUT" "HTTP 200, resultCode U104 \(auth failed\)" "NicePay resultCode and resultMsg shown"
is "$(dump)" "$before" "provider errors: tables unchanged"

fake_control '{"faults": [{"path": "/v1/", "mode": "500"}]}'
OUT=$(PAYHOOK_STEPPAY_API_KEY=wrong-token "$PAYHOOK" sync --attempts 1 2>&1) && RC=0 || RC=$?
printf '%s\n' "$OUT" >> "$all_out"
like "$OUT" "HTTP 401, errorCode UNAUTHORIZED" "a wrong Secret-Token is refused by the API"
fake_control '{"faults": [{"path": "/api/", "mode": "500"}]}'
OUT=$(PAYHOOK_NICEPAY_CLIENT_KEY= "$PAYHOOK" sync --attempts 1 2>&1) && RC=0 || RC=$?
printf '%s\n' "$OUT" >> "$all_out"
like "$OUT" "nicepay_client_key and nicepay_secret_key must both be set" "a missing key is named"
is "$RC" 3 "a missing key: exit 3"
is "$(dump)" "$before" "errors: tables unchanged"

# --- a second run while one holds the lock steps aside ---------------------
psql -X -q -h "$PH_PG_SOCKDIR" -p "$PH_PG_PORT" -U postgres -d payhook_test \
	-c "SELECT pg_advisory_lock(x'7170686f6f6b73'::bigint)" -c "SELECT pg_sleep(30)" \
	>/dev/null 2>&1 &
locker=$!
ph_on_exit kill "$locker"
for i in $(seq 1 100); do
	[ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
	sleep 0.1
done
fake_control '{"faults": []}'
sync
is "$RC" 0 "locked: exit 0"
like "$OUT" "another payhook sync is running; nothing done" "locked: says another run is going on"
is "$(dump)" "$before" "locked: tables unchanged"
psql_q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'" >/dev/null
wait "$locker" 2>/dev/null || true
for i in $(seq 1 100); do
	[ "$(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ] && break
	sleep 0.1
done

# --- the API answers: verified, or failed -----------------------------------
n_before=$(fake_count /api/v1/orders/90417)
sync
is "$RC" 0 "sync: exit 0"
like "$OUT" "steppay order 90417: verified - order 90417 verified" "order 90417 line"
like "$OUT" "steppay order 66666: failed - order 66666 unknown to StepPay: verification failed" \
	"forged order line"
like "$OUT" "steppay subscription 4021: verified" "subscription line"
like "$OUT" "steppay receipt 1718236799412aB3dE5fG7hJ9kL1m: verified - receipt pay_880231 COMPLETE verified" \
	"receipt line"
like "$OUT" "nicepay payment $TF: verified - payment $TF created failed" "NicePay unsigned notice confirmed"
like "$OUT" "nicepay payment $TG: failed - payment $TG unknown to NicePay" "NicePay ghost notice refuted"
like "$OUT" "sync: 6 objects: 4 verified, 2 failed verification, 0 kept newer state, 0 not checked" "summary"
is "$(fake_count /api/v1/orders/90417)" "$((n_before + 1))" "one request per object"

is "$(psql_q "SELECT verification || '|' || paid_at AT TIME ZONE 'UTC' || '|' || paid_amount || '|' || left_amount || '|' || code || '|' || type || '|' || customer_id || '|' || product_name || '|' || modified_at AT TIME ZONE 'UTC' FROM payhook.orders WHERE order_id = '90417'")" \
	"verified|2024-06-12 23:59:41.208351|32000.0|32000.0|order_Q7wXk2LmP|RECURRING|24817|월간 원두 구독 (스탠다드 플랜)|2024-06-12 23:59:41.30517" \
	"order 90417: full fields from the API, verified"
is "$(psql_q "SELECT string_agg(item_id || ':' || product_name || ':' || paid_amount || ':' || coalesce(plan_name, '-'), ' ' ORDER BY item_id) FROM payhook.order_items WHERE order_id = '90417'")" \
	"131552:월간 원두 구독:29000.0:스탠다드 플랜 131553:배송비:3000.0:-" "order 90417: items (REST names mapped)"
is "$(psql_q "SELECT verification || '|' || (paid_at IS NULL) FROM payhook.orders WHERE order_id = '66666'")" \
	"failed|true" "forged order: verification failed, paid_at NULL"
is "$(psql_q "SELECT count(*) FROM payhook.paid_orders WHERE order_id = '66666'")" 0 "forged order not in paid_orders"
is "$(psql_q "SELECT status || '|' || verification || '|' || interval_unit || '|' || customer_id || '|' || order_id FROM payhook.subscriptions WHERE subscription_id = '4021'")" \
	"PAUSE|verified|MONTH|24817|90001" "subscription 4021: the API's status replaces the notice's"
is "$(psql_q "SELECT payment_key || '|' || status || '|' || amount || '|' || verification FROM payhook.payments WHERE provider = 'steppay'")" \
	"pay_880231|COMPLETE|15000|verified" "provisional payment re-keyed by the receipt, verified"
is "$(psql_q "SELECT status || '|' || verification || '|' || result_msg FROM payhook.payments WHERE payment_key = '$TF'")" \
	"failed|verified|결제 실패" "NicePay failed payment applied once confirmed"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE payment_key = '$TG'")" 0 "NicePay ghost notice never applied"
is "$(psql_q "SELECT count(*) || '|' || count(DISTINCT id) || '|' || bool_and(dedupe_key IS NULL) FROM payhook.webhook_events WHERE endpoint = 'sync'")" \
	"6|6|true" "one sync row per fetch, not deduplicated"
is "$(psql_q "SELECT event_type || ':' || outcome FROM payhook.webhook_events WHERE endpoint = 'sync' AND payload->>'key' = '66666'")" \
	"sync.order:applied" "the refutation is in the event log"

# --- idempotent ---------------------------------------------------------------
after=$(dump)
sync
is "$RC" 0 "second sync: exit 0"
is "$OUT" "sync: nothing to verify" "second sync: nothing to verify"
is "$(dump)" "$after" "second sync changes nothing"

# --since re-fetches: a newer modifiedAt replaces, the same object is stale
sed -i 's/"paidAmount": 32000.0/"paidAmount": 31000.0/; s/"modifiedAt": "2024-06-12T23:59:41.30517"/"modifiedAt": "2024-06-13T08:00:00"/' \
	"$F/steppay/orders/90417.json"
sync --since '2000-01-01'
is "$RC" 0 "--since: exit 0"
like "$OUT" "steppay order 90417: verified" "--since: order fetched again"
is "$(psql_q "SELECT paid_amount FROM payhook.orders WHERE order_id = '90417'")" "31000.0" \
	"--since: the newer modifiedAt wins"

# --- secrets ------------------------------------------------------------------
for s in "$FAKE_STEPPAY_TOKEN" "$FAKE_NICEPAY_CLIENT" "$FAKE_NICEPAY_SECRET"; do
	if grep -qF -- "$s" "$all_out" "$PH_PG_LOG"; then
		tap_result 1 "a key appears in the output or the server log"
	else
		tap_result 0 "key not in any output or log"
	fi
done
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE payload::text LIKE '%' || '$FAKE_STEPPAY_TOKEN' || '%' OR payload::text LIKE '%' || '$FAKE_NICEPAY_SECRET' || '%'")" \
	0 "no key in the event log"
fake_control '{"faults": [{"path": "/", "mode": "slow", "delay": 2}]}'
"$PAYHOOK" sync --all --timeout 1 --attempts 1 >/dev/null 2>&1 &
spid=$!
sleep 0.5
args=$(tr '\0' ' ' < "/proc/$spid/cmdline" 2>/dev/null || true)
like "$args" "sync --all" "process list read while a sync runs"
case $args in
*"$FAKE_STEPPAY_TOKEN"* | *"$FAKE_NICEPAY_SECRET"*) tap_result 1 "no key in the process list" ;;
*) tap_result 0 "no key in the process list" ;;
esac
wait "$spid" || true

tap_done
