-- What a vanished order's payment provider last said about the money (docs/providers.md, "Reading
-- a payment's state"): one row per order, replaced by each read. Read only when a person is about
-- to be asked (the cycle that confirms the order gone, then at most once per reminder period) or
-- before a cancellation is sent on a person's behalf. Plain TEXT columns, every time ISO 8601 UTC,
-- so the table reads the same on SQLite and PostgreSQL. No secret is ever stored: `detail` is what
-- the provider said, redacted by the client.
CREATE TABLE payment_reads (
  order_no         TEXT PRIMARY KEY,
  provider         TEXT NOT NULL,
  provider_ref     TEXT NOT NULL,
  state            TEXT NOT NULL CHECK (state IN ('reserved', 'captured', 'cancelled', 'expired', 'not_found', 'unknown')),
  -- Major units as a decimal string ("1249.00"); NULL where the provider does not tell.
  reserved_amount  TEXT,
  currency         TEXT,
  expires_at       TEXT,
  detail           TEXT NOT NULL,
  read_at          TEXT NOT NULL
);
