-- payhook 007: `payhook rebuild`, the state tables recomputed from
-- payhook.webhook_events.
--
-- The rebuild replays stored deliveries through the very store actions
-- the handlers call (payhook.steppay_v1_*, payhook.steppay_v2_event,
-- payhook.nicepay_payment), with the arguments the handlers' own C
-- parsers derive again from the stored payload. What makes a call a
-- replay rather than a new delivery is one transaction-local setting,
-- payhook.rebuild_event = the id of the webhook_events row being
-- replayed, which only `payhook rebuild` sets (set_config(..., true): it
-- ends with the transaction and never leaks through a pooled connection):
--
--   * payhook.event_insert returns that id and inserts or counts nothing,
--     so the event log is read, never written;
--   * payhook.event_outcome leaves the row's outcome as it was recorded;
--   * payhook.nicepay_payment looks for an earlier delivery of the same
--     (tid, amount, ediDate) among the rows before this one, as the
--     handler did when it arrived, and appends no warnings again.
--
-- Every other line of the actions runs as it did for the delivery.

-- True while `payhook rebuild` replays an event in this transaction.
CREATE FUNCTION payhook.rebuild_event()
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('payhook.rebuild_event', true), '')::bigint
$$;

CREATE OR REPLACE FUNCTION payhook.event_insert(
    ev payhook.event_in, p_outcome text, p_error text,
    OUT id bigint, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := coalesce(ev.received_at, now());
BEGIN
    duplicate := false;
    -- A replay: the row exists; it is the event being applied again.
    id := payhook.rebuild_event();
    IF id IS NOT NULL THEN
        RETURN;
    END IF;
    INSERT INTO payhook.webhook_events AS e
        (provider, endpoint, event_type, received_at, last_received_at, dedupe_key,
         body_sha256, body_length, payload, signature_valid, remote_addr, outcome,
         warnings, error)
    VALUES (ev.provider, ev.endpoint, ev.event_type, v_at, v_at,
            CASE WHEN p_outcome IN ('rejected', 'failed') THEN NULL ELSE ev.dedupe_key END,
            ev.body_sha256, ev.body_length,
            CASE WHEN p_outcome = 'rejected' THEN NULL ELSE ev.payload END,
            ev.signature_valid, ev.remote_addr, p_outcome,
            string_to_array(nullif(ev.warnings, ''), E'\n'), p_error)
    ON CONFLICT (provider, dedupe_key)
        WHERE dedupe_key IS NOT NULL AND outcome NOT IN ('rejected', 'failed')
        DO NOTHING
    RETURNING e.id INTO id;
    IF id IS NULL THEN
        UPDATE payhook.webhook_events AS e
           SET delivery_count = e.delivery_count + 1,
               last_received_at = greatest(e.last_received_at, v_at)
         WHERE e.provider = ev.provider AND e.dedupe_key = ev.dedupe_key
           AND e.outcome NOT IN ('rejected', 'failed')
        RETURNING e.id INTO id;
        duplicate := true;
    END IF;
END $$;

-- The log keeps the outcome recorded when the delivery arrived; a
-- rebuild reports differences instead of rewriting history.
CREATE OR REPLACE FUNCTION payhook.event_outcome(p_event bigint, p_outcome text)
RETURNS void LANGUAGE sql AS $$
    UPDATE payhook.webhook_events SET outcome = p_outcome
     WHERE id = p_event AND outcome IS DISTINCT FROM p_outcome
       AND payhook.rebuild_event() IS NULL;
$$;

-- The tables `payhook rebuild` recomputes, and the columns of each that
-- record when payhook did something rather than what the deliveries say
-- (DESIGN.md: received_at and updated_at; sync_requested_at is when a
-- legacy notice queued the object for payhook sync). A migration that adds
-- a state table adds it here too.
CREATE FUNCTION payhook.rebuild_tables(
    OUT table_name text, OUT key_columns text[], OUT arrival_columns text[])
RETURNS SETOF record LANGUAGE sql IMMUTABLE AS $$
    VALUES ('orders', '{provider,order_id}'::text[],
            '{received_at,updated_at,sync_requested_at}'::text[]),
           ('order_items', '{provider,order_id,item_id}', '{}'),
           ('subscriptions', '{provider,subscription_id}',
            '{received_at,updated_at,sync_requested_at}'),
           ('subscription_items', '{provider,subscription_id,item_id}', '{}'),
           ('subscription_status_history', '{provider,subscription_id,status,version}', '{}'),
           ('payments', '{provider,payment_key}', '{received_at,updated_at,sync_requested_at}'),
           ('payment_cancels', '{provider,payment_key,cancel_key}', '{received_at}'),
           ('usage_records', '{provider,usage_id}', '{received_at,updated_at,sync_requested_at}'),
           ('invoices', '{provider,invoice_id}', '{received_at,updated_at,sync_requested_at}'),
           ('customers', '{provider,customer_id}', '{received_at,updated_at,sync_requested_at}'),
           ('products', '{provider,product_code}', '{received_at,updated_at,sync_requested_at}'),
           ('prices', '{provider,price_code}', '{received_at,updated_at,sync_requested_at}'),
           ('cover_events', '{provider,dedupe_key}', '{received_at}')
$$;

-- The rows of one state table a rebuild covers, as a WHERE clause on
-- alias x with $1 = provider (NULL: all) and $2 = the object's keys; NULL
-- when the table is outside the scope.
CREATE FUNCTION payhook.rebuild_scope(p_table text, p_object text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '($1::text IS NULL OR x.provider = $1)' || CASE
        WHEN p_object IS NULL THEN ''
        WHEN p_object = 'order' AND p_table IN ('orders', 'order_items')
            THEN ' AND x.order_id = ANY ($2)'
        WHEN p_object = 'subscription'
             AND p_table IN ('subscriptions', 'subscription_items', 'subscription_status_history')
            THEN ' AND x.subscription_id = ANY ($2)'
        WHEN p_object = 'payment' AND p_table IN ('payments', 'payment_cancels')
            THEN ' AND x.payment_key = ANY ($2)'
    END
$$;

-- Starts a rebuild in the caller's transaction: keeps a copy of the rows
-- in scope (to report what changed and to keep each surviving row's
-- received_at), then deletes them.
--   p_provider  NULL for every provider
--   p_object    NULL (everything), 'order', 'subscription' or 'payment'
--   p_keys      the order or subscription id; for 'payment' every
--               payment_key that belongs to the payment (its paymentId or
--               tid, and the idkey:<idKey> of its legacy notices)
-- Returns the number of rows deleted.
CREATE FUNCTION payhook.rebuild_begin(p_provider text, p_object text, p_keys text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_where text;
    n bigint;
    v_total bigint := 0;
BEGIN
    IF p_object IS NOT NULL AND p_object NOT IN ('order', 'subscription', 'payment') THEN
        RAISE EXCEPTION 'payhook.rebuild_begin: unknown object %', p_object;
    END IF;
    CREATE TEMPORARY TABLE rebuild_before (
        table_name text NOT NULL,
        key jsonb NOT NULL,
        row_data jsonb NOT NULL
    ) ON COMMIT DROP;
    FOR t IN SELECT * FROM payhook.rebuild_tables() LOOP
        v_where := payhook.rebuild_scope(t.table_name, p_object);
        CONTINUE WHEN v_where IS NULL;
        EXECUTE format(
            'INSERT INTO pg_temp.rebuild_before (table_name, key, row_data) '
            'SELECT %L, (SELECT jsonb_object_agg(k, to_jsonb(x) -> k) FROM unnest($3) k), '
            'to_jsonb(x) FROM payhook.%I x WHERE %s', t.table_name, t.table_name, v_where)
          USING p_provider, p_keys, t.key_columns;
        EXECUTE format('DELETE FROM payhook.%I x WHERE %s', t.table_name, v_where)
          USING p_provider, p_keys;
        GET DIAGNOSTICS n = ROW_COUNT;
        v_total := v_total + n;
    END LOOP;
    RETURN v_total;
END $$;

-- Ends a rebuild (same scope as rebuild_begin): gives each row that
-- existed before its received_at back (when it was first seen has not
-- changed), and reports per table how many rows differ from before,
-- arrival columns aside: rows that were there and are not now (removed)
-- and rows that are new (added). A changed row counts once in each.
CREATE FUNCTION payhook.rebuild_end(p_provider text, p_object text, p_keys text[],
    OUT table_name text, OUT removed bigint, OUT added bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
    t record;
    v_where text;
    v_strip text;
BEGIN
    PERFORM set_config('payhook.rebuild_event', '', true);
    FOR t IN SELECT * FROM payhook.rebuild_tables() LOOP
        v_where := payhook.rebuild_scope(t.table_name, p_object);
        CONTINUE WHEN v_where IS NULL;
        IF 'received_at' = ANY (t.arrival_columns) THEN
            EXECUTE format(
                'UPDATE payhook.%I x SET received_at = (b.row_data ->> ''received_at'')::timestamptz '
                'FROM pg_temp.rebuild_before b WHERE b.table_name = %L AND to_jsonb(x) @> b.key '
                'AND x.received_at IS DISTINCT FROM (b.row_data ->> ''received_at'')::timestamptz',
                t.table_name, t.table_name);
        END IF;
        v_strip := (SELECT coalesce(string_agg(' - ' || quote_literal(c), ''), '')
                      FROM unnest(t.arrival_columns) c);
        table_name := t.table_name;
        EXECUTE format(
            'WITH b AS (SELECT row_data %1$s AS r FROM pg_temp.rebuild_before '
            '            WHERE table_name = %2$L), '
            '     a AS (SELECT to_jsonb(x) %1$s AS r FROM payhook.%3$I x WHERE %4$s) '
            'SELECT (SELECT count(*) FROM (SELECT r FROM b EXCEPT ALL SELECT r FROM a) s), '
            '       (SELECT count(*) FROM (SELECT r FROM a EXCEPT ALL SELECT r FROM b) s)',
            v_strip, t.table_name, t.table_name, v_where)
          INTO removed, added
          USING p_provider, p_keys;
        IF removed > 0 OR added > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- payhook.nicepay_payment of 004, unchanged but for the two places where
-- a replay must differ from a delivery (marked "replay" below): the
-- edited-replay check looks only at earlier rows, and the warnings the
-- delivery recorded are not appended a second time.
CREATE OR REPLACE FUNCTION payhook.nicepay_payment(
    ev payhook.event_in,
    p_tid text, p_version text, p_status text, p_pay_method text,
    p_amount text, p_balance text, p_order_id text, p_edi_date text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_p jsonb := ev.payload;
    v_dup boolean;
    v_old payhook.payments%ROWTYPE;
    v_found boolean;
    v_cancel boolean;
    v_order text;
    v_verification text;
    v_warn text[] := '{}';
    v_at timestamptz := coalesce(ev.received_at, now());
BEGIN
    IF v_p IS NULL OR p_tid IS NULL OR p_version IS NULL THEN
        RAISE EXCEPTION 'nicepay_payment needs the payload, tid and version';
    END IF;
    -- One delivery of a tid at a time: the replay check and the version
    -- guard below read what the previous one committed.
    PERFORM pg_advisory_xact_lock(hashtextextended('payhook.nicepay:' || p_tid, 0));

    SELECT e.id, e.duplicate INTO event_id, v_dup
      FROM payhook.event_insert(ev, 'applied', NULL) e;
    IF v_dup THEN
        outcome := 'duplicate';
        detail := 'already received';
        RETURN NEXT;
        RETURN;
    END IF;

    IF ev.signature_valid IS NULL AND ev.endpoint <> 'sync' THEN
        IF payhook.nicepay_registration_window_open(v_at) THEN
            outcome := 'test';
            detail := 'registration sample: unsigned ' || p_status ||
                      ' notice while the registration window is open';
        ELSE
            outcome := 'unverified';
            detail := 'unsigned ' || p_status || ' notice for ' || p_tid ||
                      ': applied only once payhook sync confirms it';
        END IF;
        PERFORM payhook.event_outcome(event_id, outcome);
        RETURN NEXT;
        RETURN;
    END IF;

    IF ev.endpoint <> 'sync' AND EXISTS (
        SELECT 1 FROM payhook.webhook_events e
         WHERE e.provider = 'nicepay' AND e.payload->>'tid' = p_tid
           AND e.id <> event_id AND e.signature_valid AND e.endpoint <> 'sync'
           -- replay: only the rows the delivery saw, those before it.
           AND (payhook.rebuild_event() IS NULL OR e.id < event_id)
           AND e.outcome NOT IN ('test', 'rejected', 'failed')
           AND e.body_sha256 <> ev.body_sha256
           AND e.payload->>'ediDate' = p_edi_date
           AND payhook.nicepay_amount(e.payload->'amount') = p_amount::numeric) THEN
        outcome := 'unverified';
        detail := 'edited replay: tid, amount and ediDate of ' || p_tid ||
                  ' already stored with another body; applied only once payhook sync confirms it';
        PERFORM payhook.event_outcome(event_id, outcome);
        RETURN NEXT;
        RETURN;
    END IF;

    v_verification := CASE WHEN ev.endpoint = 'sync' THEN 'verified'
                           WHEN payhook.nicepay_registration_window_open(v_at)
                           THEN 'pending' END;
    v_cancel := p_status IN ('cancelled', 'partialCancelled')
                OR payhook.nicepay_text(v_p->'cancelledTid') IS NOT NULL;

    -- Cancels first, whatever the payment row decides.
    INSERT INTO payhook.payment_cancels AS c
        (provider, payment_key, cancel_key, amount, cancelled_at, reason, data, version)
    SELECT DISTINCT ON (x.value->>'tid')
           ev.provider, p_tid, x.value->>'tid', payhook.nicepay_amount(x.value->'amount'),
           payhook.nicepay_time(x.value->>'cancelledAt'), x.value->>'reason', x.value,
           p_version
      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v_p->'cancels') = 'array'
                                     THEN v_p->'cancels' ELSE '[]'::jsonb END)
           WITH ORDINALITY AS x(value, n)
     WHERE nullif(x.value->>'tid', '') IS NOT NULL
     ORDER BY x.value->>'tid', x.n DESC
    ON CONFLICT (provider, payment_key, cancel_key) DO UPDATE
       SET amount = EXCLUDED.amount, cancelled_at = EXCLUDED.cancelled_at,
           reason = EXCLUDED.reason, data = EXCLUDED.data, version = EXCLUDED.version
     WHERE c.version IS NULL OR c.version COLLATE "C" < EXCLUDED.version COLLATE "C";

    SELECT * INTO v_old FROM payhook.payments p
     WHERE p.provider = ev.provider AND p.payment_key = p_tid FOR UPDATE;
    v_found := FOUND;

    v_order := p_order_id;
    IF v_found AND v_old.order_id IS NOT NULL THEN
        IF v_cancel THEN
            IF p_order_id IS DISTINCT FROM v_old.order_id AND p_order_id IS NOT NULL THEN
                v_warn := v_warn || ('orderId ' || p_order_id || ' of a cancel message '
                          'differs from the payment''s order_id ' || v_old.order_id ||
                          '; kept ' || v_old.order_id);
            END IF;
            v_order := v_old.order_id;
        ELSIF p_order_id IS NULL THEN
            v_order := v_old.order_id;
        ELSIF p_order_id <> v_old.order_id THEN
            v_warn := v_warn || ('order_id ' || v_old.order_id || ' replaced by orderId ' ||
                      p_order_id || ' of a ' || p_status || ' message');
        END IF;
    END IF;

    IF v_found AND v_old.version IS NOT NULL
       AND v_old.version COLLATE "C" >= p_version COLLATE "C" THEN
        outcome := CASE WHEN v_old.version = p_version THEN 'duplicate' ELSE 'stale' END;
        detail := 'payment ' || p_tid || ': stored ' || coalesce(v_old.status, '(none)') ||
                  ' is newer than this ' || p_status;
        IF ev.endpoint = 'sync' THEN
            -- The provider knows the payment; newer signed state stays.
            UPDATE payhook.payments p
               SET sync_requested_at = NULL,
                   verification = CASE WHEN p.verification = 'pending' THEN 'verified'
                                       ELSE p.verification END
             WHERE p.provider = ev.provider AND p.payment_key = p_tid;
        END IF;
        IF NOT v_cancel AND v_order IS DISTINCT FROM v_old.order_id THEN
            UPDATE payhook.payments p SET order_id = v_order, updated_at = now()
             WHERE p.provider = ev.provider AND p.payment_key = p_tid;
        END IF;
    ELSE
        INSERT INTO payhook.payments AS p
            (provider, payment_key, order_id, status, amount, balance_amount, paid_at,
             result_code, result_msg, cancelled_tid, edi_date, failed_at, cancelled_at,
             pay_method, currency, goods_name, mall_reserved, use_escrow, channel,
             approve_no, buyer_name, buyer_tel, buyer_email, issued_cash_receipt,
             receipt_url, mall_user_id, coupon_amt,
             card_code, card_name, card_num, card_quota, is_interest_free, card_type,
             can_part_cancel, acqu_card_code, acqu_card_name,
             bank_code, bank_name,
             vbank_code, vbank_name, vbank_number, vbank_exp_date, vbank_holder,
             data, verification, version, sync_requested_at, source_sha256, updated_at)
        VALUES
            (ev.provider, p_tid, v_order, p_status, p_amount::numeric, p_balance::numeric,
             payhook.nicepay_time(v_p->>'paidAt'),
             payhook.nicepay_text(v_p->'resultCode'), payhook.nicepay_text(v_p->'resultMsg'),
             payhook.nicepay_text(v_p->'cancelledTid'), payhook.nicepay_time(p_edi_date),
             payhook.nicepay_time(v_p->>'failedAt'), payhook.nicepay_time(v_p->>'cancelledAt'),
             p_pay_method, payhook.nicepay_text(v_p->'currency'),
             payhook.nicepay_text(v_p->'goodsName'), payhook.nicepay_text(v_p->'mallReserved'),
             payhook.nicepay_bool(v_p->'useEscrow'), payhook.nicepay_text(v_p->'channel'),
             payhook.nicepay_text(v_p->'approveNo'), payhook.nicepay_text(v_p->'buyerName'),
             payhook.nicepay_text(v_p->'buyerTel'), payhook.nicepay_text(v_p->'buyerEmail'),
             payhook.nicepay_bool(v_p->'issuedCashReceipt'),
             payhook.nicepay_text(v_p->'receiptUrl'), payhook.nicepay_text(v_p->'mallUserId'),
             payhook.nicepay_amount(v_p->'coupon'->'couponAmt'),
             payhook.nicepay_text(v_p->'card'->'cardCode'),
             payhook.nicepay_text(v_p->'card'->'cardName'),
             payhook.nicepay_text(v_p->'card'->'cardNum'),
             payhook.nicepay_amount(v_p->'card'->'cardQuota')::integer,
             payhook.nicepay_bool(v_p->'card'->'isInterestFree'),
             payhook.nicepay_text(v_p->'card'->'cardType'),
             payhook.nicepay_bool(v_p->'card'->'canPartCancel'),
             payhook.nicepay_text(v_p->'card'->'acquCardCode'),
             payhook.nicepay_text(v_p->'card'->'acquCardName'),
             payhook.nicepay_text(v_p->'bank'->'bankCode'),
             payhook.nicepay_text(v_p->'bank'->'bankName'),
             payhook.nicepay_text(v_p->'vbank'->'vbankCode'),
             payhook.nicepay_text(v_p->'vbank'->'vbankName'),
             payhook.nicepay_text(v_p->'vbank'->'vbankNumber'),
             payhook.nicepay_time(v_p->'vbank'->>'vbankExpDate'),
             payhook.nicepay_text(v_p->'vbank'->'vbankHolder'),
             v_p, v_verification, p_version,
             CASE WHEN v_verification = 'pending' THEN now() END, ev.body_sha256, now())
        ON CONFLICT (provider, payment_key) DO UPDATE SET
            order_id = EXCLUDED.order_id, status = EXCLUDED.status,
            amount = EXCLUDED.amount, balance_amount = EXCLUDED.balance_amount,
            paid_at = EXCLUDED.paid_at, result_code = EXCLUDED.result_code,
            result_msg = EXCLUDED.result_msg, cancelled_tid = EXCLUDED.cancelled_tid,
            edi_date = EXCLUDED.edi_date, failed_at = EXCLUDED.failed_at,
            cancelled_at = EXCLUDED.cancelled_at, pay_method = EXCLUDED.pay_method,
            currency = EXCLUDED.currency, goods_name = EXCLUDED.goods_name,
            mall_reserved = EXCLUDED.mall_reserved, use_escrow = EXCLUDED.use_escrow,
            channel = EXCLUDED.channel, approve_no = EXCLUDED.approve_no,
            buyer_name = EXCLUDED.buyer_name, buyer_tel = EXCLUDED.buyer_tel,
            buyer_email = EXCLUDED.buyer_email,
            issued_cash_receipt = EXCLUDED.issued_cash_receipt,
            receipt_url = EXCLUDED.receipt_url, mall_user_id = EXCLUDED.mall_user_id,
            coupon_amt = EXCLUDED.coupon_amt,
            card_code = EXCLUDED.card_code, card_name = EXCLUDED.card_name,
            card_num = EXCLUDED.card_num, card_quota = EXCLUDED.card_quota,
            is_interest_free = EXCLUDED.is_interest_free, card_type = EXCLUDED.card_type,
            can_part_cancel = EXCLUDED.can_part_cancel,
            acqu_card_code = EXCLUDED.acqu_card_code, acqu_card_name = EXCLUDED.acqu_card_name,
            bank_code = EXCLUDED.bank_code, bank_name = EXCLUDED.bank_name,
            vbank_code = EXCLUDED.vbank_code, vbank_name = EXCLUDED.vbank_name,
            vbank_number = EXCLUDED.vbank_number, vbank_exp_date = EXCLUDED.vbank_exp_date,
            vbank_holder = EXCLUDED.vbank_holder,
            data = EXCLUDED.data, verification = EXCLUDED.verification,
            version = EXCLUDED.version, sync_requested_at = EXCLUDED.sync_requested_at,
            source_sha256 = EXCLUDED.source_sha256, updated_at = EXCLUDED.updated_at;
        outcome := 'applied';
        detail := 'payment ' || p_tid || ' ' ||
                  CASE WHEN v_found THEN coalesce(v_old.status, '(none)') || ' -> '
                       ELSE 'created ' END || p_status;
    END IF;

    IF cardinality(v_warn) > 0 AND payhook.rebuild_event() IS NULL THEN  -- replay: recorded once
        UPDATE payhook.webhook_events e SET warnings = coalesce(e.warnings, '{}') || v_warn
         WHERE e.id = event_id;
    END IF;
    IF outcome <> 'applied' THEN
        PERFORM payhook.event_outcome(event_id, outcome);
    END IF;
    RETURN NEXT;
END $$;
