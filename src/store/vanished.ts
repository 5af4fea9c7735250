/** Vanished orders awaiting a person, and what a person does about them. */
import type { ProviderName } from '../domain.js';
import type { Store } from './database.js';

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
