/**
 * From what Specter says to what the worker tracks: the status map (configurable, since it is
 * assumed — docs/specter.md), the route, and a content hash so an unchanged order costs one string
 * comparison and no write.
 */
import { hash } from 'node:crypto';
import type { SpecterSettings } from '../config/types.js';
import type { OrderStatus, Route, SnapshotSummary, SpecterOrder, TrackedOrder } from '../domain.js';
import { paymentKeyOf } from '../routing/payment.js';
import { routePayment, type CompiledRule } from '../routing/route.js';

export interface StatusMap {
  cancelled: ReadonlySet<string>;
  delivered: ReadonlySet<string>;
}

export function compileStatusMap(map: SpecterSettings['statusMap']): StatusMap {
  return { cancelled: new Set(map.cancelledStatusIds), delivered: new Set(map.deliveredDeliveryStatuses) };
}

function mapStatus(statusId: string | null, deliveryStatus: string | null, map: StatusMap): OrderStatus {
  if (statusId !== null && map.cancelled.has(statusId)) return 'cancelled';
  if (deliveryStatus !== null && map.delivered.has(deliveryStatus)) return 'delivered';
  return 'open';
}

function routeKey(route: Route): string {
  switch (route.kind) {
    case 'provider':
      return `provider:${route.provider}:${route.providerRef}`;
    case 'handledBySpecter':
      return 'handledBySpecter';
    case 'elsewhere':
      return 'elsewhere';
    case 'unrouted':
      return `unrouted:${route.reason}`;
  }
}

/**
 * A copy of `text` that shares no memory with the page it was parsed from. V8 keeps a substring
 * of 13 or more characters as a slice of its parent, so one kept orderDate or reference would keep
 * its whole ~170 KB page alive: ~35 MB of page text held through the diff at 100,000 orders
 * (bench/RESULTS.md). Short strings are copied by V8 already.
 */
function detached(text: string | null): string | null {
  return text !== null && text.length >= 13 ? Buffer.from(text, 'utf8').toString('utf8') : text;
}

/** A missing value in the hash input: NUL, which no field carries. */
function nul(value: string | null): string {
  return value ?? '\u0000';
}

/**
 * `known`: the order's snapshot summary, if any. When nothing changed (equal content hash), the
 * tracked order takes the summary's own orderDate and hash strings instead of fresh copies: at
 * 100,000 unchanged orders that is ~10 MB not allocated and not kept.
 */
export function trackOrder(
  specterOrder: SpecterOrder,
  statusMap: StatusMap,
  rules: readonly CompiledRule[],
  known?: Pick<SnapshotSummary, 'orderDate' | 'contentHash'>,
): TrackedOrder {
  const payment = specterOrder.payment;
  const payTypeIdentifier = payment?.payTypeIdentifier ?? null;
  const payTypeReference = detached(payment?.payTypeReference ?? null);
  // Routed on the detached reference: the route's providerRef is kept (it is that very string).
  const route = routePayment(
    payment && {
      payTypeIdentifier,
      payTypeReference,
      payTypeIdentifierPaySystemUser: payment.payTypeIdentifierPaySystemUser,
      currency: payment.currency,
      totalIncVat: payment.totalIncVat,
    },
    rules,
  );
  const status = mapStatus(specterOrder.statusId, specterOrder.deliveryStatus, statusMap);
  const amount = payment?.totalIncVat ?? null;
  const currency = payment?.currency ?? null;
  // The route is part of the hash: a routing change rewrites the affected snapshots once.
  // crypto.hash (Node ≥ 20.12): one call, no Hash object per order — half the cost at 100,000.
  // Concatenated directly (no array, no map, no join per order); same bytes as the joined list.
  const contentHash = hash(
    'sha1',
    `${specterOrder.orderDate}\u0001${status}\u0001${nul(specterOrder.statusId)}\u0001${nul(specterOrder.deliveryStatus)}\u0001${nul(payTypeIdentifier)}` +
      `\u0001${nul(payTypeReference)}\u0001${routeKey(route)}\u0001${nul(amount)}\u0001${nul(currency)}`,
    'base64',
  );
  const unchanged = known !== undefined && known.contentHash === contentHash;
  // Derived from the route and the reference, both in the hash: no separate hash input.
  const paymentKey = paymentKeyOf({ orderNo: specterOrder.orderNo, route, payTypeIdentifier, payTypeReference });
  return {
    orderNo: specterOrder.orderNo,
    orderDate: unchanged && known.orderDate === specterOrder.orderDate ? known.orderDate : detached(specterOrder.orderDate)!,
    status,
    statusId: specterOrder.statusId,
    deliveryStatus: specterOrder.deliveryStatus,
    payTypeIdentifier,
    payTypeReference,
    route,
    paymentKey,
    amount,
    currency,
    contentHash: unchanged ? known.contentHash : contentHash,
  };
}
