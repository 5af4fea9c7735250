/** Vanished orders awaiting a person, and what a person does about them. */
import { sql } from './kysely.js';
import type { PaymentState, ProviderName } from '../domain.js';
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
  /**
   * What the provider last said about the money (docs/interface.md, "The payment's state, where a
   * person is asked"); null while it was never asked (its provider is not configured, say).
   */
  paymentState: PaymentState | null;
  /** Still reserved, major units ("1249.00"), where the provider tells it. */
  reservedAmount: string | null;
  /** When the reservation lapses (ISO 8601, UTC), where the provider tells it. */
  expiresAt: string | null;
  /** When the provider was last asked, and what it said (or why the read failed). */
  paymentReadAt: string | null;
  paymentDetail: string | null;
}

/**
 * Soonest expiry first (the reservation a person can still release before it lapses is the one to
 * look at now), then those whose provider tells no expiry, oldest vanished first.
 */
export async function listVanishedAwaiting(store: Store): Promise<VanishedOrder[]> {
  const rows = await store.db
    .selectFrom('order_snapshots as s')
    .leftJoin('payment_reads as r', 'r.order_no', 's.order_no')
    .select([
      's.order_no',
      's.order_date',
      's.provider',
      's.provider_ref',
      's.amount',
      's.currency',
      's.pay_type_identifier',
      's.pay_type_reference',
      's.vanished_at',
      's.vanish_note',
      'r.state',
      'r.reserved_amount',
      'r.expires_at',
      'r.read_at',
      'r.detail',
    ])
    .where('s.vanish_status', '=', 'awaiting')
    // CASE rather than NULLS LAST: the same text on SQLite and PostgreSQL.
    .orderBy(sql`CASE WHEN r.expires_at IS NULL THEN 1 ELSE 0 END`)
    .orderBy('r.expires_at')
    .orderBy('s.vanished_at')
    .orderBy('s.order_no')
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
    paymentState: r.state,
    // Only a reserved payment has anything still reserved or an expiry to tell.
    reservedAmount: r.state === 'reserved' ? r.reserved_amount : null,
    expiresAt: r.state === 'reserved' ? r.expires_at : null,
    paymentReadAt: r.read_at,
    paymentDetail: r.detail,
  }));
}

export type ResolveResult = 'resolved' | 'not_found' | 'not_awaiting';

export async function resolveVanished(store: Store, orderNo: string, note: string | null, now: string): Promise<ResolveResult> {
  // Through write(): a cycle's auto-resolve is fenced like its other writes.
  const result = await store.write((tx) =>
    tx
      .updateTable('order_snapshots')
      .set({ vanish_status: 'resolved', vanish_resolved_at: now, vanish_note: note })
      .where('order_no', '=', orderNo)
      .where('vanish_status', '=', 'awaiting')
      .executeTakeFirst(),
  );
  if (result.numUpdatedRows === 1n) return 'resolved';
  const exists = await store.db.selectFrom('order_snapshots').select('order_no').where('order_no', '=', orderNo).executeTakeFirst();
  return exists ? 'not_awaiting' : 'not_found';
}
