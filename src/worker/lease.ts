/**
 * One lease helper for every piece of work that writes or sends (docs/architecture.md, "One writer,
 * everywhere"): `once` and `run` cycles, `vanished cancel`, `jobs retry`. It takes the lease,
 * keeps it renewed while the work waits (a slow provider must not outlast the TTL: another
 * process would take the lease and send again the jobs still in flight), and answers, right
 * before each request and before the commit, whether we still hold it. Once lost, it stays lost:
 * the work stops sending; what it left is the next holder's.
 */
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/database.js';
import type { Fence } from '../store/fence.js';
import { acquireLease, readLease, releaseLease, renewLease, type LeaseHolder } from '../store/lease.js';

export interface HeldLease {
  readonly holder: LeaseHolder;
  /** What every write of the work is checked against (store/fence.ts). */
  readonly fence: Fence;
  /** True once the lease was found lost (renewal matched no row); never false again. */
  readonly lost: boolean;
  /** Renews the lease under our own hand; false once it is lost (or released). */
  check(): Promise<boolean>;
  /** Stops renewing and frees the row if it is still ours. Safe to call twice. */
  release(): Promise<void>;
  /** A write found the token moved on (store/fence.ts LeaseLostError): logs lease.lost once. */
  noteLost(): Promise<void>;
}

export interface TakeLeaseOptions {
  ttlMs: number;
  logger: Logger;
}

/** Takes the lease, or returns null when another live holder has it (nothing is logged then). */
export async function takeLease(store: Store, holder: LeaseHolder, options: TakeLeaseOptions): Promise<HeldLease | null> {
  const { ttlMs, logger } = options;
  const fence = await acquireLease(store, holder, ttlMs);
  if (fence === null) return null;

  // A quarter of the TTL: three renewals can be missed (a busy event loop, a locked database)
  // before the lease expires under us.
  const renewEveryMs = Math.max(1, Math.floor(ttlMs / 4));
  let lost = false;
  let released = false;
  logger.event('lease.acquired', `this process took the database lease for ${ttlMs} ms, renewed every ${renewEveryMs} ms while it works`, {
    holder: holder.id,
    token: fence.token,
    ttlMs,
  });

  const markLost = async (): Promise<void> => {
    if (lost) return;
    lost = true;
    clearInterval(timer);
    let heldBy: string | null = null;
    try {
      heldBy = (await readLease(store)).holder;
    } catch {
      // Only for the message; the lease is lost either way.
    }
    logger.event(
      'lease.lost',
      `this process lost the database lease (${heldBy === null ? 'nobody holds it now' : `${heldBy} holds it now`}); it stops sending and writing`,
      { holder: holder.id, token: fence.token, heldBy },
    );
  };

  const check = async (): Promise<boolean> => {
    if (lost || released) return false;
    if (await renewLease(store, fence, ttlMs)) return true;
    await markLost();
    return false;
  };

  const timer = setInterval(() => {
    check().catch(() => {
      // A renewal the database refused (locked past busy_timeout, closed under us) is not a lost
      // lease: the next check() — before each request and before the commit — asks again, and a
      // store that stays broken fails there, where the work can stop. Never out of a timer.
    });
  }, renewEveryMs);
  // The work keeps the process alive, not its lease.
  timer.unref();

  return {
    holder,
    fence,
    get lost() {
      return lost;
    },
    check,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // The UPDATE matches only our own row and token: a lease someone else took is left to them.
      await releaseLease(store, fence);
    },
    noteLost: markLost,
  };
}
