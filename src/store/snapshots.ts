/**
 * Reading the snapshots: the compact index the diff works on, and the full rows of the few
 * orders a cycle acts on. The cycle's one transaction that writes them is in commit.ts.
 */
import type { OrderSnapshot, OrderStatus, ProviderName, Route, SnapshotSummary, VanishStatus } from '../domain.js';
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

/** One string per status for 100,000 summaries, not one each (SQLite hands out fresh strings). */
const STATUSES: Partial<Record<string, OrderStatus>> = { open: 'open', cancelled: 'cancelled', delivered: 'delivered' };

type SummaryTuple = [string, string, string, OrderStatus, string | null, string | null, string | null, string | null, string | null, VanishStatus | null];
const SUMMARY_COLUMNS =
  'order_no, order_date, content_hash, status, payment_key, pay_type_identifier, pay_type_reference, cancelled_at, vanished_at, vanish_status';

/**
 * The compact index the diff works on (SnapshotSummary), for every tracked order, plus the kept
 * snapshots of orders that left the window and are dated inside `window` again (a lengthened
 * lookback): those are marked `reentering`, so the diff matches them instead of taking them for
 * new orders. Raw rows (arrays) read one at a time: no 22-column row objects, no full snapshots
 * for 100,000 orders (both reads use a covering or date index, migration 0003).
 */
export function loadSnapshotIndex(store: Store, window?: OrderWindow): Map<string, SnapshotSummary> {
  const index = new Map<string, SnapshotSummary>();
  const add = (rows: IterableIterator<SummaryTuple>, reentering: boolean): void => {
    for (const [orderNo, orderDate, contentHash, status, paymentKey, payTypeIdentifier, payTypeReference, cancelledAt, vanishedAt, vanishStatus] of rows) {
      const rawPayment = rawPaymentOf({ payTypeIdentifier, payTypeReference });
      const summary: SnapshotSummary = {
        orderNo,
        orderDate,
        contentHash,
        status: STATUSES[status] ?? status,
        paymentKey,
        rawPayment,
        cancelledAt,
        vanishedAt,
        vanishStatus,
      };
      if (reentering) summary.reentering = true;
      index.set(orderNo, summary);
    }
  };
  add(
    store.sqlite.prepare(`SELECT ${SUMMARY_COLUMNS} FROM order_snapshots WHERE left_window_at IS NULL`).raw(true).iterate() as IterableIterator<SummaryTuple>,
    false,
  );
  if (window) {
    add(
      store.sqlite
        .prepare(`SELECT ${SUMMARY_COLUMNS} FROM order_snapshots WHERE left_window_at IS NOT NULL AND order_date >= ?`)
        .raw(true)
        .iterate(window.fromDate) as IterableIterator<SummaryTuple>,
      true,
    );
  }
  return index;
}

/** Full snapshots of the given orders (the few a cycle acts on), in the order asked. */
export function loadSnapshots(store: Store, orderNos: readonly string[]): OrderSnapshot[] {
  const select = store.sqlite.prepare('SELECT * FROM order_snapshots WHERE order_no = ?');
  return orderNos.flatMap((orderNo) => {
    const row = select.get(orderNo) as SnapshotRow | undefined;
    return row ? [snapshotFromRow(row)] : [];
  });
}
