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

CREATE OR REPLACE FUNCTION payhook.nicepay_time(p text)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    m text[];
BEGIN
    m := regexp_match(p, '^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(\.\d{1,9})?)'
                         '(Z|[+-]\d{2}(:?\d{2})?)?$');
    IF m IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        RETURN (m[1] || ' ' || m[2] ||
                CASE WHEN m[4] IS NULL THEN '+09:00' WHEN m[4] = 'Z' THEN '+00:00'
                     ELSE m[4] END)::timestamptz;
    EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
        RETURN NULL;
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
