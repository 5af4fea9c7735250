/**
 * `jobs dismiss` and the console's Dismiss: a person closes a failed job without sending anything
 * (a live-twin hold that must not go, an unrouted payment settled by hand, a refund done in the
 * provider's portal). Only `failed` jobs: anything else either still works on its own or is
 * already closed. Bad input changes nothing.
 */
import { getJob } from '../store/jobs.js';
import { dismissFailedJob } from '../store/outbox.js';
import { result, type ActionDeps, type ActionResult } from './types.js';

export async function dismissJob(deps: ActionDeps, jobId: number, noteText: string): Promise<ActionResult> {
  const note = noteText.trim();
  if (note === '') return result('usage', '--note TEXT is required: say why the job is closed without sending (it is kept with the job)');
  const job = await getJob(deps.store, jobId);
  if (!job) return result('usage', `JOB_ID ${jobId}: no such job (see specter-sync jobs list)`);
  if (job.state !== 'failed') return result('usage', `JOB_ID ${jobId}: job ${jobId} is ${job.state}; only a failed job can be dismissed`);
  const dismissed = await dismissFailedJob(deps.store, jobId, note, (deps.now ?? (() => new Date()))().toISOString());
  if (dismissed !== 'dismissed') return result('usage', `JOB_ID ${jobId}: job ${jobId} is no longer failed; nothing was changed`);
  deps.logger.event('job.dismissed', `job ${jobId} (order ${job.orderNo}) closed by a person without sending: ${note}`, {
    jobId,
    orderNo: job.orderNo,
    ...(job.provider !== null && job.providerRef !== null ? { provider: job.provider, providerRef: job.providerRef } : {}),
    amount: job.amount,
    currency: job.currency,
    failureReason: job.failureReason,
    note,
  });
  return result('ok', `Job ${jobId} is dismissed; nothing was sent, and it no longer awaits a person.`);
}
