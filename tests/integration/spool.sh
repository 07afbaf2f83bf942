#!/bin/bash
# The spool: with PostgreSQL stopped, every endpoint still answers 200
# and keeps the delivery in a 0600 file (never a secret in it); with the
# spool unwritable too, 503. Once PostgreSQL is back, `payhook replay`
# applies the files (plain CGI) or a FastCGI handler under lighttpd does it
# by itself within 10 s, in received order, through the same rules
# (dedupe: a spooled re-delivery ends `duplicate`); a corrupt file is set
# aside and listed. And a FastCGI handler stops at once on SIGTERM.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

B="$top_builddir/cgi-bin"
P1="$top_srcdir/tests/payloads/steppay-v1"
P2="$top_srcdir/tests/payloads/steppay-v2"
PAYHOOK="$top_builddir/bin/payhook"
# replay runs the handlers' code: under valgrind too when the suite does.
replay() {
	# shellcheck disable=SC2086
	${PH_TEST_WRAPPER:-} "$PAYHOOK" replay "$@"
}

pg_start
"$PAYHOOK" migrate --database "$PH_TEST_CONNINFO" >/dev/null
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
chmod 0755 "$work"
SPOOL="$work/spool"
V1_TOKEN="v1-token-secret-$$-a7"
V2_SECRET="v2-whsec-secret-$$-b8"
NP_KEY="np-key-secret-$$-c9"
# steppay_v2_max_age is short: a replay comes later than that, and must
# not be refused for the time the delivery waited in the spool.
cat >"$work/payhook.conf" <<CONF
database = $PH_TEST_CONNINFO
spool_dir = $SPOOL
steppay_v1_token = $V1_TOKEN
steppay_v2_secret = $V2_SECRET
steppay_v2_max_age = 8
nicepay_secret_key = $NP_KEY
CONF
chmod 0600 "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

sign_v2() { # FILE: a Steppay-Signature header for FILE, now
	steppay_v2_signature "$1" "$V2_SECRET"
}
v1() { cgi_run "$B/steppay-v1.fcgi" POST application/json "$1" "token=$V1_TOKEN"; }
v2_signed_at=0
v2() {
	v2_signed_at=$(date +%s)
	HTTP_STEPPAY_SIGNATURE=$(sign_v2 "$1")
	export HTTP_STEPPAY_SIGNATURE
	cgi_run "$B/steppay-v2.fcgi" POST application/json "$1"
	unset HTTP_STEPPAY_SIGNATURE
}
np() { cgi_run "$B/nicepay.fcgi" POST 'application/json;charset=utf-8' "$1"; }
spooled() { find "$SPOOL" -maxdepth 1 -name '[0-9]*.spool' 2>/dev/null | wc -l; }
modes() { find "$SPOOL" -maxdepth 1 -name '*.spool' -printf '%m\n' | sort -u | tr '\n' ' '; }

printf '{"id":5501,"status":"ACTIVE"}' >"$work/s5501-active.json"
printf '{"id":5501,"status":"PAUSE"}' >"$work/s5501-pause.json"
printf '{"id":5502,"status":"ACTIVE"}' >"$work/s5502-active.json"
printf '{"id":5502,"status":"PAUSE"}' >"$work/s5502-pause.json"
T1=nictest2m0101261120090000s001
np_payload "$work/np-paid.json" tid="\"$T1\"" orderId='"spool-0001"'

# --- a delivery stored before the outage, to be re-delivered during it ------
v2 "$P2/customer-created.json"
is "$CGI_STATUS $CGI_BODY" "200 applied" "database up: stored at once"
is "$(spooled)" "0" "database up: nothing spooled"

# --- database down: plain CGI ---------------------------------------------------
pg_stop
v1 "$work/s5501-active.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "steppay-v1, database down: 200"
like "$CGI_STDERR" "status=200 outcome=spooled.*spooled as [0-9]+-[0-9]+-[0-9]+\.spool" \
	"the log line says it was spooled, and as which file"
v1 "$work/s5501-pause.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "steppay-v1, second notice for the same object: 200"
v2 "$P2/order-created.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "steppay-v2 (signed), database down: 200"
v2 "$P2/customer-created.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "steppay-v2 re-delivery of a stored body: 200"
np "$work/np-paid.json"
is "$CGI_STATUS" "200" "nicepay (signed), database down: 200"
is "$CGI_BODY" "OK" "nicepay: the body NicePay expects, exactly OK"
cgi_run "$B/steppay-v1.fcgi" POST application/json "$work/s5501-active.json" "token=wrong"
is "$CGI_STATUS" "401" "a wrong token, database down: 401, not spooled"
like "$CGI_STDERR" "the rejected delivery was not recorded: .*database" \
	"the log says the rejection could not be recorded, and why"
is "$(spooled)" "5" "five files in spool_dir"
is "$(modes)" "600 " "every file is 0600"
is "$(stat -c %a "$SPOOL")" "700" "spool_dir created 0700"
is "$(find "$SPOOL" -name '.tmp-*' | wc -l)" "0" "no temporary file left"
ok "no spool file holds a configured secret" \
	sh -c '! grep -r -l -F -e "$1" -e "$2" -e "$3" "$4"' sh "$V1_TOKEN" "$V2_SECRET" "$NP_KEY" "$SPOOL"
# The suite-wide secret scan (tests/run) reads the spool files too.
for f in "$SPOOL"/*.spool; do scan_keep_log "$f"; done
ok "the v2 file keeps the verified header and the verification result" \
	sh -c 'grep -l "^header: Steppay-Signature: timestamp=" "$1"/*.spool | xargs grep -l "^signature-valid: true"' sh "$SPOOL"

# Unwritable spool_dir (a path under a regular file: root ignores modes).
: >"$work/not-a-dir"
PAYHOOK_SPOOL_DIR="$work/not-a-dir/spool" np "$work/np-paid.json"
is "$CGI_STATUS" "503" "database down and spool unwritable: 503"
like "$CGI_STDERR" "cannot store .* and cannot spool .*not-a-dir" "and a log line says both"
is "$(spooled)" "5" "nothing else spooled"

out=$(replay --list 2>&1) || true
is "$(printf '%s\n' "$out" | grep -c '^pending ')" "5" "replay --list: five pending"
like "$out" "pending [0-9-]+\.spool steppay-v1 " "replay --list names the endpoint"
out=$("$PAYHOOK" check-config --no-database 2>&1) || true
like "$out" "spool: $SPOOL: 5 waiting, 0 failed" "check-config reports the spool"
out=$(PAYHOOK_SPOOL_DIR="$work/not-yet" "$PAYHOOK" check-config --no-database 2>&1) || true
like "$out" "spool: $work/not-yet does not exist yet \\(created 0700 on first use\\)" \
	"check-config: a spool_dir its parent lets be created"
out=$(PAYHOOK_SPOOL_DIR="$work/no/such/dir" "$PAYHOOK" check-config --no-database 2>&1) || true
like "$out" "warning: spool: $work/no/such/dir does not exist and cannot be created" \
	"check-config: a spool_dir that cannot be created (shared hosting) is a warning"

# A file that is not a spool file, named to sort first.
printf 'payhook-spool 1\nendpoint: steppay-v1\ntruncated' >"$SPOOL/00000000000000001-0000000001-0000000001.spool"
chmod 0600 "$SPOOL/00000000000000001-0000000001-0000000001.spool"

out=$(replay 2>&1) && rc=0 || rc=$?
is "$rc" "1" "replay with the database down exits 1"
is "$(spooled)" "6" "and leaves every file in place"

# --- database back: payhook replay -----------------------------------------------
# Past steppay_v2_max_age since the last v2 delivery was signed.
for _ in $(seq 1 40); do
	[ $(($(date +%s) - v2_signed_at)) -le 9 ] || break
	sleep 0.5
done
restart_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
pg_restart
out=$(replay 2>&1) && rc=0 || rc=$?
like "$out" "applied 5, set aside 1, 0 waiting" "replay applies five and sets the corrupt one aside"
is "$rc" "1" "and exits 1, since one was set aside"
like "$out" "endpoint=steppay-v2 status=200 outcome=applied event=order.created" \
	"a v2 delivery older than steppay_v2_max_age is applied (checked when received)"
like "$out" "endpoint=steppay-v2 status=200 outcome=duplicate event=customer.created" \
	"the spooled re-delivery of a stored body ends duplicate"
is "$(spooled)" "0" "spool empty"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '5501'")" "PAUSE" \
	"steppay-v1: two notices applied in received order (ACTIVE, then PAUSE)"
is "$(psql_q "SELECT string_agg(status, ',' ORDER BY observed_at) FROM payhook.subscription_status_history
	WHERE subscription_id = '5501'")" "ACTIVE,PAUSE" "history in received order"
is "$(psql_q "SELECT count(*) FROM payhook.orders WHERE order_id = '731204'")" "1" "steppay-v2 order stored"
is "$(psql_q "SELECT p.status || ' ' || e.signature_valid FROM payhook.payments p
	JOIN payhook.webhook_events e ON e.endpoint = 'nicepay' AND e.payload->>'tid' = p.payment_key
	WHERE p.payment_key = '$T1'")" "paid true" \
	"nicepay payment stored, with the signature result it was spooled with"
is "$(psql_q "SELECT delivery_count FROM payhook.webhook_events
	WHERE event_type = 'customer.created'")" "2" "the re-delivery counted once more"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events
	WHERE received_at < '$restart_at' AND endpoint IN ('steppay-v1', 'steppay-v2', 'nicepay')")" "5" \
	"rows keep the time received, not the time replayed"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE remote_addr = '127.0.0.1'")" "5" \
	"and the client address"

out=$(replay --list 2>&1) || true
like "$out" "failed 00000000000000001-0000000001-0000000001\.spool .*spool" \
	"replay --list shows the file set aside, with its reason"
ok "its reason is beside it in failed/" test -s "$SPOOL/failed/00000000000000001-0000000001-0000000001.spool.error"
out=$("$PAYHOOK" check-config --no-database 2>&1) || true
like "$out" "0 waiting, 1 failed" "check-config counts it"
like "$out" "could not be applied: payhook replay --list" "and points to replay --list"
out=$(replay 2>&1) && rc=0 || rc=$?
is "$rc:$out" "0:" "replay with nothing to do: silent, exit 0 (cron)"

# --- temporary files of writers killed before their rename --------------------------
# A writer finishes within seconds; one older than 10 minutes was killed.
STALE=.tmp-00000000000000002-0000000001-0000000001.spool
FRESH=.tmp-00000000000000003-0000000001-0000000001.spool
printf 'payhook-spool 1\nendpoint: steppay-v1\n' >"$SPOOL/$STALE"
printf 'payhook-spool 1\nendpoint: steppay-v1\n' >"$SPOOL/$FRESH"
touch -d '11 minutes ago' "$SPOOL/$STALE"
touch -d '9 minutes ago' "$SPOOL/$FRESH"
out=$("$PAYHOOK" check-config --no-database 2>&1) || true
like "$out" "spool: $SPOOL: 0 waiting, 1 failed, 1 stale temporary" \
	"check-config counts a temporary file older than 10 minutes, not a younger one"
like "$out" "warning: 1 temporary spool file" "and warns about it"
out=$(replay --list 2>&1) || true
like "$out" "stale $STALE " "replay --list names the stale temporary file"
ok "replay --list does not name the young one" sh -c '! printf "%s\n" "$1" | grep -q -F "$2"' sh "$out" "$FRESH"
out=$(replay 2>&1) && rc=0 || rc=$?
like "$out" "removed 1 stale temporary file" "replay removes the stale temporary file"
ok "it is gone" test ! -e "$SPOOL/$STALE"
ok "the young one stays (its writer may still be at work)" test -e "$SPOOL/$FRESH"

# --- a batch: one transaction; a drainer killed after COMMIT ------------------------
# Three files applied in one batch, one of them a body the database cannot
# store (recorded as failed, as live: the batch goes on). Then the files
# are put back, as if the drainer had been killed between COMMIT and the
# removal: the next drain must remove them without applying them again
# (StepPay v1 has no dedupe key: ACTIVE again after PAUSE would count).
printf '{"id":5701,"status":"ACTIVE"}' >"$work/s5701-active.json"
printf '{"id":5701,"status":"PAUSE"}' >"$work/s5701-pause.json"
pg_stop
v1 "$work/s5701-active.json"
v1 "$P1/unstorable-number.json"
v1 "$work/s5701-pause.json"
is "$(spooled)" "3" "three notices spooled"
mkdir "$work/kept"
cp -p "$SPOOL"/*.spool "$work/kept/"
pg_restart
events_before=$(psql_q "SELECT count(*) FROM payhook.webhook_events")
out=$(replay 2>&1) && rc=0 || rc=$?
like "$out" "applied 3, set aside 0, 0 waiting" "one batch applies all three"
is "$(psql_q "SELECT outcome FROM payhook.webhook_events ORDER BY id DESC LIMIT 3" | sort | tr '\n' ' ')" \
	"applied applied failed " "the unstorable body is recorded as failed, the others applied"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '5701'")" "PAUSE" \
	"in received order"
kept=$(cd "$work/kept" && printf "'%s'," *.spool)
is "$(psql_q "SELECT count(*) FROM payhook.spool_applied WHERE name IN (${kept%,})")" "3" \
	"their names are recorded"
cp -p "$work/kept/"*.spool "$SPOOL/"
events_after=$(psql_q "SELECT count(*) FROM payhook.webhook_events")
out=$(replay 2>&1) && rc=0 || rc=$?
is "$(spooled)" "0" "files already applied are removed"
is "$(printf '%s\n' "$out" | grep -c 'was applied before')" "3" "each one logged as applied before"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events")" "$events_after" \
	"and none of them applied again"
is "$((events_after - events_before))" "3" "(three rows from the first drain)"
is "$(psql_q "SELECT string_agg(status, ',' ORDER BY observed_at) FROM payhook.subscription_status_history
	WHERE subscription_id = '5701'")" "ACTIVE,PAUSE" "history unchanged: StepPay v1 not applied twice"

# --- a live delivery joins a non-empty spool; the CGI handler drains it ------------
touch -d '20 minutes ago' "$SPOOL/$FRESH"
pg_stop
v1 "$work/s5502-active.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "database down: spooled"
ok "the CGI handler removed the stale temporary file, database down or not" \
	test ! -e "$SPOOL/$FRESH"
like "$CGI_STDERR" "spool: removed 1 stale temporary file" "saying so in the log"
pg_restart
v1 "$work/s5502-pause.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "database up, spool not empty: the live delivery joins it"
like "$CGI_STDERR" "spool: applied 2, set aside 0, 0 waiting" \
	"after answering, the CGI handler applied the spool"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '5502'")" "PAUSE" \
	"in received order"
is "$(spooled)" "0" "spool empty again"

# --- only StepPay v1 waits behind the spool ------------------------------------------
# StepPay v2 and NicePay carry versions, so any order of theirs leaves the
# same state: with files waiting, a live one is stored at once (and the
# merchant sees it at once), while a StepPay v1 notice still joins them.
pg_stop
v1 "$work/s5502-active.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "database down: a StepPay v1 notice spooled"
pg_restart
v2 "$P2/price-created.json"
is "$CGI_STATUS" "200" "database up, spool not empty: StepPay v2 answered 200"
is "$(printf '%s\n' "$CGI_STDERR" | grep -c 'outcome=spooled')" "0" \
	"and stored at once, not behind the spool"
like "$CGI_STDERR" "spool: applied 1, set aside 0, 0 waiting" "the spool applied after it"
pg_stop
v1 "$work/s5502-pause.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "database down again: spooled"
pg_restart
np_payload "$work/np-paid-3.json" tid='"nictest1m0101260320101010s003"' orderId='"spool-0003"'
np "$work/np-paid-3.json"
is "$CGI_STATUS" "200" "spool not empty: NicePay answered 200"
is "$(printf '%s\n' "$CGI_STDERR" | grep -c 'outcome=spooled')" "0" "and stored at once"
is "$(spooled)" "0" "the spool applied after it"
pg_stop
v1 "$work/s5502-active.json"
pg_restart
v1 "$work/s5502-pause.json"
is "$CGI_STATUS $CGI_BODY" "200 spooled" "spool not empty: a StepPay v1 notice still joins it"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '5502'")" "PAUSE" \
	"and is applied after the older one"

# --- payhook's statement timeout, in the delivery's own transaction ---------------
# A lock held longer than the timeout: the server cancels the call (57014),
# which says nothing about the database being down: 503, not spooled.
# The lock is held until the handler has answered, however slowly it
# starts (valgrind); its own log line says how long it waited.
psql -X -q -c "BEGIN; LOCK TABLE payhook.subscriptions IN EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT" \
	>/dev/null 2>&1 &
locker=$!
for _ in $(seq 1 50); do
	[ "$(psql_q "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'ExclusiveLock'
		AND relation = 'payhook.subscriptions'::regclass")" = 1 ] && break
	sleep 0.1
done
printf '{"id":5503,"status":"ACTIVE"}' >"$work/s5503-active.json"
v1 "$work/s5503-active.json"
psql_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
	WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" || true
is "$CGI_STATUS" "503" "a statement over payhook's statement_timeout: 503"
like "$CGI_STDERR" "outcome=database-busy .*57014" "logged as database-busy, with the SQLSTATE"
ms=$(printf '%s\n' "$CGI_STDERR" | sed -n 's/.*outcome=database-busy.* ms=\([0-9]*\).*/\1/p')
ok "cancelled after about 5 s (${ms:-?} ms in the handler)" test "${ms:-0}" -ge 4500 -a "${ms:-0}" -lt 60000
is "$(spooled)" "0" "a busy database is not a reason to spool"

# --- FastCGI under lighttpd: drained without any command -----------------------------
# name HANDLER CONTENT_TYPE FILE...: outage, deliveries, recovery.
lighttpd_round() {
	local name=$1 handler=$2 ct=$3 f n i t0 t1 sig
	shift 3
	lighttpd_start "$B/$handler" "/$name" param:PAYHOOK_CONFIG="$work/payhook.conf" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
	pg_stop
	n=0
	for f in "$@"; do
		sig=()
		[ "$name" != steppay-v2 ] || sig=(-H "Steppay-Signature: $(sign_v2 "$f")")
		http_post "$LIGHTTPD_URL/$name?token=$V1_TOKEN" "$ct" "$f" "${sig[@]}"
		[ "$HTTP_STATUS" = 200 ] && n=$((n + 1)) || diag "$name: $HTTP_STATUS $HTTP_BODY"
	done
	is "$n" "$#" "lighttpd $name, database down: every delivery 200"
	is "$(spooled)" "$#" "lighttpd $name: one file each"
	is "$(modes)" "600 " "lighttpd $name: 0600"
	t0=$(date +%s%N)
	pg_restart
	for i in $(seq 1 120); do
		[ "$(spooled)" != 0 ] || break
		sleep 0.1
	done
	t1=$(date +%s%N)
	is "$(spooled)" "0" "lighttpd $name: spool applied without any command"
	ok "lighttpd $name: within 10 s of the database coming back ($(((t1 - t0) / 1000000)) ms)" \
		test $(((t1 - t0) / 1000000)) -le 10000
	diag "lighttpd $name: spool drained $(((t1 - t0) / 1000000)) ms after pg_restart returned"
	lighttpd_stop
}

printf '{"id":5601,"status":"ACTIVE"}' >"$work/s5601-active.json"
printf '{"id":5601,"status":"PAUSE"}' >"$work/s5601-pause.json"
lighttpd_round steppay-v1 steppay-v1.fcgi application/json \
	"$work/s5601-active.json" "$work/s5601-pause.json"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '5601'")" "PAUSE" \
	"lighttpd steppay-v1: applied in received order"
lighttpd_round steppay-v2 steppay-v2.fcgi application/json "$P2/product-created.json"
is "$(psql_q "SELECT count(*) FROM payhook.products")" "1" "lighttpd steppay-v2: product stored"
T2=nictest2m0101261120090000s002
np_payload "$work/np-paid-2.json" tid="\"$T2\"" orderId='"spool-0002"'
lighttpd_round nicepay nicepay.fcgi 'application/json;charset=utf-8' "$work/np-paid-2.json"
is "$(psql_q "SELECT status FROM payhook.payments WHERE payment_key = '$T2'")" "paid" \
	"lighttpd nicepay: payment stored"

# --- SIGTERM to an idle FastCGI handler ------------------------------------------
cat >"$work/sigterm.py" <<'PY'
import os, signal, socket, subprocess, sys, time
path, wait = sys.argv[1], float(sys.argv[2])
cmd = sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
p = subprocess.Popen(cmd, stdin=s.fileno(), stdout=subprocess.DEVNULL)
time.sleep(wait)
if p.poll() is not None:
    print("exited early %d" % p.returncode)
    sys.exit(0)
t = time.monotonic()
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
    print("no exit after 10 s")
    sys.exit(0)
print("exit %d in %d ms" % (rc, (time.monotonic() - t) * 1000))
PY
# Long enough for the handler to be waiting (valgrind starts slowly).
idle=2.5
[ -z "${PH_TEST_WRAPPER:-}" ] || idle=10
# shellcheck disable=SC2086
out=$(python3 "$work/sigterm.py" "$work/fcgi.sock" "$idle" ${PH_TEST_WRAPPER:-} "$B/nicepay.fcgi" 2>&1)
like "$out" "^exit 0 in [0-9]+ ms" "SIGTERM to an idle FastCGI handler: exit 0"
ms=${out##* in }
ms=${ms%% ms*}
ok "promptly ($ms ms)" test "${ms:-99999}" -lt 3000

tap_done
