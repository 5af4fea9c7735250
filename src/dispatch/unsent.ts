/**
 * Jobs the dispatcher settles without sending a request: those send-time truth says not to send
 * (voided, held for a person, or not verified now) and those whose provider is not configured.
 */
import type { Logger } from '../observability/logger.js';
import type { PaymentRead } from '../providers/types.js';
import type { Store } from '../store/database.js';
import { type SendableJob } from '../store/jobs.js';
import { markRetry } from '../store/outbox.js';
import { voidJob } from '../store/jobWrites.js';
import { actionBase, failJob, jobFields, type JobRef } from './jobReport.js';
import { iso } from './time.js';

/**
 * What send-time truth (worker/truth.ts, DispatchDeps.verify) may answer about a job. Declared here,
 * where it is acted on, so that dispatch never imports the worker above it.
 */
export type SendVerdict =
  | { kind: 'send' }
  /** Never send it: the cause no longer holds (`reason`: reopened, reappeared). */
  | { kind: 'void'; reason: 'reopened' | 'reappeared'; detail: string }
  /** Hold it for a person: a live order carries the payment. */
  | { kind: 'hold'; code: 'LIVE_TWIN'; message: string }
  /** Specter could not be asked: nothing is sent now, the job waits for the next try. */
  | { kind: 'unknown'; detail: string };

/**
 * Read before a vanished order's cancellation is sent on a person's behalf (worker/payments.ts):
 * what the provider says about the money now, or null when it could not be asked.
 */
export type PaymentCheck = (job: SendableJob) => Promise<PaymentRead | null>;

/**
 * What the read means for the job: already cancelled or expired → never sent (voided, saying
 * why); captured → failed at once with reason `captured` (a refund is a person's decision);
 * anything else, `unknown` included → sent as before (a cancel is idempotent and safe).
 */
export async function settleByPayment(ctx: UnsentContext, job: SendableJob, attempt: number, read: PaymentRead | null): Promise<UnsentAction | null> {
  if (read === null) return null;
  const { store, logger } = ctx.deps;
  if (read.state === 'cancelled' || read.state === 'expired') {
    if (!(await ctx.mayWrite())) return null;
    const reason = `payment_${read.state}`;
    if (await store.write((tx) => voidJob(tx, job.id, reason, iso(ctx.now())))) {
      logger.event(
        'cancel.voided',
        `not sent: ${job.provider} says the payment of order ${job.orderNo} is already ${read.state} (${read.detail}); nothing is left to release, the job is voided`,
        { ...jobFields(job), reason, detail: read.detail, paymentState: read.state },
      );
    }
    return { ...actionBase(job), result: 'voided', reason };
  }
  if (read.state === 'captured') {
    if (!(await ctx.mayWrite())) return null;
    return failJob(ctx.deps, job, {
      at: ctx.now(),
      attempt,
      reason: 'captured',
      code: 'PAYMENT_CAPTURED',
      detail: `not sent: ${job.provider} says the payment is captured (${read.detail}); cancelling cannot release it`,
    });
  }
  return null;
}

/** What of the dispatcher's context these need. */
export interface UnsentContext {
  deps: { store: Store; logger: Logger };
  now: () => Date;
  /** canSend (the lease), remembered once it said no. */
  mayWrite: () => Promise<boolean>;
}

type UnsentAction = JobRef & { result: 'voided' | 'failed' | 'not_verified' | 'waiting_for_provider'; reason: string };

/**
 * The provider is configured off: the job waits, pending, untouched. A row left `sending` by a
 * crash goes back to pending (same key, due now), so it is not mistaken for an in-flight request
 * for as long as the provider stays off and is sent once it is configured.
 */
export async function waitForProvider(ctx: UnsentContext, job: SendableJob): Promise<UnsentAction> {
  const { store, logger } = ctx.deps;
  const fields = { ...jobFields(job), attempt: job.attempts };
  // Without the lease this row may be the new holder's request in flight: leave it to them.
  if (job.state === 'sending' && (await ctx.mayWrite())) {
    const at = iso(ctx.now());
    logger.event('job.recovered', `job ${job.id} was left in flight by a stopped process; its provider is not configured now, so it waits`, fields);
    await markRetry(store, job.id, {
      code: 'PROVIDER_NOT_CONFIGURED',
      message: `${job.provider} is not configured`,
      nextAttemptAt: at,
      now: at,
    });
  }
  logger.event(
    'cancel.waiting_for_provider',
    `${job.provider} is not configured: the cancellation of order ${job.orderNo} waits until its credentials are set`,
    fields,
  );
  return { ...actionBase(job), result: 'waiting_for_provider', reason: 'provider_not_configured' };
}

/** The verdict said not to send: void it, hold it for a person, or leave it for the next try. */
export async function settleUnsent(
  ctx: UnsentContext,
  job: SendableJob,
  attempt: number,
  verdict: Exclude<SendVerdict, { kind: 'send' }>,
): Promise<UnsentAction> {
  const { store, logger } = ctx.deps;
  switch (verdict.kind) {
    case 'void': {
      if (await store.write((tx) => voidJob(tx, job.id, verdict.reason, iso(ctx.now())))) {
        logger.event('cancel.voided', `not sent: ${verdict.detail}; the cancellation of order ${job.orderNo} at ${job.provider} is voided`, {
          ...jobFields(job),
          reason: verdict.reason,
          detail: verdict.detail,
          // A row left `sending` by a crash may have reached the provider before this check.
          possiblySent: job.state === 'sending',
        });
      }
      return { ...actionBase(job), result: 'voided', reason: verdict.reason };
    }
    case 'hold':
      return failJob(ctx.deps, job, { at: ctx.now(), attempt, reason: 'rejected', code: verdict.code, detail: verdict.message });
    case 'unknown':
      logger.event('cancel.retry_scheduled', `not sent now: ${verdict.detail}; the job stays queued`, {
        ...jobFields(job),
        attempt,
        code: 'NOT_VERIFIED',
        detail: verdict.detail,
        nextAttemptAt: job.nextAttemptAt,
        inCycle: false,
      });
      return { ...actionBase(job), result: 'not_verified', reason: 'NOT_VERIFIED' };
  }
}
