/**
 * The single-writer lease (docs/architecture.md, "One writer"): one row, taken with a conditional UPDATE so
 * two processes racing for it cannot both win (SQLite serialises writers; the WHERE clause is
 * evaluated under the write lock). It expires, so a holder that froze cannot block for ever, and a
 * holder on this host that no longer exists is taken over at once, so a run after a crash never
 * waits out the expiry.
 *
 * "No longer exists" is about the process instance, not its number: inside a container node is
 * pid 1 (under tini) after every restart, so the row records the holder's boot id and start time
 * too (migration 0004), and a live pid that started at another time is a new process.
 * The SQL lives here; worker/lease.ts keeps a taken lease renewed and checked.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Store } from './database.js';

const LEASE = 'sync';

/** One process instance on Linux: the boot it runs in and when, in clock ticks since that boot, it started. */
export interface ProcessStart {
  bootId: string;
  startTicks: number;
}

export interface LeaseHolder {
  /** "<hostname>:<pid>:<random>": unique per holder, readable in `status`. */
  id: string;
  hostname: string;
  pid: number;
  /** The process instance; null (or absent) where /proc cannot be read: judged by pid alone. */
  start?: ProcessStart | null;
}

/**
 * Holder ids minted by this process. A row naming our own pid but none of these ids was written
 * by an earlier process that had our pid (the container restarted): it is dead, whatever /proc
 * says about the pid — which is us.
 */
const mintedHere = new Set<string>();

export function makeLeaseHolder(): LeaseHolder {
  const hostname = os.hostname();
  const id = `${hostname}:${process.pid}:${randomBytes(4).toString('hex')}`;
  mintedHere.add(id);
  return { id, hostname, pid: process.pid, start: procProbe().start(process.pid) };
}

export interface LeaseState {
  holder: string | null;
  hostname: string | null;
  pid: number | null;
  bootId: string | null;
  startTicks: number | null;
  expiresAtMs: number;
}

export function readLease(store: Store): LeaseState {
  const row = store.sqlite
    .prepare('SELECT holder, hostname, pid, boot_id AS bootId, start_ticks AS startTicks, expires_at_ms AS expiresAtMs FROM worker_lease WHERE name = ?')
    .get(LEASE) as LeaseState | undefined;
  return row ?? { holder: null, hostname: null, pid: null, bootId: null, startTicks: null, expiresAtMs: 0 };
}

/** How the lease looks at processes on this host (tests give it another /proc). */
export interface ProcessProbe {
  /** The pid exists (possibly another user's). */
  exists(pid: number): boolean;
  /** Its instance, or null where /proc cannot tell (not Linux, hidden by hidepid, gone). */
  start(pid: number): ProcessStart | null;
}

export function procProbe(procRoot = '/proc'): ProcessProbe {
  return {
    exists(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        // EPERM: it exists but belongs to someone else — alive.
        return (error as NodeJS.ErrnoException).code === 'EPERM';
      }
    },
    start(pid) {
      try {
        const bootId = readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
        const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
        // Field 2 (comm) is in parentheses and may itself hold spaces and ")": count from the
        // last ")". What follows starts at field 3, so starttime (field 22) is the 20th.
        const startTicks = Number(
          stat
            .slice(stat.lastIndexOf(')') + 1)
            .trim()
            .split(/\s+/)[19],
        );
        if (bootId === '' || !Number.isSafeInteger(startTicks)) return null;
        return { bootId, startTicks };
      } catch {
        return null;
      }
    },
  };
}

/**
 * Whether the recorded holder is a process on this host that no longer exists. Only this host's
 * processes can be judged; anyone else's lease is honoured until it expires.
 */
function holderIsDead(current: LeaseState, self: LeaseHolder, probe: ProcessProbe): boolean {
  if (current.holder === null || current.holder === self.id) return false;
  if (current.hostname !== self.hostname || current.pid === null) return false;
  // Our own pid: either another holder of this very process (it waits like anyone else), or the
  // process that had our pid before a restart (pid 1 under tini), which cannot be running.
  if (current.pid === self.pid) return !mintedHere.has(current.holder);
  if (!probe.exists(current.pid)) return true;
  // The pid is taken. Rows from before 0004, or written where /proc was unreadable, carry no
  // instance: judged by pid alone, as before (alive).
  if (current.bootId === null || current.startTicks === null) return false;
  const now = probe.start(current.pid);
  if (now === null) return false;
  // Another boot (the host restarted), or the same number given to a process started later.
  return now.bootId !== current.bootId || now.startTicks !== current.startTicks;
}

/**
 * Takes (or renews) the lease for `ttlMs`. Returns false when another live holder has it.
 */
export function acquireLease(store: Store, holder: LeaseHolder, ttlMs: number, nowMs: number = Date.now(), probe: ProcessProbe = procProbe()): boolean {
  const take = store.sqlite.prepare(`
    UPDATE worker_lease
       SET holder = @id, hostname = @hostname, pid = @pid, boot_id = @bootId, start_ticks = @startTicks,
           acquired_at = @acquiredAt, expires_at_ms = @expiresAtMs
     WHERE name = @name AND (holder IS NULL OR holder = @id OR expires_at_ms <= @nowMs OR holder = @deadHolder)`);
  const current = readLease(store);
  // Judged from a read before the UPDATE: if the row changes in between, `holder = @deadHolder`
  // no longer matches and the take fails, so a live newcomer is never displaced.
  const deadHolder = holderIsDead(current, holder, probe) ? current.holder : null;
  const result = take.run({
    id: holder.id,
    hostname: holder.hostname,
    pid: holder.pid,
    bootId: holder.start?.bootId ?? null,
    startTicks: holder.start?.startTicks ?? null,
    acquiredAt: new Date(nowMs).toISOString(),
    expiresAtMs: nowMs + ttlMs,
    name: LEASE,
    nowMs,
    deadHolder,
  });
  return result.changes === 1;
}

/** Extends a lease we hold; false if it was lost (expired and taken by someone else, or cleared). */
export function renewLease(store: Store, holder: LeaseHolder, ttlMs: number, nowMs: number = Date.now()): boolean {
  const result = store.sqlite.prepare('UPDATE worker_lease SET expires_at_ms = ? WHERE name = ? AND holder = ?').run(nowMs + ttlMs, LEASE, holder.id);
  return result.changes === 1;
}

export function releaseLease(store: Store, holder: LeaseHolder): void {
  store.sqlite
    .prepare(
      `UPDATE worker_lease
          SET holder = NULL, hostname = NULL, pid = NULL, boot_id = NULL, start_ticks = NULL, acquired_at = NULL, expires_at_ms = 0
        WHERE name = ? AND holder = ?`,
    )
    .run(LEASE, holder.id);
}
