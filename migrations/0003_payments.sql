-- specter-sync 0003: a cancellation belongs to a payment, not an order (docs/money-safety.md).
--
-- * cancellation_jobs: one row per PAYMENT (payment_key, unique), however many orders carry it;
--   new states voided (never sent: its cause no longer holds) and dismissed (a person closed it);
--   failure reason unrouted (a cancelled or vanished order's payment has no route: it awaits a
--   person); provider NULL for such a payment until routing covers it.
-- * order_snapshots: payment_key (the payment an order carries now), route kind elsewhere (the
--   merchant settles those payments outside specter-sync), vanish status settled_elsewhere.
-- * sync_runs: the window each run covered, so an order first seen with a date the worker had
--   never covered is recorded as history, not forwarded.
--
-- SQLite cannot change a CHECK constraint, so both tables are rebuilt (the documented 12-step
-- procedure: store/migrate.ts runs every migration in one IMMEDIATE transaction with foreign keys
-- off, and checks them before it commits). Every job keeps its id, its idempotency key and its state.

CREATE TABLE order_snapshots_new (
  order_no            TEXT PRIMARY KEY,
  order_date          TEXT NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('open', 'cancelled', 'delivered')),
  status_id           TEXT,
  delivery_status     TEXT,
  pay_type_identifier TEXT,
  pay_type_reference  TEXT,
  route_kind          TEXT NOT NULL CHECK (route_kind IN ('provider', 'handledBySpecter', 'elsewhere', 'unrouted')),
  provider            TEXT,
  provider_ref        TEXT,
  route_note          TEXT,
  -- The payment this order carries now (routing/payment.ts paymentKeyOf); NULL when there is
  -- nothing to cancel: no payment at all, handled by Specter, or settled elsewhere.
  payment_key         TEXT,
  amount              TEXT,
  currency            TEXT,
  content_hash        TEXT NOT NULL,
  first_seen_at       TEXT NOT NULL,
  last_seen_at        TEXT NOT NULL,
  cancelled_at        TEXT,
  vanished_at         TEXT,
  vanish_status       TEXT CHECK (vanish_status IN ('awaiting', 'reappeared', 'resolved', 'cancel_requested', 'handled_by_specter', 'settled_elsewhere', 'unrouted')),
  vanish_note         TEXT,
  vanish_resolved_at  TEXT,
  left_window_at      TEXT
);
INSERT INTO order_snapshots_new (order_no, order_date, status, status_id, delivery_status,
    pay_type_identifier, pay_type_reference, route_kind, provider, provider_ref, route_note,
    payment_key, amount, currency, content_hash, first_seen_at, last_seen_at, cancelled_at,
    vanished_at, vanish_status, vanish_note, vanish_resolved_at, left_window_at)
  SELECT order_no, order_date, status, status_id, delivery_status, pay_type_identifier,
    pay_type_reference, route_kind, provider, provider_ref, route_note,
    CASE
      WHEN route_kind = 'provider' THEN provider || ':' || provider_ref
      WHEN route_kind = 'unrouted' AND COALESCE(pay_type_reference, '') <> ''
        THEN 'unrouted:' || COALESCE(pay_type_identifier, '') || ':' || pay_type_reference
      WHEN route_kind = 'unrouted' AND COALESCE(pay_type_identifier, '') <> '' THEN 'unrouted:order:' || order_no
      ELSE NULL
    END,
    amount, currency, content_hash, first_seen_at, last_seen_at, cancelled_at, vanished_at,
    vanish_status, vanish_note, vanish_resolved_at, left_window_at
  FROM order_snapshots;

CREATE TABLE cancellation_jobs_new (
  id                      INTEGER PRIMARY KEY AUTOINCREMENT,
  -- The order whose story made (or last re-armed) this payment's job: its cause is checked
  -- against this order before every send.
  order_no                TEXT NOT NULL REFERENCES order_snapshots (order_no),
  payment_key             TEXT NOT NULL UNIQUE,
  provider                TEXT CHECK (provider IN ('qliro', 'klarna', 'walley', 'svea')),
  provider_ref            TEXT,
  pay_type_identifier     TEXT,
  pay_type_reference      TEXT,
  amount                  TEXT,
  currency                TEXT,
  reason                  TEXT NOT NULL CHECK (reason IN ('cancelled', 'vanished')),
  idempotency_key         TEXT NOT NULL UNIQUE,
  state                   TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'done', 'failed', 'voided', 'dismissed')),
  attempts                INTEGER NOT NULL DEFAULT 0,
  next_attempt_at         TEXT NOT NULL,
  provider_transaction_id TEXT,
  last_error_code         TEXT,
  last_error_message      TEXT,
  failure_reason          TEXT CHECK (failure_reason IN ('captured', 'not_found', 'auth', 'rejected', 'exhausted', 'unrouted')),
  void_reason             TEXT,
  person_note             TEXT,
  -- A person re-queued a live-twin hold on purpose: the twin check no longer holds it back.
  twin_override           INTEGER NOT NULL DEFAULT 0,
  accepted_at             TEXT,
  confirm_deadline_at     TEXT,
  created_at              TEXT NOT NULL,
  updated_at              TEXT NOT NULL,
  completed_at            TEXT,
  CHECK ((provider IS NULL) = (provider_ref IS NULL)),
  -- Only a job that awaits a person (or never will be sent) can lack a provider.
  CHECK (provider IS NOT NULL OR state IN ('failed', 'voided', 'dismissed'))
);
-- Two orders sharing one payment could each have a job before this migration (two cancels under
-- two keys: the bug this migration ends). The oldest job keeps the payment; a later duplicate
-- keeps its row and key under a marked payment_key, and if it was not sent yet it is voided.
INSERT INTO cancellation_jobs_new (id, order_no, payment_key, provider, provider_ref,
    pay_type_identifier, pay_type_reference, amount, currency, reason, idempotency_key, state,
    attempts, next_attempt_at, provider_transaction_id, last_error_code, last_error_message,
    failure_reason, void_reason, person_note, twin_override, accepted_at, confirm_deadline_at,
    created_at, updated_at, completed_at)
  SELECT j.id, j.order_no,
    CASE WHEN j.id = first.id THEN j.provider || ':' || j.provider_ref
         ELSE j.provider || ':' || j.provider_ref || '#duplicate-' || j.id END,
    j.provider, j.provider_ref, s.pay_type_identifier, s.pay_type_reference, j.amount, j.currency,
    j.reason, j.idempotency_key,
    CASE WHEN j.id <> first.id AND j.state = 'pending' THEN 'voided' ELSE j.state END,
    j.attempts, j.next_attempt_at, j.provider_transaction_id, j.last_error_code,
    j.last_error_message, j.failure_reason,
    CASE WHEN j.id <> first.id AND j.state = 'pending' THEN 'duplicate_payment' ELSE NULL END,
    NULL, 0, j.accepted_at, j.confirm_deadline_at, j.created_at, j.updated_at, j.completed_at
  FROM cancellation_jobs j
  JOIN (SELECT provider, provider_ref, MIN(id) AS id FROM cancellation_jobs GROUP BY provider, provider_ref) first
    ON first.provider = j.provider AND first.provider_ref = j.provider_ref
  LEFT JOIN order_snapshots s ON s.order_no = j.order_no;

DROP TABLE cancellation_jobs;
DROP TABLE order_snapshots;
ALTER TABLE order_snapshots_new RENAME TO order_snapshots;
ALTER TABLE cancellation_jobs_new RENAME TO cancellation_jobs;

CREATE INDEX order_snapshots_vanish_status ON order_snapshots (vanish_status) WHERE vanish_status IS NOT NULL;
CREATE INDEX order_snapshots_payment_key ON order_snapshots (payment_key) WHERE payment_key IS NOT NULL;
-- The cycle's read of every tracked order (store/snapshots.ts loadSnapshotIndex), covering: the
-- read never walks the rows of orders kept only for their facts. left_window_at is listed (always
-- NULL here) only because SQLite counts an index as covering when it holds every column named.
CREATE INDEX order_snapshots_tracked
  ON order_snapshots (order_no, order_date, content_hash, status, payment_key, pay_type_identifier, pay_type_reference, cancelled_at, vanished_at, vanish_status, left_window_at)
  WHERE left_window_at IS NULL;
-- Orders that left the window, by date: those a lengthened lookback brings back are matched with
-- the snapshot kept for them (their facts still stand) instead of looking new.
CREATE INDEX order_snapshots_left_window ON order_snapshots (order_date) WHERE left_window_at IS NOT NULL;

CREATE INDEX cancellation_jobs_due ON cancellation_jobs (state, next_attempt_at);
CREATE INDEX cancellation_jobs_order ON cancellation_jobs (order_no);

ALTER TABLE sync_runs ADD COLUMN from_date TEXT;
ALTER TABLE sync_runs ADD COLUMN to_date TEXT;
