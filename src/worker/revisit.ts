/**
 * The jobs awaiting a person that the world can settle without one, looked at again every cycle
 * (part of the plan, plan.ts): an unrouted payment that routing now covers, a live-twin hold whose
 * twins are all gone, a payment routing had said was settled elsewhere and no longer does.
 */
import type { TrackedOrder } from '../domain.js';
import { paymentKeyOf, type OrdersByPayment } from '../routing/payment.js';
import type { CyclePlan, PlanInput } from './plan.js';

/**
 * An unrouted payment routing covers now gets its provider (or is voided when routing says Specter
 * or the merchant settles it); a live-twin hold is queued once its cause holds in full; a job voided
 * as settled elsewhere awaits a person again when routing no longer says so.
 */
export function revisit(
  input: PlanInput,
  plan: CyclePlan,
  ctx: {
    presentByNo: Pick<ReadonlyMap<string, TrackedOrder>, 'get'>;
    goneNos: ReadonlySet<string>;
    liveOrders: OrdersByPayment<TrackedOrder>;
  },
): void {
  const voidedNow = new Set(plan.voids.map((v) => v.jobId));
  for (const job of input.revisitable) {
    if (voidedNow.has(job.id)) continue;
    const origin = ctx.presentByNo.get(job.orderNo);
    const gone = origin === undefined && (ctx.goneNos.has(job.orderNo) || input.recordedGone.has(job.orderNo));
    const causeHolds = job.reason === 'cancelled' ? (origin === undefined ? gone : origin.status === 'cancelled') : gone;
    if (job.state === 'voided') {
      // Voided only because routing said someone else settles it; routing says otherwise now.
      const route = input.route(job);
      if (causeHolds && (route.kind === 'unrouted' || route.kind === 'provider')) {
        plan.unsettles.push(job.id);
        plan.unrouted.push({ orderNo: job.orderNo, reason: 'routing no longer settles this payment elsewhere', jobId: job.id });
        plan.actions.push({ action: 'unrouted', orderNo: job.orderNo, reason: 'routing no longer settles this payment elsewhere' });
      }
      continue;
    }
    if (job.failureReason === 'unrouted') {
      // A vanished order's payment is a person's decision unless VANISHED_ACTION=cancel: routing
      // that now covers it gives the person somewhere to send it (`jobs retry` routes and sends),
      // never an automatic send.
      if (job.reason === 'vanished' && input.settings.vanishedAction === 'flag') continue;
      const route = input.route(job);
      if (route.kind === 'provider') {
        const paymentKey = paymentKeyOf({ orderNo: job.orderNo, route, payTypeIdentifier: job.payTypeIdentifier, payTypeReference: job.payTypeReference });
        if (paymentKey === null) continue;
        plan.reroutes.push({ jobId: job.id, provider: route.provider, providerRef: route.providerRef, paymentKey });
        plan.actions.push({ action: 'job_rerouted', jobId: job.id, orderNo: job.orderNo, provider: route.provider, providerRef: route.providerRef });
      } else if (route.kind === 'handledBySpecter' || route.kind === 'elsewhere') {
        const reason = route.kind === 'handledBySpecter' ? 'handled_by_specter' : 'settled_elsewhere';
        plan.voids.push({ jobId: job.id, reason });
        plan.actions.push({ action: 'job_voided', jobId: job.id, orderNo: job.orderNo, provider: job.provider, providerRef: job.providerRef, reason });
      }
      continue;
    }
    // A live-twin hold: released when its own order still asks for it and no live order carries it.
    const live = ctx.liveOrders.carrying(job, job.orderNo);
    if (causeHolds && live.length === 0) {
      plan.releases.push(job.id);
      plan.actions.push({ action: 'hold_released', jobId: job.id, orderNo: job.orderNo });
    }
  }
}
