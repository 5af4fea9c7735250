/**
 * A Klarna Order Management imitation on 127.0.0.1, for end-to-end tests, the demo and the
 * benchmark. It speaks only what the worker uses:
 *
 *   POST /ordermanagement/v1/orders/{id}/cancel   204 | 403 CANCEL_NOT_ALLOWED | 404 NO_SUCH_ORDER
 *   GET  /ordermanagement/v1/orders/{id}          200 {order_id, status, order_amount, captured_amount, …}
 *
 * with Klarna's error body {error_code, error_messages, correlation_id}, HTTP Basic checked
 * exactly (anything else → 401), and Klarna-Idempotency-Key honoured for 24 h: a repeated key
 * gets the first result back unchanged, so a retried cancel whose first attempt went through
 * answers 204 again and is not applied twice.
 *
 * Control surface (KlarnaSandbox):
 *   url, port, requests, faults           — from the loopback server (FaultPlan: 409/429/503 via
 *                                            {kind:'status'}, resets, hangs, slow bodies, delays)
 *   setOrder(id, state, {orderAmount?, expiresAt?}) — 'authorized' | 'captured' | 'cancelled';
 *                                            an authorization lapses at expiresAt (default 28 days
 *                                            after it was set, Klarna's default): from then on the
 *                                            order reads EXPIRED (advanceClock gets there)
 *   removeOrder(id) / orderState(id)      — orderState: the state ('expired' once lapsed), or 'not_found'
 *   cancelsApplied(id)                    — cancels that actually changed the order (tests assert ≤ 1)
 *   cancelRequests(id)                    — cancel requests that reached the handler for this order
 *   setLatency(ms)                        — every answer waits this long first
 *   setCancelledOrderAnswer(mode)         — how a cancel of an already-cancelled order answers:
 *        'cancel_not_allowed' (default: 403, what docs/providers.md calls most likely) or 'no_content'
 *        (204): the behaviour is unverified, so both can be exercised
 *   advanceClock(ms)                      — moves the sandbox clock (idempotency keys expire at 24 h)
 *   close()
 *
 * Options: unknownOrders 'not_found' (default) or 'authorized' (every order id the sandbox has not
 * been told about starts authorized — handy for a benchmark over thousands of ids).
 */
import { randomUUID } from 'node:crypto';
import { startLoopbackServer, type LoopbackServer, type RecordedRequest, type SandboxResponse } from '../loopback.js';

export type KlarnaOrderState = 'authorized' | 'captured' | 'cancelled';

export interface KlarnaSandboxOptions {
  username: string;
  password: string;
  port?: number;
  latencyMs?: number;
  unknownOrders?: 'not_found' | 'authorized';
  cancelledOrderAnswer?: 'cancel_not_allowed' | 'no_content';
}

export interface KlarnaSandbox extends LoopbackServer {
  setOrder(id: string, state: KlarnaOrderState, options?: { orderAmount?: number; expiresAt?: Date }): void;
  removeOrder(id: string): void;
  orderState(id: string): KlarnaOrderState | 'expired' | 'not_found';
  cancelsApplied(id: string): number;
  cancelRequests(id: string): number;
  setCancelledOrderAnswer(mode: 'cancel_not_allowed' | 'no_content'): void;
  advanceClock(ms: number): void;
}

interface SandboxOrder {
  state: KlarnaOrderState;
  orderAmount: number;
  /** When the authorization lapses (sandbox clock, ms). */
  expiresAtMs: number;
}

const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** Klarna's default authorization lifetime (extendable up to 180 days). */
const AUTHORIZATION_LIFETIME_MS = 28 * 24 * 60 * 60 * 1000;
/** order_amount (minor units) when setOrder names none: the e2e orders' default 1249.00. */
const DEFAULT_AMOUNT_MINOR = 124900;
const ORDER_PATH = /^\/ordermanagement\/v1\/orders\/([^/]+)$/;
const CANCEL_PATH = /^\/ordermanagement\/v1\/orders\/([^/]+)\/cancel$/;

export async function startKlarnaSandbox(options: KlarnaSandboxOptions): Promise<KlarnaSandbox> {
  const expectedAuth = `Basic ${Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64')}`;
  const orders = new Map<string, SandboxOrder>();
  const applied = new Map<string, number>();
  const attempted = new Map<string, number>();
  const idempotency = new Map<string, { at: number; answer: SandboxResponse }>();
  let cancelledOrderAnswer = options.cancelledOrderAnswer ?? 'cancel_not_allowed';
  let clockOffsetMs = 0;
  const now = (): number => Date.now() + clockOffsetMs;

  function findOrder(id: string): SandboxOrder | undefined {
    let order = orders.get(id);
    if (!order && options.unknownOrders === 'authorized') {
      order = { state: 'authorized', orderAmount: DEFAULT_AMOUNT_MINOR, expiresAtMs: now() + AUTHORIZATION_LIFETIME_MS };
      orders.set(id, order);
    }
    return order;
  }

  /** The state as of the sandbox clock: an authorization past its expiry has lapsed. */
  function stateOf(order: SandboxOrder): KlarnaOrderState | 'expired' {
    return order.state === 'authorized' && now() >= order.expiresAtMs ? 'expired' : order.state;
  }

  function cancel(id: string): SandboxResponse {
    attempted.set(id, (attempted.get(id) ?? 0) + 1);
    const order = findOrder(id);
    if (!order) return klarnaError(404, 'NO_SUCH_ORDER', `No such order: ${id}`);
    if (order.state === 'captured' || stateOf(order) === 'expired') {
      return klarnaError(403, 'CANCEL_NOT_ALLOWED', 'Order has previous captures. Cancel not possible.');
    }
    if (order.state === 'cancelled') {
      return cancelledOrderAnswer === 'no_content'
        ? { status: 204 }
        : klarnaError(403, 'CANCEL_NOT_ALLOWED', 'Order has previous captures. Cancel not possible.');
    }
    order.state = 'cancelled';
    applied.set(id, (applied.get(id) ?? 0) + 1);
    return { status: 204 };
  }

  function read(id: string): SandboxResponse {
    const order = findOrder(id);
    if (!order) return klarnaError(404, 'NO_SUCH_ORDER', `No such order: ${id}`);
    const state = stateOf(order);
    const status = { authorized: 'AUTHORIZED', captured: 'CAPTURED', cancelled: 'CANCELLED', expired: 'EXPIRED' }[state];
    const captured = state === 'captured' ? order.orderAmount : 0;
    return json(200, {
      order_id: id,
      status,
      order_amount: order.orderAmount,
      captured_amount: captured,
      refunded_amount: 0,
      remaining_authorized_amount: state === 'authorized' ? order.orderAmount : 0,
      purchase_currency: 'SEK',
      expires_at: new Date(order.expiresAtMs).toISOString(),
    });
  }

  async function handle(request: RecordedRequest): Promise<SandboxResponse> {
    // Credentials first: an unauthenticated request neither sees an order nor uses up a key.
    if (request.headers.authorization !== expectedAuth) {
      return klarnaError(401, 'UNAUTHORIZED', 'Invalid credentials');
    }

    const cancelMatch = CANCEL_PATH.exec(request.path);
    if (cancelMatch && request.method === 'POST') {
      const id = decodeURIComponent(cancelMatch[1]!);
      const key = headerValue(request, 'klarna-idempotency-key');
      if (!key) return cancel(id);
      const seen = idempotency.get(key);
      if (seen && now() - seen.at < IDEMPOTENCY_TTL_MS) return seen.answer;
      const answer = cancel(id);
      idempotency.set(key, { at: now(), answer });
      return answer;
    }
    const orderMatch = ORDER_PATH.exec(request.path);
    if (orderMatch && request.method === 'GET') return read(decodeURIComponent(orderMatch[1]!));
    return klarnaError(404, 'NOT_FOUND', `No route for ${request.method} ${request.path}`);
  }

  const server = await startLoopbackServer(handle, options.port ?? 0, { latencyMs: options.latencyMs });
  return {
    ...server,
    setOrder(id, state, orderOptions) {
      const previous = orders.get(id);
      orders.set(id, {
        state,
        orderAmount: orderOptions?.orderAmount ?? previous?.orderAmount ?? DEFAULT_AMOUNT_MINOR,
        expiresAtMs: orderOptions?.expiresAt?.getTime() ?? previous?.expiresAtMs ?? now() + AUTHORIZATION_LIFETIME_MS,
      });
    },
    removeOrder(id) {
      orders.delete(id);
    },
    orderState(id) {
      const order = orders.get(id);
      return order ? stateOf(order) : 'not_found';
    },
    cancelsApplied: (id) => applied.get(id) ?? 0,
    cancelRequests: (id) => attempted.get(id) ?? 0,
    setCancelledOrderAnswer(mode) {
      cancelledOrderAnswer = mode;
    },
    advanceClock(ms) {
      clockOffsetMs += ms;
    },
  };
}

function headerValue(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function klarnaError(status: number, code: string, message: string): SandboxResponse {
  return json(status, { error_code: code, error_messages: [message], correlation_id: randomUUID() });
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
