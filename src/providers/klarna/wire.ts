/**
 * The shapes of Klarna's JSON that the client reads, checked by hand: whatever Klarna (or a proxy
 * in front of it) sends, the client sees either a well-formed value or null, never `any`.
 */

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
