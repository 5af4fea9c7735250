/**
 * The single-writer lease (design.md, "One writer"): one row, taken with a conditional UPDATE so
 * two processes racing for it cannot both win (SQLite serialises writers; the WHERE clause is
 * evaluated under the write lock). It expires, so a holder that froze cannot block for ever, and a
 * holder on this host whose pid no longer exists is taken over at once, so a run after a crash
 * never waits out the expiry.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Store } from './database.js';

const LEASE = 'sync';

export interface LeaseHolder {
  /** "<hostname>:<pid>:<random>": unique per process start, readable in `status`. */
  id: string;
  hostname: string;
  pid: number;
}

export function makeLeaseHolder(): LeaseHolder {
  const hostname = os.hostname();
  return { id: `${hostname}:${process.pid}:${randomBytes(4).toString('hex')}`, hostname, pid: process.pid };
}

export interface LeaseState {
  holder: string | null;
  hostname: string | null;
  pid: number | null;
  expiresAtMs: number;
}

export function readLease(store: Store): LeaseState {
  const row = store.sqlite
    .prepare('SELECT holder, hostname, pid, expires_at_ms AS expiresAtMs FROM worker_lease WHERE name = ?')
    .get(LEASE) as LeaseState | undefined;
  return row ?? { holder: null, hostname: null, pid: null, expiresAtMs: 0 };
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes (or renews) the lease for `ttlMs`. Returns false when another live holder has it.
 */
export function acquireLease(store: Store, holder: LeaseHolder, ttlMs: number, nowMs: number = Date.now()): boolean {
  const take = store.sqlite.prepare(`
    UPDATE worker_lease
       SET holder = @id, hostname = @hostname, pid = @pid, acquired_at = @acquiredAt, expires_at_ms = @expiresAtMs
     WHERE name = @name AND (holder IS NULL OR holder = @id OR expires_at_ms <= @nowMs OR holder = @deadHolder)`);
  const current = readLease(store);
  // A crashed process on this host: its pid is gone, so its lease is worthless now.
  const deadHolder =
    current.holder !== null && current.holder !== holder.id && current.hostname === holder.hostname && current.pid !== null && !processIsAlive(current.pid)
      ? current.holder
      : null;
  const result = take.run({
    id: holder.id,
    hostname: holder.hostname,
    pid: holder.pid,
    acquiredAt: new Date(nowMs).toISOString(),
    expiresAtMs: nowMs + ttlMs,
    name: LEASE,
    nowMs,
    deadHolder,
  });
  return result.changes === 1;
}

/** Extends a lease we hold; false if it was lost (expired and taken by someone else). */
export function renewLease(store: Store, holder: LeaseHolder, ttlMs: number, nowMs: number = Date.now()): boolean {
  const result = store.sqlite
    .prepare('UPDATE worker_lease SET expires_at_ms = ? WHERE name = ? AND holder = ?')
    .run(nowMs + ttlMs, LEASE, holder.id);
  return result.changes === 1;
}

export function releaseLease(store: Store, holder: LeaseHolder): void {
  store.sqlite
    .prepare('UPDATE worker_lease SET holder = NULL, hostname = NULL, pid = NULL, acquired_at = NULL, expires_at_ms = 0 WHERE name = ? AND holder = ?')
    .run(LEASE, holder.id);
}
