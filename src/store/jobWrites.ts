/**
 * The job writes the cycle's one commit makes (commit.ts), and a person's `vanished cancel`: each
 * takes the transaction it runs in (`tx`, from store.write()) and is a conditional statement or
 * two on it, so a job never changes under a decision made from a read in the same transaction.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { JobState, ProviderName } from '../domain.js';
import type { Store } from './database.js';
import { SETTLED_BY_ROUTING, type NewCancellationJob } from './jobs.js';
import type { Database } from './schema.js';

type Tx = Kysely<Database>;

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
export async function ensureJob(tx: Tx, job: NewCancellationJob, at: string): Promise<EnsuredJob | null> {
  const state: JobState = job.hold ? 'failed' : 'pending';
  const common = {
    order_no: job.orderNo,
    provider: job.provider,
    provider_ref: job.providerRef,
    pay_type_identifier: job.payTypeIdentifier,
    pay_type_reference: job.payTypeReference,
    amount: job.amount,
    currency: job.currency,
    reason: job.reason,
    state,
    attempts: 0,
    next_attempt_at: at,
    failure_reason: job.hold?.reason ?? null,
    last_error_code: job.hold?.code ?? null,
    last_error_message: job.hold?.message ?? null,
    updated_at: at,
    completed_at: job.hold ? at : null,
  };
  const rearmed = await tx
    .updateTable('cancellation_jobs')
    .set({ ...common, void_reason: null, twin_override: 0, accepted_at: null, confirm_deadline_at: null, provider_transaction_id: null })
    .where('payment_key', '=', job.paymentKey)
    .where('state', '=', 'voided')
    .returning(['id', 'idempotency_key'])
    .executeTakeFirst();
  if (rearmed) return { ...job, id: rearmed.id, idempotencyKey: rearmed.idempotency_key, rearmed: true };

  const idempotencyKey = randomUUID();
  const created = await tx
    .insertInto('cancellation_jobs')
    .values({ ...common, payment_key: job.paymentKey, idempotency_key: idempotencyKey, created_at: at })
    .onConflict((oc) => oc.column('payment_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return created ? { ...job, id: created.id, idempotencyKey, rearmed: false } : null;
}

/** States a job can be voided from: not sent yet, in flight when a process died, or awaiting a person. */
const VOIDABLE: readonly JobState[] = ['pending', 'sending', 'failed'];

/** Never send it: what it was made from no longer holds. False when the job had moved on. */
export async function voidJob(tx: Tx, id: number, reason: string, now: string): Promise<boolean> {
  const result = await tx
    .updateTable('cancellation_jobs')
    .set({ state: 'voided', void_reason: reason, updated_at: now, completed_at: now })
    .where('id', '=', id)
    .where('state', 'in', VOIDABLE)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export type RerouteResult = 'rerouted' | 'duplicate' | 'moved';

/**
 * Routing now covers an unrouted payment's job: it gets its provider and is queued, keeping its
 * idempotency key from then on. If the routed payment already has a job of its own (another
 * order's), that job covers it and this one is voided as a duplicate.
 */
export async function rerouteJob(
  tx: Tx,
  id: number,
  route: { provider: ProviderName; providerRef: string; paymentKey: string },
  now: string,
): Promise<RerouteResult> {
  const taken = await tx.selectFrom('cancellation_jobs').select('id').where('payment_key', '=', route.paymentKey).where('id', '<>', id).executeTakeFirst();
  if (taken) return (await voidJob(tx, id, 'duplicate_payment', now)) ? 'duplicate' : 'moved';
  const result = await tx
    .updateTable('cancellation_jobs')
    .set({
      provider: route.provider,
      provider_ref: route.providerRef,
      payment_key: route.paymentKey,
      state: 'pending',
      failure_reason: null,
      last_error_code: null,
      last_error_message: null,
      attempts: 0,
      next_attempt_at: now,
      updated_at: now,
      completed_at: null,
    })
    .where('id', '=', id)
    .where('state', '=', 'failed')
    .where('failure_reason', '=', 'unrouted')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n ? 'rerouted' : 'moved';
}

/**
 * A job voided only because routing said the payment is settled elsewhere (or by Specter), when
 * routing no longer says so: it awaits a person again as an unrouted payment (a routing rule that
 * covers it then gives it its provider, as for any unrouted job).
 */
export async function unsettleJob(tx: Tx, id: number, message: string, now: string): Promise<boolean> {
  const result = await tx
    .updateTable('cancellation_jobs')
    .set({
      state: 'failed',
      failure_reason: 'unrouted',
      last_error_code: 'UNROUTED',
      last_error_message: message,
      void_reason: null,
      updated_at: now,
      completed_at: now,
    })
    .where('id', '=', id)
    .where('state', '=', 'voided')
    .where('void_reason', 'in', [...SETTLED_BY_ROUTING])
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** A live-twin hold whose twins are all cancelled or gone: the payment's cause holds now; queue it. */
export async function releaseHold(tx: Tx, id: number, now: string): Promise<boolean> {
  const result = await tx
    .updateTable('cancellation_jobs')
    .set({
      state: 'pending',
      failure_reason: null,
      last_error_code: null,
      last_error_message: null,
      attempts: 0,
      next_attempt_at: now,
      updated_at: now,
      completed_at: null,
    })
    .where('id', '=', id)
    .where('state', '=', 'failed')
    .where('last_error_code', '=', 'LIVE_TWIN')
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
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
export function requestVanishedCancel(store: Store, orderNo: string, now: string): Promise<CancelVanishedResult> {
  return store.write(async (tx): Promise<CancelVanishedResult> => {
    const row = await tx
      .selectFrom('order_snapshots')
      .select([
        'vanish_status',
        'route_kind',
        'provider',
        'provider_ref',
        'route_note',
        'payment_key',
        'pay_type_identifier',
        'pay_type_reference',
        'amount',
        'currency',
      ])
      .where('order_no', '=', orderNo)
      .executeTakeFirst();
    if (!row) return { kind: 'not_found' };
    if (row.vanish_status !== 'awaiting') return { kind: 'not_awaiting' };
    if (row.route_kind !== 'provider' || !row.provider || !row.provider_ref || !row.payment_key) {
      return { kind: 'no_provider', reason: row.route_note ?? `the order is ${row.route_kind}` };
    }
    // One job per payment: a payment that already has one (another order's) is not asked twice.
    const provider = row.provider as ProviderName;
    const providerRef = row.provider_ref;
    const job = await ensureJob(
      tx,
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
    await tx.updateTable('order_snapshots').set({ vanish_status: 'cancel_requested', vanish_resolved_at: now }).where('order_no', '=', orderNo).execute();
    return job ? { kind: 'queued', job: { ...job, provider, providerRef } } : { kind: 'already_queued' };
  });
}
