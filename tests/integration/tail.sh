#!/bin/bash
# payhook tail: the latest deliveries, read as the reader role, from rows
# the real handlers wrote (plain CGI) to a real PostgreSQL: order, object
# keys, outcomes, ms, colour only on a terminal, attacker bytes sanitized,
# -f following new rows across a database restart, and bad options.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

PAYHOOK="$top_builddir/bin/payhook"
V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
V2="$top_builddir/cgi-bin/steppay-v2.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"
P1="$top_srcdir/tests/payloads/steppay-v1"
P2="$top_srcdir/tests/payloads/steppay-v2"

pg_start
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf"
SECRET="v2-tail-secret-$$"
NP_KEY="np-tail-secret-$$"
export PAYHOOK_STEPPAY_V2_SECRET="$SECRET" PAYHOOK_NICEPAY_SECRET_KEY="$NP_KEY"

"$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" >/dev/null
is "$(psql_q "SELECT column_default FROM information_schema.columns
    WHERE table_schema = 'payhook' AND table_name = 'webhook_events'
    AND column_name = 'stored_at'")" "clock_timestamp()" \
	"webhook_events.stored_at defaults to clock_timestamp()"

# The handlers write as the writer; tail reads as the reader.
export PAYHOOK_DATABASE="$(pg_conninfo payhook_writer)"
READER="$(pg_conninfo payhook_reader)"

send_v1() { # FILE [QUERY]
	cgi_run "$V1" POST application/json "$1" "${2:-}"
}
send_v2() { # FILE [SECRET]
	HTTP_STEPPAY_SIGNATURE=$(steppay_v2_signature "$1" "${2:-$SECRET}") \
		cgi_run "$V2" POST application/json "$1"
}
send_np() { cgi_run "$NP" POST application/json "$1"; }

# Each provider and outcome, in this order.
send_v1 "$P1/order-paid.json"                              # applied
send_v1 "$P1/subscription-active.json"                     # applied
send_v1 "$P1/subscription-active.json"                     # duplicate
send_v1 "$P1/payment.json"                                 # applied
send_v1 "$P1/unstorable-number.json"                       # failed
PAYHOOK_STEPPAY_V1_TOKEN="tok-$$" send_v1 "$P1/order-paid.json" "token=wrong"  # rejected
is "$CGI_STATUS" 401 "wrong token: 401 (a rejected row)"
send_v2 "$P2/order-updated.json"                           # applied
send_v2 "$P2/order-created.json"                           # stale
send_v2 "$P2/payment-completed.json"                       # applied ...
send_v2 "$P2/payment-completed.json"                       # ... delivered twice
send_v2 "$P2/price-created.json"                           # applied
send_v2 "$P2/subscription-created.json"                    # applied
sed 's/"event":"order.updated"/"event":"order.exploded"/' "$P2/order-updated.json" \
	> "$work/unknown.json"
send_v2 "$work/unknown.json"                               # unhandled
# An event type is attacker data too: an unknown one is stored as sent.
sed 's/"event":"order.updated"/"event":"x\\u001b[31m\\u0007 y"/' "$P2/order-updated.json" \
	> "$work/unknown-esc.json"
send_v2 "$work/unknown-esc.json"                           # unhandled
send_v2 "$P2/invoice-created.json" "not-the-secret"        # rejected
is "$CGI_STATUS" 401 "bad v2 signature: 401 (a rejected row)"
np_payload "$work/np-paid.json" tid='"nictest1m0101261123000000t001"' orderId='"shop-1123-1"'
send_np "$work/np-paid.json"                               # applied
np_payload "$work/np-failed.json" signature=- tid='"nictest1m0101261123000000t002"' \
	orderId='"shop-1123-2"' status='"failed"' balanceAmt=0 paidAt='"0"' \
	failedAt='"2026-11-23T10:00:00.000+0900"' ediDate='"2026-11-23T10:00:00.000+0900"'
send_np "$work/np-failed.json"                             # unverified
np_payload "$work/np-sample.json" tid='"UTWEBHOOKm05012611230000001999"' orderId='"sample"' \
	status='""' signature='"0"'
send_np "$work/np-sample.json"                             # test
np_payload "$work/np-forged.json" tid='"nictest1m0101261123000000t003"' signature='"00"'
send_np "$work/np-forged.json"                             # rejected
is "$CGI_STATUS" 401 "bad NicePay signature: 401 (a rejected row)"
# orderId is not signed: a payload is attacker data. ESC ] (a window
# title), BEL, ESC [ (clear screen) and a C1 CSI byte.
np_payload "$work/np-esc.json" tid='"nictest1m0101261123000000t004"' \
	orderId='"\u001b]0;owned\u0007\u001b[2J\u009b31m"'
send_np "$work/np-esc.json"                                # applied
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events")" 19 "19 rows delivered"
is "$(psql_q "SELECT string_agg(DISTINCT outcome, ',' ORDER BY outcome)
    FROM payhook.webhook_events")" "applied,duplicate,failed,rejected,stale,test,unhandled,unverified" \
	"every outcome a delivery can have is there"

# stored_at is the insert's: payhook rebuild, which replays the log, keeps it.
stored=$(psql_q "SELECT string_agg(id || '@' || stored_at, ',' ORDER BY id) FROM payhook.webhook_events")
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events WHERE stored_at >= received_at")" 19 \
	"every row has its stored_at, after received_at"
"$PAYHOOK" rebuild --database "$(pg_conninfo payhook_owner)" >"$work/rebuild" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "payhook rebuild runs"
is "$(psql_q "SELECT string_agg(id || '@' || stored_at, ',' ORDER BY id) FROM payhook.webhook_events")" \
	"$stored" "and leaves stored_at as it was"

# fields OUTPUT: provider endpoint event object outcome [xN] of each line
# (the time is two fields, then the columns; ms is checked apart).
fields() {
	printf '%s\n' "$1" | awk '{ s = $3 " " $4 " " $5 " " $6 " " $7; if (NF > 8) s = s " " $9; print s }'
}

out=$(TZ=UTC "$PAYHOOK" tail -n 100 --database "$READER" 2>"$work/err") && rc=0 || rc=$?
is "$rc" 0 "tail -n 100 as the reader role exits 0"
is "$(cat "$work/err")" "" "and says nothing on stderr"
expected="steppay steppay-v1 order orderId=90417 applied
steppay steppay-v1 subscription id=4021 applied
steppay steppay-v1 subscription id=4021 duplicate
steppay steppay-v1 payment idKey=1718236799412aB3dE5fG7hJ9kL1m,orderId=880231 applied
steppay steppay-v1 subscription - failed
steppay steppay-v1 - - rejected
steppay steppay-v2 order.updated id=731204 applied
steppay steppay-v2 order.created id=731204 stale
steppay steppay-v2 payment.completed paymentId=66120 applied x2
steppay steppay-v2 product.price.created priceCode=price_Lq81 applied
steppay steppay-v2 subscription.created subscriptionId=$(sed 's/.*"subscriptionId":\([0-9]*\).*/\1/' "$P2/subscription-created.json") applied
steppay steppay-v2 order.exploded id=731204 unhandled
steppay steppay-v2 x?[31m??y id=731204 unhandled
steppay steppay-v2 - - rejected
nicepay nicepay payment tid=nictest1m0101261123000000t001,orderId=shop-1123-1 applied
nicepay nicepay payment tid=nictest1m0101261123000000t002,orderId=shop-1123-2 unverified
nicepay nicepay test tid=UTWEBHOOKm05012611230000001999,orderId=sample test
nicepay nicepay payment - rejected
nicepay nicepay payment tid=nictest1m0101261123000000t004,orderId=?]0;owned??[2J??31m applied"
is "$(fields "$out")" "$expected" "every row, oldest first, with its object key and outcome"

ms=$(printf '%s\n' "$out" | awk '{ print $8 }' | sort -u | grep -vcE '^[0-9]+ms$' || true)
is "$ms" 0 "every row has its ms (stored_at - received_at)"
first=$(psql_q "SELECT to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
    FROM payhook.webhook_events ORDER BY id LIMIT 1")
is "$(printf '%s\n' "$out" | head -n 1 | cut -c1-19)" "$first" "the time is received_at (TZ=UTC)"
first=$(psql_q "SELECT to_char(received_at AT TIME ZONE 'Asia/Seoul', 'YYYY-MM-DD HH24:MI:SS')
    FROM payhook.webhook_events ORDER BY id LIMIT 1")
is "$(TZ=Asia/Seoul "$PAYHOOK" tail -n 100 --database "$READER" | head -n 1 | cut -c1-19)" \
	"$first" "in the local time zone (TZ=Asia/Seoul)"

# Nothing from the database reaches the terminal raw.
printf '%s' "$out" > "$work/out"
ok "no ESC, BEL, C1 or other control byte in the output" \
	sh -c "! LC_ALL=C grep -q \"\$(printf '[\\001-\\010\\013-\\037\\177-\\377]')\" '$work/out'"
ok "no colour when piped" sh -c "! grep -q \"\$(printf '\\033')\" '$work/out'"

out=$("$PAYHOOK" tail -n 3 --database "$READER")
is "$(fields "$out" | awk '{ print $5 }' | tr '\n' ' ')" "test rejected applied " \
	"-n 3: the last three, oldest first"
is "$(printf '%s\n' "$out" | wc -l)" 3 "-n 3: three lines"
out=$("$PAYHOOK" tail -n 2 --provider steppay --database "$READER")
is "$(fields "$out" | awk '{ print $3 ":" $5 }' | tr '\n' ' ')" "x?[31m??y:unhandled -:rejected " \
	"--provider steppay: that provider's last rows"
out=$(PAYHOOK_DATABASE="$READER" "$PAYHOOK" tail)
is "$(printf '%s\n' "$out" | wc -l)" 10 "default: the last 10 rows (database from the configuration)"
is "$("$PAYHOOK" tail -n 0 --database "$READER")" "" "-n 0: nothing"

# On a terminal (script(1) gives it one): the outcome in colour.
on_tty() { # ENV... -- the output of payhook tail -n 19 on a pseudo-terminal
	script -qec "env $* '$PAYHOOK' tail -n 19 --database '$READER'" /dev/null </dev/null
}
has() { # FIXED-STRING TEXT
	printf '%s' "$2" | grep -qF -- "$1"
}
hasnt() { ! has "$@"; }
ESC=$(printf '\033')
tty_out=$(on_tty NO_COLOR=)
ok "on a terminal: applied in green" has "${ESC}[32mapplied" "$tty_out"
ok "on a terminal: rejected in red" has "${ESC}[31mrejected" "$tty_out"
ok "on a terminal: unverified in yellow" has "${ESC}[33munverified" "$tty_out"
ok "on a terminal: duplicate dim" has "${ESC}[2mduplicate" "$tty_out"
ok "on a terminal: test plain" has "  test  " "$tty_out"
ok "on a terminal, sanitized all the same" has "orderId=?]0;owned??[2J??31m" "$tty_out"
tty_out=$(on_tty NO_COLOR=1)
ok "NO_COLOR: no colour" hasnt "$ESC" "$tty_out"
like "$tty_out" "applied" "NO_COLOR: the rows all the same"
tty_out=$(script -qec "env NO_COLOR= '$PAYHOOK' tail --no-color -n 18 --database '$READER'" \
	/dev/null </dev/null)
ok "--no-color: no colour" hasnt "$ESC" "$tty_out"
like "$tty_out" "applied" "--no-color: the rows all the same"

# --- -f ------------------------------------------------------------------------
# wait_for FILE REGEX: until FILE has a line matching REGEX (15 s at most).
wait_for() {
	local i
	for i in $(seq 1 75); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
readers() { # how many sessions the reader has open
	psql_q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'payhook_reader'"
}
# No timeout(1) in between: the signals below go to payhook itself, and
# stop_follower bounds the wait.
"$PAYHOOK" tail -f -n 1 --interval 0.2 --database "$READER" \
	>"$work/follow" 2>"$work/follow.err" &
fpid=$!
ph_on_exit kill -KILL "$fpid"
# stop_follower SIGNAL: sends it, waits 30 s at most; rc = the exit code
# (a follower that does not stop is shown, then killed: rc 137).
stop_follower() {
	local i
	kill "-$1" "$fpid"
	for i in $(seq 1 150); do
		kill -0 "$fpid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$fpid" 2>/dev/null; then
		diag "payhook tail -f did not stop on SIG$1: $(ps -o stat=,wchan:32= -p "$fpid")"
		diag "$(grep -E '^Sig(Blk|Pnd|Cgt)|^ShdPnd' "/proc/$fpid/status" | tr '\n' ' ')"
		kill -KILL "$fpid"
	fi
	wait "$fpid" && rc=0 || rc=$?
}
ok "-f prints the last row first" wait_for "$work/follow" "t004"
np_payload "$work/np-late.json" tid='"nictest1m0101261123000000t005"' orderId='"late-1"'
send_np "$work/np-late.json"
ok "-f picks up a delivery made after it started" wait_for "$work/follow" "tid=nictest1m0101261123000000t005"

# A transaction that took its id before another committed, and commits
# after it: -f shows it too (a gap in the ids is checked again).
psql_q "BEGIN;
    INSERT INTO payhook.webhook_events (provider, endpoint, event_type, body_sha256, body_length,
        payload, outcome)
    VALUES ('steppay', 'steppay-v1', 'order', repeat('a', 64), 2, '{\"orderId\": 777}', 'applied');
    SELECT pg_sleep(2); COMMIT" >/dev/null &
slow=$!
sleep 0.5
np_payload "$work/np-later.json" tid='"nictest1m0101261123000000t006"' orderId='"late-2"'
send_np "$work/np-later.json"
ok "-f: the delivery that committed first" wait_for "$work/follow" "t006"
wait "$slow"
ok "-f: and the one that took its id earlier but committed later" \
	wait_for "$work/follow" "orderId=777 "

# The database goes away and comes back: -f says so once and goes on.
pg_stop
sleep 1
pg_restart
np_payload "$work/np-after.json" tid='"nictest1m0101261123000000t007"' orderId='"after-1"'
for i in $(seq 1 20); do
	send_np "$work/np-after.json"
	[ "$CGI_STATUS" = 200 ] && break
	sleep 0.5
done
ok "-f goes on after the database restarts" wait_for "$work/follow" "t007"
is "$(grep -c . "$work/follow.err" || true)" 2 "and says so on stderr: lost once, back once"
like "$(cat "$work/follow.err")" "connection.*lost" "the first line says the connection was lost"
is "$(grep -c 't005' "$work/follow")" 1 "no row printed twice"
is "$(readers)" 1 "-f holds one connection"
stop_follower TERM
is "$rc" 0 "-f exits 0 on SIGTERM"

"$PAYHOOK" tail -f -n 0 --database "$READER" >/dev/null 2>&1 &
fpid=$!
ph_on_exit kill -KILL "$fpid"
for i in $(seq 1 50); do [ "$(readers)" = 1 ] && break; sleep 0.2; done
stop_follower INT
is "$rc" 0 "-f exits 0 on SIGINT"

# --- options -------------------------------------------------------------------
for args in "-n x" "-n -1" "-n 1e3" "--provider paypal" "--interval 0" "--interval x" \
	"--bogus" "extra"; do
	# shellcheck disable=SC2086
	"$PAYHOOK" tail $args --database "$READER" >/dev/null 2>"$work/err" && rc=0 || rc=$?
	is "$rc" 2 "bad option '$args' exits 2"
done
like "$(cat "$work/err")" "usage: payhook tail" "with the usage line"
"$PAYHOOK" tail --database "host=$work/nowhere dbname=none" >/dev/null 2>"$work/err" && rc=0 || rc=$?
is "$rc" 1 "no database: exits 1"
like "$(cat "$work/err")" "cannot connect" "and says why"
like "$("$PAYHOOK" tail --help)" "usage: payhook tail" "--help"
tap_done
