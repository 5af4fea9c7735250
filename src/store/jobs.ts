/**
 * The outbox's state machine (design.md, "Job states"):
 *   pending → sending → done · pending → sending → accepted → done|failed ·
 *   sending → pending (transient) · → failed (permanent or exhausted; a person can re-queue).
 * Each transition is one conditional UPDATE, committed before the next step, so whatever the
 * process dies between, the row says what to do next.
 */
import type { FailureReason, JobState, ProviderName } from '../domain.js';
import type { Store } from './database.js';
import type { JobRow } from './schema.js';
import type { NewCancellationJob } from './snapshots.js';

/** A job as stored: what it was created with (see NewCancellationJob), and where it stands. */
export interface CancellationJob extends Omit<NewCancellationJob, 'hold'> {
  id: number;
  idempotencyKey: string;
  state: JobState;
  attempts: number;
  nextAttemptAt: string;
  providerTransactionId: string | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  failureReason: FailureReason | null;
  acceptedAt: string | null;
  confirmDeadlineAt: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

export function jobFromRow(row: JobRow): CancellationJob {
  return {
    id: row.id,
    orderNo: row.order_no,
    provider: row.provider,
    providerRef: row.provider_ref,
    amount: row.amount,
    currency: row.currency,
    reason: row.reason,
    idempotencyKey: row.idempotency_key,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    providerTransactionId: row.provider_transaction_id,
    lastErrorCode: row.last_error_code,
    lastErrorMessage: row.last_error_message,
    failureReason: row.failure_reason,
    acceptedAt: row.accepted_at,
    confirmDeadlineAt: row.confirm_deadline_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

export async function getJob(store: Store, id: number): Promise<CancellationJob | null> {
  const row = await store.db.selectFrom('cancellation_jobs').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? jobFromRow(row) : null;
}

export async function listJobs(store: Store, filter: { state?: JobState } = {}): Promise<CancellationJob[]> {
  let query = store.db.selectFrom('cancellation_jobs').selectAll().orderBy('id');
  if (filter.state) query = query.where('state', '=', filter.state);
  return (await query.execute()).map(jobFromRow);
}

/**
 * Jobs to send now: pending ones that are due, and ones left `sending` by a process that died
 * mid-request (only the lease holder dispatches, so a `sending` row at this point is orphaned).
 */
export async function listDueJobs(store: Store, now: string): Promise<CancellationJob[]> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .selectAll()
    .where((eb) => eb.or([eb('state', '=', 'sending'), eb.and([eb('state', '=', 'pending'), eb('next_attempt_at', '<=', now)])]))
    .orderBy('next_attempt_at')
    .orderBy('id')
    .execute();
  return rows.map(jobFromRow);
}

export async function listAcceptedJobs(store: Store): Promise<CancellationJob[]> {
  const rows = await store.db.selectFrom('cancellation_jobs').selectAll().where('state', '=', 'accepted').orderBy('id').execute();
  return rows.map(jobFromRow);
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

export async function markAccepted(
  store: Store,
  id: number,
  values: { transactionId: string | null; now: string; confirmDeadlineAt: string },
): Promise<void> {
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
export async function markRetry(
  store: Store,
  id: number,
  values: { code: string; message: string; nextAttemptAt: string; now: string },
): Promise<void> {
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
export async function noteConfirmAttempt(
  store: Store,
  id: number,
  values: { code: string | null; message: string | null; now: string },
): Promise<void> {
  await store.db
    .updateTable('cancellation_jobs')
    .set({ last_error_code: values.code, last_error_message: values.message, updated_at: values.now })
    .where('id', '=', id)
    .where('state', '=', 'accepted')
    .execute();
}

export async function markFailed(
  store: Store,
  id: number,
  values: { reason: FailureReason; code: string; message: string; now: string },
): Promise<void> {
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

export type RequeueResult = 'requeued' | 'not_found' | 'not_failed';

/**
 * A person re-queues a failed job: same row, same idempotency key (so a provider that did act on
 * an earlier attempt recognises the repeat), attempts counted afresh.
 */
export async function requeueFailedJob(store: Store, id: number, now: string): Promise<RequeueResult> {
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
      updated_at: now,
    })
    .where('id', '=', id)
    .where('state', '=', 'failed')
    .executeTakeFirst();
  if (result.numUpdatedRows === 1n) return 'requeued';
  return (await getJob(store, id)) ? 'not_failed' : 'not_found';
}

export async function countJobsByState(store: Store): Promise<Record<JobState, number>> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('state')
    .execute();
  const counts: Record<JobState, number> = { pending: 0, sending: 0, accepted: 0, done: 0, failed: 0 };
  for (const row of rows) counts[row.state] = Number(row.count);
  return counts;
}

/** Open jobs per provider: `status` uses it to say which wait for an unconfigured provider. */
export async function countOpenJobsByProvider(store: Store): Promise<Partial<Record<ProviderName, number>>> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select(['provider', (eb) => eb.fn.countAll<number>().as('count')])
    .where('state', 'in', ['pending', 'sending'])
    .groupBy('provider')
    .execute();
  const counts: Partial<Record<ProviderName, number>> = {};
  for (const row of rows) counts[row.provider] = Number(row.count);
  return counts;
}
