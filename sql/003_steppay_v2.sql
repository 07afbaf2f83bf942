-- payhook 003: StepPay v2 Webhook-Events.
--
-- Every v2 delivery is a snapshot of one object. Its version is the
-- object's modifiedAt where it has one, else the envelope timestamp, then
-- 1 for a *.deleted event (a deletion wins a tie), then the body's SHA-256:
-- a text that sorts like the rule, so "newer" is a plain comparison and
-- never depends on arrival. A snapshot is applied only when its version is
-- greater than the stored one; the typed columns, data and child rows are
-- then all taken from it, so the state is a function of the set of
-- deliveries, whatever their order.
--
-- The state tables keep nothing that depends on arrival order except
-- received_at (first delivery that created the row) and updated_at, so
-- this migration renames created_at (which the provider's own createdAt
-- needs) and replaces last_event_id by source_sha256: the SHA-256 of the
-- body whose snapshot is current (webhook_events.body_sha256). A v2
-- status history row's observed_at is the event's time, not its arrival.

ALTER TABLE payhook.orders RENAME COLUMN created_at TO received_at;
ALTER TABLE payhook.subscriptions RENAME COLUMN created_at TO received_at;
ALTER TABLE payhook.payments RENAME COLUMN created_at TO received_at;
ALTER TABLE payhook.orders DROP COLUMN last_event_id, ADD COLUMN source_sha256 text;
ALTER TABLE payhook.subscriptions DROP COLUMN last_event_id, ADD COLUMN source_sha256 text;
ALTER TABLE payhook.payments DROP COLUMN last_event_id, ADD COLUMN source_sha256 text;
-- Versions compare byte by byte, whatever the database's collation.
ALTER TABLE payhook.orders ALTER COLUMN version TYPE text COLLATE "C";
ALTER TABLE payhook.subscriptions ALTER COLUMN version TYPE text COLLATE "C";
ALTER TABLE payhook.payments ALTER COLUMN version TYPE text COLLATE "C";
ALTER TABLE payhook.subscription_status_history ALTER COLUMN version TYPE text COLLATE "C";

-- The history is keyed by what was observed (provider, subscription,
-- status, version), not by a serial number that would follow arrival.
ALTER TABLE payhook.subscription_status_history DROP COLUMN event_id, DROP COLUMN id;

-- ---- typed columns -------------------------------------------------------
-- JSON field names in snake_case; ids as text; amounts numeric.
ALTER TABLE payhook.orders
    ADD COLUMN code              text,
    ADD COLUMN type              text,
    ADD COLUMN paid_amount       numeric,
    ADD COLUMN returned_amount   numeric,
    ADD COLUMN left_amount       numeric,
    ADD COLUMN discounted_amount numeric,
    ADD COLUMN product_name      text,
    ADD COLUMN payment_due_date  timestamptz,
    ADD COLUMN purchase_deadline timestamptz,
    ADD COLUMN created_at        timestamptz,
    ADD COLUMN modified_at       timestamptz,
    ADD COLUMN id_key            text,
    ADD COLUMN customer_id       text,
    ADD COLUMN invoice_id        text;
CREATE INDEX orders_customer_id ON payhook.orders (provider, customer_id);

CREATE TABLE payhook.order_items (
    provider            text NOT NULL,
    order_id            text NOT NULL,
    item_id             text NOT NULL,
    code                text,
    type                text,
    status              text,
    paid_amount         numeric,
    currency            text,
    quantity            integer,
    price_code          text,
    product_code        text,
    product_type        text,
    product_name        text,
    plan_name           text,
    created_at          timestamptz,
    modified_at         timestamptz,
    canceled_date_time  timestamptz,
    data                jsonb,
    PRIMARY KEY (provider, order_id, item_id)
);

ALTER TABLE payhook.subscriptions
    ADD COLUMN order_id                 text,
    ADD COLUMN order_code               text,
    ADD COLUMN customer_id              text,
    ADD COLUMN interval_unit            text,
    ADD COLUMN interval_count           integer,
    ADD COLUMN payment_gateway          text,
    ADD COLUMN created_at               timestamptz,
    ADD COLUMN last_payment_date        timestamptz,
    ADD COLUMN next_payment_date        timestamptz,
    ADD COLUMN end_date                 timestamptz,
    ADD COLUMN paused_date_time         timestamptz,
    ADD COLUMN current_period_start     timestamptz,
    ADD COLUMN current_period_end       timestamptz;
CREATE INDEX subscriptions_customer_id ON payhook.subscriptions (provider, customer_id);

CREATE TABLE payhook.subscription_items (
    provider             text NOT NULL,
    subscription_id      text NOT NULL,
    item_id              text NOT NULL,
    product_name         text,
    product_code         text,
    price_code           text,
    type                 text,
    price_type           text,
    claim_method_type    text,
    price                numeric,
    quantity             integer,
    is_additional        boolean,
    keep_when_renew      boolean,
    data                 jsonb,
    PRIMARY KEY (provider, subscription_id, item_id)
);

ALTER TABLE payhook.payments
    ADD COLUMN IF NOT EXISTS customer_id      text,
    ADD COLUMN IF NOT EXISTS product_name     text,
    ADD COLUMN IF NOT EXISTS payment_gateway  text,
    ADD COLUMN IF NOT EXISTS payment_method   text,
    ADD COLUMN IF NOT EXISTS payment_only     boolean,
    ADD COLUMN IF NOT EXISTS error_message    text,
    ADD COLUMN IF NOT EXISTS payer_user_name  text,
    ADD COLUMN IF NOT EXISTS payer_email      text,
    ADD COLUMN IF NOT EXISTS payer_phone      text,
    ADD COLUMN IF NOT EXISTS canceled_amount  numeric,
    ADD COLUMN IF NOT EXISTS last_canceled_date timestamptz,
    ADD COLUMN IF NOT EXISTS vbank_bank_code  text,
    ADD COLUMN IF NOT EXISTS vbank_bank_name  text,
    ADD COLUMN IF NOT EXISTS vbank_account_number text,
    ADD COLUMN IF NOT EXISTS vbank_account_name text,
    ADD COLUMN IF NOT EXISTS vbank_bank_date  timestamptz;

-- Columns every new state table shares (see 001 for their meaning).
CREATE TABLE payhook.usage_records (
    provider              text NOT NULL,
    usage_id              text NOT NULL,
    subscription_item_id  text,
    accumulated_quota     bigint,
    accumulated_record    bigint,
    data                  jsonb,
    deleted_at            timestamptz,
    verification          text CHECK (verification IN ('pending', 'verified', 'failed')),
    version               text COLLATE "C",
    sync_requested_at     timestamptz,
    source_sha256         text,
    received_at           timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, usage_id)
);

CREATE TABLE payhook.invoices (
    provider           text NOT NULL,
    invoice_id         text NOT NULL,
    status             text,
    publish_type       text,
    purchase_deadline  timestamptz,
    reservation_at     timestamptz,
    discount           numeric,
    order_id           text,
    order_code         text,
    customer_id        text,
    data               jsonb,
    deleted_at         timestamptz,
    verification       text CHECK (verification IN ('pending', 'verified', 'failed')),
    version            text COLLATE "C",
    sync_requested_at  timestamptz,
    source_sha256      text,
    received_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, invoice_id)
);

CREATE TABLE payhook.customers (
    provider           text NOT NULL,
    customer_id        text NOT NULL,
    code               text,
    username           text,
    name               text,
    email              text,
    phone              text,
    created_at         timestamptz,
    data               jsonb,
    deleted_at         timestamptz,
    verification       text CHECK (verification IN ('pending', 'verified', 'failed')),
    version            text COLLATE "C",
    sync_requested_at  timestamptz,
    source_sha256      text,
    received_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, customer_id)
);

CREATE TABLE payhook.products (
    provider           text NOT NULL,
    product_code       text NOT NULL,
    type               text,
    status             text,
    name               text,
    sub_title          text,
    quantity           integer,
    enabled_demo       boolean,
    created_at         timestamptz,
    modified_at        timestamptz,
    data               jsonb,
    deleted_at         timestamptz,
    verification       text CHECK (verification IN ('pending', 'verified', 'failed')),
    version            text COLLATE "C",
    sync_requested_at  timestamptz,
    source_sha256      text,
    received_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, product_code)
);

-- StepPay's Price carries no product reference.
CREATE TABLE payhook.prices (
    provider                          text NOT NULL,
    price_code                        text NOT NULL,
    price                             numeric,
    unit                              text,
    type                              text,
    plan_name                         text,
    membership_expiration_date        integer,
    membership_expiration_date_type   text,
    created_at                        timestamptz,
    modified_at                       timestamptz,
    data                              jsonb,
    deleted_at                        timestamptz,
    verification                      text CHECK (verification IN ('pending', 'verified', 'failed')),
    version                           text COLLATE "C",
    sync_requested_at                 timestamptz,
    source_sha256                     text,
    received_at                       timestamptz NOT NULL DEFAULT now(),
    updated_at                        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, price_code)
);

-- One row per distinct StepCover event, keyed by its delivery's
-- dedupe_key so that pruning old webhook_events keeps it.
CREATE TABLE payhook.cover_events (
    provider             text NOT NULL,
    dedupe_key           text NOT NULL,
    event_type           text NOT NULL,
    cover_id             text NOT NULL,
    customer_id          text,
    order_id             text,
    subscription_id      text,
    message_type         text,
    message_sent_step    integer,
    next_retry_datetime  timestamptz,
    sent_at              timestamptz,     -- the envelope timestamp
    data                 jsonb,
    received_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, dedupe_key)
);
CREATE INDEX cover_events_cover ON payhook.cover_events (provider, cover_id, sent_at);
CREATE INDEX cover_events_subscription ON payhook.cover_events (provider, subscription_id);

-- ---- conversions ---------------------------------------------------------
-- Values in webhook JSON are read leniently: a field of an unexpected type
-- becomes NULL in its typed column (the whole object stays in data), never
-- an error that would lose the delivery.

-- A zone-less StepPay LocalDateTime (0-6 fractional digits) read in zone
-- p_tz; NULL when absent or not such a date-time.
CREATE FUNCTION payhook.steppay_time(p_local text, p_tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_local IS NULL
       OR p_local !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$' THEN
        RETURN NULL;
    END IF;
    RETURN p_local::timestamp AT TIME ZONE p_tz;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RETURN NULL;  -- month 13, February 30
END $$;

-- A JSON number, or a string holding a plain decimal, as numeric.
CREATE FUNCTION payhook.json_numeric(j jsonb)
RETURNS numeric LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(j) = 'number' THEN (j #>> '{}')::numeric
        WHEN jsonb_typeof(j) = 'string' AND (j #>> '{}') ~ '^-?\d{1,30}(\.\d{1,30})?$'
            THEN (j #>> '{}')::numeric
    END
$$;

-- A JSON integer (or digit string) that fits in an integer column.
CREATE FUNCTION payhook.json_int(j jsonb)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n = trunc(n) AND abs(n) <= 2147483647 THEN n::integer END
      FROM (SELECT payhook.json_numeric(j) AS n) s
$$;

CREATE FUNCTION payhook.json_bigint(j jsonb)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN n = trunc(n) AND abs(n) <= 9223372036854775807 THEN n::bigint END
      FROM (SELECT payhook.json_numeric(j) AS n) s
$$;

-- true/false, or the strings "true"/"false".
CREATE FUNCTION payhook.json_bool(j jsonb)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(j) = 'boolean' THEN (j #>> '{}')::boolean
        WHEN jsonb_typeof(j) = 'string' AND lower(j #>> '{}') IN ('true', 'false')
            THEN lower(j #>> '{}')::boolean
    END
$$;

-- A scalar as text (strings, numbers); NULL for null, objects and arrays.
CREATE FUNCTION payhook.json_text(j jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(j) IN ('string', 'number', 'boolean') THEN j #>> '{}' END
$$;

-- The elements of a JSON array; nothing for anything else.
CREATE FUNCTION payhook.json_elements(j jsonb)
RETURNS SETOF jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT x FROM jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j
                                            ELSE '[]'::jsonb END) x
$$;

-- ---- the version rule, and the one entry point -----------------------------
-- Every StepPay v2 delivery goes through payhook.steppay_v2_event: it
-- records the event (or counts a re-delivery and stops), works out the
-- snapshot's version, and lets the object kind's upsert apply it; the
-- upsert writes only when the version is newer than the stored one and
-- says whether it did.
--   p_kind         order | subscription | usage | invoice | payment |
--                  customer | product | price | cover
--   p_key          the object's natural key; p_alt_key Payment's idKey
--   p_modified_at  the object's modifiedAt (LocalDateTime), or NULL
--   p_timestamp    the envelope timestamp, Unix seconds ("1795000000.123"
--                  when StepPay sent milliseconds)
--   p_tz           provider_timezone
CREATE FUNCTION payhook.steppay_v2_event(
    ev payhook.event_in, p_kind text, p_key text, p_alt_key text, p_modified_at text,
    p_timestamp text, p_tz text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := ev.payload -> 'data';
    v_duplicate boolean;
    v_deleted boolean := ev.event_type LIKE '%.deleted';
    v_sent timestamptz := to_timestamp(p_timestamp::numeric);
    v_version text;
    v_deleted_at timestamptz;
    v_applied boolean;
    v_what text := p_kind || ' ' || p_key || coalesce(' ' || payhook.json_text(d -> 'status'), '');
BEGIN
    SELECT e.id, e.duplicate INTO event_id, v_duplicate
      FROM payhook.event_insert(ev, 'applied', NULL) e;
    IF v_duplicate THEN
        outcome := 'duplicate';
        detail := 'already received';
        RETURN NEXT;
        RETURN;
    END IF;
    -- Fixed-width UTC time, deletion flag, body hash: sorts as the rule.
    v_version := to_char(coalesce(payhook.steppay_time(p_modified_at, p_tz), v_sent)
                         AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') ||
                 CASE WHEN v_deleted THEN '|1|' ELSE '|0|' END || ev.body_sha256;
    IF v_deleted THEN
        -- An invoice says when it was deleted; the others, by the event.
        v_deleted_at := coalesce(payhook.steppay_time(d ->> 'deletedAt', p_tz), v_sent);
        v_what := v_what || ' deleted';
    END IF;
    v_applied := CASE p_kind
        WHEN 'order' THEN payhook.steppay_v2_upsert_order(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'subscription' THEN payhook.steppay_v2_upsert_subscription(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'usage' THEN payhook.steppay_v2_upsert_usage(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'invoice' THEN payhook.steppay_v2_upsert_invoice(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'payment' THEN payhook.steppay_v2_upsert_payment(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'customer' THEN payhook.steppay_v2_upsert_customer(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'product' THEN payhook.steppay_v2_upsert_product(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'price' THEN payhook.steppay_v2_upsert_price(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
        WHEN 'cover' THEN payhook.steppay_v2_upsert_cover(
            ev, d, p_key, p_alt_key, p_tz, v_version, v_deleted_at, v_sent)
    END;
    IF v_applied IS NULL THEN
        RAISE EXCEPTION 'unknown StepPay v2 object kind %', p_kind;
    END IF;
    IF NOT v_applied AND v_deleted THEN
        v_applied := payhook.steppay_v2_mark_deleted(p_kind, ev.provider, p_key, v_deleted_at);
    END IF;
    IF v_applied THEN
        outcome := 'applied';
        detail := v_what || ' stored';
    ELSE
        PERFORM payhook.event_outcome(event_id, 'stale');
        outcome := 'stale';
        detail := v_what || ': newer state already stored';
    END IF;
    RETURN NEXT;
END $$;

-- A deletion older than the stored snapshot still marks the object
-- deleted, and deleted_at is the earliest deletion seen: no arrival order
-- resurrects an object or changes the time. Says whether a row changed.
CREATE FUNCTION payhook.steppay_v2_mark_deleted(
    p_kind text, p_provider text, p_key text, p_at timestamptz)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_table text;
    v_column text;
    n integer;
BEGIN
    SELECT t.tab, t.col INTO v_table, v_column
      FROM (VALUES ('invoice', 'invoices', 'invoice_id'),
                   ('customer', 'customers', 'customer_id'),
                   ('product', 'products', 'product_code'),
                   ('price', 'prices', 'price_code')) AS t (kind, tab, col)
     WHERE t.kind = p_kind;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    EXECUTE format('UPDATE payhook.%I SET deleted_at = least(deleted_at, $3), '
                   'updated_at = now() WHERE provider = $1 AND %I = $2 '
                   'AND deleted_at IS DISTINCT FROM least(deleted_at, $3)',
                   v_table, v_column)
      USING p_provider, p_key, p_at;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- ---- upserts, one per object kind -------------------------------------------
-- Each writes the snapshot d when p_version is newer than the stored
-- version (or none is stored) and returns whether it did.

CREATE FUNCTION payhook.steppay_v2_upsert_order(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.orders AS t
        (provider, order_id, code, type, paid_amount, returned_amount, left_amount,
         discounted_amount, product_name, paid_at, payment_due_date, purchase_deadline,
         created_at, modified_at, id_key, customer_id, invoice_id, data, verification,
         version, sync_requested_at, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'code'), payhook.json_text(d -> 'type'),
         payhook.json_numeric(d -> 'paidAmount'), payhook.json_numeric(d -> 'returnedAmount'),
         payhook.json_numeric(d -> 'leftAmount'), payhook.json_numeric(d -> 'discountedAmount'),
         payhook.json_text(d -> 'productName'),
         payhook.steppay_time(d ->> 'paymentDate', p_tz),
         payhook.steppay_time(d ->> 'paymentDueDate', p_tz),
         payhook.steppay_time(d ->> 'purchaseDeadline', p_tz),
         payhook.steppay_time(d ->> 'createdAt', p_tz),
         payhook.steppay_time(d ->> 'modifiedAt', p_tz),
         payhook.json_text(d -> 'idKey'), payhook.json_text(d -> 'customerId'),
         payhook.json_text(d -> 'invoiceId'), d, NULL, p_version, NULL, ev.body_sha256)
    ON CONFLICT (provider, order_id) DO UPDATE SET
        code = EXCLUDED.code, type = EXCLUDED.type, paid_amount = EXCLUDED.paid_amount,
        returned_amount = EXCLUDED.returned_amount, left_amount = EXCLUDED.left_amount,
        discounted_amount = EXCLUDED.discounted_amount, product_name = EXCLUDED.product_name,
        paid_at = EXCLUDED.paid_at, payment_due_date = EXCLUDED.payment_due_date,
        purchase_deadline = EXCLUDED.purchase_deadline, created_at = EXCLUDED.created_at,
        modified_at = EXCLUDED.modified_at, id_key = EXCLUDED.id_key,
        customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id,
        data = EXCLUDED.data, verification = NULL, version = EXCLUDED.version,
        sync_requested_at = NULL, source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        -- The items are those of the current snapshot.
        DELETE FROM payhook.order_items i WHERE i.provider = ev.provider AND i.order_id = p_key;
        INSERT INTO payhook.order_items
            (provider, order_id, item_id, code, type, status, paid_amount, currency, quantity,
             price_code, product_code, product_type, product_name, plan_name, created_at,
             modified_at, canceled_date_time, data)
        SELECT DISTINCT ON (x ->> 'id') ev.provider, p_key, x ->> 'id',
             payhook.json_text(x -> 'code'), payhook.json_text(x -> 'type'),
             payhook.json_text(x -> 'status'), payhook.json_numeric(x -> 'paidAmount'),
             payhook.json_text(x -> 'currency'), payhook.json_int(x -> 'quantity'),
             payhook.json_text(x -> 'priceCode'), payhook.json_text(x -> 'productCode'),
             payhook.json_text(x -> 'productType'), payhook.json_text(x -> 'productName'),
             payhook.json_text(x -> 'planName'),
             payhook.steppay_time(x ->> 'createdAt', p_tz),
             payhook.steppay_time(x ->> 'modifiedAt', p_tz),
             payhook.steppay_time(x ->> 'canceledDateTime', p_tz), x
          FROM payhook.json_elements(d -> 'items') x
         WHERE x ->> 'id' IS NOT NULL
         ORDER BY x ->> 'id';
    END IF;
    RETURN n > 0;
END $$;

-- Subscription: no modifiedAt, so the envelope timestamp orders it. The
-- status history gets a row for every distinct (status, version), stale
-- or not, so it does not depend on arrival order.
CREATE FUNCTION payhook.steppay_v2_upsert_subscription(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_status text := payhook.json_text(d -> 'status');
    n integer;
BEGIN
    IF v_status IS NOT NULL THEN
        INSERT INTO payhook.subscription_status_history
            (provider, subscription_id, status, version, dedupe_key, observed_at)
        VALUES (ev.provider, p_key, v_status, p_version, ev.dedupe_key, p_sent_at)
        ON CONFLICT (provider, subscription_id, status, version) DO NOTHING;
    END IF;
    INSERT INTO payhook.subscriptions AS t
        (provider, subscription_id, status, order_id, order_code, customer_id, interval_unit,
         interval_count, payment_gateway, created_at, last_payment_date, next_payment_date,
         end_date, paused_date_time, current_period_start, current_period_end, data,
         verification, version, sync_requested_at, source_sha256)
    VALUES (ev.provider, p_key, v_status, payhook.json_text(d -> 'orderId'),
         payhook.json_text(d -> 'orderCode'), payhook.json_text(d -> 'customerId'),
         payhook.json_text(d -> 'intervalUnit'), payhook.json_int(d -> 'intervalCount'),
         payhook.json_text(d -> 'paymentMethod' -> 'paymentGateway'),
         payhook.steppay_time(d ->> 'createdAt', p_tz),
         payhook.steppay_time(d ->> 'lastPaymentDate', p_tz),
         payhook.steppay_time(d ->> 'nextPaymentDate', p_tz),
         payhook.steppay_time(d ->> 'endDate', p_tz),
         payhook.steppay_time(d ->> 'pausedDateTime', p_tz),
         payhook.steppay_time(d -> 'currentPeriod' ->> 'startDateTime', p_tz),
         payhook.steppay_time(d -> 'currentPeriod' ->> 'endDateTime', p_tz),
         d, NULL, p_version, NULL, ev.body_sha256)
    ON CONFLICT (provider, subscription_id) DO UPDATE SET
        status = EXCLUDED.status, order_id = EXCLUDED.order_id,
        order_code = EXCLUDED.order_code, customer_id = EXCLUDED.customer_id,
        interval_unit = EXCLUDED.interval_unit, interval_count = EXCLUDED.interval_count,
        payment_gateway = EXCLUDED.payment_gateway, created_at = EXCLUDED.created_at,
        last_payment_date = EXCLUDED.last_payment_date,
        next_payment_date = EXCLUDED.next_payment_date, end_date = EXCLUDED.end_date,
        paused_date_time = EXCLUDED.paused_date_time,
        current_period_start = EXCLUDED.current_period_start,
        current_period_end = EXCLUDED.current_period_end,
        data = EXCLUDED.data, verification = NULL, version = EXCLUDED.version,
        sync_requested_at = NULL, source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        DELETE FROM payhook.subscription_items i
         WHERE i.provider = ev.provider AND i.subscription_id = p_key;
        INSERT INTO payhook.subscription_items
            (provider, subscription_id, item_id, product_name, product_code, price_code, type,
             price_type, claim_method_type, price, quantity, is_additional, keep_when_renew,
             data)
        SELECT DISTINCT ON (x ->> 'subscriptionItemId') ev.provider, p_key,
             x ->> 'subscriptionItemId', payhook.json_text(x -> 'productName'),
             payhook.json_text(x -> 'productCode'), payhook.json_text(x -> 'priceCode'),
             payhook.json_text(x -> 'type'), payhook.json_text(x -> 'priceType'),
             payhook.json_text(x -> 'claimMethodType'), payhook.json_numeric(x -> 'price'),
             payhook.json_int(x -> 'quantity'), payhook.json_bool(x -> 'isAdditional'),
             payhook.json_bool(x -> 'keepWhenRenew'), x
          FROM payhook.json_elements(d -> 'items') x
         WHERE x ->> 'subscriptionItemId' IS NOT NULL
         ORDER BY x ->> 'subscriptionItemId';
    END IF;
    RETURN n > 0;
END $$;

CREATE FUNCTION payhook.steppay_v2_upsert_usage(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.usage_records AS t
        (provider, usage_id, subscription_item_id, accumulated_quota, accumulated_record,
         data, version, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'subscriptionItemId'),
         payhook.json_bigint(d -> 'accumulatedQuota'),
         payhook.json_bigint(d -> 'accumulatedRecord'), d, p_version, ev.body_sha256)
    ON CONFLICT (provider, usage_id) DO UPDATE SET
        subscription_item_id = EXCLUDED.subscription_item_id,
        accumulated_quota = EXCLUDED.accumulated_quota,
        accumulated_record = EXCLUDED.accumulated_record, data = EXCLUDED.data,
        verification = NULL, version = EXCLUDED.version, sync_requested_at = NULL,
        source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- Invoice: invoice.deleted sets deleted_at (its deletedAt, else the
-- envelope time). A deletion is kept even when its snapshot is older than
-- the stored one, and deleted_at is the earliest deletion seen, so no
-- arrival order can resurrect the invoice or change the time.
CREATE FUNCTION payhook.steppay_v2_upsert_invoice(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.invoices AS t
        (provider, invoice_id, status, publish_type, purchase_deadline, reservation_at,
         discount, order_id, order_code, customer_id, data, deleted_at, version,
         source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'status'),
         payhook.json_text(d -> 'publishType'),
         payhook.steppay_time(d ->> 'purchaseDeadline', p_tz),
         payhook.steppay_time(d ->> 'reservationAt', p_tz),
         payhook.json_numeric(d -> 'discount'), payhook.json_text(d -> 'orderId'),
         payhook.json_text(d -> 'orderCode'), payhook.json_text(d -> 'customerId'),
         d, p_deleted_at, p_version, ev.body_sha256)
    ON CONFLICT (provider, invoice_id) DO UPDATE SET
        status = EXCLUDED.status, publish_type = EXCLUDED.publish_type,
        purchase_deadline = EXCLUDED.purchase_deadline,
        reservation_at = EXCLUDED.reservation_at, discount = EXCLUDED.discount,
        order_id = EXCLUDED.order_id, order_code = EXCLUDED.order_code,
        customer_id = EXCLUDED.customer_id, data = EXCLUDED.data,
        deleted_at = least(t.deleted_at, EXCLUDED.deleted_at),
        verification = NULL, version = EXCLUDED.version, sync_requested_at = NULL,
        source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- Payment: keyed by paymentId. A provisional idkey:<idKey> row from a
-- legacy notice is taken over (re-keyed) by the first v2 Payment that
-- carries both ids. StepPay reports a cancel only as a running total, so
-- payment_cancels gets one row per distinct (lastCanceledDate,
-- canceledAmount), stale deliveries included.
CREATE FUNCTION payhook.steppay_v2_upsert_payment(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_canceled numeric := payhook.json_numeric(d -> 'cancel' -> 'canceledAmount');
    v_canceled_at timestamptz := payhook.steppay_time(d -> 'cancel' ->> 'lastCanceledDate', p_tz);
    v_paid numeric := payhook.json_numeric(d -> 'paidAmount');
    n integer;
BEGIN
    IF p_alt_key IS NOT NULL THEN
        IF EXISTS (SELECT 1 FROM payhook.payments p
                    WHERE p.provider = ev.provider AND p.payment_key = p_key) THEN
            DELETE FROM payhook.payments p
             WHERE p.provider = ev.provider AND p.payment_key = 'idkey:' || p_alt_key;
        ELSE
            UPDATE payhook.payments p SET payment_key = p_key
             WHERE p.provider = ev.provider AND p.payment_key = 'idkey:' || p_alt_key;
        END IF;
    END IF;
    IF v_canceled > 0 THEN
        INSERT INTO payhook.payment_cancels
            (provider, payment_key, cancel_key, amount, cancelled_at, data)
        VALUES (ev.provider, p_key,
                coalesce(d -> 'cancel' ->> 'lastCanceledDate', '') || '/' ||
                    trim_scale(v_canceled)::text,
                v_canceled, v_canceled_at, d -> 'cancel')
        ON CONFLICT (provider, payment_key, cancel_key) DO NOTHING;
    END IF;
    INSERT INTO payhook.payments AS t
        (provider, payment_key, order_id, id_key, status, amount, balance_amount, paid_at,
         customer_id, product_name, payment_gateway, payment_method, payment_only,
         error_message, payer_user_name, payer_email, payer_phone, canceled_amount,
         last_canceled_date, vbank_bank_code, vbank_bank_name, vbank_account_number,
         vbank_account_name, vbank_bank_date, data, verification, version,
         sync_requested_at, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'orderId'), p_alt_key,
         payhook.json_text(d -> 'status'), v_paid, v_paid - coalesce(v_canceled, 0),
         payhook.steppay_time(d ->> 'paidAt', p_tz), payhook.json_text(d -> 'customerId'),
         payhook.json_text(d -> 'productName'), payhook.json_text(d -> 'paymentGateway'),
         payhook.json_text(d -> 'paymentMethod'), payhook.json_bool(d -> 'paymentOnly'),
         payhook.json_text(d -> 'errorMessage'),
         payhook.json_text(d -> 'payer' -> 'userName'),
         payhook.json_text(d -> 'payer' -> 'email'),
         payhook.json_text(d -> 'payer' -> 'phone'), v_canceled, v_canceled_at,
         payhook.json_text(d -> 'vBank' -> 'bankCode'),
         payhook.json_text(d -> 'vBank' -> 'bankName'),
         payhook.json_text(d -> 'vBank' -> 'accountNumber'),
         payhook.json_text(d -> 'vBank' -> 'accountName'),
         payhook.steppay_time(d -> 'vBank' ->> 'bankDate', p_tz),
         d, NULL, p_version, NULL, ev.body_sha256)
    ON CONFLICT (provider, payment_key) DO UPDATE SET
        order_id = EXCLUDED.order_id, id_key = coalesce(EXCLUDED.id_key, t.id_key),
        status = EXCLUDED.status, amount = EXCLUDED.amount,
        balance_amount = EXCLUDED.balance_amount, paid_at = EXCLUDED.paid_at,
        customer_id = EXCLUDED.customer_id, product_name = EXCLUDED.product_name,
        payment_gateway = EXCLUDED.payment_gateway, payment_method = EXCLUDED.payment_method,
        payment_only = EXCLUDED.payment_only, error_message = EXCLUDED.error_message,
        payer_user_name = EXCLUDED.payer_user_name, payer_email = EXCLUDED.payer_email,
        payer_phone = EXCLUDED.payer_phone, canceled_amount = EXCLUDED.canceled_amount,
        last_canceled_date = EXCLUDED.last_canceled_date,
        vbank_bank_code = EXCLUDED.vbank_bank_code, vbank_bank_name = EXCLUDED.vbank_bank_name,
        vbank_account_number = EXCLUDED.vbank_account_number,
        vbank_account_name = EXCLUDED.vbank_account_name,
        vbank_bank_date = EXCLUDED.vbank_bank_date, web_hook_type = NULL,
        data = EXCLUDED.data, verification = NULL, version = EXCLUDED.version,
        sync_requested_at = NULL, source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- Customer: customer.deleted marks it deleted (at the envelope time).
CREATE FUNCTION payhook.steppay_v2_upsert_customer(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.customers AS t
        (provider, customer_id, code, username, name, email, phone, created_at, data,
         deleted_at, version, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'code'),
         payhook.json_text(d -> 'username'), payhook.json_text(d -> 'name'),
         payhook.json_text(d -> 'email'), payhook.json_text(d -> 'phone'),
         payhook.steppay_time(d ->> 'createdAt', p_tz), d,
         p_deleted_at, p_version, ev.body_sha256)
    ON CONFLICT (provider, customer_id) DO UPDATE SET
        code = EXCLUDED.code, username = EXCLUDED.username, name = EXCLUDED.name,
        email = EXCLUDED.email, phone = EXCLUDED.phone, created_at = EXCLUDED.created_at,
        data = EXCLUDED.data, deleted_at = least(t.deleted_at, EXCLUDED.deleted_at),
        verification = NULL, version = EXCLUDED.version, sync_requested_at = NULL,
        source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- Product: keyed by code (the webhook object has no numeric id).
CREATE FUNCTION payhook.steppay_v2_upsert_product(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.products AS t
        (provider, product_code, type, status, name, sub_title, quantity, enabled_demo,
         created_at, modified_at, data, deleted_at, version, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_text(d -> 'type'),
         payhook.json_text(d -> 'status'), payhook.json_text(d -> 'name'),
         payhook.json_text(d -> 'subTitle'), payhook.json_int(d -> 'quantity'),
         payhook.json_bool(d -> 'enabledDemo'),
         payhook.steppay_time(d ->> 'createdAt', p_tz),
         payhook.steppay_time(d ->> 'modifiedAt', p_tz), d,
         p_deleted_at, p_version, ev.body_sha256)
    ON CONFLICT (provider, product_code) DO UPDATE SET
        type = EXCLUDED.type, status = EXCLUDED.status, name = EXCLUDED.name,
        sub_title = EXCLUDED.sub_title, quantity = EXCLUDED.quantity,
        enabled_demo = EXCLUDED.enabled_demo, created_at = EXCLUDED.created_at,
        modified_at = EXCLUDED.modified_at, data = EXCLUDED.data,
        deleted_at = least(t.deleted_at, EXCLUDED.deleted_at),
        verification = NULL, version = EXCLUDED.version, sync_requested_at = NULL,
        source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

CREATE FUNCTION payhook.steppay_v2_upsert_price(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO payhook.prices AS t
        (provider, price_code, price, unit, type, plan_name, membership_expiration_date,
         membership_expiration_date_type, created_at, modified_at, data, deleted_at,
         version, source_sha256)
    VALUES (ev.provider, p_key, payhook.json_numeric(d -> 'price'),
         payhook.json_text(d -> 'unit'), payhook.json_text(d -> 'type'),
         payhook.json_text(d -> 'plan' -> 'name'),
         payhook.json_int(d -> 'membershipExpirationDate'),
         payhook.json_text(d -> 'membershipExpirationDateType'),
         payhook.steppay_time(d ->> 'createdAt', p_tz),
         payhook.steppay_time(d ->> 'modifiedAt', p_tz), d,
         p_deleted_at, p_version, ev.body_sha256)
    ON CONFLICT (provider, price_code) DO UPDATE SET
        price = EXCLUDED.price, unit = EXCLUDED.unit, type = EXCLUDED.type,
        plan_name = EXCLUDED.plan_name,
        membership_expiration_date = EXCLUDED.membership_expiration_date,
        membership_expiration_date_type = EXCLUDED.membership_expiration_date_type,
        created_at = EXCLUDED.created_at, modified_at = EXCLUDED.modified_at,
        data = EXCLUDED.data, deleted_at = least(t.deleted_at, EXCLUDED.deleted_at),
        verification = NULL, version = EXCLUDED.version, sync_requested_at = NULL,
        source_sha256 = EXCLUDED.source_sha256, updated_at = now()
    WHERE t.version IS NULL OR t.version < EXCLUDED.version;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END $$;

-- StepCover events are messages, not snapshots: every distinct one is a row.
CREATE FUNCTION payhook.steppay_v2_upsert_cover(
    ev payhook.event_in, d jsonb, p_key text, p_alt_key text, p_tz text,
    p_version text, p_deleted_at timestamptz, p_sent_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
BEGIN
    INSERT INTO payhook.cover_events
        (provider, dedupe_key, event_type, cover_id, customer_id, order_id, subscription_id,
         message_type, message_sent_step, next_retry_datetime, sent_at, data)
    VALUES (ev.provider, coalesce(ev.dedupe_key, ev.body_sha256), ev.event_type, p_key,
         payhook.json_text(d -> 'customerId'), payhook.json_text(d -> 'orderId'),
         payhook.json_text(d -> 'subscriptionId'), payhook.json_text(d -> 'messageType'),
         payhook.json_int(d -> 'messageSentStep'),
         payhook.steppay_time(d ->> 'nextRetryDatetime', p_tz), p_sent_at, d)
    ON CONFLICT (provider, dedupe_key) DO NOTHING;
    RETURN true;
END $$;


-- ---- StepPay v1 actions, rewritten for the columns above -----------------
-- Unchanged in behaviour: they only record source_sha256 instead of the
-- event id, and write no event id into the status history.

-- StepPay v1 subscription notice: {"id": 4021, "status": "UNPAID"}.
-- Applies where no versioned (v2 or sync) state exists; a history row
-- only when the status changes.
CREATE OR REPLACE FUNCTION payhook.steppay_v1_subscription(
    ev payhook.event_in,
    p_subscription_id text, p_status text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_old payhook.subscriptions%ROWTYPE;
BEGIN
    SELECT e.id INTO event_id
      FROM payhook.event_insert(ev, 'applied', NULL) e;

    INSERT INTO payhook.subscriptions
        (provider, subscription_id, status, verification, sync_requested_at, source_sha256)
    VALUES (ev.provider, p_subscription_id, p_status, 'pending', now(), ev.body_sha256)
    ON CONFLICT (provider, subscription_id) DO NOTHING;
    IF FOUND THEN
        outcome := 'applied';
        detail := 'subscription ' || p_subscription_id || ' created ' || p_status;
    ELSE
        SELECT * INTO v_old FROM payhook.subscriptions s
         WHERE s.provider = ev.provider AND s.subscription_id = p_subscription_id
           FOR UPDATE;
        IF v_old.version IS NOT NULL THEN
            UPDATE payhook.subscriptions s SET sync_requested_at = now()
             WHERE s.provider = ev.provider AND s.subscription_id = p_subscription_id;
            outcome := 'stale';
            detail := 'newer versioned state kept; queued for payhook sync';
        ELSIF v_old.status IS NOT DISTINCT FROM p_status THEN
            outcome := 'duplicate';
            detail := 'status already ' || p_status;
        ELSE
            UPDATE payhook.subscriptions s
               SET status = p_status, verification = 'pending',
                   sync_requested_at = now(), source_sha256 = ev.body_sha256, updated_at = now()
             WHERE s.provider = ev.provider AND s.subscription_id = p_subscription_id;
            outcome := 'applied';
            detail := 'subscription ' || p_subscription_id || ' ' ||
                      coalesce(v_old.status, '(none)') || ' -> ' || p_status;
        END IF;
    END IF;
    IF outcome = 'applied' THEN
        INSERT INTO payhook.subscription_status_history
            (provider, subscription_id, status, version, observed_at)
        VALUES (ev.provider, p_subscription_id, p_status, NULL,
                coalesce(ev.received_at, now()));
    ELSE
        PERFORM payhook.event_outcome(event_id, outcome);
    END IF;
    RETURN NEXT;
END $$;

-- StepPay v1 order notice: {"webHookType": "PAYMENT", "orderId": 90417}.
-- paid_at is set once, to the time received, until payhook sync replaces
-- it with StepPay's paymentDate.
CREATE OR REPLACE FUNCTION payhook.steppay_v1_order(
    ev payhook.event_in,
    p_order_id text, p_web_hook_type text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_old payhook.orders%ROWTYPE;
    v_paid timestamptz := CASE WHEN p_web_hook_type = 'PAYMENT'
                               THEN coalesce(ev.received_at, now()) END;
BEGIN
    SELECT e.id INTO event_id
      FROM payhook.event_insert(ev, 'applied', NULL) e;

    INSERT INTO payhook.orders
        (provider, order_id, paid_at, verification, sync_requested_at, source_sha256)
    VALUES (ev.provider, p_order_id, v_paid, 'pending', now(), ev.body_sha256)
    ON CONFLICT (provider, order_id) DO NOTHING;
    IF FOUND THEN
        outcome := 'applied';
        detail := 'order ' || p_order_id ||
                  CASE WHEN v_paid IS NULL THEN ' recorded' ELSE ' paid' END;
    ELSE
        SELECT * INTO v_old FROM payhook.orders o
         WHERE o.provider = ev.provider AND o.order_id = p_order_id FOR UPDATE;
        IF v_old.version IS NOT NULL THEN
            UPDATE payhook.orders o SET sync_requested_at = now()
             WHERE o.provider = ev.provider AND o.order_id = p_order_id;
            outcome := 'stale';
            detail := 'newer versioned state kept; queued for payhook sync';
        ELSIF v_paid IS NULL OR v_old.paid_at IS NOT NULL THEN
            UPDATE payhook.orders o SET sync_requested_at = now()
             WHERE o.provider = ev.provider AND o.order_id = p_order_id;
            outcome := 'duplicate';
            detail := CASE WHEN v_old.paid_at IS NOT NULL
                           THEN 'order ' || p_order_id || ' already paid'
                           ELSE 'order ' || p_order_id || ' already recorded' END;
        ELSE
            UPDATE payhook.orders o
               SET paid_at = v_paid, verification = 'pending', sync_requested_at = now(),
                   source_sha256 = ev.body_sha256, updated_at = now()
             WHERE o.provider = ev.provider AND o.order_id = p_order_id;
            outcome := 'applied';
            detail := 'order ' || p_order_id || ' paid';
        END IF;
    END IF;
    IF outcome <> 'applied' THEN
        PERFORM payhook.event_outcome(event_id, outcome);
    END IF;
    RETURN NEXT;
END $$;

-- StepPay v1 payment-only notice: {"webHookType", "orderId", "idKey"}.
-- Creates a provisional payment keyed idkey:<idKey> (status NULL) unless a
-- payment with that idKey exists; never touches orders.
CREATE OR REPLACE FUNCTION payhook.steppay_v1_payment(
    ev payhook.event_in,
    p_id_key text, p_order_id text, p_web_hook_type text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_old payhook.payments%ROWTYPE;
BEGIN
    SELECT e.id INTO event_id
      FROM payhook.event_insert(ev, 'applied', NULL) e;

    -- A v2 Payment that carries this idKey wins over the provisional row.
    SELECT * INTO v_old FROM payhook.payments p
     WHERE p.provider = ev.provider AND p.id_key = p_id_key
     ORDER BY (p.version IS NOT NULL) DESC, p.payment_key
     LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO payhook.payments
            (provider, payment_key, order_id, id_key, status, web_hook_type,
             verification, sync_requested_at, source_sha256)
        VALUES (ev.provider, 'idkey:' || p_id_key, p_order_id, p_id_key, NULL,
                p_web_hook_type, 'pending', now(), ev.body_sha256)
        ON CONFLICT (provider, payment_key) DO NOTHING;
        IF FOUND THEN
            outcome := 'applied';
            detail := 'provisional payment idkey:' || p_id_key || ' ' || p_web_hook_type;
            RETURN NEXT;
            RETURN;
        END IF;
        -- Created meanwhile by a concurrent notice: compare with it.
        SELECT * INTO v_old FROM payhook.payments p
         WHERE p.provider = ev.provider AND p.payment_key = 'idkey:' || p_id_key
           FOR UPDATE;
    END IF;

    IF v_old.version IS NOT NULL THEN
        UPDATE payhook.payments p SET sync_requested_at = now()
         WHERE p.provider = v_old.provider AND p.payment_key = v_old.payment_key;
        outcome := 'stale';
        detail := 'payment ' || v_old.payment_key || ' has newer versioned state; '
                  'queued for payhook sync';
    ELSIF v_old.order_id IS NOT DISTINCT FROM p_order_id
          AND v_old.web_hook_type IS NOT DISTINCT FROM p_web_hook_type THEN
        outcome := 'duplicate';
        detail := 'payment ' || v_old.payment_key || ' already ' || p_web_hook_type;
    ELSE
        UPDATE payhook.payments p
           SET order_id = p_order_id, web_hook_type = p_web_hook_type,
               verification = 'pending', sync_requested_at = now(),
               source_sha256 = ev.body_sha256, updated_at = now()
         WHERE p.provider = v_old.provider AND p.payment_key = v_old.payment_key;
        outcome := 'applied';
        detail := 'payment ' || v_old.payment_key || ' ' ||
                  coalesce(v_old.web_hook_type, '(none)') || ' -> ' || p_web_hook_type;
    END IF;
    IF outcome <> 'applied' THEN
        PERFORM payhook.event_outcome(event_id, outcome);
    END IF;
    RETURN NEXT;
END $$;

