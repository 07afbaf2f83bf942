-- Helpers that PostgreSQL planned again on every call.
--
-- A LANGUAGE sql function that the planner cannot inline (a FROM clause,
-- a subquery, a statement other than SELECT) is parsed and planned anew
-- each time a query calls it: 60-70 microseconds a call here, a fifth of
-- a StepPay Order's database time. The same bodies in PL/pgSQL keep their
-- plans for the session. Same arguments, same results: only the language
-- changes. Inlinable helpers (json_numeric, json_text, nicepay_text, ...)
-- stay as they are.
--
-- The date-time readers keep their exception handler for what the pattern
-- lets through but the calendar refuses (month 13, February 30), but enter
-- it only for a value of the right shape: an exception block is a
-- subtransaction, and most fields a delivery leaves unset ("0", "", NULL)
-- do not need one.

CREATE OR REPLACE FUNCTION payhook.json_int(j jsonb)
RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n numeric := payhook.json_numeric(j);
BEGIN
    RETURN CASE WHEN n = trunc(n) AND abs(n) <= 2147483647 THEN n::integer END;
END $$;

CREATE OR REPLACE FUNCTION payhook.json_bigint(j jsonb)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n numeric := payhook.json_numeric(j);
BEGIN
    RETURN CASE WHEN n = trunc(n) AND abs(n) <= 9223372036854775807 THEN n::bigint END;
END $$;

CREATE OR REPLACE FUNCTION payhook.event_outcome(p_event bigint, p_outcome text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE payhook.webhook_events SET outcome = p_outcome
     WHERE id = p_event AND outcome IS DISTINCT FROM p_outcome;
END $$;

CREATE OR REPLACE FUNCTION payhook.nicepay_registration_window_open(p_at timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM payhook.nicepay_registration_windows w
                    WHERE p_at >= w.opened_at AND p_at < w.closes_at);
END $$;

CREATE OR REPLACE FUNCTION payhook.steppay_time(p_local text, p_tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_local IS NULL
       OR p_local !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$' THEN
        RETURN NULL;
    END IF;
    BEGIN
        RETURN p_local::timestamp AT TIME ZONE p_tz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RETURN NULL;  -- month 13, February 30
    END;
END $$;

-- NicePay's date-times, as in 004, without regexp_match: a plain match
-- checks the shape, and the zone is fixed up by position (4 us a call
-- against 14, four or five calls per NicePay delivery). An offset beyond
-- what PostgreSQL accepts ("-1600") now reads as NULL like any other
-- unreadable value; 004 let its error fail the whole delivery.
CREATE OR REPLACE FUNCTION payhook.nicepay_time(p text)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
BEGIN
    IF p IS NULL OR p !~ ('^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?'
                         '(Z|[+-]\d{2}(:?\d{2})?)?$') THEN
        RETURN NULL;
    END IF;
    v := overlay(p PLACING ' ' FROM 11 FOR 1);
    IF right(v, 1) = 'Z' THEN
        v := left(v, -1) || '+00:00';
    ELSIF v !~ '[+-]\d{2}(:?\d{2})?$' THEN
        v := v || '+09:00';  -- no offset: Korean time
    END IF;
    BEGIN
        RETURN v::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format
                   OR invalid_time_zone_displacement_value THEN
        RETURN NULL;  -- February 30; an offset beyond 15:59
    END;
END $$;

-- Once per drained batch.
CREATE OR REPLACE FUNCTION payhook.spool_mark_applied(p_names text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM payhook.spool_applied WHERE applied_at < now() - interval '7 days';
    INSERT INTO payhook.spool_applied (name)
    SELECT DISTINCT n FROM unnest(p_names) n
    ON CONFLICT (name) DO NOTHING;
END $$;
