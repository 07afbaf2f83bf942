-- payhook sync and reconcile run with the handlers' database string, as
-- the writer role of `payhook migrate --roles`: their read-only queries
-- join the functions the writer may execute (as the owner).
CREATE OR REPLACE FUNCTION payhook.writer_extra_functions() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['payhook.nicepay_open_registration_window(integer)'::regprocedure,
                 'payhook.nicepay_close_registration_window()'::regprocedure,
                 'payhook.sync_queue(timestamptz, boolean, integer)'::regprocedure,
                 'payhook.reconcile_local(text, date, date, text)'::regprocedure,
                 'payhook.reconcile_diff(text, jsonb, date, date, text, jsonb)'::regprocedure]
$$;
