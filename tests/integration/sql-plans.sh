#!/bin/bash
# The SQL helpers of the store functions: they keep their plans, and
# NicePay's date-times read as before. A LANGUAGE sql function that the
# planner cannot inline (a FROM clause, a subquery, a statement other than
# SELECT) is parsed and planned again on every call: 60-70 microseconds
# each on a 2-core machine, which is what migration 014 took out of every
# delivery. Each SQL function of the schema is prepared with a generic
# plan (as PL/pgSQL caches it) and EXPLAIN VERBOSE shows whether it still
# calls the function; only those off the delivery path may.
set -eu
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/pg.sh"

pg_start
"$top_builddir/bin/payhook" migrate --database "$PH_TEST_CONNINFO" >/dev/null

psql_q "CREATE FUNCTION public.not_inlined() RETURNS SETOF text LANGUAGE plpgsql AS \$f\$
DECLARE
  f record;
  line text;
  plan text;
BEGIN
  SET LOCAL plan_cache_mode = force_generic_plan;
  FOR f IN SELECT p.proname, p.proretset, p.pronargs,
                  (SELECT string_agg(format('\$%s::%s', i, format_type(t, NULL)), ', ' ORDER BY i)
                     FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i)) AS args
             FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
            WHERE p.pronamespace = 'payhook'::regnamespace AND l.lanname = 'sql'
            ORDER BY p.proname LOOP
    EXECUTE format('PREPARE not_inlined_p AS SELECT %s payhook.%I(%s)',
                   CASE WHEN f.proretset THEN '* FROM' ELSE '' END, f.proname,
                   coalesce(f.args, ''));
    plan := '';
    FOR line IN EXECUTE 'EXPLAIN VERBOSE EXECUTE not_inlined_p' ||
        coalesce((SELECT '(' || string_agg('NULL', ',') || ')'
                    FROM generate_series(1, f.pronargs)), '') LOOP
      plan := plan || line || E'\n';
    END LOOP;
    DEALLOCATE not_inlined_p;
    IF strpos(plan, 'payhook.' || f.proname || '(') > 0 THEN
      RETURN NEXT f.proname;
    END IF;
  END LOOP;
END \$f\$" >/dev/null

# A control: a function the planner cannot inline is found.
psql_q "CREATE FUNCTION payhook.test_planned_per_call(j jsonb) RETURNS integer
	LANGUAGE sql IMMUTABLE AS 'SELECT n FROM (SELECT (j->>0)::integer AS n) s'" >/dev/null
like "$(psql_q "SELECT string_agg(n, ' ') FROM public.not_inlined() n")" \
	"(^| )test_planned_per_call( |\$)" "the check finds a SQL function that is planned per call"
psql_q "DROP FUNCTION payhook.test_planned_per_call(jsonb)" >/dev/null

# The ones left: an admin's command (closing the NicePay registration
# window) and payhook sync's conversion of an API object, each called
# once per command or object.
is "$(psql_q "SELECT string_agg(n, ' ' ORDER BY n) FROM public.not_inlined() n")" \
	"nicepay_close_registration_window steppay_rest_to_webhook" \
	"every SQL function a delivery calls is inlined"

# NicePay's date-times (migration 014 reads them without regexp_match):
# the forms of lib/nicepay.c, Korean time without an offset, NULL for
# what cannot be read -- an offset PostgreSQL refuses included, which
# used to fail the whole delivery.
is "$(psql_q "SELECT string_agg(coalesce(to_char(payhook.nicepay_time(v) AT TIME ZONE 'UTC',
	'YYYY-MM-DD HH24:MI:SS.US'), '-'), ' | ' ORDER BY n)
	FROM unnest(ARRAY['2026-03-03T14:02:11.930+0900', '2026-03-03 14:02:11Z',
	'2026-03-03T14:02:11-05:30', '2026-03-03T14:02:11+09', '2026-03-03T14:02:11.123456789',
	'2026-02-30T10:00:00+0900', '2026-03-03T14:02:11-1600', '0', '', NULL,
	'2026-03-03T14:02:11+9', '2026-03-03x14:02:11']) WITH ORDINALITY u(v, n)")" \
	"2026-03-03 05:02:11.930000 | 2026-03-03 14:02:11.000000 | 2026-03-03 19:32:11.000000 | 2026-03-03 05:02:11.000000 | 2026-03-03 05:02:11.123457 | - | - | - | - | - | - | -" \
	"nicepay_time reads NicePay's forms and gives NULL for the rest"
tap_done
