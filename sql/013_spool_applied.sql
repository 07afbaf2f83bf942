-- The spool files a drainer has applied, recorded in the transaction that
-- applied them. A drainer applies a batch of files in one transaction and
-- removes the files after COMMIT; killed in between, it leaves files whose
-- deliveries are already stored. The next drainer finds their names here
-- and removes them instead of applying them again: a StepPay v1 notice
-- has no dedupe key, and applied a second time after later notices of
-- the same object it would turn the object back.
--
-- A name is needed only until its file is gone, seconds after COMMIT; it
-- is kept for 7 days (pruned by the drainer), which covers a drainer
-- killed and a database down for that long.

CREATE TABLE payhook.spool_applied (
    name        text PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX spool_applied_applied_at ON payhook.spool_applied (applied_at);

COMMENT ON TABLE payhook.spool_applied IS
    'Names of spool files applied, until the drainer has surely removed them.';

-- Which of p_names were applied already.
CREATE FUNCTION payhook.spool_applied_names(p_names text[])
RETURNS SETOF text LANGUAGE sql STABLE AS $$
    SELECT s.name FROM payhook.spool_applied s WHERE s.name = ANY (p_names)
$$;

-- Records p_names as applied (in the caller's transaction, the one that
-- applied them) and forgets names older than 7 days.
CREATE FUNCTION payhook.spool_mark_applied(p_names text[])
RETURNS void LANGUAGE sql AS $$
    DELETE FROM payhook.spool_applied WHERE applied_at < now() - interval '7 days';
    INSERT INTO payhook.spool_applied (name)
    SELECT DISTINCT n FROM unnest(p_names) n
    ON CONFLICT (name) DO NOTHING;
$$;

-- The writer (the handlers' role) calls both. The list is extended, not
-- restated, so that it keeps what earlier migrations put in it.
DO $do$
DECLARE
    v_list text;
BEGIN
    SELECT string_agg(format('%L::regprocedure', f::text), ', ')
      INTO v_list
      FROM unnest(payhook.writer_extra_functions()) f;
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION payhook.writer_extra_functions() RETURNS regprocedure[]
        LANGUAGE sql IMMUTABLE AS $b$
            SELECT ARRAY[%s, 'payhook.spool_applied_names(text[])'::regprocedure,
                         'payhook.spool_mark_applied(text[])'::regprocedure]
        $b$ $f$, v_list);
END
$do$;
