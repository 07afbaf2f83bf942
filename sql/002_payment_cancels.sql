-- payhook 002: cancellations of payments, shared by StepPay v2 and NicePay.
--
-- NicePay: one row per cancels[].tid (cancel_key = that tid, amount = that
-- cancel's amount). StepPay has no per-cancel id: one row per distinct
-- (cancel.lastCanceledDate, cumulative cancel.canceledAmount) seen; its
-- cancel_key is those two joined by '/', amount the cumulative total.
--
-- Rows are only ever added (ON CONFLICT DO NOTHING), so the set does not
-- depend on the order in which the deliveries that mention them arrive;
-- received_at (when the first of them came) is the only column that does.
CREATE TABLE payhook.payment_cancels (
    provider      text NOT NULL,
    payment_key   text NOT NULL,
    cancel_key    text NOT NULL,
    amount        numeric,
    cancelled_at  timestamptz,
    reason        text,
    data          jsonb,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, payment_key, cancel_key)
);
CREATE INDEX payment_cancels_cancelled_at ON payhook.payment_cancels (cancelled_at);
