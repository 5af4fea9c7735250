/**
 * The fields of Svea's order (GET /api/v1/orders/{id}) that decide what a cancel can do, checked
 * by hand. Documented: OrderStatus "Open" | "Delivered" | "Cancelled" | "Failed", IsCancelled,
 * Actions (e.g. "CanDeliverOrder", "CanCancelOrder", "CanCancelOrderRow", …), Deliveries (null or
 * a list; a delivery is what Svea invoices — the equivalent of a capture).
 */

import { z } from 'zod';
import type { Redactor } from '../../outbound/redact.js';
import { parseJsonBody } from '../http.js';
import { minorToMajor, reservedRead, settledRead, unknownRead } from '../paymentRead.js';
import type { PaymentRead } from '../types.js';

export interface SveaOrder {
  orderStatus: string | null;
  isCancelled: boolean;
  actions: string[];
  deliveryCount: number;
}

export function parseSveaOrder(body: unknown): SveaOrder | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const record = body as Record<string, unknown>;
  const status = record.OrderStatus;
  const actions = record.Actions;
  // Neither field present: whatever this is, it is not an order we can decide on.
  if (typeof status !== 'string' && !Array.isArray(actions)) return null;
  const deliveries = record.Deliveries;
  return {
    orderStatus: typeof status === 'string' ? status : null,
    isCancelled: record.IsCancelled === true,
    actions: Array.isArray(actions) ? actions.filter((a): a is string => typeof a === 'string') : [],
    deliveryCount: Array.isArray(deliveries) ? deliveries.length : 0,
  };
}

/** The fields of the order read that say what is left of the money (minor units). */
const paymentSchema = z
  .object({
    OrderStatus: z.string().min(1),
    Actions: z.array(z.string()).nullish(),
    OrderAmount: z.number().int().nonnegative().nullish(),
    CancelledAmount: z.number().int().nonnegative().nullish(),
    Currency: z.string().nullish(),
    Deliveries: z.array(z.unknown()).nullish(),
  })
  .loose();

/**
 * Svea's order read as a payment state (docs/providers.md): `Open` with `CanCancelOrder` among
 * its Actions is reserved (OrderAmount less CancelledAmount); `Delivered`, or any delivery at all,
 * is captured (captured beats cancelled); `Cancelled` is cancelled. Svea tells no expiry. An Open
 * order Svea will not let us cancel, `Failed`, or anything else is unknown. `message` is the
 * client's description of a non-200 answer (Svea may put it only in an ErrorMessage header).
 */
export function sveaPaymentRead(status: number, data: unknown, message: string, redactor: Redactor): PaymentRead {
  if (status === 404) return settledRead('not_found', redactor(`Svea: ${message}`));
  if (status !== 200) {
    const why = status === 401 || status === 403 ? 'Svea refused the signature' : 'the Svea order read failed';
    return unknownRead(`${why}: ${message}`, redactor);
  }
  const parsed = paymentSchema.safeParse(parseJsonBody(data));
  if (!parsed.success) return unknownRead(`the Svea order read is not an order Svea documents: ${message}`, redactor);
  const order = parsed.data;
  const currency = order.Currency ?? null;
  const orderStatus = order.OrderStatus.toLowerCase();
  const detail = `Svea OrderStatus ${order.OrderStatus}`;
  if (orderStatus === 'delivered' || (order.Deliveries?.length ?? 0) > 0) return settledRead('captured', detail, currency);
  if (orderStatus === 'cancelled') return settledRead('cancelled', detail, currency);
  const cancellable = (order.Actions ?? []).some((a) => a.toLowerCase() === 'cancancelorder');
  if (orderStatus === 'open' && cancellable) {
    const left = order.OrderAmount === null || order.OrderAmount === undefined ? null : order.OrderAmount - (order.CancelledAmount ?? 0);
    return reservedRead({ reservedAmount: left === null || left < 0 ? null : minorToMajor(left), currency, expiresAt: null, detail });
  }
  return unknownRead(`Svea order is ${order.OrderStatus.slice(0, 40)} without CanCancelOrder: not a state documented for a reservation`, redactor);
}
