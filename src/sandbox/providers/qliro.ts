/**
 * A Qliro One Admin API imitation for end-to-end tests, the demo and the benchmark.
 *
 * It checks what the real API checks: the `Authorization: Qliro <token>` signature, recomputed here
 * with its own code over the raw received body bytes (a GET over the empty string), and the
 * MerchantApiKey. A wrong signature or key answers 401 with an error JSON.
 *
 * State per order (setOrder / orderState):
 *   authorized            → cancel creates a Reversal transaction (Status Created) and answers 2xx;
 *                           the order becomes cancelled at once, the transaction reaches its final
 *                           status (default Success) after `settleAfterReads` status reads and
 *                           `settleAfterMs` milliseconds.
 *   partlyCaptured/captured → NO_ITEMS_LEFT_IN_RESERVATION (partly: NO_QUALIFIED_ITEMS_TO_MANAGE)
 *   cancelled             → ORDER_HAS_BEEN_CANCELLED (also for a repeated RequestId)
 *   busy                  → OPERATION_NOT_SUPPORTED ("another transaction is already in process")
 *   onHold                → PAYMENT_ONHOLD
 *   noPaymentTransaction  → NO_PAYMENT_TRANSACTION
 *   otherMerchant         → MERCHANT_MISMATCH
 *   (absent)              → ORDER_NOT_FOUND, unless `autoAuthorize` (benchmark: any integer id is
 *                           an authorized order on first sight)
 * Business errors answer 400 (Qliro's real statuses are unverified; the client maps by ErrorCode).
 *
 * The order read (`GET /orders/{id}`) lists the order's payment transactions the way the payment
 * read expects them: a successful Preauthorization of the order's amount (setOrder's `amount`,
 * default 1249.00 SEK), a successful Capture for a (partly) captured order, and our own Reversal
 * transactions with their current status — a reversal still Created/InProcess leaves the money
 * reserved until it settles. An order set `cancelled` without a cancel of ours (someone cancelled
 * it in Qliro's portal) shows a successful Reversal of its own. Qliro exposes no expiry.
 *
 * Control: `faults` (FaultPlan: 409/429/503, resets, hangs, slow bodies), `requests` (everything
 * received), `setLatency(ms)` (every answer waits this long; 50 ms for the benchmark),
 * `cancelRequests()` (each cancel with its RequestId and the answer given), `transactions()`,
 * `setTransactionStatus(id, status)`, `setReversalFinalStatus(status)` and `setSettle({ reads, ms })`.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { startLoopbackServer, type FaultPlan, type RecordedRequest, type SandboxResponse } from '../loopback.js';

export type QliroSandboxOrderState = 'authorized' | 'partlyCaptured' | 'captured' | 'cancelled' | 'busy' | 'onHold' | 'noPaymentTransaction' | 'otherMerchant';

export type QliroTransactionStatus = 'Created' | 'InProcess' | 'OnHold' | 'UserInteractionRequired' | 'Success' | 'Error' | 'Cancelled';

export interface QliroSandboxTransaction {
  paymentTransactionId: number;
  orderId: string;
  requestId: string;
  type: 'Reversal';
  status: QliroTransactionStatus;
  createdAt: number;
  reads: number;
}

export interface QliroCancelRecord {
  orderId: string;
  requestId: string;
  /** "accepted" or the ErrorCode answered. */
  answer: string;
  at: number;
}

export interface QliroSandbox {
  url: string;
  requests: RecordedRequest[];
  faults: FaultPlan;
  close(): Promise<void>;
  setOrder(orderId: string | number, state: QliroSandboxOrderState, options?: { amount?: number }): void;
  orderState(orderId: string | number): QliroSandboxOrderState | 'notFound';
  cancelRequests(): QliroCancelRecord[];
  transactions(): QliroSandboxTransaction[];
  setTransactionStatus(paymentTransactionId: number | string, status: QliroTransactionStatus): void;
  /** The status a new reversal settles into (default Success). */
  setReversalFinalStatus(status: QliroTransactionStatus): void;
  /** When a new reversal settles: after `reads` status reads and at least `ms` (0 turns either off). */
  setSettle(settle: { reads?: number; ms?: number }): void;
  setLatency(ms: number): void;
}

export interface QliroSandboxOptions {
  merchantApiKey: string;
  merchantApiSecret: string;
  port?: number;
  /** A reversal stays Created/InProcess for this many status reads (default 1). */
  settleAfterReads?: number;
  /** … and at least this long after it was created (default 0). */
  settleAfterMs?: number;
  latencyMs?: number;
  autoAuthorize?: boolean;
}

const BASE = '/checkout/adminapi/v2';
/** An order's preauthorised amount when setOrder names none (the e2e orders' default). */
const DEFAULT_AMOUNT = 1249;

export async function startQliroSandbox(options: QliroSandboxOptions): Promise<QliroSandbox> {
  const orders = new Map<string, QliroSandboxOrderState>();
  const amounts = new Map<string, number>();
  const transactions = new Map<number, QliroSandboxTransaction>();
  const cancels: QliroCancelRecord[] = [];
  let settleAfterReads = options.settleAfterReads ?? 1;
  let settleAfterMs = options.settleAfterMs ?? 0;
  let finalStatus: QliroTransactionStatus = 'Success';
  let nextTransactionId = 900_001;
  const finalOf = new Map<number, QliroTransactionStatus>();

  const key = (id: string | number): string => String(id);

  function signatureOk(request: RecordedRequest, signedBytes: Buffer): boolean {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Qliro ')) return false;
    const expected = createHash('sha256')
      .update(Buffer.concat([signedBytes, Buffer.from(options.merchantApiSecret, 'utf8')]))
      .digest();
    const given = Buffer.from(header.slice('Qliro '.length).trim(), 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  function handle(request: RecordedRequest): SandboxResponse {
    if (request.method === 'POST' && request.path === `${BASE}/cancelOrder`) return cancelOrder(request);
    const tx = /^\/checkout\/adminapi\/v2\/paymentTransactions\/([0-9]+)$/.exec(request.path);
    if (request.method === 'GET' && tx) {
      if (!signatureOk(request, Buffer.alloc(0))) return unauthorized();
      return readTransaction(Number(tx[1]));
    }
    const order = /^\/checkout\/adminapi\/v2\/orders\/([0-9]+)$/.exec(request.path);
    if (request.method === 'GET' && order) {
      if (!signatureOk(request, Buffer.alloc(0))) return unauthorized();
      return readOrder(order[1]!);
    }
    return json(404, { ErrorCode: 'NOT_FOUND', ErrorMessage: 'No such resource', ErrorReference: randomUUID() });
  }

  function cancelOrder(request: RecordedRequest): SandboxResponse {
    if (!signatureOk(request, request.body)) return unauthorized();
    let body: unknown;
    try {
      body = JSON.parse(request.body.toString('utf8'));
    } catch {
      return error(400, 'INVALID_REQUEST', 'Body is not JSON');
    }
    if (typeof body !== 'object' || body === null) return error(400, 'INVALID_REQUEST', 'Body is not an object');
    const { RequestId, MerchantApiKey, OrderId } = body as Record<string, unknown>;
    if (MerchantApiKey !== options.merchantApiKey) return unauthorized();
    if (typeof RequestId !== 'string' || RequestId === '' || typeof OrderId !== 'number' || !Number.isInteger(OrderId)) {
      return error(400, 'INVALID_REQUEST', 'RequestId and an integer OrderId are required');
    }
    const orderId = key(OrderId);
    const record = (answer: string): void => void cancels.push({ orderId, requestId: RequestId, answer, at: Date.now() });
    let state = orders.get(orderId);
    if (state === undefined && options.autoAuthorize) {
      state = 'authorized';
      orders.set(orderId, state);
    }
    const refuse = (code: string, message: string): SandboxResponse => {
      record(code);
      return error(400, code, message);
    };
    switch (state) {
      case undefined:
        return refuse('ORDER_NOT_FOUND', 'Order not found');
      case 'cancelled':
        return refuse('ORDER_HAS_BEEN_CANCELLED', 'Order has been cancelled');
      case 'captured':
        return refuse('NO_ITEMS_LEFT_IN_RESERVATION', 'No items left in reservation');
      case 'partlyCaptured':
        return refuse('NO_QUALIFIED_ITEMS_TO_MANAGE', 'No qualified items to manage');
      case 'busy':
        return refuse('OPERATION_NOT_SUPPORTED', 'Another transaction is already in process. Please retry shortly');
      case 'onHold':
        return refuse('PAYMENT_ONHOLD', 'Payment is on hold');
      case 'noPaymentTransaction':
        return refuse('NO_PAYMENT_TRANSACTION', 'No payment transaction found');
      case 'otherMerchant':
        return refuse('MERCHANT_MISMATCH', 'Order belongs to another merchant');
      case 'authorized': {
        const id = nextTransactionId++;
        transactions.set(id, { paymentTransactionId: id, orderId, requestId: RequestId, type: 'Reversal', status: 'Created', createdAt: Date.now(), reads: 0 });
        finalOf.set(id, finalStatus);
        orders.set(orderId, 'cancelled');
        record('accepted');
        return json(200, { PaymentTransactions: [{ PaymentTransactionId: id, Status: 'Created' }] });
      }
    }
  }

  function readTransaction(id: number): SandboxResponse {
    const tx = transactions.get(id);
    if (!tx) return error(404, 'PAYMENT_TRANSACTION_NOT_FOUND', 'Payment transaction not found');
    tx.reads += 1;
    if (tx.status === 'Created' || tx.status === 'InProcess') {
      const settled = tx.reads > settleAfterReads && Date.now() - tx.createdAt >= settleAfterMs;
      tx.status = settled ? (finalOf.get(id) ?? 'Success') : tx.reads > 1 ? 'InProcess' : 'Created';
    }
    return json(200, { PaymentTransactionId: tx.paymentTransactionId, Type: tx.type, Status: tx.status });
  }

  function readOrder(orderId: string): SandboxResponse {
    let state = orders.get(orderId);
    if (state === undefined && options.autoAuthorize) {
      state = 'authorized';
      orders.set(orderId, state);
    }
    if (state === undefined) return error(404, 'ORDER_NOT_FOUND', 'Order not found');
    const amount = amounts.get(orderId) ?? DEFAULT_AMOUNT;
    const ours = [...transactions.values()].filter((t) => t.orderId === orderId);
    const listed: Array<{ PaymentTransactionId: number; Type: string; Status: string; Amount: number; Currency: string }> = [];
    const add = (id: number, type: string, status: string, value: number): void =>
      void listed.push({ PaymentTransactionId: id, Type: type, Status: status, Amount: value, Currency: 'SEK' });
    if (state !== 'noPaymentTransaction') add(800_000 + listed.length, 'Preauthorization', 'Success', amount);
    if (state === 'captured') add(810_000, 'Capture', 'Success', amount);
    if (state === 'partlyCaptured') add(810_000, 'Capture', 'Success', Math.round(amount * 50) / 100);
    for (const t of ours) add(t.paymentTransactionId, t.type, t.status, amount);
    // Cancelled in the portal: Qliro's own reversal, already settled.
    if (state === 'cancelled' && ours.length === 0) add(820_000, 'Reversal', 'Success', amount);
    return json(200, { OrderId: Number(orderId), Currency: 'SEK', PaymentTransactions: listed });
  }

  const server = await startLoopbackServer(handle, options.port ?? 0, { latencyMs: options.latencyMs });

  return {
    url: server.url,
    requests: server.requests,
    faults: server.faults,
    close: () => server.close(),
    setOrder: (orderId, state, orderOptions) => {
      orders.set(key(orderId), state);
      if (orderOptions?.amount !== undefined) amounts.set(key(orderId), orderOptions.amount);
    },
    orderState: (orderId) => orders.get(key(orderId)) ?? 'notFound',
    cancelRequests: () => cancels.map((c) => ({ ...c })),
    transactions: () => [...transactions.values()].map((t) => ({ ...t })),
    setTransactionStatus: (id, status) => {
      const tx = transactions.get(Number(id));
      if (!tx) throw new Error(`no sandbox transaction ${id}`);
      tx.status = status;
    },
    setReversalFinalStatus: (status) => {
      finalStatus = status;
    },
    setSettle: (settle) => {
      settleAfterReads = settle.reads ?? settleAfterReads;
      settleAfterMs = settle.ms ?? settleAfterMs;
    },
    setLatency: (ms) => server.setLatency(ms),
  };
}

function json(status: number, body: unknown): SandboxResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

function error(status: number, code: string, message: string): SandboxResponse {
  return json(status, { ErrorCode: code, ErrorMessage: message, ErrorReference: randomUUID() });
}

function unauthorized(): SandboxResponse {
  return error(401, 'UNAUTHORIZED', 'Authorization failed');
}
