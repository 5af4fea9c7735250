/**
 * Reading the snapshots: the compact index the diff works on, and the full rows of the few
 * orders a cycle acts on. The cycle's one transaction that writes them is in commit.ts.
 */
import type { OrderSnapshot, OrderStatus, ProviderName, Route, SnapshotPayment, SnapshotSummary } from '../domain.js';
import type { OrderWindow } from '../domain.js';
import { rawPaymentOf } from '../routing/payment.js';
import type { Store } from './database.js';
import type { SnapshotRow } from './schema.js';

function routeFromRow(row: Pick<SnapshotRow, 'route_kind' | 'provider' | 'provider_ref' | 'route_note'>): Route {
  if (row.route_kind === 'provider' && row.provider && row.provider_ref) {
    return { kind: 'provider', provider: row.provider as ProviderName, providerRef: row.provider_ref };
  }
  if (row.route_kind === 'handledBySpecter') return { kind: 'handledBySpecter' };
  if (row.route_kind === 'elsewhere') return { kind: 'elsewhere' };
  return { kind: 'unrouted', reason: row.route_note ?? 'unrouted' };
}

function snapshotFromRow(row: SnapshotRow): OrderSnapshot {
  return {
    orderNo: row.order_no,
    orderDate: row.order_date,
    status: row.status,
    statusId: row.status_id,
    deliveryStatus: row.delivery_status,
    payTypeIdentifier: row.pay_type_identifier,
    payTypeReference: row.pay_type_reference,
    route: routeFromRow(row),
    paymentKey: row.payment_key,
    rawPayment: rawPaymentOf({ payTypeIdentifier: row.pay_type_identifier, payTypeReference: row.pay_type_reference }),
    amount: row.amount,
    currency: row.currency,
    contentHash: row.content_hash,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    cancelledAt: row.cancelled_at,
    vanishedAt: row.vanished_at,
    vanishStatus: row.vanish_status,
  };
}

/** One string per status for 100,000 summaries, not one each (the drivers hand out fresh strings). */
const STATUSES: Partial<Record<string, OrderStatus>> = { open: 'open', cancelled: 'cancelled', delivered: 'delivered' };

/** Selected under the summary's own names: each row the driver builds IS the summary (no second object per order). */
const SUMMARY_COLUMNS = [
  'order_no as orderNo',
  'order_date as orderDate',
  'content_hash as contentHash',
  'status',
  'cancelled_at as cancelledAt',
  'vanished_at as vanishedAt',
  'vanish_status as vanishStatus',
] as const;

/**
 * The compact index the diff works on (SnapshotSummary), for every tracked order, plus the kept
 * snapshots of orders that left the window and are dated inside `window` again (a lengthened
 * lookback): those are marked `reentering`, so the diff matches them instead of taking them for
 * new orders. Seven columns, not the 22 of a row, and none of the payment's (read for the few
 * that need them: loadSnapshotPayments); the three timestamps are null for nearly every order,
 * so each summary holds three strings (both reads use a covering or date index, migration 0003).
 */
export async function loadSnapshotIndex(store: Store, window?: OrderWindow): Promise<Map<string, SnapshotSummary>> {
  const index = new Map<string, SnapshotSummary>();
  const select = () => store.db.selectFrom('order_snapshots').select(SUMMARY_COLUMNS);
  const add = (rows: SnapshotSummary[], reentering: boolean): void => {
    for (const summary of rows) {
      summary.status = STATUSES[summary.status] ?? summary.status;
      if (reentering) summary.reentering = true;
      index.set(summary.orderNo, summary);
    }
  };
  add(await select().where('left_window_at', 'is', null).execute(), false);
  if (window) add(await select().where('left_window_at', 'is not', null).where('order_date', '>=', window.fromDate).execute(), true);
  return index;
}

/** Orders per `IN (…)` query: far below SQLite's and PostgreSQL's bound-parameter limits. */
const PAYMENTS_PER_QUERY = 1000;

/** The stored payments of the given orders (the few the diff judges a transition of: diff.ts ordersNeedingPayment). */
export async function loadSnapshotPayments(store: Store, orderNos: readonly string[]): Promise<Map<string, SnapshotPayment>> {
  const payments = new Map<string, SnapshotPayment>();
  const unique = [...new Set(orderNos)];
  for (let start = 0; start < unique.length; start += PAYMENTS_PER_QUERY) {
    const rows = await store.db
      .selectFrom('order_snapshots')
      .select(['order_no', 'payment_key', 'pay_type_identifier', 'pay_type_reference'])
      .where('order_no', 'in', unique.slice(start, start + PAYMENTS_PER_QUERY))
      .execute();
    for (const row of rows) {
      payments.set(row.order_no, {
        paymentKey: row.payment_key,
        rawPayment: rawPaymentOf({ payTypeIdentifier: row.pay_type_identifier, payTypeReference: row.pay_type_reference }),
      });
    }
  }
  return payments;
}

/** Full snapshots of the given orders (the few a cycle acts on), in the order asked. */
export async function loadSnapshots(store: Store, orderNos: readonly string[]): Promise<OrderSnapshot[]> {
  if (orderNos.length === 0) return [];
  const rows = await store.db
    .selectFrom('order_snapshots')
    .selectAll()
    .where('order_no', 'in', [...new Set(orderNos)])
    .execute();
  const byNo = new Map(rows.map((row) => [row.order_no, row]));
  return orderNos.flatMap((orderNo) => {
    const row = byNo.get(orderNo);
    return row ? [snapshotFromRow(row)] : [];
  });
}
