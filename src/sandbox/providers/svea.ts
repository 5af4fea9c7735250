/**
 * A Svea Payment Admin API imitation on 127.0.0.1, for end-to-end tests, the demo and the
 * benchmark. It speaks only what the worker uses:
 *
 *   GET   /api/v1/orders/{id}   200 {Id, OrderStatus, IsCancelled, Actions, Deliveries, …} | 404
 *   PATCH /api/v1/orders/{id}   body {"IsCancelled":true} → 204 empty | 400 (ErrorMessage header) | 404
 *
 * Every request must carry `Timestamp: yyyy-MM-dd HH:mm:ss` (UTC, within maxClockSkewMs of the
 * sandbox clock) and `Authorization: Svea base64(merchantId:hex(sha512(body+secret+timestamp)))`.
 * The sandbox recomputes the signature itself, independently of the client's helper, over the raw
 * bytes it received; anything else → 401 with the reason in an ErrorMessage header. Like Svea it
 * has no idempotency: a PATCH is applied whenever the order still lists CanCancelOrder.
 *
 * Control surface (SveaSandbox):
 *   url, port, requests, faults        — from the loopback server (FaultPlan: 429/503 via
 *                                         {kind:'status'}, resets, hangs, slow bodies, delays)
 *   setOrder(id, state, {amount?})     — 'authorized' (Open, CanCancelOrder) | 'captured'
 *                                         (Delivered, one delivery) | 'cancelled' (Cancelled);
 *                                         amount: OrderAmount in minor units (default 124900)
 *   removeOrder(id) / orderState(id)   — orderState: the state, or 'not_found'
 *   cancelsApplied(id)                 — PATCHes that actually cancelled the order (tests assert ≤ 1)
 *   cancelRequests(id)                 — PATCHes that reached the handler for this order
 *   setLatency(ms)                     — every answer waits this long first
 *   advanceClock(ms)                   — moves the sandbox clock (to provoke a stale Timestamp)
 *   close()
 *
 * Options: maxClockSkewMs (default 5 minutes); unknownOrders 'not_found' (default) or
 * 'authorized' (ids the sandbox was not told about start authorized, for benchmarks).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { startLoopbackServer, type LoopbackServer, type RecordedRequest, type SandboxResponse } from '../loopback.js';

export type SveaOrderState = 'authorized' | 'captured' | 'cancelled';

export interface SveaSandboxOptions {
  merchantId: string;
  secret: string;
  port?: number;
  latencyMs?: number;
  maxClockSkewMs?: number;
  unknownOrders?: 'not_found' | 'authorized';
}

export interface SveaSandbox extends LoopbackServer {
  setOrder(id: string, state: SveaOrderState, options?: { amount?: number }): void;
  removeOrder(id: string): void;
  orderState(id: string): SveaOrderState | 'not_found';
  cancelsApplied(id: string): number;
  cancelRequests(id: string): number;
  advanceClock(ms: number): void;
}

const ORDER_PATH = /^\/api\/v1\/orders\/([^/]+)$/;
/** OrderAmount (minor units) when setOrder names none: the e2e orders' default 1249.00. */
const DEFAULT_AMOUNT_MINOR = 124900;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;

export async function startSveaSandbox(options: SveaSandboxOptions): Promise<SveaSandbox> {
  const orders = new Map<string, SveaOrderState>();
  const amounts = new Map<string, number>();
  const applied = new Map<string, number>();
  const attempted = new Map<string, number>();
  const maxSkewMs = options.maxClockSkewMs ?? 5 * 60 * 1000;
  let clockOffsetMs = 0;
  const now = (): number => Date.now() + clockOffsetMs;

  function findOrder(id: string): SveaOrderState | undefined {
    let state = orders.get(id);
    if (state === undefined && options.unknownOrders === 'authorized') {
      state = 'authorized';
      orders.set(id, state);
    }
    return state;
  }

  /** Why the request is not authentic, or null when it is. */
  function authenticationProblem(request: RecordedRequest): string | null {
    const timestamp = headerValue(request, 'timestamp');
    const authorization = headerValue(request, 'authorization');
    if (!timestamp || !authorization) return 'Missing Timestamp or Authorization header';
    const parts = TIMESTAMP.exec(timestamp);
    if (!parts) return 'Timestamp is not yyyy-MM-dd HH:mm:ss';
    const [, y, mo, d, h, mi, s] = parts.map(Number) as [number, number, number, number, number, number, number];
    const sent = Date.UTC(y, mo - 1, d, h, mi, s);
    if (Math.abs(now() - sent) > maxSkewMs) return 'Timestamp too far from the current time';
    if (!authorization.startsWith('Svea ')) return 'Authorization scheme is not Svea';
    const decoded = Buffer.from(authorization.slice('Svea '.length), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'Malformed Authorization token';
    if (decoded.slice(0, colon) !== options.merchantId) return 'Unknown merchant';
    const expected = createHash('sha512')
      .update(Buffer.concat([request.body, Buffer.from(options.secret, 'utf8'), Buffer.from(timestamp, 'utf8')]))
      .digest('hex');
    const given = Buffer.from(decoded.slice(colon + 1), 'utf8');
    const wanted = Buffer.from(expected, 'utf8');
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return 'Invalid signature';
    return null;
  }

  function read(id: string): SandboxResponse {
    const state = findOrder(id);
    if (state === undefined) return sveaError(404, `Order ${id} not found`);
    const numericId = Number(id);
    const amount = amounts.get(id) ?? DEFAULT_AMOUNT_MINOR;
    return {
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        Id: Number.isSafeInteger(numericId) ? numericId : id,
        Currency: 'SEK',
        MerchantOrderId: `sandbox-${id}`,
        OrderStatus: { authorized: 'Open', captured: 'Delivered', cancelled: 'Cancelled' }[state],
        IsCompany: false,
        IsCancelled: state === 'cancelled',
        CancelledAmount: state === 'cancelled' ? amount : 0,
        OrderAmount: amount,
        Deliveries: state === 'captured' ? [{ Id: 1, DeliveryAmount: amount, CreditedAmount: 0, Actions: [] }] : [],
        OrderRows: [],
        Actions: state === 'authorized' ? ['CanDeliverOrder', 'CanDeliverPartially', 'CanCancelOrder', 'CanCancelOrderRow', 'CanCancelAmount'] : [],
      }),
    };
  }

  function cancel(id: string, body: Buffer): SandboxResponse {
    attempted.set(id, (attempted.get(id) ?? 0) + 1);
    const state = findOrder(id);
    if (state === undefined) return sveaError(404, `Order ${id} not found`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return sveaError(400, 'Request body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || (parsed as Record<string, unknown>).IsCancelled !== true) {
      return sveaError(400, 'Only {"IsCancelled": true} is supported');
    }
    if (state !== 'authorized') return sveaError(400, 'Order cannot be cancelled');
    orders.set(id, 'cancelled');
    applied.set(id, (applied.get(id) ?? 0) + 1);
    return { status: 204 };
  }

  async function handle(request: RecordedRequest): Promise<SandboxResponse> {
    const problem = authenticationProblem(request);
    if (problem) return sveaError(401, problem);
    const match = ORDER_PATH.exec(request.path);
    if (!match) return sveaError(404, `No route for ${request.method} ${request.path}`);
    const id = decodeURIComponent(match[1]!);
    if (request.method === 'GET') return read(id);
    if (request.method === 'PATCH') return cancel(id, request.body);
    return sveaError(405, `Method ${request.method} not allowed`);
  }

  const server = await startLoopbackServer(handle, options.port ?? 0, { latencyMs: options.latencyMs });
  return {
    ...server,
    setOrder(id, state, orderOptions) {
      orders.set(id, state);
      if (orderOptions?.amount !== undefined) amounts.set(id, orderOptions.amount);
    },
    removeOrder(id) {
      orders.delete(id);
    },
    orderState: (id) => orders.get(id) ?? 'not_found',
    cancelsApplied: (id) => applied.get(id) ?? 0,
    cancelRequests: (id) => attempted.get(id) ?? 0,
    advanceClock(ms) {
      clockOffsetMs += ms;
    },
  };
}

function headerValue(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Svea's errors: the reason in an ErrorMessage header, the body empty. */
function sveaError(status: number, message: string): SandboxResponse {
  return { status, headers: { ErrorMessage: message, 'content-length': '0' }, body: '' };
}
