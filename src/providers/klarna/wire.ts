/**
 * The shapes of Klarna's JSON that the client reads, checked where they enter: whatever Klarna (or
 * a proxy in front of it) sends, the client sees either a well-formed value or null, never `any`.
 */
import { z } from 'zod';
import type { Redactor } from '../../outbound/redact.js';
import { parseJsonBody } from '../http.js';
import { isoUtc, minorToMajor, reservedRead, settledRead, unknownFromAnswer, unknownRead } from '../paymentRead.js';
import type { PaymentRead } from '../types.js';

/** Klarna's error body: {"error_code","error_messages":[…],"correlation_id"}. */
export interface KlarnaError {
  errorCode: string;
  errorMessages: string[];
  correlationId: string | null;
}

export function parseKlarnaError(body: unknown): KlarnaError | null {
  if (!isRecord(body) || typeof body.error_code !== 'string' || body.error_code === '') return null;
  const messages = Array.isArray(body.error_messages) ? body.error_messages.filter((m): m is string => typeof m === 'string') : [];
  const correlationId = typeof body.correlation_id === 'string' ? body.correlation_id : null;
  return { errorCode: body.error_code, errorMessages: messages, correlationId };
}

/**
 * The fields of GET /ordermanagement/v1/orders/{id} that decide captured vs cancelled. Statuses
 * documented: AUTHORIZED, PART_CAPTURED, CAPTURED, CANCELLED, EXPIRED, CLOSED. An unknown status
 * string is kept as is (the caller treats it as "no proof of cancelled").
 */
export interface KlarnaOrder {
  status: string;
  /** Minor units; 0 when Klarna omits it. */
  capturedAmount: number;
}

export function parseKlarnaOrder(body: unknown): KlarnaOrder | null {
  if (!isRecord(body) || typeof body.status !== 'string' || body.status === '') return null;
  const captured = body.captured_amount;
  if (captured !== undefined && (typeof captured !== 'number' || !Number.isFinite(captured))) return null;
  return { status: body.status.toUpperCase(), capturedAmount: captured ?? 0 };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The fields of the order read that say what is left of the money (minor units). */
const paymentSchema = z
  .object({
    status: z.string().min(1),
    remaining_authorized_amount: z.number().int().nonnegative().optional(),
    purchase_currency: z.string().min(1).optional(),
    expires_at: z.string().optional(),
  })
  .loose();

/**
 * Klarna's order status as a payment state. PART_CAPTURED is still `reserved` (what remains; part
 * was captured, so a refund may be due too); CLOSED is `captured` (nothing left reserved).
 */
const KLARNA_STATES: Record<string, 'reserved' | 'captured' | 'cancelled' | 'expired'> = {
  AUTHORIZED: 'reserved',
  PART_CAPTURED: 'reserved',
  CAPTURED: 'captured',
  CLOSED: 'captured',
  CANCELLED: 'cancelled',
  EXPIRED: 'expired',
};

/**
 * The answer to GET /ordermanagement/v1/orders/{id} as a PaymentRead. `errorText` is the
 * client's description of a Klarna error body (null when it sent none).
 */
export function klarnaPaymentRead(status: number, data: unknown, errorText: string | null, redactor: Redactor): PaymentRead {
  if (status === 404 && errorText?.includes('NO_SUCH_ORDER')) return settledRead('not_found', redactor(errorText));
  if (status !== 200) {
    const why = status === 401 || status === 403 ? 'Klarna refused the credentials' : 'the order read failed';
    return errorText ? unknownRead(`${why}: ${errorText}`, redactor) : unknownFromAnswer(why, status, data, redactor);
  }
  const parsed = paymentSchema.safeParse(parseJsonBody(data));
  if (!parsed.success) return unknownFromAnswer('the order read is not an order Klarna documents', status, data, redactor);
  const order = parsed.data;
  const klarnaStatus = order.status.toUpperCase();
  const state = Object.hasOwn(KLARNA_STATES, klarnaStatus) ? KLARNA_STATES[klarnaStatus] : undefined;
  const currency = order.purchase_currency ?? null;
  const detail = `Klarna order status ${klarnaStatus}`;
  if (state === undefined) return unknownRead(`Klarna order has an undocumented status: ${klarnaStatus.slice(0, 60)}`, redactor);
  if (state !== 'reserved') return settledRead(state, detail, currency);
  const remaining = order.remaining_authorized_amount;
  return reservedRead({
    reservedAmount: remaining === undefined ? null : minorToMajor(remaining),
    currency,
    expiresAt: isoUtc(order.expires_at),
    detail,
  });
}
