#!/bin/bash
# payhook prune: deletes (and archives) old webhook_events rows, never a
# state row. Deliveries go through the real handlers (plain CGI) into a
# real PostgreSQL in two batches, one before a cut-off time and one
# after; a delivery of the first batch is re-delivered after it. Then:
# bad and future dates are refused, --dry-run changes nothing, an archive
# that cannot be written deletes nothing and leaves no file, the prune
# deletes exactly the old events, keeps every state row byte-identical,
# writes an archive that psql's \copy loads back equal to the deleted
# rows, and records itself in payhook.prunes; payhook rebuild then
# refuses to recompute rows whose first events are gone unless --force.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

PAYHOOK="$top_builddir/bin/payhook"
P1="$top_srcdir/tests/payloads/steppay-v1"
P2="$top_srcdir/tests/payloads/steppay-v2"
V2_SECRET="whsec-prune-$$"
NP_KEY="np-key-prune-$$"

pg_start
"$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" >/dev/null
OWNER=$(pg_conninfo payhook_owner)
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
printf 'database = %s\nsteppay_v2_secret = %s\nnicepay_secret_key = %s\n' \
	"$(pg_conninfo payhook_writer)" "$V2_SECRET" "$NP_KEY" > "$work/payhook.conf"
chmod 0600 "$work/payhook.conf"
export PAYHOOK_CONFIG="$work/payhook.conf"

prune() { # ARGS...: runs payhook prune as the owner; sets out, err, rc
	${PH_TEST_WRAPPER:-} "$PAYHOOK" prune --database "$OWNER" "$@" >"$work/out" 2>"$work/err" && rc=0 || rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}
rebuild() { # ARGS...
	${PH_TEST_WRAPPER:-} "$PAYHOOK" rebuild --database "$OWNER" "$@" >"$work/out" 2>"$work/err" && rc=0 || rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# Every state table, whole rows with every column (arrival times
# included): a prune must not change one byte of them. With strip, the
# columns that record when payhook did something (received_at,
# updated_at, sync_requested_at) are left out, which a rebuild sets
# again, as tests/integration/rebuild.sh compares.
psql_q "CREATE FUNCTION public.test_state(strip boolean) RETURNS text LANGUAGE plpgsql AS \$f\$
DECLARE t text; r text; out text := '';
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'payhook' AND c.relkind = 'r'
              AND c.relname NOT IN ('webhook_events', 'prunes')
            ORDER BY 1 LOOP
    EXECUTE format('SELECT coalesce(string_agg(to_jsonb(x)::text, E''\n'' ORDER BY to_jsonb(x)::text), '''')
                      FROM (SELECT to_jsonb(x) - \$1 AS x FROM payhook.%I x) s', t)
      INTO r USING CASE WHEN strip THEN '{received_at,updated_at,sync_requested_at}'::text[]
                        ELSE '{}' END;
    out := out || '== ' || t || E'\n' || r || E'\n';
  END LOOP;
  RETURN out;
END \$f\$" >/dev/null
state() { psql_q "SELECT public.test_state(false)"; }
replayable() { psql_q "SELECT public.test_state(true)"; }
events() { # [WHERE]
	psql_q "SELECT coalesce(string_agg(to_jsonb(e)::text, E'\n' ORDER BY id), '')
		FROM payhook.webhook_events e ${1:-}"
}
count() { psql_q "SELECT count(*) FROM $1"; }

v1() { # FILE
	cgi_run "$top_builddir/cgi-bin/steppay-v1.fcgi" POST application/json "$1"
	[ "$CGI_STATUS" = 200 ] || diag "v1 $1: $CGI_STATUS $CGI_STDERR"
}
v2() { # FILE
	HTTP_STEPPAY_SIGNATURE=$(steppay_v2_signature "$1" "$V2_SECRET") \
		cgi_run "$top_builddir/cgi-bin/steppay-v2.fcgi" POST application/json "$1"
	[ "$CGI_STATUS" = 200 ] || diag "v2 $1: $CGI_STATUS $CGI_STDERR"
}
np() { # FILE
	cgi_run "$top_builddir/cgi-bin/nicepay.fcgi" POST application/json "$1"
	[ "$CGI_STATUS" = 200 ] || [ "$CGI_STATUS" = 401 ] || diag "np $1: $CGI_STATUS $CGI_STDERR"
}

T_PART=nictest1m0101260304093012p002
C1='{"tid":"nictest1m0101260303140211k001","amount":27500,"cancelledAt":"2026-03-03T14:02:11.000+0900","reason":"주문 취소"}'
P1C='{"tid":"nictest1m0101260305101500k002","amount":"6000","cancelledAt":"2026-03-05T10:15:00.000+0900","reason":"1개 반품"}'
np_payload "$work/card-paid.json"
np_payload "$work/card-cancelled.json" status='"cancelled"' balanceAmt=0 \
	ediDate='"2026-03-03T14:02:11.930+0900"' cancelledAt='"2026-03-03T14:02:11.000+0900"' \
	cancelledTid='"nictest1m0101260303140211k001"' cancels="[$C1]"
np_payload "$work/part-paid.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	balanceAmt=48000 ediDate='"2026-03-04T09:30:12.004+0900"'
np_payload "$work/part-cancel-1.json" tid="\"$T_PART\"" orderId='"shop-2603-0002"' amount=48000 \
	status='"partialCancelled"' balanceAmt=42000 ediDate='"2026-03-05T10:15:00.317+0900"' \
	cancels="[$P1C]"
NP_KEY=not-the-key np_payload "$work/forged.json" status='"cancelled"' balanceAmt=0

# ---- batch A: before the cut-off -----------------------------------------------
for f in subscription-active order-paid payment; do v1 "$P1/$f.json"; done
for f in customer-created product-created price-created order-created payment-completed \
	subscription-created cover-sent-message; do
	v2 "$P2/$f.json"
done
np "$work/card-paid.json"
np "$work/forged.json"
CUT=$(psql_q "SELECT clock_timestamp()")

# ---- batch B: after it, and one re-delivery of a batch A body ---------------------
v1 "$P1/subscription-pause.json"
for f in invoice-created order-updated subscription-updated-pause; do v2 "$P2/$f.json"; done
v2 "$P2/customer-created.json"
for f in card-cancelled part-paid part-cancel-1; do np "$work/$f.json"; done

OLD="WHERE last_received_at < '$CUT'"
n_old=$(count "payhook.webhook_events $OLD")
n_all=$(count payhook.webhook_events)
ok "both batches are in the log ($n_old old of $n_all)" test "$n_old" -gt 8 -a "$n_all" -gt "$n_old"
is "$(count "payhook.webhook_events WHERE received_at < '$CUT' AND last_received_at >= '$CUT'")" \
	"1" "one batch A delivery was re-delivered after the cut-off"
old_events=$(events "$OLD")
all_events=$(events)
new_events=$(events "WHERE NOT (last_received_at < '$CUT')")
before=$(state)
replayable_before=$(replayable)
old_orders=$(count "payhook.orders WHERE received_at < '$CUT'")
old_payments=$(count "payhook.payments WHERE received_at < '$CUT'")
ok "state rows first seen before the cut-off ($old_orders orders, $old_payments payments)" \
	test "$old_orders" -gt 0 -a "$old_payments" -gt 0

unchanged() { # NAME: nothing in the database changed
	is "$(events)/$(count payhook.prunes)" "$all_events/0" "$1: event log unchanged, no prune recorded"
	is "$(state)" "$before" "$1: state tables unchanged"
}

# ---- refusals -----------------------------------------------------------------------
prune
is "$rc" 2 "no --before: usage error (exit 2)"
prune --before yesterday --provider paypal
is "$rc" 2 "an unknown provider: usage error"
prune --before 'not a date'
is "$rc" 1 "a DATE PostgreSQL cannot read: exit 1"
like "$err" "not a date.*invalid input syntax" "with the server's reason on stderr"
prune --before '2026-02-30'
is "$rc" 1 "an impossible date: exit 1"
prune --before '2999-01-01 00:00+00'
is "$rc" 1 "a DATE in the future: exit 1"
like "$err" "in the future" "saying so"
prune --before 'tomorrow'
is "$rc" 1 "'tomorrow' (the server's own word) is in the future too"
unchanged "after the refusals"

# ---- --dry-run --------------------------------------------------------------------------
prune --before "$CUT" --dry-run --archive "$work/dry.csv"
is "$rc" 0 "--dry-run exits 0"
like "$out" "prune: $n_old events last received before " "--dry-run counts the old events"
like "$out" "orders: $old_orders rows" "and the orders rebuild could no longer reproduce"
like "$out" "payments: $old_payments rows" "and the payments"
like "$out" "dry run: rolled back, nothing changed" "and says it changed nothing"
ok "--dry-run writes no archive" test ! -e "$work/dry.csv"
unchanged "--dry-run"
dry_out=$out

prune --before "$CUT" --dry-run --provider nicepay
like "$out" "prune: $(count "payhook.webhook_events $OLD AND provider = 'nicepay'") events" \
	"--provider nicepay counts that provider's events only"

# ---- the archive cannot be written -----------------------------------------------------
: > "$work/exists.csv"
prune --before "$CUT" --archive "$work/exists.csv"
is "$rc" 1 "an existing archive file: exit 1"
like "$err" "exists" "saying so"
ok "and the file is left as it was" test ! -s "$work/exists.csv"
unchanged "an existing archive file"

: > "$work/plainfile"
prune --before "$CUT" --archive "$work/plainfile/archive.csv"
is "$rc" 1 "an archive in a directory that is not one: exit 1"
unchanged "an archive that cannot be created"

# A write that fails half-way: the file size limit (1 KiB) is smaller
# than the archive, and SIGXFSZ is ignored, so write() fails with EFBIG
# after the old rows were deleted in the transaction.
mkdir "$work/full"
(trap '' XFSZ; ulimit -f 1; exec ${PH_TEST_WRAPPER:-} "$PAYHOOK" prune --database "$OWNER" --before "$CUT" \
	--archive "$work/full/archive.csv") >"$work/out" 2>"$work/err" && rc=0 || rc=$?
is "$rc" 1 "a write that fails half-way: exit 1"
like "$(cat "$work/err")" "archive" "naming the archive"
is "$(ls -A "$work/full")" "" "the temporary file is removed"
unchanged "a failed archive write"

# ---- the prune -------------------------------------------------------------------------
mkdir "$work/arch"
prune --before "$CUT" --archive "$work/arch/events.csv"
is "$rc" 0 "payhook prune --archive exits 0"
[ "$rc" = 0 ] || diag "$err"
like "$out" "prune: $n_old events last received before " "reports what it deleted"
like "$out" "archive $work/arch/events.csv: $n_old rows" "and what it archived"
is "$(grep -v '^prune: committed$' <<<"$out")" "$(grep -v '^prune: dry run' <<<"$dry_out" |
	sed "s|^prune: archive .*|prune: archive $work/arch/events.csv: $n_old rows|")" \
	"the report is the one --dry-run printed"
like "$out" "prune: committed" "and that it committed"
is "$(events)" "$new_events" "exactly the old events are gone; the re-delivered one is kept"
is "$(state)" "$before" "every state row is byte-identical"
is "$(ls -A "$work/arch")" "events.csv" "the archive and nothing else is in its directory"
is "$(stat -c %a "$work/arch/events.csv")" "600" "the archive is readable by its owner only"
is "$(head -n 1 "$work/arch/events.csv" | cut -d, -f1-3)" "id,provider,endpoint" "CSV with a header"
is "$(psql_q "SELECT count(*) || ' ' || events_deleted || ' ' || (received_before = '$CUT') ||
	' ' || archive || ' ' || (provider IS NULL) || ' ' || (state_rows >= $old_orders + $old_payments)
	FROM payhook.prunes GROUP BY events_deleted, received_before, archive, provider, state_rows")" \
	"1 $n_old true $work/arch/events.csv true true" "the prune is recorded in payhook.prunes"

# The archive loads back with psql's \copy, as the README says.
psql_q "CREATE TABLE public.restored (LIKE payhook.webhook_events)" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy public.restored FROM '$work/arch/events.csv' WITH (FORMAT csv, HEADER match)" \
	>/dev/null 2>"$work/err" || diag "$(cat "$work/err")"
is "$(psql_q "SELECT coalesce(string_agg(to_jsonb(e)::text, E'\n' ORDER BY id), '') FROM public.restored e")" \
	"$old_events" "the archive loads back equal to the deleted rows"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy payhook.webhook_events FROM '$work/arch/events.csv' WITH (FORMAT csv, HEADER match)" \
	>/dev/null 2>"$work/err" || diag "$(cat "$work/err")"
is "$(events)" "$all_events" "and straight into payhook.webhook_events, the log is whole again"

prune --before "$CUT" --archive "$work/arch/events.csv"
is "$rc" 1 "the same archive name again: refused"
is "$(events)" "$all_events" "and nothing deleted"
prune --before "$CUT"
is "$rc" 0 "prune without --archive exits 0"
is "$(events)" "$new_events" "and deletes the old events again"
is "$(count payhook.prunes)" "2" "the second prune is recorded too"
prune --before "$CUT"
is "$rc" 0 "a prune with nothing to delete exits 0"
like "$out" "prune: 0 events" "and says there was nothing"
is "$(state)" "$before" "the state rows are still byte-identical"

# ---- rebuild after the prune -------------------------------------------------------------
rebuild
is "$rc" 1 "rebuild after a prune: refused (exit 1)"
like "$err" "events last received before ${CUT%%.*}" "naming the prune's date"
like "$err" "[1-9][0-9]* state rows" "and how many rows it could not reproduce"
like "$err" "--force" "and how to go on anyway"
is "$(state)" "$before" "and nothing changed"

rebuild --provider nicepay --payment "$T_PART"
is "$rc" 0 "rebuild of a payment first seen after the prune's date: allowed"
[ "$rc" = 0 ] || diag "$err"
is "$(replayable)" "$replayable_before" "and it is reproduced exactly"

now=$(state)
rebuild --dry-run
is "$rc" 0 "rebuild --dry-run after a prune: runs"
like "$out" "first seen before" "warning what it cannot reproduce"
like "$out" "rows no longer as they were" "and showing what a forced rebuild would lose"
is "$(state)" "$now" "and changes nothing"

rebuild --force
is "$rc" 0 "rebuild --force after a prune: runs"
like "$out" "rows no longer as they were" "and reports the rows it could not reproduce"
ok "state rows whose first events were pruned are gone" \
	test "$(count "payhook.orders WHERE received_at < '$CUT'")" -lt "$old_orders"

# ---- privileges -----------------------------------------------------------------------------
as() { psql -X -q -At -v ON_ERROR_STOP=1 -U "$1" -c "$2" 2>&1; }
denied() { # ROLE SQL NAME: SQL fails as ROLE for want of a privilege
	local o
	if o=$(as "$1" "$2"); then
		tap_result 1 "$3"
		diag "succeeded: $o"
	else
		like "$o" "permission denied" "$3"
	fi
}
ok "the reader may read payhook.prunes" as payhook_reader "SELECT count(*) FROM payhook.prunes"
denied payhook_reader "DELETE FROM payhook.prunes" "the reader may not write it"
denied payhook_writer "SELECT count(*) FROM payhook.prunes" "the writer may not read it"
denied payhook_writer "DELETE FROM payhook.webhook_events" "the writer may not delete events"
denied payhook_writer "SELECT * FROM payhook.pruned_history(now(), NULL, NULL, NULL)" \
	"nor count pruned history"
prune --before "$CUT" --database "$(pg_conninfo payhook_writer)"
is "$rc" 1 "payhook prune as the writer: exit 1"
tap_done
