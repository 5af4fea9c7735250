-- The lease's fencing token: raised by one every time the lease changes hands, and checked inside
-- every write transaction of a cycle (src/store/fence.ts). A holder paused past its TTL (a GC
-- pause, a frozen node) still carries the old token when it wakes, so its writes and sends fail
-- instead of landing after another replica took over.
ALTER TABLE worker_lease ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
