#!/bin/bash
# StepPay legacy endpoint, driven as plain CGI, against a real PostgreSQL.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"

H="$top_builddir/cgi-bin/steppay-v1.fcgi"
P="$top_srcdir/tests/payloads/steppay-v1"
PAYHOOK="$top_builddir/bin/payhook"

pg_start
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf"
export PAYHOOK_DATABASE="$PH_TEST_CONNINFO"

# Every table's row count, to show a refused request left nothing behind.
counts() {
	psql_q "SELECT (SELECT count(*) FROM payhook.webhook_events) || '/' ||
	    (SELECT count(*) FROM payhook.orders) || '/' ||
	    (SELECT count(*) FROM payhook.subscriptions) || '/' ||
	    (SELECT count(*) FROM payhook.subscription_status_history) || '/' ||
	    (SELECT count(*) FROM payhook.payments)"
}

# send FILE [CONTENT_TYPE] [QUERY]: one CGI request.
send() {
	cgi_run "$H" POST "${2:-application/json}" "$1" "${3:-}"
}

# refused NAME EXPECTED_STATUS: the last request got that status and wrote nothing.
refused() {
	is "$CGI_STATUS" "$2" "$1: status $2"
	is "$(counts)" "$before" "$1: no row written"
}

# --- migrate -------------------------------------------------------------
out=$("$PAYHOOK" migrate --database "$PH_TEST_CONNINFO" 2>&1)
like "$out" "applied 001_init.sql" "migrate applies 001"
out=$("$PAYHOOK" migrate 2>&1)
like "$out" "up to date" "migrate twice changes nothing (database from PAYHOOK_DATABASE)"
nsql=$(ls "$top_srcdir"/sql/[0-9][0-9][0-9]_*.sql | wc -l)
is "$(psql_q "SELECT count(*) FROM payhook.schema_migrations")" "$nsql" "one row per migration recorded"
cp -r "$top_srcdir/sql" "$work/sql"
echo "-- edited after release" >> "$work/sql/001_init.sql"
out=$("$PAYHOOK" migrate --sql-dir "$work/sql" 2>&1)
like "$out" "001_init.sql changed since it was applied" "migrate warns when an applied migration was edited"
out=$("$PAYHOOK" migrate --sql-dir "$work/none" 2>&1) && rc=0 || rc=$?
is "$rc" "1" "migrate without a migrations directory exits 1"
like "$out" "cannot open migrations directory" "and says why"

# --- check-config ------------------------------------------------------------
printf 'steppay_v1_token = hidden-%s\nmax_body_bytes = 2048\n' "$$" > "$work/cc.conf"
out=$(PAYHOOK_CONFIG="$work/cc.conf" "$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" "0" "check-config: a good configuration exits 0"
like "$out" "max_body_bytes += 2048 +# file" "check-config shows a value and where it came from"
like "$out" "steppay_v1_token += \(set, not shown\)" "check-config hides secrets"
ok "check-config never prints the secret" sh -c "! printf '%s' \"\$1\" | grep -q hidden-" sh "$out"
like "$out" "database: connected as postgres, a superuser" "check-config tries the database"
out=$(PAYHOOK_CONFIG="$work/cc.conf" PAYHOOK_PROVIDER_TIMEZONE=Mars/Olympus "$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" "1" "check-config: a time zone the database does not know exits 1"
like "$out" "provider_timezone 'Mars/Olympus' is not a time zone the database knows" "and says so"
out=$(PAYHOOK_CONFIG="$work/cc.conf" PAYHOOK_PROVIDER_TIMEZONE=Asia/Seoul "$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" "0" "check-config: Asia/Seoul is fine"
out=$(PAYHOOK_CONFIG="$work/cc.conf" PAYHOOK_MAX_BODY_BYTES=lots "$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" "1" "check-config: a bad value exits 1"
like "$out" "PAYHOOK_MAX_BODY_BYTES: expected a number of bytes" "check-config names the bad variable"

# --- the handler as a program ----------------------------------------------
ok "handler --help exits 0" "$H" --help
like "$("$H" --version)" "^steppay-v1 \(payhook\) " "handler --version"
set +e; env -u REQUEST_METHOD "$H" </dev/null >/dev/null 2>"$work/err"; rc=$?; set -e
is "$rc" "2" "outside a web server: exit 2"
like "$(cat "$work/err")" "REQUEST_METHOD is not set" "outside a web server: says why"

# --- the documented command line: CGI basics and a database, nothing else ------
printf '%s' '{"webHookType":"PAYMENT","orderId":777}' > "$work/o.json"
# shellcheck disable=SC2086
out=$(env -i PATH="$PATH" REQUEST_METHOD=POST CONTENT_TYPE=application/json \
	CONTENT_LENGTH="$(wc -c < "$work/o.json")" PAYHOOK_DATABASE="$PH_TEST_CONNINFO" \
	${PH_TEST_WRAPPER:-} "$H" < "$work/o.json" 2>/dev/null)
like "$out" $'^Status: 200 OK\r\n' "bare CGI invocation prints Status: 200"
is "$(psql_q "SELECT count(*) FROM payhook.orders WHERE order_id = '777'")" "1" "and applies the notice"
psql_q "DELETE FROM payhook.orders; DELETE FROM payhook.webhook_events" >/dev/null

# --- subscription: ACTIVE -> PAUSE -> ACTIVE, with a duplicate ----------------
send "$P/subscription-active.json"
is "$CGI_STATUS" "200" "subscription ACTIVE: 200"
is "$CGI_BODY" "applied" "subscription ACTIVE: reply says applied"
like "$CGI_HEADERS" "Content-Type: text/plain" "reply is text/plain"
like "$CGI_STDERR" "endpoint=steppay-v1 status=200 outcome=applied event=subscription" \
	"one log line with endpoint, status, outcome, event"
is "$(psql_q "SELECT status || ' ' || verification || ' ' || (sync_requested_at IS NOT NULL)
	FROM payhook.subscriptions WHERE provider = 'steppay' AND subscription_id = '4021'")" \
	"ACTIVE pending true" "subscription row: status, verification pending, queued for sync"
send "$P/subscription-active.json"
is "$CGI_BODY" "duplicate" "same delivery again: duplicate"
is "$(psql_q "SELECT count(*) FROM payhook.subscription_status_history WHERE subscription_id = '4021'")" \
	"1" "duplicate leaves one history row"
is "$(psql_q "SELECT string_agg(outcome, ',' ORDER BY id) FROM payhook.webhook_events")" \
	"applied,duplicate" "every v1 delivery is an event row"
send "$P/subscription-pause.json"
is "$CGI_BODY" "applied" "PAUSE applied"
send "$P/subscription-active.json"
is "$CGI_BODY" "applied" "ACTIVE again applied"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '4021'")" \
	"ACTIVE" "ends ACTIVE"
is "$(psql_q "SELECT string_agg(status, ',' ORDER BY observed_at) FROM payhook.subscription_status_history
	WHERE subscription_id = '4021'")" "ACTIVE,PAUSE,ACTIVE" "three history rows in order"
is "$(psql_q "SELECT count(*) FROM payhook.active_subscriptions WHERE subscription_id = '4021'")" \
	"1" "active_subscriptions view shows it"
is "$(psql_q "SELECT payload->>'status' || ' ' || body_length || ' ' || (dedupe_key IS NULL)
	|| ' ' || (signature_valid IS NULL) || ' ' || host(remote_addr)
	FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" \
	"ACTIVE 29 true true 127.0.0.1" "event row: payload, length, no dedupe key, unsigned, address"

send "$P/subscription-unknown-status.json"
is "$CGI_STATUS" "200" "unknown status: 200"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '4022'")" \
	"FROZEN" "unknown status stored as given"
like "$(psql_q "SELECT outcome || ' ' || array_to_string(warnings, ';') FROM payhook.webhook_events
	ORDER BY id DESC LIMIT 1")" "^applied unknown subscription status 'FROZEN'" \
	"unknown status flagged in the event log"

# --- order ------------------------------------------------------------------
send "$P/order-paid.json"
is "$CGI_BODY" "applied" "order notice applied"
paid=$(psql_q "SELECT paid_at FROM payhook.orders WHERE order_id = '90417'")
ok "order paid_at set" test -n "$paid"
is "$(psql_q "SELECT (paid_at = e.received_at) || ' ' || verification FROM payhook.orders o
	JOIN payhook.webhook_events e ON e.body_sha256 = o.source_sha256 WHERE order_id = '90417'")" \
	"true pending" "paid_at is the time received; verification pending"
send "$P/order-paid.json"
is "$CGI_BODY" "duplicate" "order notice again: duplicate"
is "$(psql_q "SELECT paid_at FROM payhook.orders WHERE order_id = '90417'")" "$paid" \
	"paid_at set once"
is "$(psql_q "SELECT count(*) FROM payhook.paid_orders")" "1" "paid_orders view"

# --- payment-only: JSON and form land the same row ---------------------------
row="SELECT payment_key || '|' || order_id || '|' || coalesce(status, 'NULL') || '|' ||
	web_hook_type || '|' || verification || '|' || id_key FROM payhook.payments"
send "$P/payment.json"
is "$CGI_BODY" "applied" "payment notice (JSON) applied"
json_row=$(psql_q "$row")
is "$json_row" "idkey:1718236799412aB3dE5fG7hJ9kL1m|880231|NULL|PAYMENT|pending|1718236799412aB3dE5fG7hJ9kL1m" \
	"provisional payment row keyed idkey:, status NULL"
is "$(psql_q "SELECT count(*) FROM payhook.orders WHERE order_id = '880231'")" "0" \
	"payment notice never touches orders"
send "$P/payment.form" application/x-www-form-urlencoded
is "$CGI_BODY" "duplicate" "the same notice as a form is a duplicate of the JSON one"
psql_q "DELETE FROM payhook.payments" >/dev/null
send "$P/payment.form" application/x-www-form-urlencoded
is "$CGI_BODY" "applied" "payment notice (form) applied"
is "$(psql_q "$row")" "$json_row" "form lands the same row as JSON"
is "$(psql_q "SELECT payload::text FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" \
	'{"idKey": "1718236799412aB3dE5fG7hJ9kL1m", "orderId": "880231", "webHookType": "PAYMENT"}' \
	"form body kept as a JSON object of its fields"
send "$P/payment-canceled.json"
is "$(psql_q "SELECT web_hook_type FROM payhook.payments")" "CANCELED" "later notice updates the type"

# --- versioned state wins over v1 ----------------------------------------------
psql_q "UPDATE payhook.subscriptions SET version = '1718236800', status = 'CANCELED',
	sync_requested_at = NULL WHERE subscription_id = '4021'" >/dev/null
send "$P/subscription-active.json"
is "$CGI_BODY" "stale" "v1 notice over versioned state: stale"
is "$(psql_q "SELECT status || ' ' || (sync_requested_at IS NOT NULL) FROM payhook.subscriptions
	WHERE subscription_id = '4021'")" "CANCELED true" "versioned state kept, queued for sync"

# --- bad input: a status each, nothing written ---------------------------------
before=$(counts)
cgi_run "$H" GET application/json "$P/subscription-active.json"
refused "GET" 405
like "$CGI_HEADERS" "Allow: POST" "405 carries Allow: POST"
send "$P/bad-truncated.json"; refused "truncated JSON" 400
like "$CGI_BODY" "malformed JSON" "400 says what is wrong"
send "$P/bad-missing-status.json"; refused "missing status" 400
like "$CGI_BODY" "field 'status' is missing" "400 names the missing field"
send "$P/bad-id-type.json"; refused "non-integer id" 400
send "$P/bad-status-type.json"; refused "non-string status" 400
send "$P/bad-unknown-shape.json"; refused "unrecognised body" 400
send "$P/bad-nul.json"; refused "embedded NUL byte" 400
send "$P/subscription-active.json" text/plain; refused "text/plain" 415
send "$P/subscription-active.json" "application/json; charset=utf-8"
is "$CGI_STATUS" "200" "application/json with parameters accepted"
before=$(counts)
CGI_CONTENT_LENGTH=500 send "$P/subscription-active.json"; refused "body shorter than CONTENT_LENGTH" 400
CGI_CONTENT_LENGTH=none send "$P/subscription-active.json"; refused "no CONTENT_LENGTH (empty body)" 400
CGI_CONTENT_LENGTH=12x send "$P/subscription-active.json"; refused "invalid CONTENT_LENGTH" 400

# max_body_bytes: the limit itself is accepted, one byte more is 413.
size=$(wc -c < "$P/subscription-pause.json")
PAYHOOK_MAX_BODY_BYTES=$size send "$P/subscription-pause.json"
is "$CGI_STATUS" "200" "body at max_body_bytes accepted"
before=$(counts)
PAYHOOK_MAX_BODY_BYTES=$((size - 1)) send "$P/subscription-pause.json"; refused "body over max_body_bytes" 413

# --- token ---------------------------------------------------------------------
export PAYHOOK_STEPPAY_V1_TOKEN="tok-$$-secret"
send "$P/subscription-unpaid.json"
is "$CGI_STATUS" "401" "token required and missing: 401"
is "$(psql_q "SELECT outcome || ' ' || (payload IS NULL) || ' ' || body_length || ' ' ||
	(body_sha256 = encode(sha256(convert_to('{\"id\":4021,\"status\":\"UNPAID\"}', 'UTF8')), 'hex'))
	FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" "rejected true 29 true" \
	"rejected row keeps hash and length only"
send "$P/subscription-unpaid.json" application/json "token=wrong"
is "$CGI_STATUS" "401" "wrong token: 401"
ok "the token never reaches the log" sh -c "! grep -q 'tok-$$-secret' '$CGI_STDERR_FILE'"
is "$(psql_q "SELECT status FROM payhook.subscriptions WHERE subscription_id = '4021'")" \
	"CANCELED" "rejected notices apply nothing"
send "$P/order-paid.json" application/json "a=1&token=tok-$$-secret"
is "$CGI_STATUS" "200" "right token: 200"
unset PAYHOOK_STEPPAY_V1_TOKEN

# --- address allowlist ------------------------------------------------------------
before=$(counts)
PAYHOOK_ALLOW_FROM=10.0.0.0/8 send "$P/order-paid.json"; refused "address not in allow_from" 403
PAYHOOK_ALLOW_FROM=10.0.0.0/8 CGI_CONTENT_LENGTH=999 send "$P/order-paid.json"
refused "address checked before the body is read" 403
PAYHOOK_ALLOW_FROM=10.0.0.0/8 PAYHOOK_TRUSTED_PROXY=127.0.0.1 HTTP_X_FORWARDED_FOR=10.9.9.9 \
	send "$P/subscription-unpaid.json"
is "$CGI_STATUS" "200" "X-Forwarded-For believed from a trusted proxy"
is "$(psql_q "SELECT host(remote_addr) FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" \
	"10.9.9.9" "the forwarded client is recorded"
before=$(counts)
PAYHOOK_ALLOW_FROM=10.0.0.0/8 HTTP_X_FORWARDED_FOR=10.9.9.9 send "$P/order-paid.json"
refused "X-Forwarded-For ignored from an untrusted peer" 403
# Spoofing through a trusted proxy that passes the client's header on:
# only the hop the proxy appended counts.
before=$(counts)
PAYHOOK_ALLOW_FROM=10.0.0.0/8 PAYHOOK_TRUSTED_PROXY=127.0.0.1 \
	HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.7" send "$P/order-paid.json"
refused "X-Forwarded-For: an allowed address placed before the real client" 403
PAYHOOK_ALLOW_FROM=10.0.0.0/8 PAYHOOK_TRUSTED_PROXY=127.0.0.1 \
	HTTP_X_FORWARDED_FOR="10.9.9.9, 10.0.0.0/8" send "$P/order-paid.json"
refused "X-Forwarded-For: a network instead of an address" 403
PAYHOOK_ALLOW_FROM=10.0.0.0/8 PAYHOOK_TRUSTED_PROXY=127.0.0.1 \
	HTTP_X_FORWARDED_FOR="10.9.9.9, 10.1.1.1$(printf '%080d' 0)" send "$P/order-paid.json"
refused "X-Forwarded-For: an over-long hop is not cut down to an allowed address" 403
PAYHOOK_TRUSTED_PROXY=127.0.0.1 HTTP_X_FORWARDED_FOR='10.9.9.9, x status=200 outcome=applied' \
	send "$P/subscription-pause.json"
is "$CGI_STATUS" "200" "X-Forwarded-For garbage without an allowlist: still accepted"
like "$CGI_STDERR" "remote=unknown" "X-Forwarded-For garbage is logged as an unknown client"
ok "X-Forwarded-For garbage cannot forge log fields" \
	sh -c "! printf '%s' \"\$1\" | grep -q 'x status=200'" sh "$CGI_STDERR"
is "$(psql_q "SELECT coalesce(host(remote_addr), 'NULL') FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" \
	"NULL" "X-Forwarded-For garbage: no address recorded"
before=$(counts)
PAYHOOK_ALLOW_FROM=10.0.0.0/8 PAYHOOK_ALLOW_FROM_STEPPAY_V1=127.0.0.0/8 send "$P/order-paid.json"
is "$CGI_STATUS" "200" "endpoint allowlist overrides allow_from"

# --- a body the database cannot store as jsonb is kept as failed ------------------
send "$P/unstorable-number.json"
is "$CGI_STATUS" "200" "unstorable body: 200 (stored as failed)"
is "$(psql_q "SELECT outcome || ' ' || (error IS NOT NULL) FROM payhook.unapplied_events
	ORDER BY id DESC LIMIT 1")" "failed true" "visible in unapplied_events with its error"

# --- configuration and database trouble: 503 -------------------------------------
before=$(counts)
PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes send "$P/order-paid.json"; refused "superuser refused by require_least_privilege" 503
like "$CGI_STDERR" "require_least_privilege" "the log says why"
PAYHOOK_CONFIG="$work/missing.conf" send "$P/order-paid.json"; refused "named config file missing" 503
printf 'allow_fom = 1.2.3.4\n' > "$work/typo.conf"
PAYHOOK_CONFIG="$work/typo.conf" send "$P/order-paid.json"; refused "unknown config key" 503
like "$CGI_STDERR" "unknown key 'allow_fom'" "the log names the bad key"
is "$CGI_BODY" "not-configured" "the 503 reply names no file, key or path: the log has them"
send "$P/order-paid.json"
like "$CGI_STDERR" "warning: connected to the database as postgres, a superuser" "superuser warning logged"
# A statement the server cancels (here: a timeout while another session
# holds a write lock) says nothing about the delivery: 503, nothing kept.
# The lock is held until the handler has answered (a slow start under
# valgrind must not outlast it), then cancelled; 30 s at most.
psql -X -q -c "BEGIN; LOCK TABLE payhook.subscriptions IN EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT" \
	>/dev/null 2>&1 &
locker=$!
for _ in $(seq 1 50); do
	[ "$(psql_q "SELECT count(*) FROM pg_locks WHERE granted AND mode = 'ExclusiveLock'
		AND relation = 'payhook.subscriptions'::regclass")" = 1 ] && break
	sleep 0.1
done
before=$(counts)
PAYHOOK_DATABASE="$PH_TEST_CONNINFO options='-c statement_timeout=300'" \
	send "$P/subscription-unpaid.json"; refused "statement cancelled by the server" 503
like "$CGI_STDERR" "57014" "the log gives the server's reason"
psql_q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
    WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$locker" || true

PAYHOOK_DATABASE="host=$work port=1 dbname=none connect_timeout=2" send "$P/order-paid.json"
is "$CGI_STATUS" "503" "database down: 503"
like "$CGI_STDERR" "outcome=database-down" "database down logged"

tap_done
