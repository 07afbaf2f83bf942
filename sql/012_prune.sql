-- payhook 012: `payhook prune --before DATE`, and what it means for
-- `payhook rebuild`.
--
-- A prune deletes the webhook_events rows last received before DATE
-- (last_received_at, not received_at: a body delivered again after DATE
-- is still in use -- the provider is retrying it, and its row is what
-- deduplicates the next retry). It never touches a state table. But the
-- state is a function of the event log, so every state row first seen
-- before DATE may have lost the events that made it, and `payhook
-- rebuild` can no longer recompute it. payhook.prunes records each prune
-- so that a later rebuild knows, and payhook.pruned_history counts those
-- rows, for the prune's report and for the rebuild's refusal.

CREATE TABLE payhook.prunes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pruned_at        timestamptz NOT NULL DEFAULT now(),
    received_before  timestamptz NOT NULL,
    provider         text CHECK (provider IN ('steppay', 'nicepay')),  -- NULL: every one
    events_deleted   bigint NOT NULL CHECK (events_deleted >= 0),
    state_rows       bigint NOT NULL CHECK (state_rows >= 0),
    archive          text
);

COMMENT ON TABLE payhook.prunes IS
    'One row per payhook prune: the webhook_events it deleted, and how many state rows '
    'payhook rebuild can no longer reproduce.';

-- When a row of a state table was first seen: its own received_at, or
-- its parent's for the child tables that have none. An SQL expression on
-- alias x; an error for a table it does not know, so that a migration
-- adding a state table to payhook.rebuild_tables() says here too.
CREATE FUNCTION payhook.first_seen_expr(p_table text)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_table = 'order_items' THEN
        RETURN '(SELECT o.received_at FROM payhook.orders o '
               'WHERE o.provider = x.provider AND o.order_id = x.order_id)';
    ELSIF p_table IN ('subscription_items', 'subscription_status_history') THEN
        RETURN '(SELECT s.received_at FROM payhook.subscriptions s '
               'WHERE s.provider = x.provider AND s.subscription_id = x.subscription_id)';
    ELSIF EXISTS (SELECT 1 FROM payhook.rebuild_tables() t
                   WHERE t.table_name = p_table AND 'received_at' = ANY (t.arrival_columns)) THEN
        RETURN 'x.received_at';
    END IF;
    RAISE EXCEPTION 'payhook.first_seen_expr: no first-seen time for table %', p_table;
END $$;

-- Per state table (payhook.rebuild_tables()), the rows first seen before
-- p_before (NULL: before the latest prune that covered the row's
-- provider), within the scope of a rebuild (payhook.rebuild_scope:
-- p_provider NULL for all, p_object and p_keys NULL for everything).
-- Only tables with such rows are returned.
CREATE FUNCTION payhook.pruned_history(p_before timestamptz, p_provider text,
    p_object text, p_keys text[], OUT table_name text, OUT rows bigint)
RETURNS SETOF record LANGUAGE plpgsql STABLE AS $$
DECLARE
    t record;
    v_where text;
BEGIN
    FOR t IN SELECT * FROM payhook.rebuild_tables() LOOP
        v_where := payhook.rebuild_scope(t.table_name, p_object);
        CONTINUE WHEN v_where IS NULL;
        table_name := t.table_name;
        EXECUTE format(
            'SELECT count(*) FROM payhook.%I x WHERE %s AND %s < coalesce($3, '
            '(SELECT max(p.received_before) FROM payhook.prunes p '
            '  WHERE p.provider IS NULL OR p.provider = x.provider))',
            t.table_name, v_where, payhook.first_seen_expr(t.table_name))
          INTO rows
          USING p_provider, p_keys, p_before;
        IF rows > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- Deletes the events last received before p_before (of p_provider, NULL:
-- every provider) into pg_temp.pruned_events, which ends with the
-- caller's transaction, so that the archive is written from exactly the
-- rows deleted. Returns how many.
CREATE FUNCTION payhook.prune_events(p_before timestamptz, p_provider text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    CREATE TEMPORARY TABLE pruned_events (LIKE payhook.webhook_events) ON COMMIT DROP;
    -- received_at <= last_received_at: the first test lets the index serve.
    WITH d AS (
        DELETE FROM payhook.webhook_events e
         WHERE e.received_at < p_before AND e.last_received_at < p_before
           AND (p_provider IS NULL OR e.provider = p_provider)
        RETURNING e.*)
    INSERT INTO pg_temp.pruned_events SELECT * FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

COMMENT ON FUNCTION payhook.prune_events(timestamptz, text) IS
    'Deletes old webhook_events into pg_temp.pruned_events (run by payhook prune).';
