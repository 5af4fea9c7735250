/**
 * Walley's order read (`GET /manage/orders/{id}`) as a payment state (docs/providers.md, "Reading a
 * payment's state"): `data.status` NotActivated or PartActivated is still reserved, Activated is
 * captured, Cancelled and Expired are what they say. Amounts are major units; for PartActivated
 * the part still reserved is not exposed, so the amount is left out rather than guessed from the
 * order's total. `data.expiresAt` may be null.
 */
import { z } from 'zod';
import type { Redactor } from '../../outbound/redact.js';
import { parseJsonBody } from '../http.js';
import { isoUtc, majorToString, reservedRead, settledRead, unknownFromAnswer, unknownRead } from '../paymentRead.js';
import type { PaymentRead } from '../types.js';

const orderSchema = z.object({
  data: z
    .object({
      status: z.string().min(1),
      totalAmount: z.number().nonnegative().nullish(),
      currency: z.string().nullish(),
      expiresAt: z.string().nullish(),
    })
    .loose(),
});

export function walleyPaymentRead(status: number, data: unknown, clean: Redactor): PaymentRead {
  if (status === 404) return settledRead('not_found', 'Walley answered 404 twice, a moment apart');
  if (status < 200 || status >= 300) {
    const why = status === 401 || status === 403 ? 'Walley refused the token or its permissions' : 'the Walley order read failed';
    return unknownFromAnswer(why, status, data, clean);
  }
  const parsed = orderSchema.safeParse(parseJsonBody(data));
  if (!parsed.success) return unknownFromAnswer('the Walley order read carries no data.status', status, data, clean);
  const order = parsed.data.data;
  const currency = order.currency ?? null;
  const detail = `Walley order status ${order.status}`;
  switch (order.status) {
    case 'NotActivated':
    case 'PartActivated':
      return reservedRead({
        reservedAmount:
          order.status === 'NotActivated' && order.totalAmount !== null && order.totalAmount !== undefined ? majorToString(order.totalAmount) : null,
        currency,
        expiresAt: isoUtc(order.expiresAt),
        detail: order.status === 'PartActivated' ? `${detail}: part was captured; what is still reserved is not exposed` : detail,
      });
    case 'Activated':
      return settledRead('captured', detail, currency);
    case 'Cancelled':
      return settledRead('cancelled', detail, currency);
    case 'Expired':
      return settledRead('expired', detail, currency);
    default:
      return unknownRead(`Walley order has an undocumented status: ${order.status.slice(0, 60)}`, clean);
  }
}
