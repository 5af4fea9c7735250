/**
 * The single-writer lease (docs/architecture.md, "One writer"): one row, taken with a conditional UPDATE so
 * two processes (or replicas on one PostgreSQL database) racing for it cannot both win. Its expiry
 * is judged by the database's clock, and it carries a fencing token (fence.ts). It expires, so a holder that froze cannot block for ever, and a
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
import { sql } from './kysely.js';
import type { Store } from './database.js';
import { LEASE_NAME, type Fence } from './fence.js';

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
  /** The fencing token: raised each time the lease changes hands (fence.ts). */
  token: number;
  /** The database's clock when this was read: expired means expiresAtMs <= nowMs. */
  nowMs: number;
}

export async function readLease(store: Store): Promise<LeaseState> {
  const row = await store.db
    .selectFrom('worker_lease')
    .select(['holder', 'hostname', 'pid', 'boot_id as bootId', 'start_ticks as startTicks', 'expires_at_ms as expiresAtMs', 'token', store.nowMs.as('nowMs')])
    .where('name', '=', LEASE_NAME)
    .executeTakeFirst();
  return row
    ? { ...row, expiresAtMs: Number(row.expiresAtMs), token: Number(row.token), nowMs: Number(row.nowMs) }
    : { holder: null, hostname: null, pid: null, bootId: null, startTicks: null, expiresAtMs: 0, token: 0, nowMs: 0 };
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
 * Takes the lease for `ttlMs` of the DATABASE's clock (never this replica's: replicas' clocks
 * drift, and one that runs behind would take a live holder's lease). Returns its fence — the
 * token raised by one when the lease changes hands, kept when its holder takes it again — or null
 * when another live holder has it.
 */
export async function acquireLease(store: Store, holder: LeaseHolder, ttlMs: number, probe: ProcessProbe = procProbe()): Promise<Fence | null> {
  const current = await readLease(store);
  // Judged from a read before the UPDATE: if the row changes in between, `holder = deadHolder`
  // no longer matches and the take fails, so a live newcomer is never displaced.
  const deadHolder = holderIsDead(current, holder, probe) ? current.holder : null;
  // Two replicas racing: SQLite serialises the writers, and PostgreSQL makes the second UPDATE
  // wait on the row lock and then re-check the WHERE against the winner's row, which no longer
  // matches. Either way exactly one wins.
  const taken = await store.db
    .updateTable('worker_lease')
    .set((eb) => ({
      token: eb
        .case()
        .when('holder', '=', holder.id)
        .then(eb.ref('token'))
        .else(eb('token', '+', 1))
        .end(),
      holder: holder.id,
      hostname: holder.hostname,
      pid: holder.pid,
      boot_id: holder.start?.bootId ?? null,
      start_ticks: holder.start?.startTicks ?? null,
      acquired_at: new Date().toISOString(),
      expires_at_ms: sql<number>`${store.nowMs} + ${ttlMs}`,
    }))
    .where('name', '=', LEASE_NAME)
    .where((eb) =>
      eb.or([
        eb('holder', 'is', null),
        eb('holder', '=', holder.id),
        eb('expires_at_ms', '<=', store.nowMs),
        ...(deadHolder === null ? [] : [eb('holder', '=', deadHolder)]),
      ]),
    )
    .returning('token')
    .executeTakeFirst();
  return taken ? { holder: holder.id, token: Number(taken.token) } : null;
}

/**
 * Extends a lease we hold, by the database's clock; false if it changed hands (the token moved
 * on) or was cleared. A lease that expired but that nobody took is still ours: nobody wrote since.
 */
export async function renewLease(store: Store, fence: Fence, ttlMs: number): Promise<boolean> {
  const result = await store.db
    .updateTable('worker_lease')
    .set({ expires_at_ms: sql<number>`${store.nowMs} + ${ttlMs}` })
    .where('name', '=', LEASE_NAME)
    .where('holder', '=', fence.holder)
    .where('token', '=', fence.token)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function releaseLease(store: Store, fence: Fence): Promise<void> {
  await store.db
    .updateTable('worker_lease')
    .set({ holder: null, hostname: null, pid: null, boot_id: null, start_ticks: null, acquired_at: null, expires_at_ms: 0 })
    .where('name', '=', LEASE_NAME)
    .where('holder', '=', fence.holder)
    .where('token', '=', fence.token)
    .execute();
}
