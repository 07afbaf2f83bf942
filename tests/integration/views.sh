#!/bin/bash
# The merchant's views, filled by real deliveries through the handlers:
# active subscriptions with their next payment date, subscriptions lost
# this week, today's amounts per method, virtual accounts waiting for the
# deposit, and the deliveries that need a look.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
V2="$top_builddir/cgi-bin/steppay-v2.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf" PAYHOOK_DATABASE="$PH_TEST_CONNINFO"
SECRET="views-secret-$$"
NP_KEY="np-views-secret-$$"
export PAYHOOK_STEPPAY_V2_SECRET="$SECRET" PAYHOOK_NICEPAY_SECRET_KEY="$NP_KEY"

sign_v2() { # FILE [SECRET]
	steppay_v2_signature "$1" "${2:-$SECRET}"
}
send_v2() { # FILE [SECRET]
	HTTP_STEPPAY_SIGNATURE=$(sign_v2 "$1" "${2:-}") cgi_run "$V2" POST application/json "$1"
}
# NicePay's time format, in Seoul, N seconds from now.
kst() { TZ=Asia/Seoul date -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%S.000+0900; }

# --- fill ------------------------------------------------------------------
send_v2 "$top_srcdir/tests/payloads/steppay-v2/subscription-created.json"
is "$CGI_STATUS" 200 "StepPay v2 subscription stored"
cgi_run "$V1" POST application/json "$top_srcdir/tests/payloads/steppay-v1/subscription-unpaid.json"
is "$CGI_STATUS" 200 "StepPay v1 UNPAID notice stored"

now=$(kst 0)
np_payload "$work/card.json" tid='"views-card-0001"' orderId='"views-o1"' amount=27500 \
	balanceAmt=27500 paidAt="\"$now\"" ediDate="\"$now\""
cgi_run "$NP" POST application/json "$work/card.json"
is "$CGI_STATUS" 200 "NicePay card payment today stored"
C1='{"tid":"views-cancel-0001","amount":5000,"cancelledAt":"'"$now"'","reason":"partial","receiptUrl":null,"couponAmt":0}'
np_payload "$work/part.json" tid='"views-card-0002"' orderId='"views-o2"' amount=20000 \
	balanceAmt=15000 status='"partialCancelled"' paidAt="\"$(kst -172800)\"" \
	cancelledAt="\"$now\"" ediDate="\"$(kst 1)\"" cancels="[$C1]"
cgi_run "$NP" POST application/json "$work/part.json"
is "$CGI_STATUS" 200 "NicePay partial cancel today stored"

VB='{"vbankCode":"088","vbankName":"신한은행","vbankNumber":"56211099887766","vbankExpDate":"'"$(kst 3600)"'","vbankHolder":"테스트상점"}'
np_payload "$work/vbank.json" tid='"views-vbank-0001"' orderId='"views-o3"' payMethod='"vbank"' \
	status='"ready"' amount=61000 balanceAmt=61000 paidAt='"0"' card=null approveNo=null \
	receiptUrl=null ediDate="\"$now\"" vbank="$VB"
cgi_run "$NP" POST application/json "$work/vbank.json"
is "$CGI_STATUS" 200 "NicePay virtual account issued"
VB='{"vbankCode":"004","vbankName":"국민은행","vbankNumber":"11122233344455","vbankExpDate":"'"$(kst -3600)"'","vbankHolder":"테스트상점"}'
np_payload "$work/vbank-late.json" tid='"views-vbank-0002"' orderId='"views-o4"' payMethod='"vbank"' \
	status='"ready"' amount=9000 balanceAmt=9000 paidAt='"0"' card=null approveNo=null \
	receiptUrl=null ediDate="\"$(kst -7200)\"" vbank="$VB"
cgi_run "$NP" POST application/json "$work/vbank-late.json"

send_v2 "$top_srcdir/tests/payloads/steppay-v2/payment-completed.json" "not-the-secret"
is "$CGI_STATUS" 401 "a forged StepPay v2 delivery is rejected"

# --- read, as a merchant would ---------------------------------------------
is "$(psql_q "SELECT subscription_id || ' ' || to_char(next_payment_date AT TIME ZONE 'UTC',
    'YYYY-MM-DD HH24:MI') FROM payhook.active_subscriptions WHERE provider = 'steppay'
    AND next_payment_date IS NOT NULL")" "$(psql_q "SELECT subscription_id || ' 2026-12-04 03:10'
    FROM payhook.subscriptions WHERE next_payment_date IS NOT NULL")" \
	"active_subscriptions shows the next payment date"
is "$(psql_q "SELECT subscription_id || ':' || became FROM payhook.subscriptions_lost_this_week")" \
	"4021:UNPAID" "subscriptions_lost_this_week shows the UNPAID subscription"
is "$(psql_q "SELECT provider || ':' || method || ':' || payments || ':' || paid_amount || ':' ||
    cancels || ':' || cancelled_amount FROM payhook.amounts_today ORDER BY 1")" \
	"nicepay:card:1:27500:1:5000" \
	"amounts_today: one card payment today, one partial cancel today (paid yesterday or today)"
# StepPay's cancels are running totals: 1000 yesterday, then 2500 and
# 4000 today are two cancels today of 1500 each.
psql_q "INSERT INTO payhook.payments (provider, payment_key, payment_method, amount, paid_at)
    VALUES ('steppay', 'views-sp-1', 'CARD', 9000, now() - interval '3 days');
    INSERT INTO payhook.payment_cancels (provider, payment_key, cancel_key, amount, cancelled_at)
    VALUES ('steppay', 'views-sp-1', 'a', 1000, now() - interval '1 day'),
           ('steppay', 'views-sp-1', 'b', 2500, now()),
           ('steppay', 'views-sp-1', 'c', 4000, now())" >/dev/null
is "$(psql_q "SELECT cancels || ':' || cancelled_amount FROM payhook.amounts_today
    WHERE provider = 'steppay'")" "2:3000" \
	"amounts_today: StepPay's running totals counted as the cancels they add up"
is "$(psql_q "SELECT string_agg(payment_key || ':' || bank || ':' || (expires_in > interval '0'),
    ',' ORDER BY expires_at) FROM payhook.vbank_waiting")" \
	"views-vbank-0002:국민은행:false,views-vbank-0001:신한은행:true" \
	"vbank_waiting: both accounts, the overdue one with a negative expires_in"
is "$(psql_q "SELECT string_agg(endpoint || ':' || outcome, ',') FROM payhook.delivery_problems")" \
	"steppay-v2:rejected" "delivery_problems lists the rejected delivery"

# Deposits leave the waiting list; a failed verification hides a row.
np_payload "$work/vbank-paid.json" tid='"views-vbank-0001"' orderId='"views-o3"' payMethod='"vbank"' \
	status='"paid"' amount=61000 balanceAmt=61000 paidAt="\"$(kst 5)\"" card=null approveNo=null \
	receiptUrl=null ediDate="\"$(kst 5)\"" vbank="$(printf '%s' "$VB")"
cgi_run "$NP" POST application/json "$work/vbank-paid.json"
is "$(psql_q "SELECT string_agg(payment_key, ',') FROM payhook.vbank_waiting")" "views-vbank-0002" \
	"a deposited virtual account leaves vbank_waiting"
psql_q "UPDATE payhook.subscriptions SET verification = 'failed' WHERE subscription_id = '4021'" >/dev/null
is "$(psql_q "SELECT count(*) FROM payhook.subscriptions_lost_this_week")" 0 \
	"a subscription whose verification failed is not reported"

tap_done
