/**
 * From what Specter says to what the worker tracks: the status map (configurable, since it is
 * assumed — docs/specter.md), the route, and a content hash so an unchanged order costs one string
 * comparison and no write.
 */
import { hash } from 'node:crypto';
import type { SpecterSettings } from '../config/types.js';
import type { OrderStatus, Route, SpecterOrder, TrackedOrder } from '../domain.js';
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

export function trackOrder(specterOrder: SpecterOrder, statusMap: StatusMap, rules: readonly CompiledRule[]): TrackedOrder {
  const order: SpecterOrder = {
    ...specterOrder,
    orderDate: detached(specterOrder.orderDate) ?? specterOrder.orderDate,
    payment: specterOrder.payment && {
      ...specterOrder.payment,
      payTypeReference: detached(specterOrder.payment.payTypeReference),
    },
  };
  const route = routePayment(order.payment, rules);
  const status = mapStatus(order.statusId, order.deliveryStatus, statusMap);
  const payTypeIdentifier = order.payment?.payTypeIdentifier ?? null;
  const payTypeReference = order.payment?.payTypeReference ?? null;
  const amount = order.payment?.totalIncVat ?? null;
  const currency = order.payment?.currency ?? null;
  // The route is part of the hash: a routing change rewrites the affected snapshots once.
  // crypto.hash (Node ≥ 20.12): one call, no Hash object per order — half the cost at 100,000.
  const contentHash = hash(
    'sha1',
    [order.orderDate, status, order.statusId, order.deliveryStatus, payTypeIdentifier, payTypeReference, routeKey(route), amount, currency]
      .map((v) => v ?? '\u0000')
      .join('\u0001'),
    'base64',
  );
  return {
    orderNo: order.orderNo,
    orderDate: order.orderDate,
    status,
    statusId: order.statusId,
    deliveryStatus: order.deliveryStatus,
    payTypeIdentifier,
    payTypeReference,
    route,
    // Derived from the route and the reference, both in the hash: no separate hash input.
    paymentKey: paymentKeyOf({ orderNo: order.orderNo, route, payTypeIdentifier, payTypeReference }),
    amount,
    currency,
    contentHash,
  };
}
