#!/bin/bash
# payhook nicepay-webhook against the fake NicePay API, whose register and
# update post a sample notification to the URL and refuse it unless the
# answer is exactly OK -- here the real nicepay.fcgi under a real lighttpd,
# for each kind of sample (signed with a key the merchant does not have,
# unsigned, correctly signed, console style).
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/lib/lighttpd.sh"
. "$top_srcdir/tests/lib/fake-provider.sh"

H="$top_builddir/cgi-bin/nicepay.fcgi"
PAYHOOK="$top_builddir/bin/payhook"

pg_start
# As the writer role, which may only call payhook's functions.
"$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" >/dev/null
WRITER=$(pg_conninfo payhook_writer)
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
chmod 0755 "$work"

export FAKE_NICEPAY_CLIENT="S2_client$$x$RANDOM"
export FAKE_NICEPAY_SECRET="np-secret-$$-$RANDOM"
fake_start "$work"
printf '%s\n' "database = $WRITER" "require_least_privilege = yes" \
	"nicepay_client_key = $FAKE_NICEPAY_CLIENT" "nicepay_secret_key = $FAKE_NICEPAY_SECRET" \
	"nicepay_api_url = $FAKE_URL" > "$work/payhook.conf"
chmod 0640 "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

lighttpd_start "$H" /nicepay param:PAYHOOK_CONFIG="$work/payhook.conf" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}"
U="$LIGHTTPD_URL/nicepay"

all_out="$work/all-output"
# npw ARG...: runs payhook nicepay-webhook; sets OUT (stdout and stderr), RC.
npw() {
	# shellcheck disable=SC2086
	OUT=$(${PH_TEST_WRAPPER:-} "$PAYHOOK" nicepay-webhook "$@" 2>&1) && RC=0 || RC=$?
	printf '%s\n' "$OUT" >> "$all_out"
}
last_event() {
	psql_q "SELECT outcome || '|' || coalesce(signature_valid::text, 'null') FROM payhook.webhook_events ORDER BY id DESC LIMIT 1"
}

# --- register: the default sample, signed with a key we do not have ------
npw register card "$U" --email ops@shop.test
is "$RC" 0 "register card to a running handler: exit 0"
like "$OUT" "register card: done" "register: says so"
like "$OUT" "card +$U +ops@shop.test" "register: the table lists the URL"
is "$(last_event)" "test|false" "the sample was stored as test (window open), signature false"
is "$(psql_q "SELECT count(*) FROM payhook.payments")" 0 "the sample applied nothing"
is "$(psql_q "SELECT count(*) FROM payhook.nicepay_registration_windows WHERE closes_at > now()")" 0 \
	"the registration window is closed after the call"

npw register card "$U"
is "$RC" 1 "register twice: exit 1"
like "$OUT" "resultCode U333" "register twice: NicePay's code shown"
like "$OUT" "use update" "register twice: what to do"

# --- refused registrations ---------------------------------------------------
npw register bank "$LIGHTTPD_URL/not-here"
is "$RC" 1 "a URL that answers 404: exit 1"
like "$OUT" "resultCode U337" "404: U337"
like "$OUT" "HTTP status other than 200" "404: explained"
npw register vbank "http://127.0.0.1:1/nicepay"
is "$RC" 1 "an unreachable URL: exit 1"
like "$OUT" "resultCode U336.*could not reach the URL" "unreachable: U336 explained"
# Without the window the handler answers the wrongly signed sample 401.
OUT=$(PAYHOOK_DATABASE="host=$work port=1 dbname=none connect_timeout=2" \
	"$PAYHOOK" nicepay-webhook register cellphone "$U" 2>&1) && RC=0 || RC=$?
printf '%s\n' "$OUT" >> "$all_out"
is "$RC" 1 "no registration window: the sample is refused"
like "$OUT" "warning: no registration window" "no window: warned"
like "$OUT" "U337" "no window: NicePay's code shown"

# --- the other samples ---------------------------------------------------------
fake_control '{"sample": "console"}'
npw update card "$U"
is "$RC" 0 "update with a console-style sample: exit 0"
is "$(last_event)" "test|false" "console sample stored as test"
fake_control '{"sample": "unsigned"}'
npw update card "$U"
is "$RC" 0 "update with an unsigned sample: exit 0"
like "$(last_event)" "^test\|" "unsigned sample stored as test"
fake_control '{"sample": "signed"}'
npw update card "$U"
is "$RC" 0 "update with a correctly signed sample: exit 0"
is "$(last_event)" "applied|true" "correctly signed sample applied..."
is "$(psql_q "SELECT verification FROM payhook.payments")" "pending" "... with verification pending"
OUT=$("$PAYHOOK" sync 2>&1) && RC=0 || RC=$?
printf '%s\n' "$OUT" >> "$all_out"
like "$OUT" "unknown to NicePay: verification failed" "payhook sync: the sample's tid is unknown"
is "$(psql_q "SELECT verification FROM payhook.payments")" "failed" "the sample ends failed"
is "$(psql_q "SELECT count(*) FROM payhook.payments_today")" 0 "and is hidden by the views"
fake_control '{"sample": "wrongkey"}'

# --- list, --json, delete --------------------------------------------------------
npw list
is "$RC" 0 "list: exit 0"
like "$OUT" "METHOD +URL +MANAGER" "list: table header"
npw list --json
is "$(printf '%s' "$OUT" | python3 -c 'import json,sys; print(",".join(u["method"] + "=" + u["url"] for u in json.load(sys.stdin)))')" \
	"card=$U" "list --json: a JSON array of the URLs"
npw delete card
is "$RC" 0 "delete: exit 0"
like "$OUT" "no webhook URL registered" "delete: nothing left"
npw delete card
is "$RC" 1 "delete again: exit 1"
like "$OUT" "resultCode U334" "delete again: NicePay's code"

# --- --self-check -----------------------------------------------------------------
npw register card "$U" --self-check
is "$RC" 0 "--self-check then register: exit 0"
like "$OUT" "self-check: $U answered OK" "self-check passed"
n=$(fake_count /v1/webhook)
npw register bank "$LIGHTTPD_URL/not-here" --self-check
is "$RC" 1 "--self-check of a URL that does not answer OK: exit 1"
like "$OUT" "self-check: .* answered HTTP 404" "self-check: says what came back"
is "$(fake_count /v1/webhook)" "$n" "self-check failed: NicePay not called"

# --- usage and credentials ------------------------------------------------------------
npw register paypal "$U"
is "$RC" 2 "unknown method: exit 2"
like "$OUT" "card, bank, vbank or cellphone" "unknown method: the four named"
npw frobnicate
is "$RC" 2 "unknown action: exit 2"
OUT=$(PAYHOOK_NICEPAY_SECRET_KEY=wrong "$PAYHOOK" nicepay-webhook list 2>&1) && RC=0 || RC=$?
printf '%s\n' "$OUT" >> "$all_out"
is "$RC" 1 "wrong key: exit 1"
like "$OUT" "resultCode U104.*authentication failed: check nicepay_client_key" "wrong key: explained"

for s in "$FAKE_NICEPAY_CLIENT" "$FAKE_NICEPAY_SECRET"; do
	if grep -qF -- "$s" "$all_out"; then
		tap_result 1 "a key appears in the output"
	else
		tap_result 0 "key not in the output"
	fi
done

tap_done
