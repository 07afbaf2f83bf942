#!/bin/bash
# payhook status, and status --check for cron and monitoring systems:
# every condition it watches is produced here by real deliveries through
# the handlers (or by stopping PostgreSQL, or by a spooled delivery) and
# reported with its documented exit code -- 0 OK, 1 WARNING, 2 CRITICAL,
# 3 UNKNOWN -- and one summary line.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

B="$top_builddir/cgi-bin"
P2="$top_srcdir/tests/payloads/steppay-v2"
PAYHOOK="$top_builddir/bin/payhook"

pg_start
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
SPOOL="$work/spool"
V2_SECRET="status-v2-secret-$$"
NP_KEY="status-np-secret-$$"
cat >"$work/payhook.conf" <<CONF
database = $PH_TEST_CONNINFO
spool_dir = $SPOOL
steppay_v2_secret = $V2_SECRET
nicepay_secret_key = $NP_KEY
CONF
chmod 0600 "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

# check [ENV=VALUE...]: runs `payhook status --check` with those settings;
# CHECK_OUT is its output, CHECK_RC its exit code.
check() {
	CHECK_RC=0
	CHECK_OUT=$(env "$@" "$PAYHOOK" status --check 2>&1) || CHECK_RC=$?
}
# expect RC PATTERN NAME [ENV=VALUE...]
expect() {
	local rc=$1 pattern=$2 name=$3
	shift 3
	check "$@"
	is "$CHECK_RC" "$rc" "$name: exit $rc"
	like "$CHECK_OUT" "$pattern" "$name: says so"
	is "$(printf '%s\n' "$CHECK_OUT" | wc -l)" 1 "$name: one line"
}
v2() { # FILE
	HTTP_STEPPAY_SIGNATURE=$(steppay_v2_signature "$1" "${2:-$V2_SECRET}") \
		cgi_run "$B/steppay-v2.fcgi" POST application/json "$1"
}
np() { cgi_run "$B/nicepay.fcgi" POST application/json "$1"; }
kst() { TZ=Asia/Seoul date -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%S.000+0900; }
# A StepPay v2 subscription whose next payment is SECONDS from now, sent
# at envelope time STAMP (the version of a subscription).
subscription() { # FILE SECONDS STAMP
	python3 - "$P2/subscription-created.json" "$1" "$2" "$3" <<'PY'
import datetime, json, sys
src, dst, secs, stamp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
d = json.load(open(src))
at = datetime.datetime.utcnow() + datetime.timedelta(seconds=secs)
d["data"]["nextPaymentDate"] = at.strftime("%Y-%m-%dT%H:%M:%S")
d["timestamp"] = stamp
open(dst, "w").write(json.dumps(d, ensure_ascii=False))
PY
}

# --- UNKNOWN: before payhook migrate, and for a bad option ------------------
expect 3 '^PAYHOOK UNKNOWN - .*payhook migrate' "no schema yet"
rc=0; out=$("$PAYHOOK" status --check --no-such-option 2>&1) || rc=$?
is "$rc" 3 "a bad option with --check exits 3 (UNKNOWN), as monitoring expects"
rc=0; "$PAYHOOK" status --no-such-option >/dev/null 2>&1 || rc=$?
is "$rc" 2 "a bad option without --check is a usage error (2)"
"$PAYHOOK" migrate --database "$PH_TEST_CONNINFO" >/dev/null

# --- no delivery at all ------------------------------------------------------
expect 1 '^PAYHOOK WARNING - no delivery received yet' "fresh install"
expect 0 '^PAYHOOK OK - ' "fresh install, check_quiet = 0" PAYHOOK_CHECK_QUIET=0

# --- a delivery: OK ----------------------------------------------------------
np_payload "$work/card.json" tid='"status-card-0001"' orderId='"status-o1"' \
	paidAt="\"$(kst 0)\"" ediDate="\"$(kst 0)\""
np "$work/card.json"
is "$CGI_STATUS" 200 "a NicePay card payment is stored"
expect 0 '^PAYHOOK OK - 1 deliver' "one delivery"
like "$CHECK_OUT" '[|] .*deliveries=1;' "performance data for graphs"

# --- no delivery for longer than check_quiet -----------------------------------
sleep 2
expect 1 'WARNING - no delivery for [0-9]+ s' "quiet for longer than check_quiet" \
	PAYHOOK_CHECK_QUIET=1
expect 0 'OK' "quiet, but not for longer than check_quiet"

# --- virtual account past its deadline, neither paid nor expired ---------------
VB='{"vbankCode":"004","vbankName":"국민은행","vbankNumber":"11122233344455","vbankExpDate":"'"$(kst -7200)"'","vbankHolder":"테스트상점"}'
np_payload "$work/vbank.json" tid='"status-vbank-0001"' orderId='"status-o2"' payMethod='"vbank"' \
	status='"ready"' amount=9000 balanceAmt=9000 paidAt='"0"' card=null approveNo=null \
	receiptUrl=null ediDate="\"$(kst -9000)\"" vbank="$VB"
np "$work/vbank.json"
is "$CGI_STATUS" 200 "a virtual account issued 2.5 h ago, deadline 2 h ago"
expect 1 'WARNING - 1 virtual account past its deadline' "vbank overdue"
expect 0 'OK' "vbank overdue, but within check_vbank_grace" PAYHOOK_CHECK_VBANK_GRACE=86400
np_payload "$work/vbank-expired.json" tid='"status-vbank-0001"' orderId='"status-o2"' \
	payMethod='"vbank"' status='"expired"' amount=9000 balanceAmt=9000 paidAt='"0"' card=null \
	approveNo=null receiptUrl=null ediDate="\"$(kst -60)\"" vbank="$VB"
np "$work/vbank-expired.json"
is "$CGI_STATUS" 200 "then NicePay says it expired"
expect 0 'OK' "an expired virtual account is no longer watched"

# --- a subscription past its payment date with no payment event ------------------
subscription "$work/sub-late.json" -172800 1795000002
v2 "$work/sub-late.json"
is "$CGI_STATUS" 200 "an ACTIVE subscription whose payment was due two days ago"
expect 1 'WARNING - 1 subscription past its payment date' "payment overdue"
expect 0 'OK' "payment overdue, but within check_payment_grace" \
	PAYHOOK_CHECK_PAYMENT_GRACE=259200
subscription "$work/sub-paid.json" 1209600 1795000100
v2 "$work/sub-paid.json"
is "$CGI_STATUS" 200 "then the subscription moves on to its next date"
expect 0 'OK' "a subscription that was charged is no longer watched"

# --- verification still pending after check_pending_after ------------------------
cgi_run "$B/steppay-v1.fcgi" POST application/json \
	"$top_srcdir/tests/payloads/steppay-v1/subscription-unpaid.json"
is "$CGI_STATUS" 200 "a StepPay v1 notice: its object waits for payhook sync"
expect 0 'OK' "pending for less than check_pending_after"
sleep 2
expect 1 'WARNING - 1 object still pending verification' "pending too long" \
	PAYHOOK_CHECK_PENDING_AFTER=1

# --- a burst of signature failures ---------------------------------------------------
for i in 1 2 3 4 5; do
	v2 "$P2/payment-completed.json" "a-key-rotated-on-one-side-$i"
done
is "$CGI_STATUS" 401 "forged (or wrongly keyed) deliveries are rejected"
expect 2 'CRITICAL - 5 deliveries rejected in the last 15 min' "signature failures"
expect 0 'OK' "fewer than check_rejected" PAYHOOK_CHECK_REJECTED=6
expect 0 'OK' "check_rejected = 0 turns it off" PAYHOOK_CHECK_REJECTED=0
export PAYHOOK_CHECK_REJECTED=0

# --- the database down, then the spool --------------------------------------------------
pg_stop
expect 2 'CRITICAL - database unreachable' "database down"
np_payload "$work/card2.json" tid='"status-card-0002"' orderId='"status-o3"' \
	paidAt="\"$(kst 0)\"" ediDate="\"$(kst 0)\""
np "$work/card2.json"
is "$CGI_STATUS" 200 "a delivery while the database is down is spooled"
is "$(find "$SPOOL" -maxdepth 1 -name '*.spool' | wc -l)" 1 "one file waits in the spool"
pg_server_start
expect 1 'WARNING - 1 delivery waiting in the spool' "spool not empty"
sleep 2
expect 2 'CRITICAL - 1 delivery waiting in the spool, the oldest for [0-9]+ s' \
	"spool older than check_spool_age" PAYHOOK_CHECK_SPOOL_AGE=1
"$PAYHOOK" replay >/dev/null
expect 0 'OK' "replayed: the spool is empty again"

printf 'not a spool file\n' >"$SPOOL/00000000000000001-0000000001-0000000001.spool"
"$PAYHOOK" replay >/dev/null 2>&1 || true
expect 2 'CRITICAL - 1 spooled delivery could not be applied' "a file set aside in failed/"
rm -rf "${SPOOL:?}/failed"
chmod 0 "$SPOOL"
if [ "$(id -u)" != 0 ]; then
	expect 3 'UNKNOWN - .*spool' "an unreadable spool is UNKNOWN"
fi
chmod 0700 "$SPOOL"

# --- several problems: the worst decides, all are named ----------------------------------
expect 2 'CRITICAL - 5 deliveries rejected.*; no delivery for' "two problems in one line" \
	PAYHOOK_CHECK_REJECTED=5 PAYHOOK_CHECK_QUIET=1

# --- payhook status, for a person ------------------------------------------------------
out=$("$PAYHOOK" status 2>&1)
like "$out" 'database: *reachable' "status: the database is reachable"
like "$out" 'last hour: *[0-9]+ deliveries' "status: the last hour's count"
like "$out" 'rejected 5' "status: counts by outcome"
like "$out" 'spool: .*0 waiting, 0 set aside' "status: the spool"
like "$out" 'last error: .*rejected' "status: the last error"
like "$out" 'pending verification' "status: the conditions --check watches are listed too"
rc=0; "$PAYHOOK" status >/dev/null 2>&1 || rc=$?
is "$rc" 0 "status without --check exits 0 while the database answers"

# --- as the read-only role -----------------------------------------------------------------
"$PAYHOOK" migrate --database "$PH_TEST_CONNINFO" --roles >/dev/null
check PAYHOOK_DATABASE="$(pg_conninfo payhook_reader)" PAYHOOK_CHECK_PENDING_AFTER=1
is "$CHECK_RC" 1 "payhook_reader can run the checks (SELECT only)"
like "$CHECK_OUT" 'pending verification' "payhook_reader sees the pending object"

pg_stop
rc=0; out=$("$PAYHOOK" status 2>&1) || rc=$?
is "$rc" 1 "status exits 1 when the database does not answer"
like "$out" 'database: *unreachable' "status says the database is unreachable"

tap_done
