/**
 * Specter orders for the sandbox, made one way: `makeOrder` with what the test cares about, the
 * rest ordinary (open, paid, a couple of days old, inside the window).
 */
import { randomUUID } from 'node:crypto';
import { formatStockholm } from '../../src/sandbox/specter/seed.js';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';

export const DAY_MS = 86_400_000;

let nextOrderNo = 700_000 + Math.floor(Math.random() * 1000) * 100;

/** A fresh orderNo, unique in this test process. */
function freshOrderNo(): string {
  nextOrderNo += 1;
  return String(nextOrderNo);
}

let nextQliroId = 5_000_000 + Math.floor(Math.random() * 100_000) * 10;

/**
 * The payment method (payTypeIdentifier), by the package's default routing: K → klarna,
 * QL → qliro, CL and WA → walley, SP → handled by Specter (Svea), SCH → handled by Specter,
 * SW → no rule (unrouted).
 */
export type Method = 'K' | 'QL' | 'CL' | 'WA' | 'SP' | 'SCH' | 'SW';

interface OrderSpec {
  orderNo?: string;
  /** Null: an old order without a payment. Default: Klarna. */
  method?: Method | null;
  /** Default: a fresh reference fitting the method (QLIRO-n for QL, a UUID otherwise). */
  reference?: string;
  statusId?: string;
  deliveryStatus?: string | null;
  /** When the order was placed, in days before now (default 2); `placedAt` wins. */
  daysAgo?: number;
  /** When the order was placed, in ms since the epoch. */
  placedAt?: number;
  /** Default: a minute after it was placed. */
  lastChangedAt?: number;
  externalOrderNo?: string;
  /** Default: a value of the kind the method's provider uses. */
  paySystemUser?: string;
  amount?: string;
  currency?: string;
  customerName?: string | null;
}

/** The providerRef the worker derives from a reference (the QLIRO- prefix stripped). */
export function providerRefOf(order: SandboxOrder): string {
  const ref = order.payment?.payTypeReference ?? '';
  return ref.startsWith('QLIRO-') ? ref.slice('QLIRO-'.length) : ref;
}

/** A Specter order for the sandbox, in the window, open, paid with `method` (default Klarna). */
export function makeOrder(spec: OrderSpec = {}): SandboxOrder {
  const method = spec.method === undefined ? 'K' : spec.method;
  const orderNo = spec.orderNo ?? freshOrderNo();
  const placed = spec.placedAt ?? Date.now() - (spec.daysAgo ?? 2) * DAY_MS;
  return {
    orderNo,
    externalOrderNo: spec.externalOrderNo ?? `WEB-${orderNo}`,
    orderDate: formatStockholm(placed),
    lastChanged: formatStockholm(spec.lastChangedAt ?? placed + 60_000),
    statusId: spec.statusId ?? '2',
    deliveryStatus: spec.deliveryStatus === undefined ? 'N' : spec.deliveryStatus,
    customerName: spec.customerName === undefined ? 'Karl Ström' : spec.customerName,
    payment:
      method === null
        ? null
        : {
            payTypeIdentifier: method,
            payTypeReference: spec.reference ?? freshReference(method, orderNo),
            payTypeIdentifierPaySystemUser: spec.paySystemUser ?? (method === 'QL' ? '12345' : method === 'K' ? 'PK04711_8f2c1d' : '7001'),
            currency: spec.currency ?? 'SEK',
            totalIncVat: spec.amount ?? '1249.00',
          },
  };
}

function freshReference(method: Method, orderNo: string): string {
  if (method === 'QL') {
    nextQliroId += 1;
    return `QLIRO-${nextQliroId}`;
  }
  if (method === 'SP') return String(10_000_000 + Number(orderNo));
  return randomUUID();
}
