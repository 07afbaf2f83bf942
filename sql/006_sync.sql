-- payhook 006: `payhook sync` -- authoritative objects fetched from the
-- providers' APIs, recorded as webhook_events rows (endpoint 'sync', not
-- deduplicated) and applied through the same upserts as the webhooks.
--
-- A fetched object is a snapshot like a v2 delivery. Its version follows
-- DESIGN.md's rule for sync fetches: the object's modifiedAt where it has
-- one, else the time of the fetch; for NicePay, the same rule as its
-- webhooks (the inquiry API answers with the webhook's fields). An object
-- written by a fetch has verification = 'verified'; one the provider does
-- not know has verification = 'failed' (an order's paid_at cleared).
--
-- Event payload of a sync row: {"kind", "key", "found", "data"} where data
-- is the API's object (StepPay) -- or, for NicePay, the API's answer
-- itself, which carries tid like a notification.

-- ---- what needs fetching -----------------------------------------------------
-- Objects a legacy notice (or a stale one) queued, NicePay payments waiting
-- for confirmation, and NicePay notices stored 'unverified' that no later
-- sync fetch has answered. With p_since, also every object updated since
-- then; with p_all, every object.
--   kind: order | subscription | receipt (StepPay, by idKey) | payment (NicePay, by tid)
CREATE FUNCTION payhook.sync_queue(p_since timestamptz, p_all boolean, p_limit integer)
RETURNS TABLE (provider text, kind text, key text, reason text)
LANGUAGE sql STABLE AS $$
    SELECT q.provider, q.kind, q.key, min(q.reason)
      FROM (
        SELECT o.provider, 'order' AS kind, o.order_id AS key,
               coalesce(o.verification, 'queued') AS reason
          FROM payhook.orders o
         WHERE o.provider = 'steppay'
           AND (o.verification = 'pending' OR o.sync_requested_at IS NOT NULL
                OR p_all OR o.updated_at >= p_since)
        UNION ALL
        SELECT s.provider, 'subscription', s.subscription_id,
               coalesce(s.verification, 'queued')
          FROM payhook.subscriptions s
         WHERE s.provider = 'steppay'
           AND (s.verification = 'pending' OR s.sync_requested_at IS NOT NULL
                OR p_all OR s.updated_at >= p_since)
        UNION ALL
        SELECT p.provider, 'receipt', p.id_key, coalesce(p.verification, 'queued')
          FROM payhook.payments p
         WHERE p.provider = 'steppay' AND p.id_key IS NOT NULL
           AND (p.verification = 'pending' OR p.sync_requested_at IS NOT NULL
                OR p_all OR p.updated_at >= p_since)
        UNION ALL
        SELECT p.provider, 'payment', p.payment_key, coalesce(p.verification, 'queued')
          FROM payhook.payments p
         WHERE p.provider = 'nicepay'
           AND (p.verification = 'pending' OR p.sync_requested_at IS NOT NULL
                OR p_all OR p.updated_at >= p_since)
        UNION ALL
        SELECT 'nicepay', 'payment', e.payload ->> 'tid', 'unverified'
          FROM payhook.webhook_events e
         WHERE e.provider = 'nicepay' AND e.outcome = 'unverified'
           AND e.payload ->> 'tid' IS NOT NULL
           AND NOT EXISTS (
                SELECT 1 FROM payhook.webhook_events s
                 WHERE s.provider = 'nicepay' AND s.endpoint = 'sync'
                   AND s.payload ->> 'tid' = e.payload ->> 'tid' AND s.id > e.id)
      ) q
     GROUP BY q.provider, q.kind, q.key
     ORDER BY q.provider, q.kind, q.key
     LIMIT p_limit;
$$;

-- ---- StepPay -----------------------------------------------------------------
-- The REST objects use a few other names than the webhook objects
-- (providers/steppay.md 5.11); the v2 upserts read the webhook names.
CREATE FUNCTION payhook.steppay_rest_to_webhook(p_kind text, d jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind
      WHEN 'order' THEN d || jsonb_strip_nulls(jsonb_build_object(
            'customerId', coalesce(d -> 'customerId', d -> 'customer' -> 'id'),
            'code', coalesce(d -> 'code', d -> 'orderCode'),
            'items', (SELECT jsonb_agg(x || jsonb_strip_nulls(jsonb_build_object(
                          'productName', coalesce(x -> 'productName', x -> 'orderedProductName'),
                          'productType', coalesce(x -> 'productType', x -> 'orderedProductType'),
                          'planName', coalesce(x -> 'planName', x -> 'orderedPlanName'))))
                        FROM payhook.json_elements(d -> 'items') x)))
      WHEN 'subscription' THEN d || jsonb_strip_nulls(jsonb_build_object(
            'subscriptionId', coalesce(d -> 'subscriptionId', d -> 'id'),
            'intervalUnit', coalesce(d -> 'intervalUnit', d -> 'interval'),
            'customerId', coalesce(d -> 'customerId', d -> 'customer' -> 'id'),
            'orderId', coalesce(d -> 'orderId', d -> 'parentOrder' -> 'id'),
            'items', (SELECT jsonb_agg(x || jsonb_strip_nulls(jsonb_build_object(
                          'subscriptionItemId', coalesce(x -> 'subscriptionItemId', x -> 'id'))))
                        FROM payhook.json_elements(d -> 'items') x)))
      -- The receipt's schema is not published; the guides read
      -- paymentStatus and paymentDate.
      WHEN 'receipt' THEN d || jsonb_strip_nulls(jsonb_build_object(
            'status', coalesce(d -> 'status', d -> 'paymentStatus'),
            'paidAt', coalesce(d -> 'paidAt', d -> 'paymentDate'),
            'paidAmount', coalesce(d -> 'paidAmount', d -> 'amount')))
      ELSE d END;
$$;

-- Applies one StepPay fetch. p_fetched_at: Unix seconds of the fetch.
-- Found: the snapshot goes through the kind's v2 upsert (version =
-- modifiedAt, else the fetch time); when it is applied the row is
-- 'verified'. Not found: a row that only legacy notices wrote
-- (version NULL) becomes 'failed', an order's paid_at NULL; a row with
-- versioned state keeps it (the detail says so).
CREATE FUNCTION payhook.steppay_sync(
    ev payhook.event_in, p_kind text, p_key text, p_fetched_at text, p_tz text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    v_found boolean := coalesce((ev.payload ->> 'found')::boolean, false);
    d jsonb := payhook.steppay_rest_to_webhook(p_kind, ev.payload -> 'data');
    v_fetched timestamptz := to_timestamp(p_fetched_at::numeric);
    v_version text;
    v_key text := p_key;
    v_alt text;
    v_applied boolean;
    n integer;
BEGIN
    IF p_kind NOT IN ('order', 'subscription', 'receipt') THEN
        RAISE EXCEPTION 'unknown StepPay sync kind %', p_kind;
    END IF;
    SELECT e.id INTO event_id FROM payhook.event_insert(ev, 'applied', NULL) e;

    IF NOT v_found THEN
        IF p_kind = 'order' THEN
            UPDATE payhook.orders o
               SET verification = 'failed', paid_at = NULL, sync_requested_at = NULL,
                   source_sha256 = ev.body_sha256, updated_at = now()
             WHERE o.provider = ev.provider AND o.order_id = p_key AND o.version IS NULL;
        ELSIF p_kind = 'subscription' THEN
            UPDATE payhook.subscriptions s
               SET verification = 'failed', sync_requested_at = NULL,
                   source_sha256 = ev.body_sha256, updated_at = now()
             WHERE s.provider = ev.provider AND s.subscription_id = p_key
               AND s.version IS NULL;
        ELSE
            UPDATE payhook.payments p
               SET verification = 'failed', sync_requested_at = NULL,
                   source_sha256 = ev.body_sha256, updated_at = now()
             WHERE p.provider = ev.provider AND p.id_key = p_key AND p.version IS NULL;
        END IF;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            outcome := 'applied';
            detail := p_kind || ' ' || p_key || ' unknown to StepPay: verification failed';
        ELSE
            PERFORM payhook.event_outcome(event_id, 'stale');
            outcome := 'stale';
            detail := p_kind || ' ' || p_key || ' unknown to StepPay; stored state kept';
        END IF;
        RETURN NEXT;
        RETURN;
    END IF;

    IF jsonb_typeof(d) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION 'StepPay sync of % %: no object', p_kind, p_key;
    END IF;
    v_version := to_char(coalesce(payhook.steppay_time(d ->> 'modifiedAt', p_tz), v_fetched)
                         AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') ||
                 '|0|' || ev.body_sha256;
    IF p_kind = 'receipt' THEN
        -- Keyed by paymentId when the receipt has one (taking the
        -- provisional idkey: row over), else by the provisional key.
        v_alt := p_key;
        v_key := coalesce(payhook.json_text(d -> 'paymentId'), 'idkey:' || p_key);
        IF v_key = 'idkey:' || p_key THEN
            v_alt := NULL;
        END IF;
        v_applied := payhook.steppay_v2_upsert_payment(
            ev, d, v_key, v_alt, p_tz, v_version, NULL, v_fetched);
        IF v_applied THEN
            UPDATE payhook.payments p SET verification = 'verified', id_key = p_key
             WHERE p.provider = ev.provider AND p.payment_key = v_key;
        END IF;
    ELSIF p_kind = 'order' THEN
        v_applied := payhook.steppay_v2_upsert_order(
            ev, d, p_key, NULL, p_tz, v_version, NULL, v_fetched);
        IF v_applied THEN
            UPDATE payhook.orders o SET verification = 'verified'
             WHERE o.provider = ev.provider AND o.order_id = p_key;
        END IF;
    ELSE
        v_applied := payhook.steppay_v2_upsert_subscription(
            ev, d, p_key, NULL, p_tz, v_version, NULL, v_fetched);
        IF v_applied THEN
            UPDATE payhook.subscriptions s SET verification = 'verified'
             WHERE s.provider = ev.provider AND s.subscription_id = p_key;
        END IF;
    END IF;
    IF v_applied THEN
        outcome := 'applied';
        detail := p_kind || ' ' || v_key ||
                  coalesce(' ' || payhook.json_text(d -> 'status'), '') || ' verified';
    ELSE
        -- Newer signed state is stored: it stays, and the queue entry goes.
        UPDATE payhook.orders o SET sync_requested_at = NULL
         WHERE p_kind = 'order' AND o.provider = ev.provider AND o.order_id = p_key;
        UPDATE payhook.subscriptions s SET sync_requested_at = NULL
         WHERE p_kind = 'subscription' AND s.provider = ev.provider AND s.subscription_id = p_key;
        UPDATE payhook.payments p SET sync_requested_at = NULL
         WHERE p_kind = 'receipt' AND p.provider = ev.provider AND p.id_key = p_key;
        PERFORM payhook.event_outcome(event_id, 'stale');
        outcome := 'stale';
        detail := p_kind || ' ' || v_key || ': newer state already stored';
    END IF;
    RETURN NEXT;
END $$;

-- ---- NicePay -------------------------------------------------------------------
-- nicepay_payment (004) learns one thing: a snapshot from the inquiry API
-- (ev.endpoint = 'sync', fetched over the authenticated API channel) is
-- neither an unsigned notice nor an edited replay, and what it writes is
-- 'verified'; and a sync row (whose body is the API's serialization, not
-- a notification) is never the original an edited replay is compared
-- with. Everything else is 004's function unchanged.
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

    IF cardinality(v_warn) > 0 THEN
        UPDATE payhook.webhook_events e SET warnings = coalesce(e.warnings, '{}') || v_warn
         WHERE e.id = event_id;
    END IF;
    IF outcome <> 'applied' THEN
        PERFORM payhook.event_outcome(event_id, outcome);
    END IF;
    RETURN NEXT;
END $$;

-- The version of DESIGN.md's NicePay rule for an inquiry answer, the same
-- text lib/nicepay.c builds for a notification: status rank, cancels[]
-- length, complement of balanceAmt, ediDate in UTC, body SHA-256.
CREATE FUNCTION payhook.nicepay_version(p jsonb, p_sha256 text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE p ->> 'status'
               WHEN 'failed' THEN '2' WHEN 'expired' THEN '2' WHEN 'paid' THEN '3'
               WHEN 'partialCancelled' THEN '4' WHEN 'cancelled' THEN '5' ELSE '1' END
           || '-' || lpad(CASE WHEN jsonb_typeof(p -> 'cancels') = 'array'
                               THEN jsonb_array_length(p -> 'cancels') ELSE 0 END::text, 4, '0')
           || '-' || lpad((999999999999999999 - payhook.nicepay_amount(p -> 'balanceAmt'))::text,
                          18, '0')
           || '-' || to_char(payhook.nicepay_time(p ->> 'ediDate') AT TIME ZONE 'UTC',
                             'YYYYMMDD"T"HH24MISS.US')
           || '-' || p_sha256;
$$;

-- Applies one inquiry answer (ev.payload: {"found", "tid", "data"}).
-- Found: through nicepay_payment like a signed notification, 'verified'.
-- Not found: a payment waiting for confirmation becomes 'failed' (a
-- registration sample's tid ends here); unverified notices of that tid
-- stay unapplied.
CREATE FUNCTION payhook.nicepay_sync(ev payhook.event_in, p_tid text)
RETURNS TABLE (event_id bigint, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
    d jsonb := ev.payload -> 'data';
    n integer;
    v_ev payhook.event_in := ev;
BEGIN
    IF NOT coalesce((ev.payload ->> 'found')::boolean, false) THEN
        SELECT e.id INTO event_id FROM payhook.event_insert(ev, 'applied', NULL) e;
        UPDATE payhook.payments p
           SET verification = 'failed', sync_requested_at = NULL,
               source_sha256 = ev.body_sha256, updated_at = now()
         WHERE p.provider = ev.provider AND p.payment_key = p_tid
           AND (p.verification = 'pending' OR p.sync_requested_at IS NOT NULL);
        GET DIAGNOSTICS n = ROW_COUNT;
        outcome := 'applied';
        detail := 'payment ' || p_tid || ' unknown to NicePay' ||
                  CASE WHEN n > 0 THEN ': verification failed'
                       ELSE ': its unverified notices stay unapplied' END;
        RETURN NEXT;
        RETURN;
    END IF;
    IF d ->> 'tid' IS DISTINCT FROM p_tid OR nullif(d ->> 'status', '') IS NULL
       OR payhook.nicepay_amount(d -> 'amount') IS NULL
       OR payhook.nicepay_amount(d -> 'balanceAmt') IS NULL
       OR payhook.nicepay_time(d ->> 'ediDate') IS NULL THEN
        RAISE EXCEPTION 'NicePay inquiry answer for % lacks tid, status, amount, balanceAmt or ediDate',
            p_tid USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- nicepay_payment reads the payment's fields at the payload's top level.
    v_ev.payload := d;
    RETURN QUERY SELECT r.event_id, r.outcome, r.detail
      FROM payhook.nicepay_payment(v_ev, p_tid,
             payhook.nicepay_version(d, ev.body_sha256), d ->> 'status',
             coalesce(d ->> 'payMethod', ''),
             trim_scale(payhook.nicepay_amount(d -> 'amount'))::text,
             trim_scale(payhook.nicepay_amount(d -> 'balanceAmt'))::text,
             payhook.nicepay_text(d -> 'orderId'), d ->> 'ediDate') r;
END $$;

-- ---- payhook reconcile -------------------------------------------------------
-- Local objects of a date range (in p_tz): StepPay orders by createdAt
-- (else paid_at, else arrival), NicePay payments by paid_at (else ediDate,
-- else arrival). Objects whose verification failed are left out, as the
-- views do.
CREATE FUNCTION payhook.reconcile_local(p_provider text, p_from date, p_to date, p_tz text)
RETURNS TABLE (key text) LANGUAGE sql STABLE AS $$
    SELECT o.order_id FROM payhook.orders o
     WHERE p_provider = 'steppay' AND o.provider = 'steppay'
       AND o.verification IS DISTINCT FROM 'failed'
       AND coalesce(o.created_at, o.paid_at, o.received_at)
           >= p_from::timestamp AT TIME ZONE p_tz
       AND coalesce(o.created_at, o.paid_at, o.received_at)
           < (p_to + 1)::timestamp AT TIME ZONE p_tz
    UNION
    SELECT p.payment_key FROM payhook.payments p
     WHERE p_provider = 'nicepay' AND p.provider = 'nicepay'
       AND p.verification IS DISTINCT FROM 'failed'
       AND coalesce(p.paid_at, p.edi_date, p.received_at) >= p_from::timestamp AT TIME ZONE p_tz
       AND coalesce(p.paid_at, p.edi_date, p.received_at) < (p_to + 1)::timestamp AT TIME ZONE p_tz
    ORDER BY 1;
$$;

-- Differences between the provider's objects (p_remote, a JSON array of
-- API objects: the range's list plus the local objects fetched one by one)
-- and the local rows of the range. p_skip: keys the provider could not be
-- asked about (left out). One row per difference:
--   missing locally | unknown to the provider | status differs | amount differs
CREATE FUNCTION payhook.reconcile_diff(
    p_provider text, p_remote jsonb, p_from date, p_to date, p_tz text, p_skip jsonb)
RETURNS TABLE (key text, difference text, local text, remote text)
LANGUAGE sql STABLE AS $$
    WITH r AS (
        SELECT DISTINCT ON (k) k, amount, balance, status
          FROM (SELECT CASE p_provider WHEN 'steppay' THEN x ->> 'id' ELSE x ->> 'tid' END AS k,
                       CASE p_provider WHEN 'steppay' THEN payhook.json_numeric(x -> 'paidAmount')
                            ELSE payhook.nicepay_amount(x -> 'amount') END AS amount,
                       CASE p_provider WHEN 'nicepay'
                            THEN payhook.nicepay_amount(x -> 'balanceAmt') END AS balance,
                       CASE p_provider
                            WHEN 'steppay' THEN CASE WHEN payhook.steppay_time(x ->> 'paymentDate', p_tz)
                                                     IS NULL THEN 'unpaid' ELSE 'paid' END
                            ELSE x ->> 'status' END AS status
                  FROM jsonb_array_elements(p_remote) x) y
         WHERE k IS NOT NULL
         ORDER BY k),
    l AS (
        SELECT o.order_id AS k, o.paid_amount AS amount, NULL::numeric AS balance,
               CASE WHEN o.paid_at IS NULL THEN 'unpaid' ELSE 'paid' END AS status
          FROM payhook.orders o
         WHERE p_provider = 'steppay' AND o.provider = 'steppay'
           AND o.verification IS DISTINCT FROM 'failed'
           AND (o.order_id IN (SELECT r.k FROM r)
                OR o.order_id IN (SELECT payhook.reconcile_local('steppay', p_from, p_to, p_tz)))
        UNION ALL
        SELECT p.payment_key, p.amount, p.balance_amount, p.status
          FROM payhook.payments p
         WHERE p_provider = 'nicepay' AND p.provider = 'nicepay'
           AND p.verification IS DISTINCT FROM 'failed'
           AND (p.payment_key IN (SELECT r.k FROM r)
                OR p.payment_key IN (SELECT payhook.reconcile_local('nicepay', p_from, p_to, p_tz)))),
    d AS (
        SELECT coalesce(r.k, l.k) AS key,
               CASE WHEN l.k IS NULL THEN 'missing locally'
                    WHEN r.k IS NULL THEN 'unknown to ' ||
                         CASE p_provider WHEN 'steppay' THEN 'StepPay' ELSE 'NicePay' END
                    WHEN r.status IS DISTINCT FROM l.status THEN 'status differs'
                    WHEN r.amount IS DISTINCT FROM l.amount
                         OR (p_provider = 'nicepay' AND r.balance IS DISTINCT FROM l.balance)
                    THEN 'amount differs' END AS difference,
               CASE WHEN l.k IS NOT NULL THEN coalesce(l.status, '-') || ' ' ||
                    coalesce(trim_scale(l.amount)::text, '-') ||
                    coalesce(' balance ' || trim_scale(l.balance)::text, '') END AS local,
               CASE WHEN r.k IS NOT NULL THEN coalesce(r.status, '-') || ' ' ||
                    coalesce(trim_scale(r.amount)::text, '-') ||
                    coalesce(' balance ' || trim_scale(r.balance)::text, '') END AS remote
          FROM r FULL JOIN l ON r.k = l.k)
    SELECT d.key, d.difference, d.local, d.remote FROM d
     WHERE d.difference IS NOT NULL
       AND NOT coalesce(p_skip ? d.key, false)
     ORDER BY d.key;
$$;
