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
import { acquireLease, readLease, releaseLease, renewLease, type LeaseHolder } from '../store/lease.js';

export interface HeldLease {
  readonly holder: LeaseHolder;
  /** True once the lease was found lost (renewal matched no row); never false again. */
  readonly lost: boolean;
  /** Renews the lease under our own hand; false once it is lost (or released). */
  check(): boolean;
  /** Stops renewing and frees the row if it is still ours. Safe to call twice. */
  release(): void;
}

export interface TakeLeaseOptions {
  ttlMs: number;
  logger: Logger;
  now?: () => Date;
}

/** Takes the lease, or returns null when another live holder has it (nothing is logged then). */
export function takeLease(store: Store, holder: LeaseHolder, options: TakeLeaseOptions): HeldLease | null {
  const { ttlMs, logger } = options;
  const now = options.now ?? (() => new Date());
  if (!acquireLease(store, holder, ttlMs, now().getTime())) return null;

  // A quarter of the TTL: three renewals can be missed (a busy event loop, a locked database)
  // before the lease expires under us.
  const renewEveryMs = Math.max(1, Math.floor(ttlMs / 4));
  let lost = false;
  let released = false;
  logger.event('lease.acquired', `this process took the database lease for ${ttlMs} ms, renewed every ${renewEveryMs} ms while it works`, {
    holder: holder.id,
    ttlMs,
  });

  const markLost = (): void => {
    lost = true;
    clearInterval(timer);
    let heldBy: string | null = null;
    try {
      heldBy = readLease(store).holder;
    } catch {
      // Only for the message; the lease is lost either way.
    }
    logger.event(
      'lease.lost',
      `this process lost the database lease (${heldBy === null ? 'nobody holds it now' : `${heldBy} holds it now`}); it stops sending and writing`,
      { holder: holder.id, heldBy },
    );
  };

  const check = (): boolean => {
    if (lost || released) return false;
    if (renewLease(store, holder, ttlMs, now().getTime())) return true;
    markLost();
    return false;
  };

  const timer = setInterval(() => {
    try {
      check();
    } catch {
      // A renewal the database refused (locked past busy_timeout, closed under us) is not a lost
      // lease: the next check() — before each request and before the commit — asks again, and a
      // store that stays broken fails there, where the work can stop. Never out of a timer.
    }
  }, renewEveryMs);
  // The work keeps the process alive, not its lease.
  timer.unref();

  return {
    holder,
    get lost() {
      return lost;
    },
    check,
    release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // The UPDATE matches only our own row: a lease someone else took is left to them.
      releaseLease(store, holder);
    },
  };
}
