/**
 * What each vanished order's provider last said about the money (migration 0005), and the orders
 * whose read is due again. Kysely only: the queries hold on SQLite and on PostgreSQL alike.
 */
import type { PaymentState, ProviderName } from '../domain.js';
import type { Store } from './database.js';

export interface StoredPaymentRead {
  orderNo: string;
  provider: ProviderName;
  providerRef: string;
  state: PaymentState;
  reservedAmount: string | null;
  currency: string | null;
  expiresAt: string | null;
  detail: string;
  readAt: string;
}

/** One row per order: a new read replaces the last. */
export async function recordPaymentReads(store: Store, reads: readonly StoredPaymentRead[]): Promise<void> {
  if (reads.length === 0) return;
  await store.write(async (tx) => {
    for (const r of reads) {
      const row = {
        order_no: r.orderNo,
        provider: r.provider,
        provider_ref: r.providerRef,
        state: r.state,
        reserved_amount: r.reservedAmount,
        currency: r.currency,
        expires_at: r.expiresAt,
        detail: r.detail,
        read_at: r.readAt,
      };
      const { order_no: _key, ...update } = row;
      await tx
        .insertInto('payment_reads')
        .values(row)
        .onConflict((oc) => oc.column('order_no').doUpdateSet(update))
        .execute();
    }
  });
}

/**
 * Vanished orders awaiting a person whose payment is due to be asked again: never read, or last
 * read before `readBefore` (ISO 8601 UTC, so text order is time order). Oldest read first, at most
 * `limit`; only orders routed to a provider.
 */
export async function listAwaitingDueForRead(
  store: Store,
  options: { readBefore: string; limit: number },
): Promise<Array<{ orderNo: string; provider: ProviderName; providerRef: string }>> {
  const rows = await store.db
    .selectFrom('order_snapshots as s')
    .leftJoin('payment_reads as r', 'r.order_no', 's.order_no')
    .select(['s.order_no', 's.provider', 's.provider_ref', 'r.read_at'])
    .where('s.vanish_status', '=', 'awaiting')
    .where('s.route_kind', '=', 'provider')
    .where('s.provider', 'is not', null)
    .where('s.provider_ref', 'is not', null)
    .where((eb) => eb.or([eb('r.read_at', 'is', null), eb('r.read_at', '<', options.readBefore)]))
    .orderBy('r.read_at')
    .orderBy('s.order_no')
    .limit(options.limit)
    .execute();
  return rows.flatMap((r) =>
    r.provider !== null && r.provider_ref !== null ? [{ orderNo: r.order_no, provider: r.provider as ProviderName, providerRef: r.provider_ref }] : [],
  );
}

/** The last read of one order's payment, if any. */
export async function lastPaymentRead(store: Store, orderNo: string): Promise<StoredPaymentRead | null> {
  const r = await store.db.selectFrom('payment_reads').selectAll().where('order_no', '=', orderNo).executeTakeFirst();
  return r
    ? {
        orderNo: r.order_no,
        provider: r.provider,
        providerRef: r.provider_ref,
        state: r.state,
        reservedAmount: r.reserved_amount,
        currency: r.currency,
        expiresAt: r.expires_at,
        detail: r.detail,
        readAt: r.read_at,
      }
    : null;
}
