/**
 * The outbox's jobs as data: what a job is made from, how a row reads, and the queries over them.
 * Their state machine — every transition, one conditional UPDATE each — is in outbox.ts.
 */
import { JOB_STATES, type CancellationReason, type FailureReason, type JobState, type ProviderName } from '../domain.js';
import type { Store } from './database.js';
import type { JobRow } from './schema.js';

/** What a job is made from: one payment, and the order whose story asks for its cancellation. */
export interface NewCancellationJob {
  orderNo: string;
  paymentKey: string;
  /** Null while no route covers the payment (the job is then created failed, reason unrouted). */
  provider: ProviderName | null;
  providerRef: string | null;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
  amount: string | null;
  currency: string | null;
  reason: CancellationReason;
  /**
   * Not to be sent without a person: the job is created `failed` with this reason, code and
   * message, so it alerts and keeps `once` at exit 3 until a person retries or dismisses it.
   * `rejected` (code LIVE_TWIN): a live order shares the payment; `unrouted`: no route covers it.
   */
  hold?: { reason: Extract<FailureReason, 'rejected' | 'unrouted'>; code: string; message: string };
}

/** A job as stored: what it was created with, and where it stands. */
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
  voidReason: string | null;
  personNote: string | null;
  /** A person re-queued a live-twin hold on purpose. */
  twinOverride: boolean;
  acceptedAt: string | null;
  confirmDeadlineAt: string | null;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

/** A job that can be sent: it has its provider (the schema's CHECK holds it for every sendable state). */
export type SendableJob = CancellationJob & { provider: ProviderName; providerRef: string };

export function isSendable(job: CancellationJob): job is SendableJob {
  return job.provider !== null && job.providerRef !== null;
}

function jobFromRow(row: JobRow): CancellationJob {
  return {
    id: row.id,
    orderNo: row.order_no,
    paymentKey: row.payment_key,
    provider: row.provider,
    providerRef: row.provider_ref,
    payTypeIdentifier: row.pay_type_identifier,
    payTypeReference: row.pay_type_reference,
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
    voidReason: row.void_reason,
    personNote: row.person_note,
    twinOverride: row.twin_override === 1,
    acceptedAt: row.accepted_at,
    confirmDeadlineAt: row.confirm_deadline_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
  };
}

function sendable(rows: readonly JobRow[]): SendableJob[] {
  return rows.map(jobFromRow).filter(isSendable);
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

/** The jobs of these payments, by payment key (the cycle plans against them). */
async function jobsByPaymentKeys(store: Store, keys: Iterable<string>): Promise<Map<string, CancellationJob>> {
  const unique = [...new Set(keys)];
  const jobs = new Map<string, CancellationJob>();
  if (unique.length === 0) return jobs;
  const rows = await store.db.selectFrom('cancellation_jobs').selectAll().where('payment_key', 'in', unique).execute();
  for (const row of rows) jobs.set(row.payment_key, jobFromRow(row));
  return jobs;
}

/**
 * The job of each carrier's payment, under the carrier's current payment key: found by that key,
 * or else by the payment as Specter gave it (identifier and reference). Routing can give one
 * payment a new key between cycles (klarna:… → unrouted:… when a rule is removed); its job made
 * under the old key still covers the money.
 */
export async function jobsForPayments(
  store: Store,
  carriers: Iterable<{ paymentKey: string | null; payTypeIdentifier: string | null; payTypeReference: string | null }>,
): Promise<Map<string, CancellationJob>> {
  const list = [...carriers].filter((c): c is typeof c & { paymentKey: string } => c.paymentKey !== null);
  const jobs = await jobsByPaymentKeys(
    store,
    list.map((c) => c.paymentKey),
  );
  for (const carrier of list) {
    if (jobs.has(carrier.paymentKey) || carrier.payTypeReference === null || carrier.payTypeReference === '') continue;
    const identifier = carrier.payTypeIdentifier;
    const row = await store.db
      .selectFrom('cancellation_jobs')
      .selectAll()
      .where((eb) => (identifier === null ? eb('pay_type_identifier', 'is', null) : eb('pay_type_identifier', '=', identifier)))
      .where('pay_type_reference', '=', carrier.payTypeReference)
      .where('state', '<>', 'voided')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (row) jobs.set(carrier.paymentKey, jobFromRow(row));
  }
  return jobs;
}

/** The jobs whose cause is one of these orders, by order. */
export async function jobsByOrderNos(store: Store, orderNos: Iterable<string>): Promise<Map<string, CancellationJob[]>> {
  const unique = [...new Set(orderNos)];
  const jobs = new Map<string, CancellationJob[]>();
  if (unique.length === 0) return jobs;
  const rows = await store.db.selectFrom('cancellation_jobs').selectAll().where('order_no', 'in', unique).orderBy('id').execute();
  for (const row of rows) jobs.set(row.order_no, [...(jobs.get(row.order_no) ?? []), jobFromRow(row)]);
  return jobs;
}

/** Void reasons that only routing decided: if routing stops saying so, the payment needs someone again. */
export const SETTLED_BY_ROUTING = ['settled_elsewhere', 'handled_by_specter'] as const;

/**
 * Failed jobs the cycle looks at again every time, because the world can settle them without a
 * person: an unrouted payment that routing now covers, a live-twin hold whose twin is gone.
 */
export async function listRevisitableJobs(store: Store): Promise<CancellationJob[]> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .selectAll()
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'failed'), eb.or([eb('failure_reason', '=', 'unrouted'), eb('last_error_code', '=', 'LIVE_TWIN')])]),
        // Voided because routing said Specter or the merchant settles it: routing can change back.
        eb.and([eb('state', '=', 'voided'), eb('void_reason', 'in', [...SETTLED_BY_ROUTING])]),
      ]),
    )
    .orderBy('id')
    .execute();
  return rows.map(jobFromRow);
}

/**
 * Jobs to send now: pending ones that are due, and ones left `sending` by a process that died
 * mid-request (only the lease holder dispatches, so a `sending` row at this point is orphaned).
 */
export async function listDueJobs(store: Store, now: string): Promise<SendableJob[]> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .selectAll()
    .where((eb) => eb.or([eb('state', '=', 'sending'), eb.and([eb('state', '=', 'pending'), eb('next_attempt_at', '<=', now)])]))
    .orderBy('next_attempt_at')
    .orderBy('id')
    .execute();
  return sendable(rows);
}

export async function listAcceptedJobs(store: Store): Promise<SendableJob[]> {
  const rows = await store.db.selectFrom('cancellation_jobs').selectAll().where('state', '=', 'accepted').orderBy('id').execute();
  return sendable(rows);
}

export async function countJobsByState(store: Store): Promise<Record<JobState, number>> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy('state')
    .execute();
  const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const row of rows) counts[row.state] = Number(row.count);
  return counts;
}

/** Open jobs per provider: `status` uses it to say which wait for an unconfigured provider. */
export async function countOpenJobsByProvider(store: Store): Promise<Partial<Record<ProviderName, number>>> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select(['provider', (eb) => eb.fn.countAll<number>().as('count')])
    .where('state', 'in', ['pending', 'sending'])
    .where('provider', 'is not', null)
    .groupBy('provider')
    .execute();
  const counts: Partial<Record<ProviderName, number>> = {};
  for (const row of rows) if (row.provider !== null) counts[row.provider] = Number(row.count);
  return counts;
}
