/** `specter-sync jobs list|retry|dismiss`: the cancellation outbox. */
import { JOB_STATES, type JobState } from '../domain.js';
import { compileRoutingRules, routeStoredPayment } from '../routing/route.js';
import { paymentKeyOf } from '../routing/payment.js';
import { getJob, isSendable, listJobs } from '../store/jobs.js';
import { dismissFailedJob, requeueFailedJob } from '../store/outbox.js';
import { rerouteJob } from '../store/jobWrites.js';
import { reportSentNow, sendJobNow } from '../worker/sendNow.js';
import { openContext, type CommandContext } from './context.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';
import { formatTable, printJson } from '../format.js';

function parseJobState(value: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(value)) return value as JobState;
  throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}; got "${value}"`);
}

function parseJobId(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw new UsageError(`JOB_ID must be a positive integer, got "${value}"`);
  return Number(value);
}

export async function jobsListCommand(options: { state?: string; json?: boolean }): Promise<ExitCode> {
  const state = options.state === undefined ? undefined : parseJobState(options.state);
  const ctx = await openContext({ json: options.json });
  try {
    const jobs = await listJobs(ctx.store, { state });
    if (options.json) {
      printJson(ctx.out, jobs);
      return EXIT.ok;
    }
    if (jobs.length === 0) {
      ctx.out.write(`No ${state ?? ''} jobs.\n`.replace('  ', ' '));
      return EXIT.ok;
    }
    ctx.out.write(
      `${formatTable(
        ['id', 'order', 'provider', 'provider ref', 'reason', 'state', 'attempts', 'next attempt', 'failure', 'last error'],
        jobs.map((j) => [
          j.id,
          j.orderNo,
          j.provider,
          j.providerRef,
          j.reason,
          j.state,
          j.attempts,
          j.state === 'pending' ? j.nextAttemptAt : null,
          j.failureReason,
          j.lastErrorCode ? `${j.lastErrorCode}: ${j.lastErrorMessage ?? ''}`.slice(0, 80) : null,
        ]),
      )}\n`,
    );
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

/**
 * A person re-queues a failed job (same idempotency key) and, like `vanished cancel`, it is sent
 * now under the lease — only this job — so the person sees the provider's answer.
 */
export async function jobsRetryCommand(jobIdText: string): Promise<ExitCode> {
  const jobId = parseJobId(jobIdText);
  const ctx = await openContext();
  try {
    const now = new Date().toISOString();
    // Routed now means queued already (rerouteJob puts it back to pending with its key).
    const result = (await routeUnroutedJob(ctx, jobId, now)) ? 'requeued' : await requeueFailedJob(ctx.store, jobId, now);
    if (result !== 'requeued') {
      const why = {
        not_found: `no job ${jobId}`,
        not_failed: `job ${jobId} has not failed; only failed jobs can be retried`,
        unrouted: `job ${jobId} has no provider to send to (no route covers its payment): add a routing rule and retry, or close it with \`specter-sync jobs dismiss ${jobId} --note "…"\``,
      }[result];
      process.stderr.write(`specter-sync: ${why}\n`);
      return EXIT.failed;
    }
    ctx.logger.event('job.requeued', `job ${jobId} put back in the queue with its original idempotency key`, { jobId, by: 'person' });
    const job = await getJob(ctx.store, jobId);
    if (job === null || !isSendable(job)) throw new Error(`job ${jobId} changed while it was re-queued`);
    const sent = await sendJobNow(ctx, job);
    switch (sent.kind) {
      case 'provider_not_configured':
        ctx.out.write(`Job ${jobId} is queued again; ${job.provider} is not configured, so it will be sent with the same idempotency key once it is.\n`);
        return EXIT.ok;
      case 'lease_busy':
        ctx.out.write(`Job ${jobId} is queued again; a running specter-sync holds the database lease and will send it with the same idempotency key.\n`);
        return EXIT.ok;
      case 'lease_lost':
        ctx.out.write(
          `Job ${jobId} is queued again; another specter-sync took over the database lease before it was sent, and will send it with the same idempotency key.\n`,
        );
        return EXIT.ok;
      case 'dispatched':
        return reportSentNow(ctx.out, `Job ${jobId} for order ${job.orderNo} at ${job.provider}`, sent.action);
    }
  } finally {
    await ctx.close();
  }
}

/**
 * A person closes a failed job without sending anything (a live-twin hold that must not go, an
 * unrouted payment settled by hand, a refund done in the provider's portal). Only `failed` jobs:
 * anything else either still works on its own or is already closed. Bad input changes nothing.
 */
export async function jobsDismissCommand(jobIdText: string, options: { note?: string }): Promise<ExitCode> {
  const jobId = parseJobId(jobIdText);
  const note = options.note?.trim() ?? '';
  if (note === '') throw new UsageError('--note TEXT is required: say why the job is closed without sending (it is kept with the job)');
  const ctx = await openContext();
  try {
    const job = await getJob(ctx.store, jobId);
    if (!job) throw new UsageError(`JOB_ID ${jobId}: no such job (see specter-sync jobs list)`);
    if (job.state !== 'failed') throw new UsageError(`JOB_ID ${jobId}: job ${jobId} is ${job.state}; only a failed job can be dismissed`);
    const result = await dismissFailedJob(ctx.store, jobId, note, new Date().toISOString());
    if (result !== 'dismissed') throw new UsageError(`JOB_ID ${jobId}: job ${jobId} is no longer failed; nothing was changed`);
    ctx.logger.event('job.dismissed', `job ${jobId} (order ${job.orderNo}) closed by a person without sending: ${note}`, {
      jobId,
      orderNo: job.orderNo,
      ...(job.provider !== null && job.providerRef !== null ? { provider: job.provider, providerRef: job.providerRef } : {}),
      amount: job.amount,
      currency: job.currency,
      failureReason: job.failureReason,
      note,
    });
    ctx.out.write(`Job ${jobId} is dismissed; nothing was sent, and it no longer awaits a person.\n`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

/**
 * An unrouted payment's job that the routing rules in force now cover gets its provider before it
 * is re-queued: the person who retries it decides it is sent (a vanished order's payment is never
 * routed and sent by the cycle alone under VANISHED_ACTION=flag).
 */
async function routeUnroutedJob(ctx: CommandContext, jobId: number, now: string): Promise<boolean> {
  const job = await getJob(ctx.store, jobId);
  if (job === null || job.state !== 'failed' || job.failureReason !== 'unrouted') return false;
  const route = routeStoredPayment(job, compileRoutingRules(ctx.config.routing));
  if (route.kind !== 'provider') return false;
  const paymentKey = paymentKeyOf({ orderNo: job.orderNo, route, payTypeIdentifier: job.payTypeIdentifier, payTypeReference: job.payTypeReference });
  if (paymentKey === null) return false;
  const result = rerouteJob(ctx.store, jobId, { provider: route.provider, providerRef: route.providerRef, paymentKey }, now);
  if (result === 'moved') return false;
  ctx.logger.event(
    'job.rerouted',
    result === 'rerouted'
      ? `job ${jobId}: routing now covers its payment; it goes to ${route.provider} (${route.providerRef})`
      : `job ${jobId}: routing now covers its payment, which already has a job of its own; this one is voided`,
    { jobId, orderNo: job.orderNo, provider: route.provider, providerRef: route.providerRef, result, by: 'person' },
  );
  if (result === 'duplicate') throw new UsageError(`JOB_ID ${jobId}: its payment already has another job (see specter-sync jobs list); this one was voided`);
  return true;
}
