/**
 * `jobs retry` and the console's Retry: a person re-queues a failed job (same idempotency key)
 * and, like Cancel payment, it is sent now under the lease — only this job — so the person sees
 * the provider's answer.
 */
import { compileRoutingRules, routeStoredPayment } from '../routing/route.js';
import { paymentKeyOf } from '../routing/payment.js';
import { getJob, isSendable } from '../store/jobs.js';
import { requeueFailedJob } from '../store/outbox.js';
import { rerouteJob } from '../store/jobWrites.js';
import { sendJobNow } from '../worker/sendNow.js';
import { describeSendNow } from './sentNow.js';
import { result, type ActionDeps, type ActionResult } from './types.js';

export async function retryFailedJob(deps: ActionDeps, jobId: number): Promise<ActionResult> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  // Routed now means queued already (rerouteJob puts it back to pending with its key).
  const routed = await routeUnroutedJob(deps, jobId, now);
  if (routed === 'duplicate') return result('usage', `JOB_ID ${jobId}: its payment already has another job (see specter-sync jobs list); this one was voided`);
  const requeued = routed === 'rerouted' ? 'requeued' : await requeueFailedJob(deps.store, jobId, now);
  if (requeued !== 'requeued') {
    const why = {
      not_found: `no job ${jobId}`,
      not_failed: `job ${jobId} has not failed; only failed jobs can be retried`,
      unrouted: `job ${jobId} has no provider to send to (no route covers its payment): add a routing rule and retry, or close it with \`specter-sync jobs dismiss ${jobId} --note "…"\``,
    }[requeued];
    return result('refused', why);
  }
  deps.logger.event('job.requeued', `job ${jobId} put back in the queue with its original idempotency key`, { jobId, by: 'person' });
  const job = await getJob(deps.store, jobId);
  if (job === null || !isSendable(job)) throw new Error(`job ${jobId} changed while it was re-queued`);
  const sent = await sendJobNow(deps, job);
  return describeSendNow(sent, `Job ${jobId} for order ${job.orderNo} at ${job.provider}`, {
    providerNotConfigured: `Job ${jobId} is queued again; ${job.provider} is not configured, so it will be sent with the same idempotency key once it is.`,
    leaseBusy: `Job ${jobId} is queued again; a running specter-sync holds the database lease and will send it with the same idempotency key.`,
    leaseLost: `Job ${jobId} is queued again; another specter-sync took over the database lease before it was sent, and will send it with the same idempotency key.`,
  });
}

/**
 * An unrouted payment's job that the routing rules in force now cover gets its provider before it
 * is re-queued: the person who retries it decides it is sent (a vanished order's payment is never
 * routed and sent by the cycle alone under VANISHED_ACTION=flag).
 */
async function routeUnroutedJob(deps: ActionDeps, jobId: number, now: string): Promise<'rerouted' | 'duplicate' | 'not_rerouted'> {
  const job = await getJob(deps.store, jobId);
  if (job === null || job.state !== 'failed' || job.failureReason !== 'unrouted') return 'not_rerouted';
  const route = routeStoredPayment(job, compileRoutingRules(deps.config.routing));
  if (route.kind !== 'provider') return 'not_rerouted';
  const paymentKey = paymentKeyOf({ orderNo: job.orderNo, route, payTypeIdentifier: job.payTypeIdentifier, payTypeReference: job.payTypeReference });
  if (paymentKey === null) return 'not_rerouted';
  const rerouted = await deps.store.write((tx) => rerouteJob(tx, jobId, { provider: route.provider, providerRef: route.providerRef, paymentKey }, now));
  if (rerouted === 'moved') return 'not_rerouted';
  deps.logger.event(
    'job.rerouted',
    rerouted === 'rerouted'
      ? `job ${jobId}: routing now covers its payment; it goes to ${route.provider} (${route.providerRef})`
      : `job ${jobId}: routing now covers its payment, which already has a job of its own; this one is voided`,
    { jobId, orderNo: job.orderNo, provider: route.provider, providerRef: route.providerRef, result: rerouted, by: 'person' },
  );
  return rerouted;
}
