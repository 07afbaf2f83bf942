#!/bin/bash
# payhook rebuild: the state tables are a function of webhook_events.
# The scenario sets of the three endpoint tests go through the real
# handlers (plain CGI) into a real PostgreSQL; the state is dumped; then
# `payhook rebuild` (everything, and each selector) must leave the same
# tables, write nothing to the event log, repair a corrupted row, and
# change nothing with --dry-run.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

PAYHOOK="$top_builddir/bin/payhook"
P1="$top_srcdir/tests/payloads/steppay-v1"
P2="$top_srcdir/tests/payloads/steppay-v2"
V2_SECRET="whsec-rebuild-$$"
NP_KEY="np-key-rebuild-$$"

pg_start
"$PAYHOOK" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
printf 'database = %s\nsteppay_v2_secret = %s\nnicepay_secret_key = %s\n' \
	"$PH_TEST_CONNINFO" "$V2_SECRET" "$NP_KEY" > "$work/payhook.conf"
chmod 0600 "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

# Every state table (every payhook table but the event log, the
# registration windows the admin opens, and the migrations), found in the
# catalog, one line per row, without the columns that record when payhook
# did something: received_at and updated_at (DESIGN.md), and
# sync_requested_at (when a legacy notice queued the object for payhook
# sync; a replay queues it again, at the rebuild's time).
psql_q "CREATE FUNCTION public.test_state() RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE t text; r text; out text := '';
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'payhook' AND c.relkind = 'r'
              AND c.relname NOT IN ('webhook_events', 'nicepay_registration_windows',
                                    'schema_migrations')
            ORDER BY 1 LOOP
    EXECUTE format('SELECT coalesce(string_agg(j::text, E''\n'' ORDER BY j::text), '''')
                      FROM (SELECT to_jsonb(x) - ''received_at'' - ''updated_at''
                                   - ''sync_requested_at'' AS j FROM payhook.%I x) s', t) INTO r;
    out := out || '== ' || t || E'\n' || r || E'\n';
  END LOOP;
  RETURN out;
END \$f\$" >/dev/null
state() { psql_q "SELECT public.test_state()"; }
# The event log, whole: a rebuild reads it and never writes it.
event_log() { psql_q "SELECT string_agg(to_jsonb(e)::text, E'\n' ORDER BY id) FROM payhook.webhook_events e"; }
rows() { psql_q "SELECT count(*) FROM payhook.$1"; }

# ---- the scenarios ------------------------------------------------------------
v1() { # FILE [CONTENT_TYPE]
	cgi_run "$top_builddir/cgi-bin/steppay-v1.fcgi" POST "${2:-application/json}" "$1"
	[ "$CGI_STATUS" = 200 ] || diag "v1 $1: $CGI_STATUS $CGI_STDERR"
}
v2() { # FILE
	HTTP_STEPPAY_SIGNATURE=$(steppay_v2_signature "$1" "$V2_SECRET") \
		cgi_run "$top_builddir/cgi-bin/steppay-v2.fcgi" \
		POST application/json "$1"
	[ "$CGI_STATUS" = 200 ] || diag "v2 $1: $CGI_STATUS $CGI_STDERR"
}
np() { # FILE
	cgi_run "$top_builddir/cgi-bin/nicepay.fcgi" POST application/json "$1"
	[ "$CGI_STATUS" = 200 ] || [ "$CGI_STATUS" = 401 ] || diag "np $1: $CGI_STATUS $CGI_STDERR"
}

# StepPay v1 (tests/integration/steppay-v1-cgi.sh): ACTIVE -> PAUSE ->
# ACTIVE, an unknown status, an order paid twice, payment notices as
# JSON and as a form, a cancel.
for f in subscription-active subscription-active subscription-pause subscription-active \
	subscription-unknown-status order-paid order-paid payment; do
	v1 "$P1/$f.json"
done
v1 "$P1/payment.form" application/x-www-form-urlencoded
v1 "$P1/payment.form" application/x-www-form-urlencoded
v1 "$P1/payment-canceled.json"
v1 "$P1/subscription-unpaid.json"

# StepPay v2 (tests/integration/steppay-v2-cgi.sh): the 27 events in an
# order that is not the order they happened in (stale ones included),
# a re-delivery, and a tie broken by the body's hash.
for f in customer-updated customer-created product-created price-updated price-created \
	price-deleted payment-standby order-created order-payment-completed payment-completed \
	subscription-created invoice-created invoice-deleted invoice-updated payment-failed \
	customer-deleted product-updated payment-canceled product-deleted \
	subscription-usage-added order-updated subscription-payment-due \
	subscription-updated-pause cover-sent-message cover-delayed-message \
	cover-changed-payment-date cover-paused order-created payment-completed; do
	v2 "$P2/$f.json"
done
sed 's/"name":"한지우"/"name":"한지우 (tie)"/' "$P2/customer-created.json" > "$work/tie.json"
v2 "$work/tie.json"

# NicePay (tests/integration/nicepay-cgi.sh): paid, cancelled, a late
# resend (stale), partial cancels out of order, a virtual account, a
# failure, an unsigned failure (unverified), an edited replay
# (unverified), a forged notice (401) and a registration sample.
T_PART=nictest1m0101260304093012p002 T_VB=nictest1m0301260305110000v003
C1='{"tid":"nictest1m0101260303140211k001","amount":27500,"cancelledAt":"2026-03-03T14:02:11.000+0900","reason":"주문 취소","receiptUrl":"https://receipt.test/r/k001","couponAmt":0}'
P1C='{"tid":"nictest1m0101260305101500k002","amount":"6000","cancelledAt":"2026-03-05T10:15:00.000+0900","reason":"1개 반품"}'
P2C='{"tid":"nictest1m0101260306163020k003","amount":9000,"cancelledAt":"2026-03-06T16:30:20.000+0900","reason":"2개 반품"}'
VB='{"vbankCode":"088","vbankName":"신한은행","vbankNumber":"56211099887766","vbankExpDate":"2026-03-12T23:59:59.000+0900","vbankHolder":"테스트상점"}'
np_payload "$work/card-paid.json"
np_payload "$work/card-cancelled.json" status='"cancelled"' balanceAmt=0 \
	ediDate='"2026-03-03T14:02:11.930+0900"' cancelledAt='"2026-03-03T14:02:11.000+0900"' \
	cancelledTid='"nictest1m0101260303140211k001"' orderId='"shop-2603-0001-cancel"' \
	cancels="[$C1]"
np_payload "$work/card-paid-resent.json" ediDate='"2026-03-04T00:00:00.000+0900"'
np_payload "$work/part-paid.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	balanceAmt=48000 ediDate='"2026-03-04T09:30:12.004+0900"'
np_payload "$work/part-cancel-1.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	status='"partialCancelled"' balanceAmt=42000 ediDate='"2026-03-05T10:15:00.317+0900"' \
	cancels="[$P1C]"
np_payload "$work/part-cancel-2.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	status='"partialCancelled"' balanceAmt=33000 ediDate='"2026-03-06T16:30:20.842+0900"' \
	cancels="[$P1C,$P2C]"
np_payload "$work/vbank-ready.json" tid="\"$T_VB\"" orderId='"shop-2603-0003"' payMethod='"vbank"' \
	status='"ready"' amount=61000 balanceAmt=61000 paidAt='"0"' card=null \
	ediDate='"2026-03-05T11:00:00.120+0900"' vbank="$VB"
np_payload "$work/vbank-paid.json" tid="\"$T_VB\"" orderId='"shop-2603-0003"' payMethod='"vbank"' \
	amount=61000 balanceAmt=61000 paidAt='"2026-03-06T08:41:27.000+0900"' card=null \
	ediDate='"2026-03-06T08:41:27.655+0900"' vbank="$VB"
np_payload "$work/card-failed.json" tid='"nictest1m0101260307181209f005"' orderId='"shop-2603-0005"' \
	status='"failed"' amount=8800 balanceAmt=0 paidAt='"0"' card=null \
	ediDate='"2026-03-07T18:12:09.777+0900"'
np_payload "$work/bank-paid.json" tid='"nictest1m0201260309090909b007"' orderId='"shop-2603-0007"' \
	payMethod='"bank"' amount=150000 balanceAmt=150000 card=null \
	bank='{"bankCode":"020","bankName":"우리은행"}' ediDate='"2026-03-09T09:09:09.909+0900"'
sed 's/"status":"paid"/"status":"cancelled"/' "$work/bank-paid.json" > "$work/edited.json"
np_payload "$work/unsigned-failed.json" signature=- tid='"nictest1m0101260314141414y013"' \
	status='"failed"' balanceAmt=0
NP_KEY=not-the-key np_payload "$work/forged.json" status='"cancelled"' balanceAmt=0
np_payload "$work/sample.json" tid='"UTWEBHOOKm05012603150000001999"'
for f in card-paid card-cancelled card-paid-resent part-cancel-2 part-paid part-cancel-1 \
	vbank-paid vbank-ready card-failed bank-paid edited unsigned-failed forged sample card-paid; do
	np "$work/$f.json"
done

is "$(psql_q "SELECT string_agg(DISTINCT outcome, ' ' ORDER BY outcome) FROM payhook.webhook_events")" \
	"applied duplicate rejected stale test unverified" \
	"the scenarios are in the log: every outcome a rebuild must tell apart"
before=$(state)
before_md5=$(state | md5sum)
log_before=$(event_log)
ok "the state tables are not empty" test "$(rows orders)" -gt 0 -a "$(rows payments)" -gt 5 \
	-a "$(rows payment_cancels)" -gt 2 -a "$(rows subscription_status_history)" -gt 3

# ---- rebuild everything ----------------------------------------------------------
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" "0" "payhook rebuild exits 0"
like "$out" "the state tables are as they were" "and reports no difference"
like "$out" "events replayed \\(" "and counts what it replayed"
is "$(state)" "$before" "rebuild of everything: identical state tables"
is "$(event_log)" "$log_before" "the event log is untouched: no row added, counted or changed"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE received_at > now() - interval '2 seconds'")" \
	"0" "rows keep the received_at of their first delivery"

# ---- each selector ------------------------------------------------------------------
for sel in "--provider steppay" "--provider nicepay" "--order 731204" "--order 90417" \
	"--subscription 40977" "--subscription 4021" "--payment 66120" \
	"--payment idkey:1718236799412aB3dE5fG7hJ9kL1m" "--payment nictest1m0101260302101500a001" \
	"--payment $T_PART" "--provider steppay --payment 66121"; do
	# shellcheck disable=SC2086 # the selector's words are arguments
	out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" $sel 2>&1) && rc=0 || rc=$?
	is "$rc/$(state | md5sum)" "0/$before_md5" "rebuild $sel: identical state tables"
	[ "$rc" = 0 ] || diag "$out"
	like "$out" "rebuild: [1-9][0-9]* rows of state cleared.*rebuild: [1-9][0-9]* events replayed" \
		"rebuild $sel: cleared rows and replayed their events"
done
is "$(event_log)" "$log_before" "still no change to the event log"

# ---- repair ---------------------------------------------------------------------------
psql_q "UPDATE payhook.payments SET status = 'paid', balance_amount = 1 WHERE payment_key = '$T_PART';
	DELETE FROM payhook.payment_cancels WHERE payment_key = '$T_PART';
	UPDATE payhook.subscriptions SET status = 'CANCELED' WHERE subscription_id = '4021';
	DELETE FROM payhook.order_items;
	INSERT INTO payhook.customers (provider, customer_id, name) VALUES ('steppay', '999', 'ghost')" >/dev/null
corrupted=$(state)
ok "the rows are corrupted" test "$corrupted" != "$before"

out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" --dry-run 2>&1) && rc=0 || rc=$?
is "$rc" "0" "--dry-run exits 0"
like "$out" "payments: 1 rows no longer as they were, 1 rows new or changed" "--dry-run reports what it would repair"
like "$out" "customers: 1 rows no longer as they were, 0 rows new" "and the row no delivery explains"
like "$out" "dry run: rolled back" "and says it changed nothing"
is "$(state)" "$corrupted" "--dry-run changes nothing"

out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" --payment "$T_PART" 2>&1) && rc=0 || rc=$?
is "$(psql_q "SELECT status || ' ' || balance_amount || ' ' || (SELECT count(*) FROM payhook.payment_cancels
	WHERE payment_key = '$T_PART') FROM payhook.payments WHERE payment_key = '$T_PART'")" \
	"partialCancelled 33000 2" "rebuild --payment repairs that payment and its cancels"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '4021'")" "CANCELED" \
	"and touches nothing else"
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" "0" "rebuild after corruption exits 0"
is "$(state)" "$before" "rebuild repairs every corrupted row and removes the one no delivery explains"

# ---- after payhook sync -------------------------------------------------------------------
# The rows payhook sync writes (endpoint 'sync': objects fetched from the
# providers' APIs) are events like the deliveries: a rebuild replays them
# in their place, between the deliveries before and after them.
. "$top_srcdir/tests/lib/fake-provider.sh"
export FAKE_STEPPAY_TOKEN="sp-token-$$-$RANDOM"
export FAKE_NICEPAY_CLIENT="S2_client$$x$RANDOM"
export FAKE_NICEPAY_SECRET="$NP_KEY"
fake_start "$work"
F="$work/fixtures"
fake_steppay_objects "$F"
export PAYHOOK_STEPPAY_API_KEY="$FAKE_STEPPAY_TOKEN" PAYHOOK_STEPPAY_API_URL="$FAKE_URL" \
	PAYHOOK_NICEPAY_CLIENT_KEY="$FAKE_NICEPAY_CLIENT" PAYHOOK_NICEPAY_API_URL="$FAKE_URL"
out=$("$PAYHOOK" sync 2>&1) && rc=0 || rc=$?
diag "payhook sync: $(printf '%s' "$out" | tail -n 1)"
is "$(psql_q "SELECT string_agg(DISTINCT event_type, ' ' ORDER BY event_type) FROM payhook.webhook_events
	WHERE endpoint = 'sync'")" "sync.order sync.payment sync.receipt sync.subscription" \
	"payhook sync wrote its rows: StepPay orders, subscriptions, receipts, NicePay payments"
is "$(psql_q "SELECT verification FROM payhook.orders WHERE order_id = '90417'")" "verified" \
	"the fetched order is verified"
# A legacy notice after the fetch: the sync rows sit between deliveries.
v1 "$P1/subscription-active.json"
after_sync=$(state)
after_md5=$(state | md5sum)
log_before=$(event_log)
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" "0" "rebuild after payhook sync exits 0"
[ "$rc" = 0 ] || diag "$out"
is "$(state)" "$after_sync" "rebuild after payhook sync: identical state tables"
like "$out" "the state tables are as they were" "and reports no difference"
is "$(event_log)" "$log_before" "the event log is untouched"
for sel in "--order 90417" "--subscription 4021" "--provider nicepay"; do
	# shellcheck disable=SC2086 # the selector's words are arguments
	out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" $sel 2>&1) && rc=0 || rc=$?
	is "$rc/$(state | md5sum)" "0/$after_md5" \
		"rebuild $sel after payhook sync: identical state tables"
done
before=$after_sync

# ---- refusals ---------------------------------------------------------------------------
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" --order 1 --payment 2 2>&1) && rc=0 || rc=$?
is "$rc" "2" "one object at a time: usage error"
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" --provider paypal 2>&1) && rc=0 || rc=$?
is "$rc" "2" "an unknown provider: usage error"
# A stored body the parsers refuse now stops the rebuild before it commits.
psql_q "UPDATE payhook.webhook_events SET payload = '{\"id\": \"x\", \"status\": \"ACTIVE\"}'
	WHERE id = (SELECT min(id) FROM payhook.webhook_events WHERE endpoint = 'steppay-v1')" >/dev/null
out=$("$PAYHOOK" rebuild --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" "1" "an event the parsers refuse: exit 1"
like "$out" "event [0-9]+ \\(subscription\\): field 'id' must be an integer \\(nothing changed\\)" \
	"naming the event and why"
is "$(state)" "$before" "and nothing changed"
tap_done
