/**
 * What a cycle sees before it plans: the missing orders confirmed with getOrder (the guard acting
 * before the flood), the orders recorded gone earlier, and the jobs the payments involved already
 * have. Split from cycle.ts so the cycle reads as its steps.
 */
import type { OrderSnapshot, SnapshotSummary, SpecterOrder, TrackedOrder } from '../domain.js';
import type { OrderDiff } from '../diff/diff.js';
import { runWithLimit } from '../outbound/pool.js';
import type { Store } from '../store/database.js';
import { jobsByOrderNos, jobsForPayments } from '../store/jobs.js';
import type { CycleDeps } from './cycle.js';
import type { PlanInput } from './plan.js';

/** getOrder confirmations in flight at once: Specter is shared with other integrations. */
const CONFIRM_CONCURRENCY = 4;

/**
 * getOrder for each missing order, CONFIRM_CONCURRENCY at a time. The guard acts before the
 * flood: once more orders are confirmed gone than VANISH_GUARD_MAX_PER_RUN allows, no further
 * confirmation starts (the guard trips and flags none), so a listing that suddenly lacks every
 * order costs at most limit + 1 + CONFIRM_CONCURRENCY requests, not one per tracked order. The
 * orders not asked stay tracked and are asked again by the next cycle. A getOrder that fails
 * starts nothing more and fails the cycle once the ones in flight have answered (the kit's pool).
 */
export async function confirmMissing(
  deps: CycleDeps,
  missing: readonly SnapshotSummary[],
  track: (order: SpecterOrder) => TrackedOrder,
): Promise<{ found: TrackedOrder[]; goneOrderNos: string[] }> {
  const limit = deps.config.sync.vanishGuardMaxPerRun;
  const found: TrackedOrder[] = [];
  const goneOrderNos: string[] = [];
  await runWithLimit(
    missing,
    CONFIRM_CONCURRENCY,
    async (snapshot) => {
      const order = await deps.specter.getOrder(snapshot.orderNo);
      if (order === null) goneOrderNos.push(snapshot.orderNo);
      else found.push(track(order));
    },
    () => goneOrderNos.length > limit,
  );
  return { found, goneOrderNos };
}

/** Orders recorded as vanished before that this cycle's listing still lacks: still gone. */
export function recordedAsGone(snapshots: ReadonlyMap<string, SnapshotSummary>, present: readonly TrackedOrder[]): Set<string> {
  const candidates: string[] = [];
  for (const s of snapshots.values()) {
    if (s.vanishedAt !== null && s.vanishStatus !== 'reappeared' && s.reentering !== true) candidates.push(s.orderNo);
  }
  // The set of listed orderNos (100,000 entries) only when some recorded vanish needs it.
  if (candidates.length === 0) return new Set();
  const listed = new Set(present.map((o) => o.orderNo));
  return new Set(candidates.filter((orderNo) => !listed.has(orderNo)));
}

/** The jobs the plan must know of: those of every payment it may act on, and of re-opened or reappeared orders. */
export async function jobsInvolved(
  store: Store,
  diff: OrderDiff<SnapshotSummary>,
  gone: readonly OrderSnapshot[],
): Promise<Pick<PlanInput, 'jobsByPayment' | 'jobsByOrder'>> {
  const carriers = [
    ...diff.cancellations.map((c) => c.order),
    ...gone,
    ...diff.reopened.flatMap((r) => [{ ...r.after, paymentKey: r.before.paymentKey }, r.after]),
    ...diff.reappeared.flatMap((r) => [{ ...r.after, paymentKey: r.before.paymentKey }, r.after]),
  ];
  return {
    jobsByPayment: await jobsForPayments(store, carriers),
    jobsByOrder: await jobsByOrderNos(
      store,
      [...diff.reopened, ...diff.reappeared].map((r) => r.after.orderNo),
    ),
  };
}
