-- specter-sync: the initial schema. Timestamps are ISO 8601 UTC text unless named *_ms.
-- Facts (cancelled_at, vanished_at) are written once: every UPDATE that touches them uses COALESCE.

-- One row per Specter order seen in the lookback window.
CREATE TABLE order_snapshots (
  order_no            TEXT PRIMARY KEY,
  order_date          TEXT NOT NULL,            -- as Specter gives it (Europe/Stockholm local)
  status              TEXT NOT NULL CHECK (status IN ('open', 'cancelled', 'delivered')),
  status_id           TEXT,
  delivery_status     TEXT,
  pay_type_identifier TEXT,
  pay_type_reference  TEXT,
  route_kind          TEXT NOT NULL CHECK (route_kind IN ('provider', 'handledBySpecter', 'unrouted')),
  provider            TEXT,
  provider_ref        TEXT,
  route_note          TEXT,                     -- why an order is unrouted
  amount              TEXT,                     -- as Specter gives it, e.g. "1249.00"
  currency            TEXT,
  content_hash        TEXT NOT NULL,
  first_seen_at       TEXT NOT NULL,
  -- Written when the content changes, not on every poll: an unchanged cycle writes no rows.
  -- An order still tracked was present in the last successful run.
  last_seen_at        TEXT NOT NULL,
  cancelled_at        TEXT,
  vanished_at         TEXT,
  -- What became of a vanished order: awaiting (a person must act), reappeared, resolved (a person
  -- dealt with it), cancel_requested (a person or VANISHED_ACTION=cancel queued a cancellation),
  -- handled_by_specter / unrouted (nothing for this worker to do).
  vanish_status       TEXT CHECK (vanish_status IN ('awaiting', 'reappeared', 'resolved', 'cancel_requested', 'handled_by_specter', 'unrouted')),
  vanish_note         TEXT,
  vanish_resolved_at  TEXT,
  left_window_at      TEXT
);
CREATE INDEX order_snapshots_vanish_status ON order_snapshots (vanish_status) WHERE vanish_status IS NOT NULL;
CREATE INDEX order_snapshots_provider_ref ON order_snapshots (provider, provider_ref);

-- The outbox: a job is committed before anything is sent.
CREATE TABLE cancellation_jobs (
  id                      INTEGER PRIMARY KEY AUTOINCREMENT,
  order_no                TEXT NOT NULL REFERENCES order_snapshots (order_no),
  provider                TEXT NOT NULL CHECK (provider IN ('qliro', 'klarna', 'walley', 'svea')),
  provider_ref            TEXT NOT NULL,
  amount                  TEXT,
  currency                TEXT,
  reason                  TEXT NOT NULL CHECK (reason IN ('cancelled', 'vanished')),
  idempotency_key         TEXT NOT NULL UNIQUE,
  state                   TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'done', 'failed')),
  attempts                INTEGER NOT NULL DEFAULT 0,
  next_attempt_at         TEXT NOT NULL,
  provider_transaction_id TEXT,
  last_error_code         TEXT,
  last_error_message      TEXT,
  failure_reason          TEXT CHECK (failure_reason IN ('captured', 'not_found', 'auth', 'rejected', 'exhausted')),
  accepted_at             TEXT,
  confirm_deadline_at     TEXT,
  created_at              TEXT NOT NULL,
  updated_at              TEXT NOT NULL,
  completed_at            TEXT
);
-- One cancellation per order and provider reference, whatever path (cancelled, vanished, a
-- person's `vanished cancel`) asks for it: the second ask is a no-op, never a second request.
CREATE UNIQUE INDEX cancellation_jobs_one_per_order ON cancellation_jobs (order_no, provider, provider_ref);
CREATE INDEX cancellation_jobs_due ON cancellation_jobs (state, next_attempt_at);

-- One row per successful cycle (a failed cycle changes nothing; it is in the logs and metrics).
CREATE TABLE sync_runs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at      TEXT NOT NULL,
  finished_at     TEXT NOT NULL,
  outcome         TEXT NOT NULL CHECK (outcome IN ('baseline', 'succeeded')),
  holder          TEXT NOT NULL,
  listed          INTEGER NOT NULL,
  new_orders      INTEGER NOT NULL,
  changed         INTEGER NOT NULL,
  cancelled       INTEGER NOT NULL,
  missing         INTEGER NOT NULL,
  vanished        INTEGER NOT NULL,
  reappeared      INTEGER NOT NULL,
  left_window     INTEGER NOT NULL,
  jobs_created    INTEGER NOT NULL,
  guard_tripped   INTEGER NOT NULL DEFAULT 0
);

-- The single-writer lease (design.md, "One writer").
CREATE TABLE worker_lease (
  name          TEXT PRIMARY KEY,
  holder        TEXT,
  hostname      TEXT,
  pid           INTEGER,
  acquired_at   TEXT,
  expires_at_ms INTEGER NOT NULL DEFAULT 0
);
INSERT INTO worker_lease (name) VALUES ('sync');
