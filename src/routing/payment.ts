/**
 * A cancellation belongs to a payment, not an order (docs/money-safety.md): one payment gets at
 * most one job and one idempotency key, however many orders carry it, and an order paid again
 * under a new reference carries a new payment. The payment key names that unit.
 */
import type { Route } from '../domain.js';

export interface PaymentFields {
  orderNo: string;
  route: Route;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
}

/**
 * "<provider>:<providerRef>" for a routed payment. A payment no route covers is still a payment a
 * person must hear about: "unrouted:<payTypeIdentifier>:<payTypeReference>", or, with no
 * reference to tell it apart, "unrouted:order:<orderNo>". Null when there is nothing to cancel:
 * an order with no payment at all, one Specter releases itself, one settled elsewhere.
 */
export function paymentKeyOf(order: PaymentFields): string | null {
  const { route } = order;
  switch (route.kind) {
    case 'provider':
      return `${route.provider}:${route.providerRef}`;
    case 'handledBySpecter':
    case 'elsewhere':
      return null;
    case 'unrouted': {
      const identifier = order.payTypeIdentifier ?? '';
      const reference = order.payTypeReference ?? '';
      if (reference !== '') return `unrouted:${identifier}:${reference}`;
      if (identifier !== '') return `unrouted:order:${order.orderNo}`;
      return null;
    }
  }
}

/**
 * The payment as Specter gave it, whatever routing makes of it. "Paid again under a new reference"
 * is judged on this, never on the payment key: a routing change gives the same payment a new key
 * (unrouted → klarna:…), and that is not a new payment to cancel.
 */
export function rawPaymentOf(order: Pick<PaymentFields, 'payTypeIdentifier' | 'payTypeReference'>): string {
  return `${order.payTypeIdentifier ?? ''}:${order.payTypeReference ?? ''}`;
}

/** What can carry a payment: an order (tracked or snapshot) or a job. */
export interface PaymentCarrier {
  paymentKey: string | null;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
}

/**
 * The names a payment goes by: its routed key, and the payment as Specter gave it. Twins are
 * matched on either, because routing can change between the cycle that made a job and the one
 * that sends it (a rule removed turns klarna:… into unrouted:…), while the money is the same.
 */
function identitiesOf(payment: PaymentCarrier): string[] {
  const ids: string[] = [];
  if (payment.paymentKey !== null) ids.push(`key:${payment.paymentKey}`);
  if ((payment.payTypeReference ?? '') !== '') ids.push(`raw:${rawPaymentOf(payment)}`);
  return ids;
}

/**
 * Orders by the payments they carry, for "does another order carry this payment?". Indexed on the
 * first question, not when made: a steady cycle asks none, and indexing 100,000 orders twice
 * (two names each) costs ~40 MB and ~50 ms it would never use. A payment carried by one order —
 * nearly all — is kept as that order, not as a one-element array.
 */
export class OrdersByPayment<T extends PaymentCarrier & { orderNo: string }> {
  private byIdentity: Map<string, T | T[]> | null = null;

  /** `include`: only these orders count (e.g. the ones not cancelled), judged when indexing. */
  constructor(
    private readonly orders: readonly T[],
    private readonly include: (order: T) => boolean = () => true,
  ) {}

  private index(): Map<string, T | T[]> {
    if (this.byIdentity !== null) return this.byIdentity;
    const byIdentity = new Map<string, T | T[]>();
    for (const order of this.orders) {
      if (!this.include(order)) continue;
      for (const id of identitiesOf(order)) {
        const held = byIdentity.get(id);
        if (held === undefined) byIdentity.set(id, order);
        else if (Array.isArray(held)) held.push(order);
        else byIdentity.set(id, [held, order]);
      }
    }
    this.byIdentity = byIdentity;
    return byIdentity;
  }

  /** Every order carrying `payment`, once each, except `exceptOrderNo`. */
  carrying(payment: PaymentCarrier, exceptOrderNo?: string): T[] {
    const index = this.index();
    const found = new Map<string, T>();
    for (const id of identitiesOf(payment)) {
      const held = index.get(id);
      if (held === undefined) continue;
      for (const order of Array.isArray(held) ? held : [held]) if (order.orderNo !== exceptOrderNo) found.set(order.orderNo, order);
    }
    return [...found.values()];
  }
}

/** Orders by orderNo, indexed on the first look-up (a steady cycle looks none up). */
export class OrdersByNo<T extends { orderNo: string }> {
  private byNo: Map<string, T> | null = null;

  constructor(private readonly orders: readonly T[]) {}

  get(orderNo: string): T | undefined {
    this.byNo ??= new Map(this.orders.map((o) => [o.orderNo, o]));
    return this.byNo.get(orderNo);
  }
}
