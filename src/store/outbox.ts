/**
 * The outbox's state machine (docs/money-safety.md, "Job states"):
 *   pending → sending → done · pending → sending → accepted → done|failed ·
 *   sending → pending (transient) · → failed (permanent, exhausted, unrouted; a person re-queues
 *   or dismisses it) · pending|sending|failed → voided (its cause no longer holds: never sent) ·
 *   failed → dismissed (a person closed it) · voided → pending (the cause holds again: re-armed).
 * One row per payment (payment_key), one idempotency key for the row's whole life. Each
 * transition is one conditional UPDATE, committed before the next step, so whatever the process
 * dies between, the row says what to do next.
 */
import { randomUUID } from 'node:crypto';
import type { FailureReason, JobState, ProviderName } from '../domain.js';
import type { Store } from './database.js';
import { getJob, isSendable, type NewCancellationJob } from './jobs.js';

export interface EnsuredJob extends NewCancellationJob {
  id: number;
  idempotencyKey: string;
  /** A voided job of this payment was armed again (same row, same key) rather than created. */
  rearmed: boolean;
}

/**
 * The payment's job, made here once with its idempotency key, or re-armed when the payment's
 * earlier job was voided (its cause stopped holding and now holds again: same row, SAME key, so a
 * provider that saw an earlier attempt recognises the repeat). Any other existing job already
 * covers the payment: null, nothing changes. Must run inside a transaction.
 */
export function ensureJob(store: Store, job: NewCancellationJob, at: string): EnsuredJob | null {
  const values = {
    orderNo: job.orderNo,
    paymentKey: job.paymentKey,
    provider: job.provider,
    providerRef: job.providerRef,
    payTypeIdentifier: job.payTypeIdentifier,
    payTypeReference: job.payTypeReference,
    amount: job.amount,
    currency: job.currency,
    reason: job.reason,
    state: job.hold ? 'failed' : 'pending',
    failureReason: job.hold?.reason ?? null,
    code: job.hold?.code ?? null,
    message: job.hold?.message ?? null,
    completedAt: job.hold ? at : null,
    at,
  };
  const rearmed = store.sqlite
    .prepare(
      `UPDATE cancellation_jobs SET order_no = @orderNo, provider = @provider, provider_ref = @providerRef,
         pay_type_identifier = @payTypeIdentifier, pay_type_reference = @payTypeReference, amount = @amount,
         currency = @currency, reason = @reason, state = @state, attempts = 0, next_attempt_at = @at,
         failure_reason = @failureReason, last_error_code = @code, last_error_message = @message,
         void_reason = NULL, twin_override = 0, accepted_at = NULL, confirm_deadline_at = NULL,
         provider_transaction_id = NULL, updated_at = @at, completed_at = @completedAt
       WHERE payment_key = @paymentKey AND state = 'voided'
       RETURNING id, idempotency_key AS idempotencyKey`,
    )
    .get(values) as { id: number; idempotencyKey: string } | undefined;
  if (rearmed) return { ...job, ...rearmed, rearmed: true };

  const idempotencyKey = randomUUID();
  const created = store.sqlite
    .prepare(
      `INSERT INTO cancellation_jobs (order_no, payment_key, provider, provider_ref, pay_type_identifier,
         pay_type_reference, amount, currency, reason, idempotency_key, state, attempts, next_attempt_at,
         failure_reason, last_error_code, last_error_message, created_at, updated_at, completed_at)
       VALUES (@orderNo, @paymentKey, @provider, @providerRef, @payTypeIdentifier, @payTypeReference,
         @amount, @currency, @reason, @idempotencyKey, @state, 0, @at, @failureReason, @code, @message,
         @at, @at, @completedAt)
       ON CONFLICT (payment_key) DO NOTHING
       RETURNING id`,
    )
    .get({ ...values, idempotencyKey }) as { id: number } | undefined;
  return created ? { ...job, id: created.id, idempotencyKey, rearmed: false } : null;
}

/** States a job can be voided from: not sent yet, in flight when a process died, or awaiting a person. */
const VOIDABLE: readonly JobState[] = ['pending', 'sending', 'failed'];

/** Never send it: what it was made from no longer holds. False when the job had moved on. */
export function voidJob(store: Store, id: number, reason: string, now: string): boolean {
  const result = store.sqlite
    .prepare(
      `UPDATE cancellation_jobs SET state = 'voided', void_reason = ?, updated_at = ?, completed_at = ?
       WHERE id = ? AND state IN (${VOIDABLE.map(() => '?').join(', ')})`,
    )
    .run(reason, now, now, id, ...VOIDABLE);
  return result.changes === 1;
}

export type RerouteResult = 'rerouted' | 'duplicate' | 'moved';

/**
 * Routing now covers an unrouted payment's job: it gets its provider and is queued, keeping its
 * idempotency key from then on. If the routed payment already has a job of its own (another
 * order's), that job covers it and this one is voided as a duplicate.
 */
export function rerouteJob(store: Store, id: number, route: { provider: ProviderName; providerRef: string; paymentKey: string }, now: string): RerouteResult {
  const taken = store.sqlite.prepare('SELECT id FROM cancellation_jobs WHERE payment_key = ? AND id <> ?').get(route.paymentKey, id);
  if (taken) return voidJob(store, id, 'duplicate_payment', now) ? 'duplicate' : 'moved';
  const result = store.sqlite
    .prepare(
      `UPDATE cancellation_jobs SET provider = ?, provider_ref = ?, payment_key = ?, state = 'pending',
         failure_reason = NULL, last_error_code = NULL, last_error_message = NULL, attempts = 0,
         next_attempt_at = ?, updated_at = ?, completed_at = NULL
       WHERE id = ? AND state = 'failed' AND failure_reason = 'unrouted'`,
    )
    .run(route.provider, route.providerRef, route.paymentKey, now, now, id);
  return result.changes === 1 ? 'rerouted' : 'moved';
}

/** A live-twin hold whose twins are all cancelled or gone: the payment's cause holds now; queue it. */
export function releaseHold(store: Store, id: number, now: string): boolean {
  const result = store.sqlite
    .prepare(
      `UPDATE cancellation_jobs SET state = 'pending', failure_reason = NULL, last_error_code = NULL,
         last_error_message = NULL, attempts = 0, next_attempt_at = ?, updated_at = ?, completed_at = NULL
       WHERE id = ? AND state = 'failed' AND last_error_code = 'LIVE_TWIN'`,
    )
    .run(now, now, id);
  return result.changes === 1;
}

/** Committed before the request leaves: a crash after this is recovered as `sending`. */
export async function markSending(store: Store, id: number, now: string): Promise<boolean> {
  const result = await store.db
    .updateTable('cancellation_jobs')
    .set((eb) => ({ state: 'sending', attempts: eb('attempts', '+', 1), updated_at: now }))
    .where('id', '=', id)
    .where('state', 'in', ['pending', 'sending'])
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function markDone(store: Store, id: number, now: string, note?: { code: string; message: string }): Promise<void> {
  await store.db
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
    .execute();
}

export async function markAccepted(store: Store, id: number, values: { transactionId: string | null; now: string; confirmDeadlineAt: string }): Promise<void> {
  await store.db
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
    .execute();
}

/** Back to pending for a later attempt (a transient answer). */
export async function markRetry(store: Store, id: number, values: { code: string; message: string; nextAttemptAt: string; now: string }): Promise<void> {
  await store.db
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
    .execute();
}

/** A confirmation that is not final yet, or failed transiently: keep the job accepted. */
export async function noteConfirmAttempt(store: Store, id: number, values: { code: string | null; message: string | null; now: string }): Promise<void> {
  await store.db
    .updateTable('cancellation_jobs')
    .set({ last_error_code: values.code, last_error_message: values.message, updated_at: values.now })
    .where('id', '=', id)
    .where('state', '=', 'accepted')
    .execute();
}

export async function markFailed(store: Store, id: number, values: { reason: FailureReason; code: string; message: string; now: string }): Promise<void> {
  await store.db
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
    .execute();
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
