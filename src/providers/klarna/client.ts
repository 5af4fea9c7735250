/**
 * Klarna Order Management: cancel an authorised, uncaptured order.
 *
 *   POST {base}/ordermanagement/v1/orders/{order_id}/cancel   (no body, HTTP Basic,
 *        Klarna-Idempotency-Key) → 204, synchronous.
 *
 * Every answer becomes exactly one CancelOutcome; nothing here throws for anything Klarna or the
 * network did. Only a 204 is a success: a 200 with a body, an HTML page from a proxy, or any code
 * Klarna does not document for this call is transient, so a person sees it after the retries run
 * out instead of the worker believing a cancel that never happened.
 */
import type { AxiosResponse } from 'axios';
import type { KlarnaSettings } from '../../config/types.js';
import { createRedactor } from '../../outbound/redact.js';
import { createProviderHttp, describeAnswer, parseJsonBody, redactOutcome, requestDeadline, transportFailure, withRetryAfter } from '../http.js';
import type { CancelOutcome, CancelRequest, PaymentRead, PaymentReadRequest, ProviderClient } from '../types.js';
import { unknownFromTransport, unknownRead } from '../paymentRead.js';
import { klarnaPaymentRead, parseKlarnaError, parseKlarnaOrder, type KlarnaError } from './wire.js';

/**
 * Requests in flight at once. Klarna allows 50 requests/s per merchant on the playground and 200/s
 * live, and the merchant's shop shares that budget (captures, order reads). By Little's law the
 * rate is concurrency ÷ latency; Klarna OM calls take ~100 ms or more, so 4 in flight stays under
 * ~40/s even on the playground (a cancel that meets CANCEL_NOT_ALLOWED costs a second request,
 * still within the cap) and leaves most of the live budget to the shop. A 429 is handled anyway
 * (transient, Retry-After honoured), so this bound is about being a good neighbour, not safety.
 */
const KLARNA_MAX_CONCURRENCY = 4;

export function createKlarnaClient(settings: KlarnaSettings, options: { timeoutMs: number }): ProviderClient {
  const http = createProviderHttp(settings.baseUrl, options.timeoutMs);
  const basic = `Basic ${Buffer.from(`${settings.username}:${settings.password}`, 'utf8').toString('base64')}`;
  // Everything that could identify the credentials, scrubbed from any text that leaves this module
  // (a misbehaving proxy could echo our Authorization header back in an error page).
  const redactor = createRedactor([settings.password, basic, basic.slice('Basic '.length)]);
  const scrub = (outcome: CancelOutcome): CancelOutcome => redactOutcome(outcome, redactor);

  async function cancel(request: CancelRequest, signal?: AbortSignal): Promise<CancelOutcome> {
    const ref = request.providerRef.trim();
    if (ref === '') {
      return { kind: 'permanent', reason: 'rejected', code: 'INVALID_REFERENCE', message: 'empty Klarna order id' };
    }
    const path = `/ordermanagement/v1/orders/${encodeURIComponent(ref)}`;
    let response: AxiosResponse<unknown>;
    try {
      response = await http.post(`${path}/cancel`, undefined, {
        headers: {
          Authorization: basic,
          'Klarna-Idempotency-Key': request.idempotencyKey,
          Accept: 'application/json',
          // No body, so no Content-Type (axios would otherwise announce a form for a POST).
          'Content-Type': false,
        },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return scrub(transportFailure(error));
    }

    const { status, data, headers } = response;
    if (status === 204) return { kind: 'succeeded', alreadyCancelled: false };

    const error = parseKlarnaError(parseJsonBody(data));
    const message = errorMessage(status, data, error);
    const transient = (code: string): CancelOutcome => scrub(withRetryAfter({ kind: 'transient', code, message }, headers));

    if (status === 401) {
      return scrub({ kind: 'permanent', reason: 'auth', code: error?.errorCode ?? 'UNAUTHORIZED', message });
    }
    if (status === 403 && error?.errorCode === 'CANCEL_NOT_ALLOWED') {
      return scrub(await explainCancelNotAllowed(path, message, signal));
    }
    if (status === 404 && error?.errorCode === 'NO_SUCH_ORDER') {
      return scrub({ kind: 'permanent', reason: 'not_found', code: 'NO_SUCH_ORDER', message });
    }
    if (status === 409 || status === 429 || status >= 500) {
      return transient(error?.errorCode ?? `HTTP_${status}`);
    }
    // Undocumented for this call (a 200 with a body, another 4xx, a 404 page without Klarna's
    // error code, which means a wrong base URL rather than a missing order): never a success,
    // never a permanent verdict we cannot justify. Retrying costs nothing thanks to the key.
    return transient(error?.errorCode ? `UNEXPECTED_${error.errorCode}` : `UNEXPECTED_HTTP_${status}`);
  }

  /**
   * Klarna documents 403 CANCEL_NOT_ALLOWED as "Order has previous captures", and an order that is
   * already cancelled most likely answers the same (unverified). The two need opposite outcomes —
   * already cancelled is success, captured needs a refund — so read the order and let its status
   * decide:
   *   - captured_amount > 0, or CAPTURED / PART_CAPTURED → captured (captured beats cancelled);
   *   - CANCELLED (nothing captured)                      → succeeded, alreadyCancelled;
   *   - anything else (AUTHORIZED, EXPIRED, CLOSED, …)    → captured, Klarna's own meaning of the
   *     code: we found no proof of the exception, and "captured" makes a person look.
   * If the read gets a transient answer (timeout, 429, 5xx) the outcome is transient: the retry
   * repeats the cancel with the same idempotency key (same 403) and reads again, so nothing can
   * be applied twice, and a passing hiccup does not page a person about a refund. Any other failed
   * read (401, 404, an unreadable body) → captured, the safe answer, since a person then looks.
   */
  async function explainCancelNotAllowed(path: string, cancelMessage: string, signal?: AbortSignal): Promise<CancelOutcome> {
    const captured = (detail: string): CancelOutcome => ({
      kind: 'permanent',
      reason: 'captured',
      code: 'CANCEL_NOT_ALLOWED',
      message: `${cancelMessage} (${detail})`,
    });
    let response: AxiosResponse<unknown>;
    try {
      response = await http.get(path, {
        headers: { Authorization: basic, Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      const failure = transportFailure(error);
      return { ...failure, message: `${cancelMessage}; reading the order to tell captured from cancelled failed: ${failure.message}` };
    }
    const { status, data, headers } = response;
    if (status === 429 || status === 409 || status >= 500) {
      return withRetryAfter(
        { kind: 'transient', code: `ORDER_READ_HTTP_${status}`, message: `${cancelMessage}; reading the order failed: ${describeAnswer(status, data)}` },
        headers,
      );
    }
    const order = status === 200 ? parseKlarnaOrder(parseJsonBody(data)) : null;
    if (!order) return captured(`order read gave ${describeAnswer(status, data)}; assumed captured`);
    if (order.capturedAmount > 0 || order.status === 'CAPTURED' || order.status === 'PART_CAPTURED') {
      return captured(`order status ${order.status}, captured_amount ${order.capturedAmount}`);
    }
    if (order.status === 'CANCELLED') return { kind: 'succeeded', alreadyCancelled: true };
    return captured(`order status ${order.status}, nothing captured; no proof it is cancelled`);
  }

  /**
   * The payment's state: GET the order, signed like every other call (HTTP Basic). Klarna asks
   * integrators to read orders only when needed, so the worker calls this only for a person's
   * decision (docs/providers.md, "Reading a payment's state"), never on every poll.
   */
  async function readPayment(request: PaymentReadRequest, signal?: AbortSignal): Promise<PaymentRead> {
    const ref = request.providerRef.trim();
    if (ref === '') return unknownRead('empty Klarna order id');
    let response: AxiosResponse<unknown>;
    try {
      response = await http.get(`/ordermanagement/v1/orders/${encodeURIComponent(ref)}`, {
        headers: { Authorization: basic, Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return unknownFromTransport(error, redactor);
    }
    const { status, data } = response;
    const error = status === 200 ? null : parseKlarnaError(parseJsonBody(data));
    return klarnaPaymentRead(status, data, error ? errorMessage(status, data, error) : null, redactor);
  }

  return { name: 'klarna', maxConcurrency: KLARNA_MAX_CONCURRENCY, cancel, readPayment };
}

function errorMessage(status: number, data: unknown, error: KlarnaError | null): string {
  if (!error) return describeAnswer(status, data);
  const text = error.errorMessages.join('; ').slice(0, 300);
  const correlation = error.correlationId ? ` (correlation_id ${error.correlationId})` : '';
  return `HTTP ${status} ${error.errorCode}${text ? `: ${text}` : ''}${correlation}`;
}
