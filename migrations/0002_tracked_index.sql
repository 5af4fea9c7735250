-- Orders that left the lookback window stay in order_snapshots (their facts are kept), so over
-- the years most rows are no longer tracked. The cycle reads only tracked rows; this partial,
-- covering index holds exactly the columns of that read (store/snapshots.ts loadSnapshotIndex),
-- so the read never walks the history. left_window_at is listed (always NULL here) only because
-- SQLite counts an index as covering when it holds every column the query names.
CREATE INDEX order_snapshots_tracked
  ON order_snapshots (order_no, order_date, content_hash, cancelled_at, vanished_at, vanish_status, left_window_at)
  WHERE left_window_at IS NULL;
