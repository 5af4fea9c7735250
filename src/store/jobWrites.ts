/**
 * Job writes that run inside a synchronous better-sqlite3 transaction — the cycle's one commit
 * (commit.ts) and a person's `vanished cancel` — so they are raw, synchronous statements: such a
 * transaction cannot await, and nothing may interleave with it. Outside one, each function is a
 * single statement (or a read and a conditional write on the one connection), atomic on its own.
 * Every other query of the store goes through Kysely.
 */
import { randomUUID } from 'node:crypto';
import type { JobState, ProviderName } from '../domain.js';
import type { Store } from './database.js';
import { SETTLED_BY_ROUTING, type NewCancellationJob } from './jobs.js';

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

/**
 * A job voided only because routing said the payment is settled elsewhere (or by Specter), when
 * routing no longer says so: it awaits a person again as an unrouted payment (a routing rule that
 * covers it then gives it its provider, as for any unrouted job).
 */
export function unsettleJob(store: Store, id: number, message: string, now: string): boolean {
  const result = store.sqlite
    .prepare(
      `UPDATE cancellation_jobs SET state = 'failed', failure_reason = 'unrouted', last_error_code = 'UNROUTED',
         last_error_message = ?, void_reason = NULL, updated_at = ?, completed_at = ?
       WHERE id = ? AND state = 'voided' AND void_reason IN (${SETTLED_BY_ROUTING.map(() => '?').join(', ')})`,
    )
    .run(message, now, now, id, ...SETTLED_BY_ROUTING);
  return result.changes === 1;
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

export type CancelVanishedResult =
  | { kind: 'queued'; job: EnsuredJob & { provider: ProviderName; providerRef: string } }
  | { kind: 'already_queued' }
  | { kind: 'not_found' }
  | { kind: 'not_awaiting' }
  | { kind: 'no_provider'; reason: string };

/**
 * A person confirms a vanished order's payment must be cancelled: one transaction queues the job
 * (with its idempotency key) and stops reporting the order as awaiting.
 */
export function requestVanishedCancel(store: Store, orderNo: string, now: string): CancelVanishedResult {
  const tx = store.sqlite.transaction((): CancelVanishedResult => {
    const row = store.sqlite
      .prepare(
        `SELECT order_no, vanish_status, route_kind, provider, provider_ref, route_note, payment_key,
           pay_type_identifier, pay_type_reference, amount, currency
         FROM order_snapshots WHERE order_no = ?`,
      )
      .get(orderNo) as
      | {
          vanish_status: string | null;
          route_kind: string;
          provider: ProviderName | null;
          provider_ref: string | null;
          route_note: string | null;
          payment_key: string | null;
          pay_type_identifier: string | null;
          pay_type_reference: string | null;
          amount: string | null;
          currency: string | null;
        }
      | undefined;
    if (!row) return { kind: 'not_found' };
    if (row.vanish_status !== 'awaiting') return { kind: 'not_awaiting' };
    if (row.route_kind !== 'provider' || !row.provider || !row.provider_ref || !row.payment_key) {
      return { kind: 'no_provider', reason: row.route_note ?? `the order is ${row.route_kind}` };
    }
    // One job per payment: a payment that already has one (another order's) is not asked twice.
    const provider = row.provider;
    const providerRef = row.provider_ref;
    const job = ensureJob(
      store,
      {
        orderNo,
        paymentKey: row.payment_key,
        provider,
        providerRef,
        payTypeIdentifier: row.pay_type_identifier,
        payTypeReference: row.pay_type_reference,
        amount: row.amount,
        currency: row.currency,
        reason: 'vanished',
      },
      now,
    );
    store.sqlite.prepare("UPDATE order_snapshots SET vanish_status = 'cancel_requested', vanish_resolved_at = ? WHERE order_no = ?").run(now, orderNo);
    return job ? { kind: 'queued', job: { ...job, provider, providerRef } } : { kind: 'already_queued' };
  });
  return tx.immediate();
}
