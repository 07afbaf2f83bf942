-- NOTIFY payhook, for the merchant's own code: an application that runs
-- LISTEN payhook learns of each delivery when the transaction that
-- recorded it commits, instead of polling. The payload is a small JSON
-- object: {"id": webhook_events.id, "provider", "event_type", "key" (the
-- object's id: order, subscription, payment, tid, ...), "outcome"}.
--
-- Off unless asked for, because PostgreSQL makes committing transactions
-- that notify wait for one another (a lock on the notification queue),
-- which costs throughput under load:
--     ALTER DATABASE shop SET payhook.notify = on;   -- or ALTER ROLE writer SET ...
-- A re-delivery of a body already recorded adds no row and is not notified.

CREATE FUNCTION payhook.notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_outcome text;
    v_key     text;
BEGIN
    -- Deferred to commit: the row's outcome is final by then (an action
    -- may set it after the insert), and the same payload twice in one
    -- transaction is delivered once.
    SELECT e.outcome INTO v_outcome FROM payhook.webhook_events e WHERE e.id = NEW.id;
    v_key := CASE NEW.endpoint
        WHEN 'nicepay' THEN NEW.payload->>'tid'
        WHEN 'steppay-v1' THEN coalesce(NEW.payload->>'orderId', NEW.payload->>'id')
        ELSE NEW.payload->'data'->>(CASE split_part(NEW.event_type, '.', 1)
            WHEN 'subscription' THEN 'subscriptionId'
            WHEN 'payment' THEN 'paymentId'
            WHEN 'product' THEN 'code'
            WHEN 'price' THEN 'priceCode'
            ELSE 'id' END)
    END;
    PERFORM pg_catalog.pg_notify('payhook', pg_catalog.json_build_object(
        'id', NEW.id, 'provider', NEW.provider, 'event_type', NEW.event_type,
        'key', v_key, 'outcome', v_outcome)::text);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER webhook_events_notify
    AFTER INSERT OR UPDATE OF outcome ON payhook.webhook_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (pg_catalog.current_setting('payhook.notify', true) = 'on')
    EXECUTE FUNCTION payhook.notify_event();

COMMENT ON FUNCTION payhook.notify_event() IS
    'NOTIFY payhook at commit for each recorded delivery, when payhook.notify = on.';
