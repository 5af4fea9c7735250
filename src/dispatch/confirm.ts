/**
 * Confirms cancellations a provider accepted asynchronously (Qliro, Walley): "Accepted is not
 * done" (docs/providers.md). Each cycle reads the status of every accepted job once, until it is final
 * or its deadline passes (docs/architecture.md, "Accepted jobs are checked every cycle"). There are no
 * in-cycle retries here: the next cycle is the retry, and the deadline bounds the patience.
 */
import type { ProviderClient, ConfirmRequest } from '../providers/types.js';
import { listAcceptedJobs, type SendableJob } from '../store/jobs.js';
import { markDone, noteConfirmAttempt } from '../store/outbox.js';
import { askClient, CONFIRM_KINDS } from './clientBug.js';
import type { DispatchDeps } from './dispatcher.js';
import { actionBase, failJob, jobFields, type JobRef } from './jobReport.js';
import { runPerProvider } from './perProvider.js';
import { addMs, iso } from './time.js';

export interface ConfirmAction extends JobRef {
  result: 'confirmed' | 'pending' | 'failed';
  /** failed: the failure reason; pending: the provider's status or transient code, or why it was not asked. */
  reason?: string;
}

/** The code of a job failed because the provider never gave a final answer before the deadline. */
export const CONFIRM_DEADLINE_CODE = 'CONFIRM_DEADLINE';

export async function confirmAcceptedJobs(deps: DispatchDeps): Promise<{ actions: ConfirmAction[] }> {
  const now = deps.now ?? (() => new Date());
  const stopping = (): boolean => deps.signal?.aborted === true;
  const actions: ConfirmAction[] = [];
  const accepted = await listAcceptedJobs(deps.store);

  await runPerProvider(accepted, deps.providers, {
    // Configured off since it accepted: it cannot be asked, so it is not failed for the deadline
    // either (the provider may well have finished); it waits like a pending job does.
    unconfigured: (job) => {
      deps.logger.event(
        'cancel.waiting_for_provider',
        `${job.provider} is not configured: the accepted cancellation of order ${job.orderNo} cannot be confirmed until its credentials are set`,
        { ...jobFields(job), attempt: job.attempts },
      );
      actions.push({ ...actionBase(job), result: 'pending', reason: 'provider_not_configured' });
      return Promise.resolve();
    },
    work: async (client, job) => {
      actions.push(await confirmJob(deps, now, client, job));
    },
    shouldStop: stopping,
    what: 'confirmation',
  });
  return { actions };
}

async function confirmJob(deps: DispatchDeps, now: () => Date, client: ProviderClient, job: SendableJob): Promise<ConfirmAction> {
  const { store, logger } = deps;
  const fields = { ...jobFields(job), attempt: job.attempts, transactionId: job.providerTransactionId };
  const base = actionBase(job);
  // A failure's line carries the transaction id the provider gave when it accepted.
  const failedFields = { transactionId: job.providerTransactionId };

  const confirm = client.confirm?.bind(client);
  if (!confirm) {
    // A client without confirm() answers synchronously by contract; an `accepted` from it is all
    // this worker can ever learn. Holding the job open would only end in a false deadline alert.
    const at = iso(now());
    await markDone(store, job.id, at, { code: 'NO_CONFIRM_API', message: `${job.provider} has no status to confirm; accepted counts as done` });
    logger.event('cancel.succeeded', `${job.provider} accepted the cancellation of order ${job.orderNo} and offers no status to confirm it`, {
      ...fields,
      confirmed: false,
    });
    return { ...base, result: 'confirmed', reason: 'no_confirm_api' };
  }

  const request: ConfirmRequest = { orderNo: job.orderNo, providerRef: job.providerRef, transactionId: job.providerTransactionId };
  // No stop signal: a read already sent is allowed to finish and be recorded.
  const outcome = await askClient(() => confirm(request), CONFIRM_KINDS);
  deps.observer?.providerAnswer?.(job.provider, outcome.kind);
  const at = now();

  switch (outcome.kind) {
    case 'succeeded':
      await markDone(store, job.id, iso(at));
      logger.event('cancel.succeeded', `${job.provider} confirmed the cancellation of order ${job.orderNo}`, { ...fields, confirmed: true });
      return { ...base, result: 'confirmed' };

    case 'permanent':
      return failJob(deps, job, { at, attempt: job.attempts, reason: outcome.reason, code: outcome.code, detail: outcome.message, fields: failedFields });

    case 'pending':
    case 'transient': {
      const code = outcome.kind === 'pending' ? 'PENDING' : outcome.code;
      const message = outcome.kind === 'pending' ? `status ${outcome.status}` : outcome.message;
      const deadline = deadlineOf(job, deps.settings.confirmDeadlineMs);
      // Asked first, judged second: an answer that arrives late but final still counts.
      if (deadline !== null && at.getTime() > deadline.getTime()) {
        const detail = `${job.provider} accepted the cancellation at ${job.acceptedAt ?? 'an unknown time'} but never confirmed it by ${iso(deadline)} (last answer: ${code}, ${message})`;
        return failJob(deps, job, { at, attempt: job.attempts, reason: 'exhausted', code: CONFIRM_DEADLINE_CODE, detail, fields: failedFields });
      }
      await noteConfirmAttempt(store, job.id, { code, message, now: iso(at) });
      logger.event('cancel.confirm_pending', `${job.provider} has not confirmed the cancellation of order ${job.orderNo} yet (${code}: ${message})`, {
        ...fields,
        code,
        detail: message,
        confirmDeadlineAt: deadline === null ? null : iso(deadline),
      });
      return { ...base, result: 'pending', reason: outcome.kind === 'pending' ? outcome.status : outcome.code };
    }
  }
}

/**
 * The deadline written when the job was accepted. A row without one (written by hand or by an
 * older version) falls back to accepted_at + confirmDeadlineMs, so no accepted job waits forever.
 */
function deadlineOf(job: SendableJob, confirmDeadlineMs: number): Date | null {
  if (job.confirmDeadlineAt) return new Date(job.confirmDeadlineAt);
  if (job.acceptedAt) return addMs(new Date(job.acceptedAt), confirmDeadlineMs);
  return null;
}
