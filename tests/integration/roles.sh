#!/bin/bash
# Least privilege: `payhook migrate --roles` creates an owner, a writer and
# a reader role. The handlers work as the writer, which cannot change the
# schema, delete history, write a table directly or read outside schema
# payhook; the reader cannot write; the owner and a superuser are warned
# about, and refused with require_least_privilege = yes.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"
. "$top_srcdir/tests/lib/http.sh"
. "$top_srcdir/tests/payloads/nicepay/payload.sh"

PAYHOOK="$top_builddir/bin/payhook"
V1="$top_builddir/cgi-bin/steppay-v1.fcgi"
V2="$top_builddir/cgi-bin/steppay-v2.fcgi"
NP="$top_builddir/cgi-bin/nicepay.fcgi"

pg_start
work=$(mktemp -d /tmp/payhook-test.XXXXXX)
ph_on_exit rm -rf "$work"
: > "$work/empty.conf"
export PAYHOOK_CONFIG="$work/empty.conf"
SECRET="v2-roles-secret-$$"
NP_KEY="np-roles-secret-$$"
export PAYHOOK_STEPPAY_V2_SECRET="$SECRET" PAYHOOK_NICEPAY_SECRET_KEY="$NP_KEY"


# as ROLE SQL: runs SQL as ROLE; prints psql's output and error text.
as() {
	psql -X -q -At -v ON_ERROR_STOP=1 -U "$1" -c "$2" 2>&1
}
# denied ROLE SQL NAME: SQL fails as ROLE with "permission denied" or
# "must be owner".
denied() {
	local out
	if out=$(as "$1" "$2"); then
		tap_result 1 "$3"
		diag "succeeded: $out"
	elif printf '%s' "$out" | grep -qE 'permission denied|must be owner'; then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "failed for another reason: $out"
	fi
}
allowed() { # ROLE SQL NAME
	local out
	if out=$(as "$1" "$2"); then
		tap_result 0 "$3"
	else
		tap_result 1 "$3"
		diag "$out"
	fi
}

sign_v2() { # FILE
	steppay_v2_signature "$1" "$SECRET"
}
send_v1() { cgi_run "$V1" POST application/json "$top_srcdir/tests/payloads/steppay-v1/$1"; }
send_v2() {
	HTTP_STEPPAY_SIGNATURE=$(sign_v2 "$top_srcdir/tests/payloads/steppay-v2/$1") \
		cgi_run "$V2" POST application/json "$top_srcdir/tests/payloads/steppay-v2/$1"
}
send_np() { cgi_run "$NP" POST application/json "$1"; }

# --- migrate --roles -------------------------------------------------------
out=$("$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" 0 "migrate --roles succeeds"
like "$out" "payhook_owner" "migrate --roles names the owner role"
like "$out" "payhook_writer" "migrate --roles names the writer role"
like "$out" "payhook_reader" "migrate --roles names the reader role"
is "$(psql_q "SELECT string_agg(rolname || ':' || rolcanlogin || ':' || rolsuper || ':' ||
    rolcreaterole || ':' || rolcreatedb, ',' ORDER BY rolname) FROM pg_roles
    WHERE rolname LIKE 'payhook_%'")" \
	"payhook_owner:true:false:false:false,payhook_reader:true:false:false:false,payhook_writer:true:false:false:false" \
	"three login roles, none superuser or able to create roles or databases"
is "$(psql_q "SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'payhook'")" \
	payhook_owner "schema payhook belongs to the owner"
is "$(psql_q "SELECT count(*) FROM pg_class WHERE relnamespace = 'payhook'::regnamespace
    AND relowner <> 'payhook_owner'::regrole")" 0 "every table and sequence belongs to the owner"
is "$(psql_q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'payhook'::regnamespace
    AND proowner <> 'payhook_owner'::regrole")" 0 "every function belongs to the owner"
like "$(psql_q "SELECT rolconfig::text FROM pg_roles WHERE rolname = 'payhook_writer'")" \
	"statement_timeout=" "the writer's statement_timeout is set on the role (proxy-safe)"
is "$(psql_q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'payhook'::regnamespace
    AND proargtypes[0] = 'payhook.event_in'::regtype AND proretset AND NOT (prosecdef AND
    proconfig @> ARRAY['search_path=pg_catalog, pg_temp'])")" 0 \
	"every store action runs as the owner with a fixed search_path"

out=$("$PAYHOOK" migrate --roles --database "$PH_TEST_CONNINFO" 2>&1) && rc=0 || rc=$?
is "$rc" 0 "migrate --roles again: safe to repeat"
# The owner runs later migrations itself (no superuser needed) ...
out=$("$PAYHOOK" migrate --database "$(pg_conninfo payhook_owner)" 2>&1) && rc=0 || rc=$?
is "$rc" 0 "migrate as the owner role works"
like "$out" "up to date" "migrate as the owner: nothing to do"
# ... and a re-created function gets its privileges back.
psql_q "ALTER FUNCTION payhook.steppay_v1_order(payhook.event_in, text, text) SECURITY INVOKER RESET ALL" >/dev/null
psql_q "REVOKE EXECUTE ON FUNCTION payhook.steppay_v1_order(payhook.event_in, text, text) FROM payhook_writer" >/dev/null
"$PAYHOOK" migrate --database "$(pg_conninfo payhook_owner)" >/dev/null 2>&1 && rc=0 || rc=$?
is "$rc:$(psql_q "SELECT prosecdef AND has_function_privilege('payhook_writer', oid, 'EXECUTE')
    FROM pg_proc WHERE oid = 'payhook.steppay_v1_order(payhook.event_in, text, text)'::regprocedure")" \
	"0:t" "a later migrate puts back SECURITY DEFINER and the writer's EXECUTE"

# --- the handlers as the writer --------------------------------------------
export PAYHOOK_DATABASE="$(pg_conninfo payhook_writer)"
send_v1 order-paid.json
is "$CGI_STATUS" 200 "writer: StepPay v1 order stored"
unlike_warn() { # NAME
	if printf '%s' "$CGI_STDERR" | grep -qiE 'superuser|owner'; then
		tap_result 1 "$1"
		diag "$CGI_STDERR"
	else
		tap_result 0 "$1"
	fi
}
unlike_warn "writer: no privilege warning"
send_v2 order-created.json
is "$CGI_STATUS" 200 "writer: StepPay v2 order event stored"
np_payload "$work/np.json" tid='"roles-tid-0001"'
send_np "$work/np.json"
is "$CGI_STATUS" 200 "writer: NicePay payment stored"
is "$(psql_q "SELECT string_agg(endpoint || '=' || outcome, ',' ORDER BY id) FROM payhook.webhook_events")" \
	"steppay-v1=applied,steppay-v2=applied,nicepay=applied" "writer: all three applied"
is "$(psql_q "SELECT count(*) FROM payhook.payments WHERE payment_key = 'roles-tid-0001'")" 1 \
	"writer: the NicePay row is there"
send_v1 order-paid.json
is "$(psql_q "SELECT outcome FROM payhook.webhook_events ORDER BY id DESC LIMIT 1")" duplicate \
	"writer: a re-delivery is a duplicate"
allowed payhook_writer "SELECT payhook.nicepay_open_registration_window(60)" \
	"writer may open NicePay's registration window"

# --- what the writer cannot do -----------------------------------------------
psql_q "CREATE TABLE public.merchant_secrets (card text); INSERT INTO public.merchant_secrets VALUES ('x')" >/dev/null
denied payhook_writer "DROP TABLE payhook.orders" "writer cannot DROP a table"
denied payhook_writer "ALTER TABLE payhook.orders ADD COLUMN x int" "writer cannot ALTER a table"
denied payhook_writer "DELETE FROM payhook.webhook_events" "writer cannot DELETE FROM payhook.webhook_events"
denied payhook_writer "TRUNCATE payhook.webhook_events" "writer cannot TRUNCATE history"
denied payhook_writer "UPDATE payhook.orders SET paid_at = now()" "writer cannot UPDATE a state table directly"
denied payhook_writer "INSERT INTO payhook.webhook_events (provider, endpoint, body_sha256, body_length, outcome)
    VALUES ('steppay', 'steppay-v1', repeat('a', 64), 0, 'applied')" "writer cannot INSERT history directly"
denied payhook_writer "SELECT count(*) FROM payhook.orders" "writer cannot read state tables directly"
denied payhook_writer "SELECT * FROM public.merchant_secrets" "writer cannot read a table outside schema payhook"
denied payhook_writer "CREATE TABLE payhook.x (i int)" "writer cannot create a table in payhook"
denied payhook_writer "CREATE FUNCTION payhook.f() RETURNS int LANGUAGE sql AS 'SELECT 1'" \
	"writer cannot create a function in payhook"
denied payhook_writer "DROP FUNCTION payhook.steppay_v1_order(payhook.event_in, text, text)" \
	"writer cannot DROP a store function"
denied payhook_writer "SELECT payhook.apply_privileges()" "writer cannot call the privilege setup"
denied payhook_writer "SELECT payhook.event_insert(ROW('steppay', 'steppay-v1', 'order', 'k',
    repeat('a', 64), 2, '{}', NULL, NULL, NULL, NULL)::payhook.event_in, 'applied', NULL)" \
	"writer cannot write a history row without its action"
denied payhook_writer "SELECT payhook.event_outcome(1, 'applied')" \
	"writer cannot call an internal helper that writes history"
denied payhook_writer "SELECT payhook.steppay_time('2026-01-01 00:00:00', 'UTC')" \
	"writer cannot call a helper behind the store actions"

# --- the reader ---------------------------------------------------------------
allowed payhook_reader "SELECT count(*) FROM payhook.orders" "reader can read payhook.orders"
allowed payhook_reader "SELECT count(*) FROM payhook.webhook_events" "reader can read the history"
allowed payhook_reader "SELECT count(*) FROM payhook.paid_orders" "reader can read the views"
denied payhook_reader "INSERT INTO payhook.orders (provider, order_id) VALUES ('steppay', 'x')" \
	"reader cannot INSERT"
denied payhook_reader "UPDATE payhook.payments SET status = 'paid'" "reader cannot UPDATE"
denied payhook_reader "DELETE FROM payhook.webhook_events" "reader cannot DELETE"
denied payhook_reader "SELECT event_id FROM payhook.steppay_v1_order(ROW('steppay', 'steppay-v1',
    'order', 'k', repeat('a', 64), 2, '{}', NULL, NULL, NULL, NULL)::payhook.event_in, 'o', 'PAID')" \
	"reader cannot call a store action"
denied payhook_reader "SELECT payhook.nicepay_open_registration_window(60)" "reader cannot open the registration window"
denied payhook_reader "DROP VIEW payhook.paid_orders" "reader cannot DROP"
denied payhook_reader "SELECT * FROM public.merchant_secrets" "reader cannot read outside schema payhook"

# --- owner and superuser: warned, refused with require_least_privilege ------
export PAYHOOK_DATABASE="$(pg_conninfo payhook_owner)"
send_v1 subscription-active.json
is "$CGI_STATUS" 200 "owner: stored (default require_least_privilege = no)"
like "$CGI_STDERR" "owner" "owner: the handler warns that it runs as the owner"
before=$(psql_q "SELECT count(*) FROM payhook.webhook_events")
PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes send_v1 payment.json
is "$CGI_STATUS" 503 "owner with require_least_privilege = yes: 503"
like "$CGI_STDERR" "require_least_privilege" "owner refused: the log says why"
export PAYHOOK_DATABASE="$PH_TEST_CONNINFO"
PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes send_v1 payment.json
is "$CGI_STATUS" 503 "superuser with require_least_privilege = yes: 503"
is "$(psql_q "SELECT count(*) FROM payhook.webhook_events")" "$before" "refused roles wrote nothing"
PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes PAYHOOK_DATABASE="$(pg_conninfo payhook_writer)" send_v1 payment.json
is "$CGI_STATUS" 200 "writer with require_least_privilege = yes: accepted"

out=$(PAYHOOK_DATABASE="$(pg_conninfo payhook_owner)" "$PAYHOOK" check-config 2>&1) || true
like "$out" "owner" "check-config says the owner is not the role for handlers"
out=$(PAYHOOK_DATABASE="$(pg_conninfo payhook_writer)" PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes \
	"$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" 0 "check-config as the writer with require_least_privilege = yes: OK"
out=$(PAYHOOK_DATABASE="$(pg_conninfo payhook_owner)" PAYHOOK_REQUIRE_LEAST_PRIVILEGE=yes \
	"$PAYHOOK" check-config 2>&1) && rc=0 || rc=$?
is "$rc" 1 "check-config as the owner with require_least_privilege = yes: problem"

tap_done
