/** Vanished orders awaiting a person, and what a person does about them. */
import type { ProviderName } from '../domain.js';
import type { Store } from './database.js';
import { ensureJob, type EnsuredJob } from './outbox.js';

export interface VanishedOrder {
  orderNo: string;
  orderDate: string;
  provider: ProviderName | null;
  providerRef: string | null;
  amount: string | null;
  currency: string | null;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
  vanishedAt: string;
  /** Why it waits for a person rather than being cancelled (e.g. a live twin shares its reference). */
  note: string | null;
}

export async function listVanishedAwaiting(store: Store): Promise<VanishedOrder[]> {
  const rows = await store.db
    .selectFrom('order_snapshots')
    .select([
      'order_no',
      'order_date',
      'provider',
      'provider_ref',
      'amount',
      'currency',
      'pay_type_identifier',
      'pay_type_reference',
      'vanished_at',
      'vanish_note',
    ])
    .where('vanish_status', '=', 'awaiting')
    .orderBy('vanished_at')
    .orderBy('order_no')
    .execute();
  return rows.map((r) => ({
    orderNo: r.order_no,
    orderDate: r.order_date,
    provider: r.provider as ProviderName | null,
    providerRef: r.provider_ref,
    amount: r.amount,
    currency: r.currency,
    payTypeIdentifier: r.pay_type_identifier,
    payTypeReference: r.pay_type_reference,
    vanishedAt: r.vanished_at ?? '',
    note: r.vanish_note,
  }));
}

export type ResolveResult = 'resolved' | 'not_found' | 'not_awaiting';

export async function resolveVanished(store: Store, orderNo: string, note: string | null, now: string): Promise<ResolveResult> {
  const result = await store.db
    .updateTable('order_snapshots')
    .set({ vanish_status: 'resolved', vanish_resolved_at: now, vanish_note: note })
    .where('order_no', '=', orderNo)
    .where('vanish_status', '=', 'awaiting')
    .executeTakeFirst();
  if (result.numUpdatedRows === 1n) return 'resolved';
  const exists = await store.db.selectFrom('order_snapshots').select('order_no').where('order_no', '=', orderNo).executeTakeFirst();
  return exists ? 'not_awaiting' : 'not_found';
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
