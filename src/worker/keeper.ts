/**
 * The lease `run` keeps (docs/architecture.md, "One writer"): one replica holds it for as long as
 * it lives, the others stand by. Taken at a tick when this process holds none, kept renewed by its
 * own timer (worker/lease.ts) between cycles as well as during them, and freed only on a graceful
 * stop, so `/readyz` and `status` name the holder at any moment, and `lease.acquired` /
 * `lease.lost` are logged when it changes hands, not every cycle.
 *
 * It is also this process's one queue of senders: a cycle and a person's send-now (the console's
 * Cancel payment / Retry) each run alone, in the order they asked, under the same fence — two
 * senders of one job inside one process would each see it `pending` and send it twice.
 */
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/database.js';
import type { LeaseHolder } from '../store/lease.js';
import { takeLease, type HeldLease } from './lease.js';

/** What a person's action in this process sends under (worker/sendNow.ts). */
export interface SharedLease {
  /**
   * Runs `work` under this process's held lease, after the cycle or action in flight; null (and
   * `work` never runs) when this process holds no lease (a standby replica) or is stopping.
   */
  withHeldLease<T>(work: (lease: HeldLease) => Promise<T>): Promise<T | null>;
}

export interface LeaseKeeper extends SharedLease {
  /**
   * The held lease, taken now if this process holds none (null: another live holder has it).
   * A lease found lost (lease.lost was logged) is dropped, and taking it again is tried at once.
   */
  hold(): Promise<HeldLease | null>;
  /** Runs `work` alone among this process's senders (cycles and actions), in arrival order. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** No new work is let in; waits for the work queued; frees the lease if still ours. */
  release(): Promise<void>;
}

export interface LeaseKeeperOptions {
  store: Store;
  holder: LeaseHolder;
  ttlMs: number;
  logger: Logger;
}

export function createLeaseKeeper(options: LeaseKeeperOptions): LeaseKeeper {
  const { store, holder, ttlMs, logger } = options;
  let held: HeldLease | null = null;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  }

  async function hold(): Promise<HeldLease | null> {
    if (closed) return null;
    if (held !== null) {
      // Renewed now rather than trusting the timer: it is unref'd and a renewal it could not make
      // (a locked database) is not a loss, so only this answer says whether the row is still ours.
      // A store that is broken throws here, and the cycle fails with it (sync.failed, retried).
      if (!held.lost && (await held.check())) return held;
      // check() logged lease.lost once; this replica is a standby again from here.
      held = null;
    }
    held = await takeLease(store, holder, { ttlMs, logger });
    return held;
  }

  return {
    hold,
    exclusive,
    withHeldLease(work) {
      return exclusive(async () => {
        // Not hold(): an action never takes the lease for `run`; a standby's ticks do that.
        if (closed || held === null || held.lost) return null;
        if (!(await held.check())) return null;
        return work(held);
      });
    },
    async release() {
      closed = true;
      await tail;
      const lease = held;
      held = null;
      if (lease === null || lease.lost) return;
      try {
        await lease.release();
      } catch (error) {
        // A stop must not fail on it: a lease left behind expires by itself (or, on this host, is
        // taken at once by the next process, ours being gone).
        logger.event('sync.failed', `the database lease could not be freed on stop (it expires within ${ttlMs} ms): ${(error as Error).message}`, {
          phase: 'lease',
          willRetry: false,
          error,
        });
        return;
      }
      logger.event('lease.released', 'this process freed the database lease on a graceful stop; a standby replica takes it at its next tick', {
        holder: holder.id,
        token: lease.fence.token,
      });
    },
  };
}
