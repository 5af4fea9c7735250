/**
 * The outbox's state machine (docs/money-safety.md, "Job states"):
 *   pending → sending → done · pending → sending → accepted → done|failed ·
 *   sending → pending (transient) · → failed (permanent, exhausted, unrouted; a person re-queues
 *   or dismisses it) · pending|sending|failed → voided (its cause no longer holds: never sent) ·
 *   failed → dismissed (a person closed it) · voided → pending (the cause holds again: re-armed).
 * One row per payment (payment_key), one idempotency key for the row's whole life. Each
 * transition is one conditional UPDATE, committed before the next step, so whatever the process
 * dies between, the row says what to do next. Each goes through store.write(), so inside a cycle it is
 * checked against the lease's fencing token (fence.ts). The transitions the cycle's commit makes
 * (creating, re-arming, voiding, re-routing, releasing a job) are in jobWrites.ts.
 */
import type { FailureReason } from '../domain.js';
import type { Store } from './database.js';
import { getJob, isSendable } from './jobs.js';

/** Committed before the request leaves: a crash after this is recovered as `sending`. */
export async function markSending(store: Store, id: number, now: string): Promise<boolean> {
  const result = await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set((eb) => ({ state: 'sending', attempts: eb('attempts', '+', 1), updated_at: now }))
      .where('id', '=', id)
      .where('state', 'in', ['pending', 'sending'])
      .executeTakeFirst(),
  );
  return result.numUpdatedRows === 1n;
}

export async function markDone(store: Store, id: number, now: string, note?: { code: string; message: string }): Promise<void> {
  await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set({
        state: 'done',
        updated_at: now,
        completed_at: now,
        last_error_code: note?.code ?? null,
        last_error_message: note?.message ?? null,
      })
      .where('id', '=', id)
      .where('state', 'in', ['sending', 'accepted'])
      .execute(),
  );
}

export async function markAccepted(store: Store, id: number, values: { transactionId: string | null; now: string; confirmDeadlineAt: string }): Promise<void> {
  await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set({
        state: 'accepted',
        provider_transaction_id: values.transactionId,
        accepted_at: values.now,
        confirm_deadline_at: values.confirmDeadlineAt,
        updated_at: values.now,
        last_error_code: null,
        last_error_message: null,
      })
      .where('id', '=', id)
      .where('state', '=', 'sending')
      .execute(),
  );
}

/** Back to pending for a later attempt (a transient answer). */
export async function markRetry(store: Store, id: number, values: { code: string; message: string; nextAttemptAt: string; now: string }): Promise<void> {
  await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set({
        state: 'pending',
        next_attempt_at: values.nextAttemptAt,
        last_error_code: values.code,
        last_error_message: values.message,
        updated_at: values.now,
      })
      .where('id', '=', id)
      .where('state', '=', 'sending')
      .execute(),
  );
}

/** A confirmation that is not final yet, or failed transiently: keep the job accepted. */
export async function noteConfirmAttempt(store: Store, id: number, values: { code: string | null; message: string | null; now: string }): Promise<void> {
  await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set({ last_error_code: values.code, last_error_message: values.message, updated_at: values.now })
      .where('id', '=', id)
      .where('state', '=', 'accepted')
      .execute(),
  );
}

export async function markFailed(store: Store, id: number, values: { reason: FailureReason; code: string; message: string; now: string }): Promise<void> {
  await store.write((tx) =>
    tx
      .updateTable('cancellation_jobs')
      .set({
        state: 'failed',
        failure_reason: values.reason,
        last_error_code: values.code,
        last_error_message: values.message,
        updated_at: values.now,
        completed_at: values.now,
      })
      .where('id', '=', id)
      .where('state', 'in', ['pending', 'sending', 'accepted'])
      .execute(),
  );
}

export type RequeueResult = 'requeued' | 'not_found' | 'not_failed' | 'unrouted';

/**
 * A person re-queues a failed job: same row, same idempotency key (so a provider that did act on
 * an earlier attempt recognises the repeat), attempts counted afresh. A live-twin hold re-queued
 * by a person is sent despite the twin (twin_override): the person decided. An unrouted job has
 * nowhere to go: routing must cover it first.
 */
export async function requeueFailedJob(store: Store, id: number, now: string): Promise<RequeueResult> {
  const job = await getJob(store, id);
  if (!job) return 'not_found';
  if (job.state !== 'failed') return 'not_failed';
  if (!isSendable(job)) return 'unrouted';
  const result = await store.db
    .updateTable('cancellation_jobs')
    .set({
      state: 'pending',
      attempts: 0,
      next_attempt_at: now,
      failure_reason: null,
      completed_at: null,
      accepted_at: null,
      confirm_deadline_at: null,
      twin_override: job.lastErrorCode === 'LIVE_TWIN' ? 1 : 0,
      updated_at: now,
    })
    .where('id', '=', id)
    .where('state', '=', 'failed')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n ? 'requeued' : 'not_failed';
}

export type DismissResult = 'dismissed' | 'not_found' | 'not_failed';

/** A person closes a failed job without sending anything; the note says why. */
export async function dismissFailedJob(store: Store, id: number, note: string, now: string): Promise<DismissResult> {
  const result = await store.db
    .updateTable('cancellation_jobs')
    .set({ state: 'dismissed', person_note: note, updated_at: now, completed_at: now })
    .where('id', '=', id)
    .where('state', '=', 'failed')
    .executeTakeFirst();
  if (result.numUpdatedRows === 1n) return 'dismissed';
  return (await getJob(store, id)) ? 'not_failed' : 'not_found';
}
