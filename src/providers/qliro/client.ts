/**
 * Qliro One Admin API: cancel an order's reservation and confirm the asynchronous reversal.
 *
 * Cancel is `POST /checkout/adminapi/v2/cancelOrder`, signed over the exact body bytes. A 2xx only
 * means Qliro created a Reversal transaction; its final status is read later with
 * `GET /checkout/adminapi/v2/paymentTransactions/{id}` (confirm). Every answer becomes exactly one
 * outcome; nothing here throws for what Qliro or the network did.
 */
import type { AxiosResponse } from 'axios';
import { z } from 'zod';
import type { QliroSettings } from '../../config/types.js';
import { createRedactor } from '../../outbound/redact.js';
import { createProviderHttp, describeAnswer, parseJsonBody, requestDeadline, transportFailure, withRetryAfter } from '../http.js';
import type { CancelOutcome, CancelRequest, ConfirmOutcome, ConfirmRequest, PaymentRead, PaymentReadRequest, ProviderClient } from '../types.js';
import { unknownFromTransport, unknownRead } from '../paymentRead.js';
import { qliroPaymentRead } from './payment.js';
import { qliroAuthorization } from './signature.js';

const QLIRO_CANCEL_PATH = '/checkout/adminapi/v2/cancelOrder';
const qliroTransactionPath = (id: string): string => `/checkout/adminapi/v2/paymentTransactions/${id}`;

/**
 * Qliro publishes no rate limit for the Admin API. Four requests in flight keeps a backlog moving
 * (a cancel is one small request) without looking like a burst to a provider whose limits we
 * cannot see; the dispatcher's backoff on 429 covers the rest.
 */
const QLIRO_MAX_CONCURRENCY = 4;

const errorSchema = z.object({
  ErrorCode: z.string(),
  ErrorMessage: z.string().nullish(),
  ErrorReference: z.string().nullish(),
});

const cancelAnswerSchema = z.object({
  PaymentTransactions: z.array(z.object({ PaymentTransactionId: z.union([z.number().int(), z.string().regex(/^[0-9]+$/)]) }).loose()).min(1),
});

const transactionSchema = z.object({
  PaymentTransactionId: z.union([z.number().int(), z.string()]).optional(),
  Status: z.string(),
});

type Permanent = Extract<CancelOutcome, { kind: 'permanent' }>;
type Transient = Extract<CancelOutcome, { kind: 'transient' }>;

/**
 * Documented ErrorCodes and what they mean for a cancellation. Codes not listed here are
 * undocumented and therefore transient: retried, and after the attempts run out a person sees
 * them — never mistaken for a success or a final refusal.
 */
const KNOWN_CANCEL_ERRORS: Record<string, { kind: 'alreadyCancelled' } | { kind: 'transient' } | Omit<Permanent, 'code' | 'message'>> = {
  ORDER_HAS_BEEN_CANCELLED: { kind: 'alreadyCancelled' },
  ORDER_NOT_FOUND: { kind: 'permanent', reason: 'not_found' },
  // The order exists but belongs to another merchant (another API key): routing or credentials
  // are wrong. "not_found" would suggest there is nothing to cancel; there may well be — under
  // someone else's key — so a person must look: rejected.
  MERCHANT_MISMATCH: { kind: 'permanent', reason: 'rejected' },
  // The order has no payment transaction: nothing was ever reserved, so the reservation we were
  // asked to cancel does not exist at Qliro. That is what not_found means to the person reading it.
  NO_PAYMENT_TRANSACTION: { kind: 'permanent', reason: 'not_found' },
  // Nothing left in the reservation: shipped/captured. Needs a refund, a person's decision.
  NO_ITEMS_TO_CANCEL: { kind: 'permanent', reason: 'captured' },
  NO_QUALIFIED_ITEMS_TO_MANAGE: { kind: 'permanent', reason: 'captured' },
  NO_ITEMS_LEFT_IN_RESERVATION: { kind: 'permanent', reason: 'captured' },
  // "Another transaction is already in process. Please retry shortly."
  OPERATION_NOT_SUPPORTED: { kind: 'transient' },
  PAYMENT_ONHOLD: { kind: 'transient' },
};

const PENDING_STATUSES = new Set(['Created', 'InProcess', 'OnHold', 'UserInteractionRequired']);

export function createQliroClient(settings: QliroSettings, options: { timeoutMs: number }): ProviderClient {
  const http = createProviderHttp(settings.baseUrl, options.timeoutMs);
  // A provider could echo anything back; no configured secret ever leaves in a message.
  const clean = createRedactor([settings.merchantApiSecret]);

  async function cancel(request: CancelRequest, signal?: AbortSignal): Promise<CancelOutcome> {
    const orderId = qliroOrderId(request.providerRef);
    if (orderId === null) {
      return {
        kind: 'permanent',
        reason: 'rejected',
        code: 'INVALID_ORDER_ID',
        message: `Qliro OrderId must be an integer; got ${JSON.stringify(request.providerRef.slice(0, 40))}`,
      };
    }
    // Serialized once, by hand: OrderId is written as the digits themselves (no float rounding of
    // long ids), and these exact bytes are both signed and sent (axios passes a Buffer through).
    const body = Buffer.from(
      `{"RequestId":${JSON.stringify(request.idempotencyKey)},"MerchantApiKey":${JSON.stringify(settings.merchantApiKey)},"OrderId":${orderId}}`,
      'utf8',
    );
    let response: AxiosResponse<unknown>;
    try {
      response = await http.post(QLIRO_CANCEL_PATH, body, {
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          Authorization: qliroAuthorization(body, settings.merchantApiSecret),
        },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return cleanTransient(transportFailure(error), clean);
    }
    return classifyCancelAnswer(response, clean);
  }

  async function confirm(request: ConfirmRequest, signal?: AbortSignal): Promise<ConfirmOutcome> {
    // This client never reports `accepted` without a PaymentTransactionId (a 2xx without one is
    // transient), so a null here means a job recorded outside this client. Guessing the reversal
    // from the order read (GET /orders/{id}, whose transaction list is not documented well enough
    // to pick "the" reversal safely) could confirm the wrong transaction; transient instead lets the
    // dispatcher's confirm deadline turn it into a failed job with an alert, for a person.
    if (request.transactionId === null) {
      return { kind: 'transient', code: 'MISSING_TRANSACTION_ID', message: 'no Qliro PaymentTransactionId stored for this cancellation' };
    }
    if (!/^[0-9]+$/.test(request.transactionId)) {
      return {
        kind: 'permanent',
        reason: 'rejected',
        code: 'INVALID_TRANSACTION_ID',
        message: 'stored Qliro PaymentTransactionId is not an integer',
      };
    }
    let response: AxiosResponse<unknown>;
    try {
      response = await http.get(qliroTransactionPath(request.transactionId), {
        headers: { Accept: 'application/json', Authorization: qliroAuthorization('', settings.merchantApiSecret) },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return cleanTransient(transportFailure(error), clean);
    }
    return classifyTransactionAnswer(response, clean);
  }

  /** The payment's state from the order read, signed over the empty string like every GET. */
  async function readPayment(request: PaymentReadRequest, signal?: AbortSignal): Promise<PaymentRead> {
    const orderId = qliroOrderId(request.providerRef);
    if (orderId === null) return unknownRead(`Qliro OrderId must be an integer; got ${JSON.stringify(request.providerRef.slice(0, 40))}`);
    let response: AxiosResponse<unknown>;
    try {
      response = await http.get(`/checkout/adminapi/v2/orders/${orderId}`, {
        headers: { Accept: 'application/json', Authorization: qliroAuthorization('', settings.merchantApiSecret) },
        signal: requestDeadline(options.timeoutMs, signal),
      });
    } catch (error) {
      return unknownFromTransport(error, clean);
    }
    return qliroPaymentRead(response.status, response.data, clean);
  }

  return { name: 'qliro', maxConcurrency: QLIRO_MAX_CONCURRENCY, cancel, confirm, readPayment };
}

/** Qliro's OrderId is an integer; normalized to its digits without leading zeros, or null. */
function qliroOrderId(providerRef: string): string | null {
  const trimmed = providerRef.trim();
  if (!/^[0-9]{1,30}$/.test(trimmed)) return null;
  const digits = BigInt(trimmed).toString();
  return digits === '0' ? null : digits;
}

function classifyCancelAnswer(response: AxiosResponse<unknown>, clean: (t: string) => string): CancelOutcome {
  const { status, data, headers } = response;
  const json = parseJsonBody(data);

  if (status >= 200 && status < 300) {
    const parsed = cancelAnswerSchema.safeParse(json);
    if (parsed.success) {
      const first = parsed.data.PaymentTransactions[0]!;
      return { kind: 'accepted', transactionId: String(first.PaymentTransactionId) };
    }
    // A 2xx we cannot read is not proof of anything: retry with the same RequestId, which answers
    // ORDER_HAS_BEEN_CANCELLED if this one did go through.
    return {
      kind: 'transient',
      code: 'UNEXPECTED_ANSWER',
      message: clean(`Qliro answered 2xx without a PaymentTransactionId: ${describeAnswer(status, data)}`),
    };
  }

  const error = errorSchema.safeParse(json);
  if (error.success) {
    // hasOwn: an ErrorCode such as "constructor" must not find Object's prototype members.
    const known = Object.hasOwn(KNOWN_CANCEL_ERRORS, error.data.ErrorCode) ? KNOWN_CANCEL_ERRORS[error.data.ErrorCode] : undefined;
    const message = clean(describeQliroError(status, error.data));
    if (known?.kind === 'alreadyCancelled') return { kind: 'succeeded', alreadyCancelled: true };
    if (known?.kind === 'permanent') return { kind: 'permanent', reason: known.reason, code: error.data.ErrorCode, message };
    if (known?.kind === 'transient') return withRetryAfter({ kind: 'transient', code: error.data.ErrorCode, message }, headers);
  }
  return classifyHttpFailure(status, data, headers, error.success ? error.data : null, clean);
}

function classifyTransactionAnswer(response: AxiosResponse<unknown>, clean: (t: string) => string): ConfirmOutcome {
  const { status, data, headers } = response;
  const json = parseJsonBody(data);
  if (status >= 200 && status < 300) {
    const parsed = transactionSchema.safeParse(json);
    if (!parsed.success) {
      return { kind: 'transient', code: 'UNEXPECTED_ANSWER', message: clean(`Qliro transaction read without a Status: ${describeAnswer(status, data)}`) };
    }
    const txStatus = parsed.data.Status;
    if (txStatus === 'Success') return { kind: 'succeeded' };
    if (PENDING_STATUSES.has(txStatus)) return { kind: 'pending', status: txStatus };
    if (txStatus === 'Error' || txStatus === 'Cancelled') {
      // Error: the reversal failed. Cancelled: Qliro overrode it with another transaction. Either
      // way the reservation was not released by us; a person must look at the order.
      return {
        kind: 'permanent',
        reason: 'rejected',
        code: `REVERSAL_${txStatus.toUpperCase()}`,
        message: `Qliro reversal transaction ended with status ${txStatus}`,
      };
    }
    return { kind: 'transient', code: 'UNKNOWN_STATUS', message: clean(`Qliro reversal has an undocumented status: ${txStatus.slice(0, 60)}`) };
  }
  const error = errorSchema.safeParse(json);
  return classifyHttpFailure(status, data, headers, error.success ? error.data : null, clean);
}

/** Non-2xx without a documented ErrorCode: credentials, throttling, outages, anything else. */
function classifyHttpFailure(
  status: number,
  data: unknown,
  headers: AxiosResponse['headers'],
  error: z.infer<typeof errorSchema> | null,
  clean: (t: string) => string,
): Transient | Permanent {
  const message = clean(error ? describeQliroError(status, error) : describeAnswer(status, data));
  // Qliro's answer to a wrong signature is unverified (400 or 401 expected); 401/403 is what we can
  // recognise with confidence. A wrong signature at 400 with an unknown code stays transient and
  // ends as "exhausted" — visible, never silently successful.
  if (status === 401 || status === 403) {
    return { kind: 'permanent', reason: 'auth', code: error?.ErrorCode ?? `HTTP_${status}`, message };
  }
  return withRetryAfter({ kind: 'transient', code: error?.ErrorCode ?? `HTTP_${status}`, message }, headers);
}

function describeQliroError(status: number, error: z.infer<typeof errorSchema>): string {
  const parts = [`HTTP ${status} ${error.ErrorCode}`];
  if (error.ErrorMessage) parts.push(error.ErrorMessage);
  if (error.ErrorReference) parts.push(`(ErrorReference ${error.ErrorReference})`);
  return parts.join(': ').replace(/\s+/g, ' ').slice(0, 300);
}

function cleanTransient<T extends { kind: 'transient'; code: string; message: string }>(outcome: T, clean: (t: string) => string): T {
  return { ...outcome, message: clean(outcome.message) };
}
