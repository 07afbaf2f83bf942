#!/bin/bash
# NicePay endpoint, driven as plain CGI, against a real PostgreSQL: every
# payment method, cancels, virtual accounts, duplicates, out-of-order
# delivery, signatures, registration samples and edited replays.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

H="$top_builddir/cgi-bin/nicepay.fcgi"

pg_start
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf"
export PAYHOOK_DATABASE="$PH_TEST_CONNINFO"
NP_KEY="np-test-secret-$$-5b1e"
# Two keys: the second one signs, as after a key was re-issued.
export PAYHOOK_NICEPAY_SECRET_KEY="np-old-secret-$$-0000, $NP_KEY"
P=$work/p
mkdir "$P"
: > "$work/stderr.all"

# send FILE [CONTENT_TYPE]: one CGI request; stderr kept for the secret check.
send() {
	cgi_run "$H" POST "${2-application/json;charset=utf-8}" "$1"
	cat "$CGI_STDERR_FILE" >> "$work/stderr.all"
}

printf 'Status: 200 OK\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: 2\r\n\r\nOK' \
	> "$work/ok.reply"
# replied_ok NAME: the last reply was exactly NicePay's 200 OK, byte for byte.
replied_ok() {
	if cmp -s "$CGI_STDOUT_FILE" "$work/ok.reply"; then
		tap_result 0 "$1: 200, body exactly OK, text/html;charset=utf-8"
	else
		tap_result 1 "$1: 200, body exactly OK, text/html;charset=utf-8"
		diag "reply: $(od -c "$CGI_STDOUT_FILE" | head -n 8)"
		diag "stderr: $CGI_STDERR"
	fi
}

last_event() { # COLUMNS
	psql_q "SELECT $1 FROM payhook.webhook_events ORDER BY id DESC LIMIT 1"
}
pay() { # TID COLUMNS
	psql_q "SELECT $2 FROM payhook.payments WHERE provider = 'nicepay' AND payment_key = '$1'"
}
counts() {
	psql_q "SELECT (SELECT count(*) FROM payhook.webhook_events) || '/' ||
	    (SELECT count(*) FROM payhook.payments) || '/' ||
	    (SELECT count(*) FROM payhook.payment_cancels)"
}
# refused NAME STATUS: the last request got STATUS and wrote nothing.
refused() {
	is "$CGI_STATUS" "$2" "$1: status $2"
	is "$(counts)" "$before" "$1: nothing written"
}
# The state tables as text, without what depends on arrival (DESIGN.md).
state() {
	psql_q "SELECT coalesce(jsonb_agg(to_jsonb(p) - ARRAY['received_at', 'created_at',
	        'updated_at', 'last_event_id', 'event_id'] ORDER BY provider, payment_key), '[]')
	      FROM payhook.payments p"
	psql_q "SELECT coalesce(jsonb_agg(to_jsonb(c) - ARRAY['received_at', 'created_at',
	        'updated_at', 'last_event_id', 'event_id']
	        ORDER BY provider, payment_key, cancel_key), '[]')
	      FROM payhook.payment_cancels c"
}
reset_state() {
	psql_q "TRUNCATE payhook.webhook_events, payhook.payments, payhook.payment_cancels" >/dev/null
}

# --- migrate ---------------------------------------------------------------------
out=$("$top_builddir/bin/payhook" migrate 2>&1)
like "$out" "applied 004_nicepay.sql" "migrate applies 004_nicepay.sql"
like "$("$top_builddir/bin/payhook" migrate 2>&1)" "up to date" "migrate twice changes nothing"
is "$(psql_q "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY column_name)
	FROM information_schema.columns WHERE table_schema = 'payhook' AND table_name = 'payments'
	AND column_name IN ('card_quota', 'can_part_cancel', 'vbank_exp_date', 'vbank_number',
	'coupon_amt', 'pay_method')")" \
	"can_part_cancel:boolean,card_quota:integer,coupon_amt:numeric,pay_method:text,vbank_exp_date:timestamp with time zone,vbank_number:text" \
	"typed NicePay columns on payhook.payments"

# --- the scenario set: signed deliveries of every method ---------------------------
T_CARD=nictest1m0101260302101500a001
T_PART=nictest1m0101260304093012b002
T_VB=nictest1m0301260305110000c003
T_VBX=nictest1m0301260306120000d004
T_FAIL=nictest1m0101260307181209e005
T_PHONE=nictest1m0501260308080808f006
T_BANK=nictest1m0201260309090909g007
T_EASY=nictest1m0101260310101010h008
VB='{"vbankCode":"088","vbankName":"신한은행","vbankNumber":"56211099887766","vbankExpDate":"2026-03-12T23:59:59.000+0900","vbankHolder":"테스트상점"}'
VBX='{"vbankCode":"004","vbankName":"국민은행","vbankNumber":"11122233344455","vbankExpDate":"2026-03-07T23:59:59+0900","vbankHolder":"테스트상점"}'
C1='{"tid":"nictest1m0101260303140211k001","amount":27500,"cancelledAt":"2026-03-03T14:02:11.000+0900","reason":"주문 취소","receiptUrl":"https://receipt.test/r/k001","couponAmt":0}'
P1='{"tid":"nictest1m0101260305101500k002","amount":"6000","cancelledAt":"2026-03-05T10:15:00.000+0900","reason":"1개 반품","receiptUrl":"https://receipt.test/r/k002","couponAmt":0}'
P2='{"tid":"nictest1m0101260306163020k003","amount":9000,"cancelledAt":"2026-03-06T16:30:20.000+0900","reason":"2개 반품","receiptUrl":"https://receipt.test/r/k003","couponAmt":0}'

np_payload "$P/card-paid.json"
np_payload "$P/card-cancelled.json" status='"cancelled"' balanceAmt=0 \
	ediDate='"2026-03-03T14:02:11.930+0900"' cancelledAt='"2026-03-03T14:02:11.000+0900"' \
	cancelledTid='"nictest1m0101260303140211k001"' orderId='"shop-2603-0001-cancel"' \
	cancels="[$C1]"
CARD2='{"cardCode":"02","cardName":"KB국민","cardNum":"940915******7733","cardQuota":3,"isInterestFree":true,"cardType":"check","canPartCancel":true,"acquCardCode":"02","acquCardName":"KB국민"}'
np_payload "$P/part-paid.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	balanceAmt=48000 ediDate='"2026-03-04T09:30:12.004+0900"' \
	paidAt='"2026-03-04T09:30:12.000+0900"' card="$CARD2"
np_payload "$P/part-cancel-1.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	status='"partialCancelled"' balanceAmt=42000 ediDate='"2026-03-05T10:15:00.317+0900"' \
	paidAt='"2026-03-04T09:30:12.000+0900"' cancelledAt='"2026-03-05T10:15:00.000+0900"' \
	cancelledTid='"nictest1m0101260305101500k002"' cancels="[$P1]" card="$CARD2"
np_payload "$P/part-cancel-2.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	status='"partialCancelled"' balanceAmt=33000 ediDate='"2026-03-06T16:30:20.842+0900"' \
	paidAt='"2026-03-04T09:30:12.000+0900"' cancelledAt='"2026-03-06T16:30:20.000+0900"' \
	cancelledTid='"nictest1m0101260306163020k003"' cancels="[$P1,$P2]" card="$CARD2"
np_payload "$P/vbank-ready.json" tid="\"$T_VB\"" orderId='"shop-2603-0003"' payMethod='"vbank"' \
	status='"ready"' amount=61000 balanceAmt=61000 paidAt='"0"' card=null approveNo=null \
	receiptUrl=null ediDate='"2026-03-05T11:00:00.120+0900"' vbank="$VB"
np_payload "$P/vbank-paid.json" tid="\"$T_VB\"" orderId='"shop-2603-0003"' payMethod='"vbank"' \
	amount=61000 balanceAmt=61000 paidAt='"2026-03-06T08:41:27.000+0900"' card=null \
	approveNo=null ediDate='"2026-03-06T08:41:27.655+0900"' vbank="$VB" issuedCashReceipt=true \
	cashReceipts='[{"receiptTid":"nictest1m0401260306084127r001","orgTid":"'"$T_VB"'","status":"issueRequested","amount":61000,"taxFreeAmt":0,"receiptType":"individual","issueNo":"","receiptUrl":"https://receipt.test/c/r001"}]'
np_payload "$P/vbank-x-ready.json" tid="\"$T_VBX\"" orderId='"shop-2603-0004"' payMethod='"vbank"' \
	status='"ready"' amount=12000 balanceAmt=12000 paidAt='"0"' card=null approveNo=null \
	ediDate='"2026-03-06T12:00:00.000+0900"' vbank="$VBX"
np_payload "$P/vbank-x-expired.json" tid="\"$T_VBX\"" orderId='"shop-2603-0004"' \
	payMethod='"vbank"' status='"expired"' amount=12000 balanceAmt=0 paidAt='"0"' card=null \
	approveNo=null ediDate='"2026-03-08T00:00:05.300+0900"' vbank="$VBX"
np_payload "$P/card-failed.json" tid="\"$T_FAIL\"" orderId='"shop-2603-0005"' status='"failed"' \
	resultCode='"3011"' resultMsg='"카드번호 오류"' amount=8800 balanceAmt=0 paidAt='"0"' \
	failedAt='"2026-03-07T18:12:09.000+0900"' ediDate='"2026-03-07T18:12:09.777+0900"' card=null
np_payload "$P/cellphone-paid.json" tid="\"$T_PHONE\"" orderId='"shop-2603-0006"' \
	payMethod='"cellphone"' amount=3300 balanceAmt=3300 card=null \
	paidAt='"2026-03-08T08:08:08.000+0900"' ediDate='"2026-03-08T08:08:08.808+0900"'
np_payload "$P/bank-paid.json" tid="\"$T_BANK\"" orderId='"shop-2603-0007"' payMethod='"bank"' \
	amount=150000 balanceAmt=150000 card=null bank='{"bankCode":"020","bankName":"우리은행"}' \
	paidAt='"2026-03-09T09:09:09.000+0900"' ediDate='"2026-03-09T09:09:09.909+0900"'
np_payload "$P/kakaopay-paid.json" tid="\"$T_EASY\"" orderId='"shop-2603-0008"' \
	payMethod='"kakaopay"' amount=19900 balanceAmt=19900 channel=null \
	paidAt='"2026-03-10T10:10:10.000+0900"' ediDate='"2026-03-10T10:10:10.101+0900"' \
	coupon='{"couponAmt":1000}'
# NicePay resends with a fresh ediDate: older by status, newer by time.
np_payload "$P/card-paid-resent.json" ediDate='"2026-03-04T00:00:00.000+0900"'
np_payload "$P/vbank-ready-late.json" tid="\"$T_VB\"" orderId='"shop-2603-0003"' \
	payMethod='"vbank"' status='"ready"' amount=61000 balanceAmt=61000 paidAt='"0"' card=null \
	ediDate='"2026-03-06T09:00:00.000+0900"' vbank="$VB"
scenario=(card-paid card-cancelled part-paid part-cancel-1 part-cancel-2 vbank-ready vbank-paid
	vbank-x-ready vbank-x-expired card-failed cellphone-paid bank-paid kakaopay-paid
	card-paid-resent vbank-ready-late)

# --- not configured: 503 ------------------------------------------------------------
before=$(counts)
PAYHOOK_NICEPAY_SECRET_KEY= send "$P/card-paid.json"; refused "no nicepay_secret_key" 503
like "$CGI_STDERR" "nicepay_secret_key is not set" "the log says why"

# --- card: paid, duplicate, cancelled, stale paid -------------------------------------
send "$P/card-paid.json"
replied_ok "card paid"
like "$CGI_STDERR" "endpoint=nicepay status=200 outcome=applied event=payment" "one log line"
is "$(pay $T_CARD "order_id || '|' || status || '|' || amount || '|' || balance_amount || '|' ||
	pay_method || '|' || currency || '|' || goods_name || '|' || card_name || '|' ||
	card_num || '|' || card_quota || '|' || can_part_cancel || '|' || is_interest_free || '|' ||
	card_type || '|' || approve_no || '|' || buyer_name || '|' || buyer_email || '|' ||
	receipt_url || '|' || channel || '|' || use_escrow || '|' ||
	coalesce(verification, 'NULL')")" \
	"shop-2603-0001|paid|27500|27500|card|KRW|테스트 원두 1kg|신한|455437******3021|0|true|false|credit|70214433|김테스트|buyer@shop.test|https://receipt.test/r/a001|mobile|false|NULL" \
	"card paid: typed columns; signed, so verification NULL"
is "$(pay $T_CARD "paid_at = '2026-03-02 01:15:00+00' AND edi_date = '2026-03-02 01:15:00.481+00'
	AND failed_at IS NULL AND cancelled_at IS NULL AND data = (SELECT payload FROM
	payhook.webhook_events WHERE body_sha256 = source_sha256)")" "t" \
	"card paid: +0900 times converted, \"0\" dates NULL, the full object in data"
is "$(last_event "outcome || ' ' || signature_valid || ' ' || event_type || ' ' ||
	(dedupe_key = body_sha256) || ' ' || (body_sha256 = '$(sha256sum < "$P/card-paid.json" | cut -c1-64)')")" \
	"applied true payment true true" "event row: signed, dedupe key is the body's SHA-256"
send "$P/card-paid.json"
replied_ok "card paid again"
is "$(psql_q "SELECT count(*) || ' ' || max(delivery_count) || ' ' || min(outcome)
	FROM payhook.webhook_events")" "1 2 applied" "exact re-delivery: duplicate, delivery_count 2"
like "$CGI_STDERR" "outcome=duplicate" "logged as duplicate"
send "$P/card-cancelled.json"
replied_ok "card cancelled"
is "$(pay $T_CARD "status || '|' || balance_amount || '|' || cancelled_tid || '|' ||
	(cancelled_at = '2026-03-03 05:02:11+00') || '|' || order_id")" \
	"cancelled|0|nictest1m0101260303140211k001|true|shop-2603-0001" \
	"full cancel: status, balance, cancel time; order_id kept"
like "$(last_event "array_to_string(warnings, ';')")" \
	"orderId shop-2603-0001-cancel of a cancel message differs from the payment's order_id shop-2603-0001" \
	"cancel message with another orderId: warning"
is "$(psql_q "SELECT cancel_key || '|' || amount || '|' || reason || '|' ||
	(cancelled_at = '2026-03-03 05:02:11+00') FROM payhook.payment_cancels
	WHERE payment_key = '$T_CARD'")" "nictest1m0101260303140211k001|27500|주문 취소|true" \
	"one payment_cancels row"
send "$P/card-paid-resent.json"
replied_ok "paid resent after cancel"
is "$(last_event outcome)" "stale" "paid with a fresh ediDate after cancelled: stale"
is "$(pay $T_CARD status)" "cancelled" "status never moves backwards"

# --- partial cancels ----------------------------------------------------------------------
for f in part-paid part-cancel-1 part-cancel-2; do
	send "$P/$f.json"
	replied_ok "$f"
done
is "$(pay $T_PART "status || '|' || amount || '|' || balance_amount || '|' || card_quota || '|' ||
	can_part_cancel || '|' || is_interest_free || '|' || cancelled_tid")" \
	"partialCancelled|48000|33000|3|true|true|nictest1m0101260306163020k003" \
	"two partial cancels: balance 33000; numbers and booleans read as such"
is "$(psql_q "SELECT string_agg(cancel_key || ':' || amount, ',' ORDER BY cancel_key)
	FROM payhook.payment_cancels WHERE payment_key = '$T_PART'")" \
	"nictest1m0101260305101500k002:6000,nictest1m0101260306163020k003:9000" \
	"one cancel row per cancels[].tid, amount as a string read too"
send "$P/part-cancel-1.json"
replied_ok "first partial cancel again"
is "$(psql_q "SELECT outcome || ' ' || delivery_count FROM payhook.webhook_events
	WHERE dedupe_key = '$(sha256sum < "$P/part-cancel-1.json" | cut -c1-64)'")" "applied 2" \
	"first partial cancel again: counted on its row"
is "$(psql_q "SELECT count(*) FROM payhook.payment_cancels WHERE payment_key = '$T_PART'")" "2" \
	"cancels deduplicated"

# --- virtual account: ready -> paid, late ready; ready -> expired --------------------------
send "$P/vbank-ready.json"
replied_ok "vbank ready"
is "$(pay $T_VB "status || '|' || coalesce(paid_at::text, 'NULL') || '|' || vbank_number || '|' ||
	vbank_name || '|' || vbank_code || '|' || vbank_holder || '|' ||
	(vbank_exp_date = '2026-03-12 14:59:59+00')")" \
	"ready|NULL|56211099887766|신한은행|088|테스트상점|true" \
	"vbank issued: ready, account number, bank, holder, expiry"
send "$P/vbank-paid.json"
replied_ok "vbank paid"
is "$(pay $T_VB "status || '|' || (paid_at = '2026-03-05 23:41:27+00') || '|' ||
	issued_cash_receipt || '|' || vbank_number")" "paid|true|true|56211099887766" \
	"deposit: the same tid paid"
send "$P/vbank-ready-late.json"
replied_ok "late ready"
is "$(last_event outcome) $(pay $T_VB status)" "stale paid" "a late ready after paid is stale"
send "$P/vbank-x-ready.json"
send "$P/vbank-x-expired.json"
replied_ok "vbank expired"
is "$(pay $T_VBX "status || '|' || balance_amount || '|' || (vbank_exp_date = '2026-03-07 14:59:59+00')")" \
	"expired|0|true" "unpaid virtual account expired"

# --- failed, cellphone, bank, easy pay ----------------------------------------------------
send "$P/card-failed.json"
replied_ok "card failed"
is "$(pay $T_FAIL "status || '|' || result_code || '|' || result_msg || '|' ||
	(failed_at = '2026-03-07 09:12:09+00') || '|' || coalesce(paid_at::text, 'NULL')")" \
	"failed|3011|카드번호 오류|true|NULL" "signed failure stored"
for f in cellphone-paid bank-paid kakaopay-paid; do
	send "$P/$f.json"
	replied_ok "$f"
done
is "$(psql_q "SELECT string_agg(pay_method || ':' || status || ':' || amount, ',' ORDER BY pay_method)
	FROM payhook.payments WHERE payment_key IN ('$T_PHONE', '$T_BANK', '$T_EASY')")" \
	"bank:paid:150000,cellphone:paid:3300,kakaopay:paid:19900" "cellphone, bank and easy pay paid"
is "$(pay $T_BANK "bank_code || '|' || bank_name")" "020|우리은행" "bank transfer: bank columns"
is "$(pay $T_EASY "coupon_amt || '|' || coalesce(channel, 'NULL')")" "1000|NULL" \
	"easy pay: coupon amount; channel null"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE warnings IS NOT NULL
	AND payload->>'payMethod' = 'kakaopay'")" "0" "kakaopay is a known payMethod"

# --- unknown values are applied and flagged ---------------------------------------------
np_payload "$work/unknown.json" tid='"nictest1m9901260311111111u009"' orderId='"shop-2603-0009"' \
	payMethod='"tosspay"' status='"refunded"' balanceAmt=0 ediDate='"2026-03-11T11:11:11.111+0900"'
send "$work/unknown.json"
replied_ok "unknown status and payMethod"
is "$(last_event "outcome || '|' || array_to_string(warnings, ';')")" \
	"applied|unknown status 'refunded' stored as given;unknown payMethod 'tosspay' stored as given" \
	"unknown values: applied, flagged in warnings"
is "$(pay nictest1m9901260311111111u009 "status || '|' || pay_method")" "refunded|tosspay" \
	"unknown values stored as text"

# --- loose types --------------------------------------------------------------------------
np_payload "$work/loose.json" tid='"nictest1m0101260312121212l010"' orderId=120077 \
	amount='"5000"' balanceAmt='"5000"' ediDate='"2026-03-12T12:12:12.000+09:00"' \
	paidAt='"2026-03-12 12:12:12"' failedAt=0 useEscrow='"N"' issuedCashReceipt=0 \
	card='{"cardCode":6,"cardName":"신한","cardQuota":"03","isInterestFree":"false","canPartCancel":1}' \
	vbank='{"vbankExpDate":"2026-03-19"}' channel='"null"'
send "$work/loose.json"
replied_ok "loose types"
is "$(pay nictest1m0101260312121212l010 "order_id || '|' || amount || '|' || balance_amount || '|' ||
	card_quota || '|' || is_interest_free || '|' || can_part_cancel || '|' || use_escrow || '|' ||
	issued_cash_receipt || '|' || card_code || '|' || coalesce(channel, 'NULL') || '|' ||
	(paid_at = '2026-03-12 03:12:12+00') || '|' || (edi_date = '2026-03-12 03:12:12+00') || '|' ||
	coalesce(failed_at::text, 'NULL') || '|' || coalesce(vbank_exp_date::text, 'NULL')")" \
	"120077|5000|5000|3|false|true|false|false|6|NULL|true|true|NULL|NULL" \
	"strings, numbers and booleans in either form; offset-less time is Korean; 0 is unset"
like "$(last_event "array_to_string(warnings, ';')")" "field 'vbank.vbankExpDate' is not a date-time" \
	"unreadable vbankExpDate flagged (raw value kept in data)"

before=$(counts)
np_payload "$work/bad.json" amount=27500.5; send "$work/bad.json"; refused "fractional amount" 400
like "$CGI_BODY" "field 'amount' must be a non-negative integer" "400 names the field"
np_payload "$work/bad.json" amount='"-27500"'; send "$work/bad.json"; refused "negative amount" 400
np_payload "$work/bad.json" tid=- signature='"00"'; send "$work/bad.json"; refused "missing tid" 400
like "$CGI_BODY" "field 'tid' is missing" "400 says tid is missing"
np_payload "$work/bad.json" card='{"cardQuota":"three"}'; send "$work/bad.json"
refused "cardQuota not a number" 400
like "$CGI_BODY" "card.cardQuota" "400 names card.cardQuota"
np_payload "$work/bad.json" cancels='[{"amount":1}]'; send "$work/bad.json"
refused "cancel entry without tid" 400
np_payload "$work/bad.json" status=7; send "$work/bad.json"; refused "status not a string" 400
printf '{"tid":' > "$work/bad.json"; send "$work/bad.json"; refused "malformed JSON" 400

# --- signatures ----------------------------------------------------------------------------
before=$(counts)
NP_KEY=not-the-merchants-key np_payload "$work/forged.json" status='"cancelled"' balanceAmt=0 \
	tid='"nictest1m0101260313131313z011"' ediDate='"2026-03-13T13:13:13.000+0900"'
send "$work/forged.json"
is "$CGI_STATUS" "401" "forged signature: 401"
like "$CGI_BODY" "^rejected: signature does not match" "401 says why"
is "$(last_event "outcome || ' ' || signature_valid || ' ' || (payload IS NULL) || ' ' ||
	(dedupe_key IS NULL) || ' ' || body_length")" "rejected false true true $(wc -c < "$work/forged.json")" \
	"rejected row: hash and length only"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE payment_key = 'nictest1m0101260313131313z011'")" \
	"0" "forged delivery applies nothing"
np_payload "$work/unsigned-paid.json" signature=- tid='"nictest1m0101260313131313z012"'
send "$work/unsigned-paid.json"
is "$CGI_STATUS" "401" "unsigned paid: 401"
like "$CGI_BODY" "signature missing" "401 says the signature is missing"
np_payload "$work/unsigned-failed.json" signature=- tid='"nictest1m0101260314141414y013"' \
	status='"failed"' balanceAmt=0 paidAt='"0"' failedAt='"2026-03-14T14:14:14.000+0900"' \
	ediDate='"2026-03-14T14:14:14.000+0900"'
send "$work/unsigned-failed.json"
replied_ok "unsigned failed notice"
is "$(last_event "outcome || ' ' || coalesce(signature_valid::text, 'NULL') || ' ' || (payload IS NOT NULL)")" \
	"unverified NULL true" "unsigned failed: stored unverified"
np_payload "$work/unsigned-expired.json" signature=null tid='"nictest1m0301260314141414y014"' \
	status='"expired"' payMethod='"vbank"' balanceAmt=0 paidAt='"0"' \
	ediDate='"2026-03-14T15:00:00.000+0900"'
send "$work/unsigned-expired.json"
replied_ok "unsigned (null) expired notice"
is "$(last_event outcome)" "unverified" "unsigned expired: stored unverified"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE payment_key IN
	('nictest1m0101260314141414y013', 'nictest1m0301260314141414y014')")" "0" \
	"unverified notices apply nothing"
is "$(psql_q "SELECT count(*) FROM payhook.unapplied_events WHERE outcome = 'unverified'")" "2" \
	"listed in payhook.unapplied_events"

# --- edited replay: status is not signed ------------------------------------------------
sed 's/"status":"paid"/"status":"cancelled"/' "$P/bank-paid.json" > "$work/edited.json"
ok "edited body differs from the stored one" sh -c "! cmp -s '$P/bank-paid.json' '$work/edited.json'"
send "$work/edited.json"
replied_ok "edited replay"
is "$(last_event "outcome || ' ' || signature_valid")" "unverified true" \
	"same tid, amount and ediDate with another body: unverified"
is "$(pay $T_BANK status)" "paid" "edited replay applies nothing"

# --- registration samples ---------------------------------------------------------------
before_pay=$(psql_q "SELECT count(*) FROM payhook.payments")
: > "$work/empty"
CGI_CONTENT_LENGTH=none send "$work/empty" ""
replied_ok "empty body, no content type"
is "$(last_event "outcome || ' ' || body_length || ' ' || (payload IS NULL)")" "test 0 true" \
	"empty body stored as test"
send "$work/empty"
replied_ok "empty body with a content type"
np_payload "$work/sample.json" tid='"UTWEBHOOKm05012603150000001999"' orderId=20260315 \
	amount=10000 status='""' payMethod='""' resultMsg='""' \
	signature='"3d4f0c6f5e2b8a1c7d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e"'
send "$work/sample.json"
replied_ok "sample (UTWEBHOOK tid, empty status, unverifiable signature)"
is "$(last_event "outcome || ' ' || signature_valid")" "test false" \
	"sample stored as test with its signature result"
np_payload "$work/sample2.json" tid='"UTWEBHOOKm05012603150000002999"' signature=-
send "$work/sample2.json"
replied_ok "unsigned UTWEBHOOK sample"
np_payload "$work/sample3.json" tid='"nictest1m0101260315151515s015"' payMethod='""'
send "$work/sample3.json"
replied_ok "empty payMethod"
is "$(last_event outcome)" "test" "empty payMethod: test"
np_payload "$work/window-bad.json" tid='"nictest1m0101260315151515s016"' signature='"'"$(np_sign x 1 y z)"'"'
send "$work/window-bad.json"
is "$CGI_STATUS" "401" "wrong signature outside a registration window: 401"
psql_q "SELECT payhook.nicepay_open_registration_window()" >/dev/null
is "$(psql_q "SELECT round(extract(epoch FROM closes_at - opened_at)) FROM
	payhook.nicepay_registration_windows")" "120" "the window lasts 120 seconds by default"
send "$work/window-bad.json"
replied_ok "wrong signature inside the registration window"
is "$(last_event "outcome || ' ' || signature_valid || ' ' || (payload IS NOT NULL)")" "test false true" \
	"stored as test"
send "$work/unsigned-paid.json"
replied_ok "unsigned paid inside the window"
np_payload "$work/unsigned-failed-2.json" signature=- tid='"nictest1m0101260315151515s017"' \
	status='"failed"' balanceAmt=0 ediDate='"2026-03-15T15:15:15.000+0900"'
send "$work/unsigned-failed-2.json"
replied_ok "unsigned failed inside the window"
is "$(last_event outcome)" "test" "the sample rule wins over the unsigned failed rule"
is "$(psql_q "SELECT count(*) FROM payhook.payments")" "$before_pay" "samples create no payment"
np_payload "$work/window-good.json" tid='"nictest1m0101260315151515s018"' orderId='"shop-2603-0018"' \
	ediDate='"2026-03-15T15:15:18.000+0900"'
send "$work/window-good.json"
replied_ok "signed delivery inside the window"
is "$(pay nictest1m0101260315151515s018 "status || ' ' || verification || ' ' ||
	(sync_requested_at IS NOT NULL)")" "paid pending true" \
	"applied with verification pending, queued for payhook sync"
psql_q "SELECT payhook.nicepay_close_registration_window()" >/dev/null
np_payload "$work/window-bad-2.json" tid='"nictest1m0101260315151515s019"' signature='"'"$(np_sign x 2 y z)"'"'
send "$work/window-bad-2.json"
is "$CGI_STATUS" "401" "window closed: wrong signature is 401 again"
out=$(psql -X -q -v ON_ERROR_STOP=1 -c "SELECT payhook.nicepay_open_registration_window(0)" 2>&1) && rc=0 || rc=$?
is "$rc" "1" "a window of 0 seconds is refused"

# --- request checks -------------------------------------------------------------------
before=$(counts)
cgi_run "$H" GET application/json "$P/card-paid.json"; refused "GET" 405
send "$P/card-paid.json" text/plain; refused "text/plain" 415
PAYHOOK_ALLOW_FROM_NICEPAY="121.133.126.86/32, 121.133.126.87/32" send "$P/card-paid.json"
refused "address not in allow_from_nicepay" 403
PAYHOOK_ALLOW_FROM_NICEPAY="121.133.126.86/32, 121.133.126.87/32" CGI_REMOTE_ADDR=121.133.126.87 \
	send "$P/card-paid.json"
replied_ok "NicePay's documented sender address allowed"

# --- secrets -------------------------------------------------------------------------
ok "the secret keys never reach the log" sh -c "! grep -q -e 'np-test-secret' -e 'np-old-secret' '$work/stderr.all'"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE
	coalesce(payload::text, '') || coalesce(error, '') || coalesce(array_to_string(warnings, ''), '')
	LIKE '%secret-$$%'")" "0" "nor the database"

# --- out of order and twice: the same state tables --------------------------------------
reset_state
for f in "${scenario[@]}"; do send "$P/$f.json"; done
in_order=$(state)
like "$in_order" '"status": "partialCancelled"' "in-order state has the partial cancels"
is "$(psql_q "SELECT count(*) || '/' || (SELECT count(*) FROM payhook.payment_cancels)
	FROM payhook.payments")" "8/3" "in order: 8 payments, 3 cancels"
is "$(psql_q "SELECT string_agg(outcome, ',' ORDER BY id) FROM payhook.webhook_events")" \
	"$(printf 'applied%.0s,' "${scenario[@]:2}")stale,stale" \
	"in order: every delivery applied but the two resends"
is "$(pay $T_CARD status) $(pay $T_VB status)" "cancelled paid" "in order: resends changed nothing"

reset_state
for ((i = ${#scenario[@]} - 1; i >= 0; i--)); do send "$P/${scenario[i]}.json"; done
is "$(state)" "$in_order" "reversed order: the same state tables"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE outcome = 'stale'")" "5" \
	"reversed order: the older snapshots are stale"

for seed in 1 2; do
	reset_state
	while read -r f; do send "$P/$f.json"; done < <(printf '%s\n' "${scenario[@]}" |
		shuf --random-source=<(yes "$seed"))
	is "$(state)" "$in_order" "shuffled order $seed: the same state tables"
done
for f in "${scenario[@]}"; do send "$P/$f.json"; done
is "$(state)" "$in_order" "the whole set sent twice: the same state tables"
is "$(psql_q "SELECT count(*) || ' ' || min(delivery_count) FROM payhook.webhook_events")" \
	"${#scenario[@]} 2" "second round: duplicates only"

# A stale snapshot's cancels still count: the set is every delivery's union.
reset_state
send "$P/part-cancel-2.json"
send "$P/part-paid.json"
is "$(psql_q "SELECT string_agg(cancel_key, ',' ORDER BY cancel_key) FROM payhook.payment_cancels")" \
	"nictest1m0101260305101500k002,nictest1m0101260306163020k003" "cancels from the newest snapshot first"
send "$P/part-cancel-1.json"
is "$(last_event outcome) $(pay $T_PART balance_amount)" "stale 33000" "older partial cancel after newer: stale"

# order_id never comes from a cancel message, whatever the order.
reset_state
send "$P/card-cancelled.json"
is "$(pay $T_CARD order_id)" "shop-2603-0001-cancel" "cancel first: its orderId for now"
send "$P/card-paid.json"
is "$(last_event outcome) $(pay $T_CARD "order_id || ' ' || status")" "stale shop-2603-0001 cancelled" \
	"the payment's own orderId replaces it, status kept"

tap_done
