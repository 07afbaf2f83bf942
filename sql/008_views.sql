-- Views for the questions a merchant asks every day. Like the views of
-- 001, they leave out objects whose verification failed. "Today" and
-- "this week" are in the session's TimeZone (SET TimeZone = 'Asia/Seoul').

-- Active subscriptions, now with when they are next charged. (Columns
-- may only be added at the end of a view that already exists.)
CREATE OR REPLACE VIEW payhook.active_subscriptions AS
    SELECT provider, subscription_id, status, verification, updated_at, data,
           customer_id, next_payment_date, last_payment_date, interval_count, interval_unit
      FROM payhook.subscriptions
     WHERE status = 'ACTIVE' AND deleted_at IS NULL
       AND verification IS DISTINCT FROM 'failed';

-- Subscriptions that became UNPAID, were cancelled or expired since the
-- start of this week (Monday), with the status they have now.
CREATE VIEW payhook.subscriptions_lost_this_week AS
    SELECT h.provider, h.subscription_id, h.status AS became,
           min(h.observed_at) AS observed_at, s.status AS status_now, s.customer_id
      FROM payhook.subscription_status_history h
      LEFT JOIN payhook.subscriptions s USING (provider, subscription_id)
     WHERE h.status IN ('UNPAID', 'CANCELED', 'EXPIRED')
       AND h.observed_at >= date_trunc('week', now())
       AND s.verification IS DISTINCT FROM 'failed'
     GROUP BY h.provider, h.subscription_id, h.status, s.status, s.customer_id;

-- Today's money per provider and payment method: what was paid, and what
-- was cancelled (by the time of the cancel, whatever day it was paid).
CREATE VIEW payhook.amounts_today AS
    WITH paid AS (
        SELECT provider, lower(coalesce(pay_method, payment_method, 'unknown')) AS method,
               count(*) AS payments, sum(amount) AS paid_amount
          FROM payhook.payments
         WHERE paid_at >= current_date::timestamptz
           AND paid_at < (current_date + 1)::timestamptz
           AND verification IS DISTINCT FROM 'failed'
         GROUP BY 1, 2
    ), cancel AS (
        -- StepPay reports a payment's cancels as a running total (one
        -- payment_cancels row per total seen): the amount of one cancel is
        -- its total minus the one before. NicePay rows are single cancels.
        SELECT c.provider, c.cancelled_at,
               lower(coalesce(p.pay_method, p.payment_method, 'unknown')) AS method,
               CASE WHEN c.provider = 'steppay'
                    THEN c.amount - coalesce(lag(c.amount) OVER (
                             PARTITION BY c.provider, c.payment_key ORDER BY c.amount), 0)
                    ELSE c.amount END AS amount
          FROM payhook.payment_cancels c
          LEFT JOIN payhook.payments p USING (provider, payment_key)
         WHERE p.verification IS DISTINCT FROM 'failed'
    ), cancelled AS (
        SELECT provider, method, count(*) AS cancels, sum(amount) AS cancelled_amount
          FROM cancel
         WHERE cancelled_at >= current_date::timestamptz
           AND cancelled_at < (current_date + 1)::timestamptz
         GROUP BY 1, 2
    )
    SELECT provider, method,
           coalesce(payments, 0) AS payments, coalesce(paid_amount, 0) AS paid_amount,
           coalesce(cancels, 0) AS cancels, coalesce(cancelled_amount, 0) AS cancelled_amount
      FROM paid FULL JOIN cancelled USING (provider, method);

-- Virtual accounts issued and waiting for the deposit, soonest deadline
-- first; expires_in is negative once the deadline has passed without a
-- paid or expired notice.
CREATE VIEW payhook.vbank_waiting AS
    SELECT provider, payment_key, order_id, amount,
           coalesce(vbank_name, vbank_bank_name) AS bank,
           coalesce(vbank_number, vbank_account_number) AS account_number,
           coalesce(vbank_holder, vbank_account_name) AS holder,
           coalesce(vbank_exp_date, vbank_bank_date) AS expires_at,
           coalesce(vbank_exp_date, vbank_bank_date) - now() AS expires_in
      FROM payhook.payments
     WHERE deleted_at IS NULL
       AND verification IS DISTINCT FROM 'failed'
       AND ((provider = 'nicepay' AND status = 'ready' AND pay_method = 'vbank')
            OR (provider = 'steppay' AND status = 'VIRTUAL_BANK_STANDBY'));

-- Deliveries that need a look: refused as forged (rejected), not applied
-- because the database refused them (failed), or held until payhook sync
-- confirms them (unverified). Deliveries waiting in the spool are on
-- disk, not here: `payhook replay --list` shows them.
CREATE VIEW payhook.delivery_problems AS
    SELECT id, received_at, last_received_at, delivery_count, provider, endpoint,
           event_type, outcome, error, host(remote_addr) AS remote_addr
      FROM payhook.webhook_events
     WHERE outcome IN ('rejected', 'failed', 'unverified');

COMMENT ON VIEW payhook.active_subscriptions IS
    'ACTIVE subscriptions with their next payment date.';
COMMENT ON VIEW payhook.subscriptions_lost_this_week IS
    'Subscriptions that became UNPAID, CANCELED or EXPIRED since Monday.';
COMMENT ON VIEW payhook.amounts_today IS
    'Paid and cancelled amounts today, per provider and payment method.';
COMMENT ON VIEW payhook.vbank_waiting IS
    'Virtual accounts waiting for the deposit, soonest deadline first.';
COMMENT ON VIEW payhook.delivery_problems IS
    'Deliveries rejected, failed or held unverified.';
