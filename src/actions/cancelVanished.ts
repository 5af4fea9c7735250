/**
 * `vanished cancel` and the console's Cancel payment: a person confirms a vanished order's payment
 * must be released. One job is queued (one idempotency key, whatever happens next) and sent now —
 * under the lease, only this job, with the provider asked about the money first (worker/sendNow.ts)
 * — so the person sees the provider's answer.
 */
import { requestVanishedCancel } from '../store/jobWrites.js';
import { sendJobNow } from '../worker/sendNow.js';
import { describeSendNow } from './sentNow.js';
import { result, type ActionDeps, type ActionResult } from './types.js';

export async function cancelVanishedPayment(deps: ActionDeps, orderNo: string): Promise<ActionResult> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const queued = await requestVanishedCancel(deps.store, orderNo, now);
  switch (queued.kind) {
    case 'not_found':
      return result('refused', `no tracked order ${orderNo}`);
    case 'not_awaiting':
      return result('refused', `order ${orderNo} is not a vanished order awaiting a person`);
    case 'no_provider':
      return result('refused', `order ${orderNo} has no provider to cancel at: ${queued.reason}`);
    case 'already_queued':
      return result('ok', `Order ${orderNo} already has a cancellation job; nothing new was queued.`);
    case 'queued':
      break;
  }
  const { job } = queued;
  deps.logger.event('vanished.cancel_requested', `a person confirmed the cancellation of vanished order ${orderNo}; job ${job.id} queued`, {
    orderNo,
    provider: job.provider,
    providerRef: job.providerRef,
    amount: job.amount,
    currency: job.currency,
    jobId: job.id,
  });
  // Sending is the lease holder's work (one writer): if a worker holds it right now, the job is
  // committed and that worker sends it within its current or next cycle.
  const sent = await sendJobNow(deps, job);
  return describeSendNow(sent, `Job ${job.id} for order ${orderNo} at ${job.provider}`, {
    providerNotConfigured: `Job ${job.id} is queued; ${job.provider} is not configured, so it will be sent once it is.`,
    leaseBusy: `Job ${job.id} is queued; a running specter-sync holds the database lease and will send it.`,
    leaseLost: `Job ${job.id} is queued; another specter-sync took over the database lease before it was sent, and will send it.`,
  });
}
