-- The lease holder's process instance, beyond its pid. Inside a container node gets the same pid
-- after every restart (pid 1 under tini), so "is pid N alive on this host?" mistakes the crashed
-- holder for a live one and a restart waits out the whole TTL. Linux's boot id together with the
-- process's start time (field 22 of /proc/<pid>/stat, clock ticks since that boot) names one
-- process instance: a live pid whose start differs is a new process that reused the number.
-- NULL where /proc could not be read, and in rows written before this migration: those holders
-- are judged by pid alone, as before.
ALTER TABLE worker_lease ADD COLUMN boot_id TEXT;
ALTER TABLE worker_lease ADD COLUMN start_ticks INTEGER;
