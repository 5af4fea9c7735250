/**
 * Svea Checkout, Payment Admin API: cancel an undelivered order.
 *
 *   GET   {base}/api/v1/orders/{CheckoutOrderId}            → the order, with its Actions
 *   PATCH {base}/api/v1/orders/{CheckoutOrderId}  {"IsCancelled":true}  → 2xx, empty body
 *
 * Svea documents no idempotency mechanism, so the read comes first on every attempt: it is what
 * makes a repeat safe. If an earlier attempt's PATCH went through but its answer was lost (timeout,
 * reset), the retry's GET shows the order cancelled and the PATCH is never sent again. And the
 * PATCH is only sent while Svea itself lists "CanCancelOrder", so a delivered (invoiced) order is
 * never touched. (The window between GET and PATCH is Svea's to guard: a PATCH on an order that
 * just stopped being cancellable gets a 4xx, which is reported, not retried blindly.)
 *
 * Every request carries fresh Timestamp/Authorization headers (signature.ts). Nothing here throws
 * for anything Svea or the network did.
 */
import type { AxiosResponse } from 'axios';
import type { SveaSettings } from '../../config/types.js';
import { createRedactor } from '../../outbound/redact.js';
import { createProviderHttp, describeAnswer, parseJsonBody, redactOutcome, requestDeadline, transportFailure, withRetryAfter } from '../http.js';
import type { CancelOutcome, CancelRequest, PaymentRead, PaymentReadRequest, ProviderClient } from '../types.js';
import { unknownFromTransport, unknownRead } from '../paymentRead.js';
import { sveaAuthorization, sveaTimestamp } from './signature.js';
import { parseSveaOrder, sveaPaymentRead } from './wire.js';

/**
 * Requests in flight at once. Svea documents no rate limit for the Payment Admin API; each cancel
 * is two requests (read, then patch). 4 keeps the load on a merchant's shared API small and is
 * plenty for the volume of cancellations one shop produces.
 */
const SVEA_MAX_CONCURRENCY = 4;

/** Serialised once; these exact bytes are signed and sent. */
const CANCEL_BODY = Buffer.from(JSON.stringify({ IsCancelled: true }), 'utf8');
const EMPTY_BODY = Buffer.alloc(0);

export function createSveaClient(settings: SveaSettings, options: { timeoutMs: number; now?: () => Date }): ProviderClient {
  const http = createProviderHttp(settings.baseUrl, options.timeoutMs);
  const now = options.now ?? (() => new Date());

  function authHeaders(body: Buffer): Record<string, string> {
    const timestamp = sveaTimestamp(now());
    return { Timestamp: timestamp, Authorization: sveaAuthorization(settings.merchantId, settings.secret, body, timestamp) };
  }

  /** Secret-free by construction (we never put the secret or a signature in a message), and
   *  scrubbed anyway in case Svea or a proxy echoes something back. */
  const redactor = createRedactor([settings.secret]);
  const scrub = (outcome: CancelOutcome): CancelOutcome => redactOutcome(outcome, redactor);

  async function cancel(request: CancelRequest, signal?: AbortSignal): Promise<CancelOutcome> {
    const ref = request.providerRef.trim();
    if (ref === '') {
      return { kind: 'permanent', reason: 'rejected', code: 'INVALID_REFERENCE', message: 'empty Svea order id' };
    }
    const path = `/api/v1/orders/${encodeURIComponent(ref)}`;

    let read: AxiosResponse<unknown>;
    try {
      read = await http.get(path, {
        headers: { ...authHeaders(EMPTY_BODY), Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return scrub(transportFailure(error));
    }
    if (read.status !== 200) return scrub(classifyError(read, 'read'));

    const order = parseSveaOrder(parseJsonBody(read.data));
    if (!order) {
      return scrub({ kind: 'transient', code: 'UNEXPECTED_ORDER', message: `order read: ${describeAnswer(read.status, read.data)}` });
    }

    if (!order.actions.some((action) => action.toLowerCase() === 'cancancelorder')) {
      const state = `OrderStatus ${order.orderStatus ?? 'missing'}, IsCancelled ${order.isCancelled}, ${order.deliveryCount} deliveries`;
      // Captured beats cancelled: anything delivered needs a refund, whatever else the order says.
      if (order.orderStatus?.toLowerCase() === 'delivered' || order.deliveryCount > 0) {
        return { kind: 'permanent', reason: 'captured', code: 'DELIVERED', message: `order is delivered, needs a refund (${state})` };
      }
      if (order.orderStatus?.toLowerCase() === 'cancelled' || order.isCancelled) {
        return { kind: 'succeeded', alreadyCancelled: true };
      }
      return { kind: 'permanent', reason: 'rejected', code: 'NOT_CANCELLABLE', message: `Svea does not offer CanCancelOrder (${state})` };
    }

    let patched: AxiosResponse<unknown>;
    try {
      patched = await http.patch(path, CANCEL_BODY, {
        headers: { ...authHeaders(CANCEL_BODY), 'Content-Type': 'application/json', Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return scrub(transportFailure(error));
    }
    if (patched.status >= 200 && patched.status < 300) return { kind: 'succeeded', alreadyCancelled: false };
    return scrub(classifyError(patched, 'cancel'));
  }

  /** The payment's state from the same signed GET the cancel reads first. */
  async function readPayment(request: PaymentReadRequest, signal?: AbortSignal): Promise<PaymentRead> {
    const ref = request.providerRef.trim();
    if (ref === '') return unknownRead('empty Svea order id');
    let read: AxiosResponse<unknown>;
    try {
      read = await http.get(`/api/v1/orders/${encodeURIComponent(ref)}`, {
        headers: { ...authHeaders(EMPTY_BODY), Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return unknownFromTransport(error, redactor);
    }
    return sveaPaymentRead(read.status, read.data, sveaMessage(read), redactor);
  }

  return { name: 'svea', maxConcurrency: SVEA_MAX_CONCURRENCY, cancel, readPayment };
}

/** A non-success answer of either request. */
function classifyError(response: AxiosResponse<unknown>, step: 'read' | 'cancel'): CancelOutcome {
  const { status } = response;
  const message = `${step}: ${sveaMessage(response)}`;
  if (status === 401 || status === 403) return { kind: 'permanent', reason: 'auth', code: `HTTP_${status}`, message };
  if (status === 404) return { kind: 'permanent', reason: 'not_found', code: 'HTTP_404', message };
  if (status === 400) return { kind: 'permanent', reason: 'rejected', code: 'HTTP_400', message };
  const code = status === 429 || status >= 500 ? `HTTP_${status}` : `UNEXPECTED_HTTP_${status}`;
  // 429, 5xx and anything undocumented (a redirect we refuse to follow, a 204 to the GET, an odd
  // 4xx): never a success, worth another attempt, and the read-first step keeps a repeat safe.
  return withRetryAfter({ kind: 'transient', code, message }, response.headers);
}

/** Svea may put the reason only in an `ErrorMessage` response header; prefer it, else the body. */
function sveaMessage(response: AxiosResponse<unknown>): string {
  const header = (response.headers as Record<string, unknown>)['errormessage'];
  const text = typeof header === 'string' ? header.trim() : '';
  if (text) return `HTTP ${response.status}: ${text.slice(0, 300)}`;
  return describeAnswer(response.status, response.data);
}
