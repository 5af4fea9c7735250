/**
 * What the dispatcher and the confirmation pass share: the fields every log line about a job
 * carries, what a person must do for each failure reason, and how a client's bug becomes a
 * transient outcome.
 */
import type { FailureReason } from '../domain.js';
import type { SendableJob } from '../store/jobs.js';

/** Fields of every log line about a job (interface.md: orderNo, provider, providerRef, amount, currency). */
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

export function iso(date: Date): string {
  return date.toISOString();
}

export function addMs(date: Date, ms: number): Date {
  return new Date(date.getTime() + ms);
}

/** The `cancel.failed` message: what a person must do, then what the provider said. */
export function failureAdvice(job: SendableJob, reason: FailureReason, detail: string): string {
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

/**
 * A client that throws or returns something that is not an outcome has a bug: the contract
 * (providers/types.ts) says it never throws for what the provider did. Transient, so the job is
 * kept and tried again with the same key: nothing is lost. Only the error's name and first line
 * are kept (bounded), as a stack or a dumped request object has no place in the database.
 */
export function clientError(error: unknown): { kind: 'transient'; code: 'CLIENT_ERROR'; message: string } {
  const text =
    error instanceof Error ? `${error.name}: ${error.message}` : `the client returned or threw ${describeValue(error)}`;
  const firstLine = text.split('\n', 1)[0] ?? '';
  return { kind: 'transient', code: 'CLIENT_ERROR', message: `provider client bug: ${firstLine.slice(0, 300)}` };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  return typeof value;
}
