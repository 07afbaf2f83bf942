-- Least privilege: three roles, set up by `payhook migrate --roles`.
--
--   owner   owns schema payhook and everything in it; runs migrations.
--   writer  what the handlers connect as. It may only EXECUTE the store
--           actions (the set-returning functions whose first argument is
--           a payhook.event_in; not event_insert, which they call), which
--           run as the owner (SECURITY DEFINER,
--           with a fixed search_path). It holds no privilege on any table:
--           no DDL, no DELETE, no direct INSERT or UPDATE, no SELECT.
--   reader  the merchant's psql and reports: SELECT on every table and
--           view of the schema, nothing else.
--
-- The names are kept in payhook.roles, so that every later `payhook
-- migrate` (which may re-create functions: CREATE OR REPLACE drops
-- SECURITY DEFINER) puts the privileges back with
-- payhook.apply_privileges().

CREATE TABLE payhook.roles (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    owner   name NOT NULL,
    writer  name NOT NULL,
    reader  name NOT NULL,
    CHECK (owner <> writer AND owner <> reader AND writer <> reader)
);

COMMENT ON TABLE payhook.roles IS
    'The owner, writer and reader roles given to payhook migrate --roles.';

-- The writer's functions besides the store actions: opening NicePay's
-- registration window is part of registering a webhook URL.
CREATE FUNCTION payhook.writer_extra_functions() RETURNS regprocedure[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['payhook.nicepay_open_registration_window(integer)'::regprocedure,
                 'payhook.nicepay_close_registration_window()'::regprocedure]
$$;

-- Makes the catalog match payhook.roles; does nothing when --roles was
-- never used. Safe to run again; run by every `payhook migrate`.
CREATE FUNCTION payhook.apply_privileges() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r   payhook.roles;
    o   record;
BEGIN
    SELECT * INTO r FROM payhook.roles;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- Everything in the schema belongs to the owner. (ALTER ... OWNER to
    -- the current owner is a no-op, so an owner-run migrate passes here.)
    EXECUTE format('ALTER SCHEMA payhook OWNER TO %I', r.owner);
    FOR o IN
        SELECT c.oid::regclass AS obj,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              ELSE 'TABLE' END AS kind
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'payhook'::regnamespace
           AND c.relkind IN ('r', 'p', 'v', 'm')
           AND c.relowner <> r.owner::regrole
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO %I', o.kind, o.obj, r.owner);
    END LOOP;
    -- Sequences that belong to a column followed their table above.
    FOR o IN
        SELECT c.oid::regclass AS obj
          FROM pg_catalog.pg_class c
         WHERE c.relnamespace = 'payhook'::regnamespace
           AND c.relkind = 'S'
           AND c.relowner <> r.owner::regrole
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO %I', o.obj, r.owner);
    END LOOP;
    FOR o IN
        SELECT p.oid::regprocedure AS obj
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'payhook'::regnamespace
           AND p.proowner <> r.owner::regrole
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', o.obj, r.owner);
    END LOOP;
    FOR o IN
        SELECT t.oid::regtype AS obj
          FROM pg_catalog.pg_type t
          LEFT JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
         WHERE t.typnamespace = 'payhook'::regnamespace
           AND (t.typtype IN ('d', 'e', 'r') OR (t.typtype = 'c' AND c.relkind = 'c'))
           AND t.typowner <> r.owner::regrole
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO %I', o.obj, r.owner);
    END LOOP;

    -- Nobody else gets anything by default ...
    EXECUTE 'REVOKE ALL ON SCHEMA payhook FROM PUBLIC';
    EXECUTE 'REVOKE ALL ON ALL TABLES IN SCHEMA payhook FROM PUBLIC';
    EXECUTE 'REVOKE ALL ON ALL SEQUENCES IN SCHEMA payhook FROM PUBLIC';
    EXECUTE 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA payhook FROM PUBLIC';
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA payhook '
                   'REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC', r.owner);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA payhook FROM %I, %I',
                   r.writer, r.reader);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA payhook FROM %I, %I',
                   r.writer, r.reader);

    -- ... the writer may call the store actions, which run as the owner
    -- with a search_path nobody else can put objects in ...
    EXECUTE format('GRANT USAGE ON SCHEMA payhook TO %I, %I', r.writer, r.reader);
    FOR o IN
        SELECT p.oid::regprocedure AS obj
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'payhook'::regnamespace
           AND ((p.proargtypes[0] = 'payhook.event_in'::regtype AND p.proretset)
                OR p.oid = ANY (payhook.writer_extra_functions()))
    LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER '
                       'SET search_path = pg_catalog, pg_temp', o.obj);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', o.obj, r.writer);
    END LOOP;

    -- ... and the reader may read every table and view.
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA payhook TO %I', r.reader);
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA payhook '
                   'GRANT SELECT ON TABLES TO %I', r.owner, r.reader);
END
$$;

COMMENT ON FUNCTION payhook.apply_privileges() IS
    'Gives the roles in payhook.roles their privileges (run by payhook migrate).';

-- Creates the three roles when missing (LOGIN, no password: set one with
-- psql''s \password, or map them in pg_hba.conf), records them and applies
-- the privileges. Needs CREATEROLE (or a superuser): run by
-- `payhook migrate --roles`.
CREATE FUNCTION payhook.setup_roles(p_owner name, p_writer name, p_reader name)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n name;
BEGIN
    FOREACH n IN ARRAY ARRAY[p_owner, p_writer, p_reader] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = n) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', n);
        END IF;
    END LOOP;
    -- A store action never needs long; a stuck one must not hold a
    -- handler forever. Set on the role, so a transaction-pooling proxy
    -- keeps it.
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', p_writer, '10s');
    EXECUTE format('ALTER ROLE %I SET lock_timeout = %L', p_writer, '5s');
    INSERT INTO payhook.roles (owner, writer, reader)
    VALUES (p_owner, p_writer, p_reader)
    ON CONFLICT (one) DO UPDATE
       SET owner = EXCLUDED.owner, writer = EXCLUDED.writer, reader = EXCLUDED.reader;
    PERFORM payhook.apply_privileges();
END
$$;

COMMENT ON FUNCTION payhook.setup_roles(name, name, name) IS
    'Creates the owner, writer and reader roles and gives them their privileges.';
