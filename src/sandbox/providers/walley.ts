/**
 * A Walley imitation (OAuth2 token endpoint + Management API) for end-to-end tests, the demo and
 * the benchmark.
 *
 * Token: `POST /oauth2/v2.0/token`, form-encoded client_id, client_secret,
 * grant_type=client_credentials, scope — checked exactly; wrong client → 401 invalid_client, wrong
 * scope → 400 invalid_scope, wrong grant → 400 unsupported_grant_type. Tokens are random and expire
 * after `tokenTtlSeconds` (default 3599; set it to a few seconds in tests). Every API call needs a
 * valid unexpired `Authorization: Bearer` token, else 401.
 *
 * State per order (setOrder / orderState), in our vocabulary → Walley's data.status:
 *   authorized → NotActivated, partlyCaptured → PartActivated, captured → Activated,
 *   cancelled → Cancelled, expired → Expired, (absent) → 404 (or authorized with `autoAuthorize`).
 * Cancel (`POST /manage/orders/{id}/cancel`) answers 202 with `Location` and no body, and the
 * change shows only after a lag: the order reads as before (or 404 with `notFoundDuringLag`) for
 * `cancelLagReads` reads (default 1) and at least `cancelLagMs`. A part-activated order's cancel
 * releases only the rest: it then reads Activated. orderState() says "cancelling" during the lag.
 *
 * How the refusals look is our choice (Walley does not document it): 400 problem JSON
 * `{type,title,status,detail,code}` with code ORDER_ALREADY_CANCELLED or ORDER_ACTIVATED; with
 * `errorCodes: false` the code is left out, so a client must find out another way.
 * Idempotency: a repeated `Walley-Idempotency-Key` while its cancel is still lagging answers 409
 * ("request with same idempotency key already in progress"), afterwards the first answer again.
 * `keyInProgressMs` (or `setKeyInProgress(ms)`, Infinity allowed) keeps a key "in progress" for
 * that long after its first request even when the order already reads Cancelled: with a
 * `resetAfterEffect` fault on the first cancel (the 202 is lost), that plays the story of a
 * worker that hears only 409s for its own key while Walley has in fact cancelled.
 *
 * The order read carries `totalAmount` (major units; setOrder's `amount`, default 1249.00),
 * `currency` and `expiresAt` (default 90 days after the order was set, Walley's "about 90"; null
 * with `expiresAt: null`). An authorized order whose expiresAt has passed on the sandbox clock
 * (`advanceClock(ms)`) reads Expired.
 *
 * Control: `faults`, `requests`, `setLatency(ms)`, `cancelRequests()`, `expireTokens()`,
 * `tokensIssued()`, `setCancelLag({ reads, ms, notFound })`, `setKeyInProgress(ms)`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startLoopbackServer, type FaultPlan, type RecordedRequest, type SandboxResponse } from '../loopback.js';

export type WalleySandboxOrderState = 'authorized' | 'partlyCaptured' | 'captured' | 'cancelled' | 'expired';

export interface WalleyCancelRecord {
  orderId: string;
  idempotencyKey: string | null;
  actionReference: string | null;
  /** HTTP status answered, with the error code if any: "202", "400 ORDER_ACTIVATED", "409 …". */
  answer: string;
  at: number;
}

export interface WalleySandbox {
  url: string;
  requests: RecordedRequest[];
  faults: FaultPlan;
  close(): Promise<void>;
  setOrder(orderId: string, state: WalleySandboxOrderState, options?: { amount?: number; expiresAt?: Date | null }): void;
  /** Moves the sandbox clock that decides expiry. */
  advanceClock(ms: number): void;
  orderState(orderId: string): WalleySandboxOrderState | 'cancelling' | 'notFound';
  cancelRequests(): WalleyCancelRecord[];
  /** Every token issued so far stops working (the next API call gets 401). */
  expireTokens(): void;
  tokensIssued(): number;
  setCancelLag(lag: { reads?: number; ms?: number; notFound?: boolean }): void;
  /** A key answers 409 for at least this long after its first request (0: only while lagging). */
  setKeyInProgress(ms: number): void;
  setLatency(ms: number): void;
}

export interface WalleySandboxOptions {
  clientId: string;
  clientSecret: string;
  scope: string;
  port?: number;
  tokenTtlSeconds?: number;
  cancelLagReads?: number;
  cancelLagMs?: number;
  notFoundDuringLag?: boolean;
  /** See setKeyInProgress; default 0. */
  keyInProgressMs?: number;
  errorCodes?: boolean;
  latencyMs?: number;
  autoAuthorize?: boolean;
}

interface PendingCancel {
  idempotencyKey: string | null;
  startedAt: number;
  reads: number;
  becomes: WalleySandboxOrderState;
}

interface OrderRecord {
  state: WalleySandboxOrderState;
  pending: PendingCancel | null;
  amount: number;
  /** Sandbox clock, ms; null: Walley tells no expiry for this order. */
  expiresAtMs: number | null;
}

const AUTHORIZATION_LIFETIME_MS = 90 * 24 * 60 * 60 * 1000;
const DEFAULT_AMOUNT = 1249;

const WALLEY_STATUS: Record<WalleySandboxOrderState, string> = {
  authorized: 'NotActivated',
  partlyCaptured: 'PartActivated',
  captured: 'Activated',
  cancelled: 'Cancelled',
  expired: 'Expired',
};

export async function startWalleySandbox(options: WalleySandboxOptions): Promise<WalleySandbox> {
  const orders = new Map<string, OrderRecord>();
  const tokens = new Map<string, number>();
  const cancels: WalleyCancelRecord[] = [];
  const answersByKey = new Map<string, { orderId: string; response: SandboxResponse; firstAt: number }>();
  let keyInProgressMs = options.keyInProgressMs ?? 0;
  let issued = 0;
  const ttlSeconds = options.tokenTtlSeconds ?? 3599;
  let lag = { reads: options.cancelLagReads ?? 1, ms: options.cancelLagMs ?? 0, notFound: options.notFoundDuringLag ?? false };
  const withCodes = options.errorCodes ?? true;
  let clockOffsetMs = 0;
  const now = (): number => Date.now() + clockOffsetMs;
  const newRecord = (state: WalleySandboxOrderState, amount = DEFAULT_AMOUNT, expiresAtMs: number | null = now() + AUTHORIZATION_LIFETIME_MS): OrderRecord => ({
    state,
    pending: null,
    amount,
    expiresAtMs,
  });

  /** The authorization lapsed on the sandbox clock: the order is Expired from then on. */
  function lapse(record: OrderRecord): void {
    if (record.state === 'authorized' && record.pending === null && record.expiresAtMs !== null && now() >= record.expiresAtMs) record.state = 'expired';
  }

  function lagOver(pending: PendingCancel): boolean {
    return pending.reads >= lag.reads && Date.now() - pending.startedAt >= lag.ms;
  }

  /** Applies a finished lag; returns the record as it now stands. */
  function settle(record: OrderRecord): OrderRecord {
    if (record.pending && lagOver(record.pending)) {
      record.state = record.pending.becomes;
      record.pending = null;
    }
    return record;
  }

  function order(orderId: string): OrderRecord | undefined {
    let record = orders.get(orderId);
    if (!record && options.autoAuthorize) {
      record = newRecord('authorized');
      orders.set(orderId, record);
    }
    if (record) lapse(record);
    return record ? settle(record) : undefined;
  }

  function token(request: RecordedRequest): SandboxResponse {
    if (request.method !== 'POST') return json(405, { error: 'invalid_request' });
    const contentType = String(request.headers['content-type'] ?? '');
    if (!contentType.startsWith('application/x-www-form-urlencoded')) {
      return json(400, { error: 'invalid_request', error_description: 'form-encoded body required' });
    }
    const form = new URLSearchParams(request.body.toString('utf8'));
    if (form.get('grant_type') !== 'client_credentials') return json(400, { error: 'unsupported_grant_type' });
    if (form.get('client_id') !== options.clientId || form.get('client_secret') !== options.clientSecret) {
      return json(401, { error: 'invalid_client', error_description: 'Client authentication failed' });
    }
    if (form.get('scope') !== options.scope) return json(400, { error: 'invalid_scope', error_description: 'The requested scope is invalid' });
    const value = randomBytes(32).toString('base64url');
    tokens.set(value, Date.now() + ttlSeconds * 1000);
    issued += 1;
    return json(200, { access_token: value, token_type: 'Bearer', expires_in: ttlSeconds });
  }

  function authorized(request: RecordedRequest): boolean {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    const expiresAt = tokens.get(header.slice('Bearer '.length));
    return expiresAt !== undefined && Date.now() < expiresAt;
  }

  function refusal(status: number, code: string, title: string): SandboxResponse {
    return json(status, {
      type: `https://developer.walleypay.com/errors/${status}`,
      title,
      status,
      detail: title,
      traceId: randomUUID(),
      ...(withCodes ? { code } : {}),
    });
  }

  function cancel(request: RecordedRequest, orderId: string): SandboxResponse {
    const key = typeof request.headers['walley-idempotency-key'] === 'string' ? request.headers['walley-idempotency-key'] : null;
    let actionReference: string | null = null;
    if (request.body.length > 0) {
      try {
        const body = JSON.parse(request.body.toString('utf8')) as unknown;
        const ref = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).actionReference : undefined;
        if (ref !== undefined && typeof ref !== 'string') return refusal(400, 'INVALID_REQUEST', 'actionReference must be a string');
        actionReference = ref ?? null;
      } catch {
        return refusal(400, 'INVALID_REQUEST', 'Body is not JSON');
      }
    }
    const answer = (response: SandboxResponse, label: string): SandboxResponse => {
      cancels.push({ orderId, idempotencyKey: key, actionReference, answer: label, at: Date.now() });
      return response;
    };
    const record = order(orderId);
    if (key !== null) {
      const previous = answersByKey.get(key);
      if (previous && previous.orderId === orderId) {
        // Only a started cancel (202) is "in progress"; a refusal has nothing left to process.
        const held = previous.response.status === 202 && Date.now() - previous.firstAt < keyInProgressMs;
        if (record?.pending?.idempotencyKey === key || held) {
          return answer(
            refusal(409, 'IDEMPOTENCY_KEY_IN_PROGRESS', 'Request with same idempotency key already in progress'),
            '409 IDEMPOTENCY_KEY_IN_PROGRESS',
          );
        }
        return answer(previous.response, `${previous.response.status} (replayed)`);
      }
    }
    if (!record) return answer(refusal(404, 'ORDER_NOT_FOUND', 'Order not found'), '404');
    let response: SandboxResponse;
    let label: string;
    if (record.pending) {
      response = accepted(orderId);
      label = '202';
    } else if (record.state === 'cancelled') {
      response = refusal(400, 'ORDER_ALREADY_CANCELLED', 'Order is already cancelled');
      label = '400 ORDER_ALREADY_CANCELLED';
    } else if (record.state === 'captured') {
      response = refusal(400, 'ORDER_ACTIVATED', 'Order is activated and cannot be cancelled');
      label = '400 ORDER_ACTIVATED';
    } else {
      record.pending = {
        idempotencyKey: key,
        startedAt: Date.now(),
        reads: 0,
        becomes: record.state === 'partlyCaptured' ? 'captured' : 'cancelled',
      };
      response = accepted(orderId);
      label = '202';
    }
    if (key !== null) answersByKey.set(key, { orderId, response, firstAt: Date.now() });
    return answer(response, label);
  }

  function readOrder(orderId: string): SandboxResponse {
    // Not order(): that would settle the lag before this read is counted.
    let record = orders.get(orderId);
    if (!record && options.autoAuthorize) record = order(orderId);
    if (!record) return refusal(404, 'ORDER_NOT_FOUND', 'Order not found');
    // Decided before this read is counted: with a lag of N reads, reads 1…N still show the old state.
    const lagging = record.pending !== null && !lagOver(record.pending);
    if (record.pending) record.pending.reads += 1;
    if (lagging && lag.notFound) return refusal(404, 'ORDER_NOT_FOUND', 'Order not found');
    if (!lagging) settle(record);
    lapse(record);
    return json(200, {
      data: {
        orderId,
        status: WALLEY_STATUS[record.state],
        totalAmount: record.amount,
        currency: 'SEK',
        expiresAt: record.expiresAtMs === null ? null : new Date(record.expiresAtMs).toISOString(),
      },
    });
  }

  function handle(request: RecordedRequest): SandboxResponse {
    if (request.path === '/oauth2/v2.0/token') return token(request);
    const cancelMatch = /^\/manage\/orders\/([^/]+)\/cancel$/.exec(request.path);
    const orderMatch = /^\/manage\/orders\/([^/]+)$/.exec(request.path);
    if (!cancelMatch && !orderMatch) return refusal(404, 'NOT_FOUND', 'No such resource');
    if (!authorized(request)) {
      return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, body: '' };
    }
    if (cancelMatch && request.method === 'POST') return cancel(request, decodeURIComponent(cancelMatch[1]!));
    if (orderMatch && request.method === 'GET') return readOrder(decodeURIComponent(orderMatch[1]!));
    return refusal(405, 'METHOD_NOT_ALLOWED', 'Method not allowed');
  }

  const server = await startLoopbackServer(handle, options.port ?? 0, { latencyMs: options.latencyMs });

  return {
    url: server.url,
    requests: server.requests,
    faults: server.faults,
    close: () => server.close(),
    setOrder: (orderId, state, orderOptions) => {
      const expiresAt = orderOptions?.expiresAt;
      orders.set(orderId, newRecord(state, orderOptions?.amount, expiresAt === undefined ? undefined : expiresAt === null ? null : expiresAt.getTime()));
    },
    orderState: (orderId) => {
      const record = orders.get(orderId);
      if (!record) return 'notFound';
      lapse(record);
      return record.pending ? 'cancelling' : record.state;
    },
    advanceClock: (ms) => {
      clockOffsetMs += ms;
    },
    cancelRequests: () => cancels.map((c) => ({ ...c })),
    expireTokens: () => {
      for (const value of tokens.keys()) tokens.set(value, 0);
    },
    tokensIssued: () => issued,
    setCancelLag: (next) => {
      lag = { reads: next.reads ?? lag.reads, ms: next.ms ?? lag.ms, notFound: next.notFound ?? lag.notFound };
    },
    setKeyInProgress: (ms) => {
      keyInProgressMs = ms;
    },
    setLatency: (ms) => server.setLatency(ms),
  };

  function accepted(orderId: string): SandboxResponse {
    return { status: 202, headers: { location: `/manage/orders/${encodeURIComponent(orderId)}` }, body: '' };
  }
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}
