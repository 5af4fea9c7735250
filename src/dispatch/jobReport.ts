/**
 * How the dispatcher and the confirmation pass report a job: the fields of every log line about it,
 * its identity in an action of the report, and a failure (recorded, logged with what a person must
 * do, reported).
 */
import type { FailureReason } from '../domain.js';
import type { LogFields, Logger } from '../observability/logger.js';
import type { Store } from '../store/database.js';
import { type SendableJob } from '../store/jobs.js';
import { markFailed } from '../store/outbox.js';

/** Fields of every log line about a job (docs/interface.md: orderNo, provider, providerRef, amount, currency). */
export function jobFields(job: SendableJob): {
  orderNo: string;
  provider: SendableJob['provider'];
  providerRef: string;
  amount: string | null;
  currency: string | null;
  jobId: number;
} {
  return {
    orderNo: job.orderNo,
    provider: job.provider,
    providerRef: job.providerRef,
    amount: job.amount,
    currency: job.currency,
    jobId: job.id,
  };
}

/** A job's identity in an action (DispatchAction, ConfirmAction). */
export interface JobRef {
  jobId: number;
  orderNo: string;
  provider: SendableJob['provider'];
  providerRef: string;
}

export function actionBase(job: SendableJob): JobRef {
  return { jobId: job.id, orderNo: job.orderNo, provider: job.provider, providerRef: job.providerRef };
}

/**
 * The job becomes failed and awaits a person: recorded, then `cancel.failed` with what to do.
 * `fields` go on the line after the attempt (the confirmation pass adds the transaction id).
 */
export async function failJob(
  deps: { store: Store; logger: Logger },
  job: SendableJob,
  failure: { at: Date; attempt: number; reason: FailureReason; code: string; detail: string; fields?: LogFields },
): Promise<JobRef & { result: 'failed'; reason: FailureReason }> {
  const { at, attempt, reason, code, detail } = failure;
  await markFailed(deps.store, job.id, { reason, code, message: detail, now: at.toISOString() });
  deps.logger.event('cancel.failed', failureAdvice(job, reason, `${code}: ${detail}`), {
    ...jobFields(job),
    attempt,
    ...failure.fields,
    reason,
    code,
    detail,
  });
  return { ...actionBase(job), result: 'failed', reason };
}

/** The `cancel.failed` message: what a person must do, then what the provider said. */
function failureAdvice(job: SendableJob, reason: FailureReason, detail: string): string {
  const retry = `then re-queue it with \`specter-sync jobs retry ${job.id}\``;
  let advice: string;
  switch (reason) {
    case 'captured':
      advice = 'captured: the order needs a refund, a person must decide';
      break;
    case 'not_found':
      advice = `not_found: ${job.provider} does not know payment ${job.providerRef}; check the reference in Specter and cancel the payment by hand if it exists`;
      break;
    case 'auth':
      advice = `auth: ${job.provider} refused the worker's credentials; fix them, ${retry}`;
      break;
    case 'rejected':
      advice = `rejected: ${job.provider} refused the cancellation; check the payment at ${job.provider} and cancel or refund it by hand`;
      break;
    case 'exhausted':
      advice = `exhausted: no final answer from ${job.provider}; check the payment at ${job.provider}, cancel it by hand or ${retry}`;
      break;
    case 'unrouted':
      advice = `unrouted: no route covers this payment; add a routing rule, or settle it by hand and close it with \`specter-sync jobs dismiss ${job.id} --note "…"\``;
      break;
  }
  return `${advice} (${detail})`;
}
