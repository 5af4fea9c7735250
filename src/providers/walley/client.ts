/**
 * Walley Management API: cancel an order's reservation and confirm it by reading the order.
 *
 * Cancel is `POST /manage/orders/{id}/cancel`; 202 only means accepted ("it can take a few seconds
 * before the update can be shown"), so confirm reads `GET /manage/orders/{id}` until `data.status`
 * is Cancelled. Authentication is an OAuth2 client-credentials token (token.ts); a 401 from the API
 * fetches a new token once and repeats the call once. Nothing here throws for what Walley or the
 * network did.
 *
 * How Walley says "already cancelled" or "captured" on a cancel is not documented (docs/providers.md
 * leaves it open). This client expects a 400 whose JSON carries a `code` (or `errorCode`, or codes
 * in an `errors` array) — the sandbox answers `ORDER_ALREADY_CANCELLED` and `ORDER_ACTIVATED` /
 * `ORDER_PART_ACTIVATED`. A 400 it cannot place is NOT guessed from its text: the client reads the
 * order and decides from the documented `data.status` (Cancelled → already cancelled; Activated or
 * PartActivated → captured); if that does not settle it, the answer is transient.
 *
 * A 409 ("request with same idempotency key already in progress") is settled the same way, by
 * reading the order: see settleInProgress.
 */
import type { AxiosResponse } from 'axios';
import { z } from 'zod';
import type { WalleySettings } from '../../config/types.js';
import { redact } from '../../outbound/redact.js';
import { createProviderHttp, describeAnswer, parseJsonBody, requestDeadline, transportFailure, withRetryAfter } from '../http.js';
import type {
  CancelOutcome,
  CancelRequest,
  ConfirmOutcome,
  ConfirmRequest,
  PaymentRead,
  PaymentReadRequest,
  PermanentReason,
  ProviderClient,
} from '../types.js';
import { unknownRead } from '../paymentRead.js';
import { walleyPaymentRead } from './payment.js';
import { createWalleyTokenSource } from './token.js';

/**
 * Walley publishes no rate limit for the Management API. Four in flight keeps a backlog moving
 * without bursting at an API whose limits we cannot see (and shares one token fetch between them);
 * 429 answers are backed off by the dispatcher, honouring Retry-After.
 */
const WALLEY_MAX_CONCURRENCY = 4;

const walleyOrderPath = (orderId: string): string => `/manage/orders/${encodeURIComponent(orderId)}`;

type Transient = { kind: 'transient'; code: string; message: string; retryAfterMs?: number };
type Permanent = { kind: 'permanent'; reason: PermanentReason; code: string; message: string };

const orderSchema = z.object({ data: z.object({ status: z.string() }).loose() });

const errorSchema = z
  .object({
    code: z.string().optional(),
    errorCode: z.string().optional(),
    title: z.string().optional(),
    detail: z.string().optional(),
    message: z.string().optional(),
    errors: z.array(z.object({ code: z.string().optional(), message: z.string().optional() }).loose()).optional(),
  })
  .loose();

/** Error codes (normalized: lower case, letters only) and what they mean for a cancel. */
const ALREADY_CANCELLED_CODES = new Set(['orderalreadycancelled', 'alreadycancelled', 'orderiscancelled']);
const CAPTURED_CODES = new Set(['orderactivated', 'orderpartactivated', 'orderisactivated', 'alreadyactivated', 'ordercaptured']);

/** A 404 to the payment read is asked again once after this long: Walley's reads may lag a change. */
const WALLEY_NOT_FOUND_RECHECK_MS = 1_000;

export function createWalleyClient(settings: WalleySettings, options: { timeoutMs: number; now?: () => number; notFoundRecheckMs?: number }): ProviderClient {
  const http = createProviderHttp(settings.baseUrl, options.timeoutMs);
  // Tokens are secrets too: the ones this client holds are redacted along with the client secret
  // (a token Walley echoes that is not among them is caught by the redactor's Bearer shape).
  const clean = (text: string): string => redact(text, [settings.clientSecret, ...tokens.recent()]);
  const tokens = createWalleyTokenSource(http, settings, { timeoutMs: options.timeoutMs, now: options.now ?? Date.now, clean });

  type Sent = { ok: true; response: AxiosResponse<unknown> } | { ok: false; failure: Transient | Permanent };

  /** One API call with a Bearer token; on 401 a new token once and the call once more. */
  async function withToken(send: (token: string, signal: AbortSignal) => Promise<AxiosResponse<unknown>>, signal: AbortSignal | undefined): Promise<Sent> {
    let token = await tokens.get();
    if (!token.ok) return { ok: false, failure: token.failure };
    try {
      let response = await send(token.token, requestDeadline(options.timeoutMs, signal));
      if (response.status !== 401) return { ok: true, response };
      token = await tokens.refreshAfterRejection(token.token);
      if (!token.ok) return { ok: false, failure: token.failure };
      response = await send(token.token, requestDeadline(options.timeoutMs, signal));
      if (response.status !== 401) return { ok: true, response };
      return {
        ok: false,
        failure: { kind: 'permanent', reason: 'auth', code: 'UNAUTHORIZED', message: 'Walley refused a freshly issued token (HTTP 401)' },
      };
    } catch (error) {
      const failure = transportFailure(error);
      return { ok: false, failure: { ...failure, message: clean(failure.message) } };
    }
  }

  function readOrder(orderId: string, signal: AbortSignal | undefined): Promise<Sent> {
    return withToken(
      (token, deadline) =>
        http.get(walleyOrderPath(orderId), {
          headers: { Accept: 'application/json', Authorization: `Bearer ${token}` },
          signal: deadline,
        }),
      signal,
    );
  }

  async function cancel(request: CancelRequest, signal?: AbortSignal): Promise<CancelOutcome> {
    if (request.providerRef.trim() === '') {
      return { kind: 'permanent', reason: 'rejected', code: 'INVALID_ORDER_ID', message: 'empty Walley order id' };
    }
    // actionReference is shown to people in Walley's merchant portal: Specter's order number tells
    // them which order this was; the idempotency key travels in its own header.
    const body = JSON.stringify({ actionReference: request.orderNo });
    const sent = await withToken(
      (token, deadline) =>
        http.post(`${walleyOrderPath(request.providerRef)}/cancel`, body, {
          headers: {
            'Content-Type': 'application/json',
            Accept: 'application/json',
            Authorization: `Bearer ${token}`,
            'Walley-Idempotency-Key': request.idempotencyKey,
          },
          signal: deadline,
        }),
      signal,
    );
    if (!sent.ok) return sent.failure;
    const { status, data, headers } = sent.response;

    // 202 is documented; any 2xx is treated the same, which is safe because accepted is never
    // final: confirm still has to see data.status Cancelled.
    if (status >= 200 && status < 300) return { kind: 'accepted', transactionId: null };
    const message = clean(describeAnswer(status, data));
    if (status === 404) return { kind: 'permanent', reason: 'not_found', code: 'HTTP_404', message };
    if (status === 403) return { kind: 'permanent', reason: 'auth', code: 'HTTP_403', message };
    if (status === 400) return classifyRefusal(request.providerRef, parseJsonBody(data), message, signal);
    if (status === 409) return settleInProgress(request.providerRef, withRetryAfter({ kind: 'transient', code: 'HTTP_409', message }, headers), signal);
    // 429/5xx: retry later.
    return withRetryAfter({ kind: 'transient', code: `HTTP_${status}`, message }, headers);
  }

  /**
   * 409 "request with same idempotency key already in progress". The key is ours (one per
   * payment, sent unchanged on every attempt), so the request in progress is an earlier attempt
   * of this very cancellation, typically one whose 202 never reached us. Walley may keep saying
   * "in progress" for longer than our whole retry budget; retrying blindly would then end
   * `exhausted` with an alert although the payment is cancelled. So the order itself is asked:
   * Cancelled means our earlier attempt went through (a plain success: it was our request that
   * did it, so it is not "already cancelled" by someone else). Anything short of that stays
   * transient, because the order read is eventually consistent right after a change: a status
   * that still shows the reservation, and a 403/404, may only be lagging behind the cancel.
   */
  async function settleInProgress(orderId: string, conflict: Transient, signal: AbortSignal | undefined): Promise<CancelOutcome> {
    const read = await readOrder(orderId, signal);
    if (!read.ok) return { ...conflict, message: `${conflict.message}; the order read to settle it failed: ${read.failure.message}` };
    const { status, data } = read.response;
    if (status < 200 || status >= 300) {
      return { ...conflict, message: `${conflict.message}; the order read answered HTTP ${status} (it may lag right after the cancel)` };
    }
    const order = orderSchema.safeParse(parseJsonBody(data));
    if (!order.success) return { ...conflict, message: `${conflict.message}; the order read carried no data.status` };
    const orderStatus = order.data.data.status;
    if (orderStatus === 'Cancelled') return { kind: 'succeeded', alreadyCancelled: false };
    if (orderStatus === 'Activated') {
      // Fully captured: whatever our attempt did, nothing is reserved and money was taken. A
      // part-activated order whose cancel released the rest also ends here (confirm does the same).
      return { kind: 'permanent', reason: 'captured', code: 'ORDER_ACTIVATED', message: `${conflict.message}; the order status is Activated` };
    }
    // NotActivated / PartActivated / Expired: the cancel in progress has not shown yet.
    return { ...conflict, message: clean(`${conflict.message}; the order still reads ${orderStatus.slice(0, 60)}`) };
  }

  async function classifyRefusal(orderId: string, json: unknown, message: string, signal: AbortSignal | undefined): Promise<CancelOutcome> {
    const parsed = errorSchema.safeParse(json);
    const codes = parsed.success
      ? [parsed.data.code, parsed.data.errorCode, ...(parsed.data.errors ?? []).map((e) => e.code)].filter((c): c is string => !!c)
      : [];
    const normalized = codes.map((c) => c.toLowerCase().replace(/[^a-z]/g, ''));
    const code = codes[0] ?? 'HTTP_400';
    if (normalized.some((c) => ALREADY_CANCELLED_CODES.has(c))) return { kind: 'succeeded', alreadyCancelled: true };
    if (normalized.some((c) => CAPTURED_CODES.has(c))) return { kind: 'permanent', reason: 'captured', code, message };

    // Unplaced refusal: ask the order itself. Nothing changed on it (the cancel was refused), so
    // the read is not subject to the post-change lag.
    const read = await readOrder(orderId, signal);
    if (read.ok && read.response.status >= 200 && read.response.status < 300) {
      const order = orderSchema.safeParse(parseJsonBody(read.response.data));
      const orderStatus = order.success ? order.data.data.status : null;
      if (orderStatus === 'Cancelled') return { kind: 'succeeded', alreadyCancelled: true };
      if (orderStatus === 'Activated' || orderStatus === 'PartActivated') {
        return { kind: 'permanent', reason: 'captured', code, message: `${message} (order status ${orderStatus})` };
      }
    }
    return { kind: 'transient', code, message };
  }

  async function confirm(request: ConfirmRequest, signal?: AbortSignal): Promise<ConfirmOutcome> {
    const read = await readOrder(request.providerRef, signal);
    if (!read.ok) return read.failure;
    const { status, data, headers } = read.response;
    if (status >= 200 && status < 300) {
      const order = orderSchema.safeParse(parseJsonBody(data));
      if (!order.success) {
        return { kind: 'transient', code: 'UNEXPECTED_ANSWER', message: clean(`Walley order read without data.status: ${describeAnswer(status, data)}`) };
      }
      const orderStatus = order.data.data.status;
      if (orderStatus === 'Cancelled') return { kind: 'succeeded' };
      // NotActivated: the accepted cancel has not shown yet. Expired: an authorisation that lapsed
      // is not our cancel; keep waiting for Cancelled and let the confirm deadline decide.
      if (orderStatus === 'NotActivated' || orderStatus === 'Expired') return { kind: 'pending', status: orderStatus };
      if (orderStatus === 'Activated' || orderStatus === 'PartActivated') {
        // Captured meanwhile (or a part-activated order whose cancel released only the rest):
        // money was taken, a refund is a person's decision.
        return { kind: 'permanent', reason: 'captured', code: `ORDER_${orderStatus.toUpperCase()}`, message: `Walley order status is ${orderStatus}` };
      }
      return { kind: 'transient', code: 'UNKNOWN_STATUS', message: clean(`Walley order has an undocumented status: ${orderStatus.slice(0, 60)}`) };
    }
    if (status === 403 || status === 404) {
      // Walley documents that a read right after a change may answer 403/404 while it lags. The
      // cancel was accepted (202) for this very order, so it existed; this client keeps no memory
      // of earlier looks, so it never calls a 403/404 permanent. The dispatcher's confirm deadline
      // bounds the wait and fails the job with an alert if the order never shows up again.
      return { kind: 'pending', status: `NotVisible(HTTP ${status})` };
    }
    return withRetryAfter({ kind: 'transient', code: `HTTP_${status}`, message: clean(describeAnswer(status, data)) }, headers);
  }

  /**
   * The payment's state from the order read. Walley documents that a read right after a change may
   * answer 404 while it lags, so a 404 is asked once more after a moment before it is believed.
   * The amount is eventually consistent too: a read right after a change may show the old one.
   */
  async function readPayment(request: PaymentReadRequest, signal?: AbortSignal): Promise<PaymentRead> {
    if (request.providerRef.trim() === '') return unknownRead('empty Walley order id');
    let read = await readOrder(request.providerRef, signal);
    if (read.ok && read.response.status === 404) {
      await new Promise((resolve) => setTimeout(resolve, options.notFoundRecheckMs ?? WALLEY_NOT_FOUND_RECHECK_MS));
      read = await readOrder(request.providerRef, signal);
    }
    if (!read.ok) return unknownRead(`the Walley order read failed: ${read.failure.message}`, clean);
    return walleyPaymentRead(read.response.status, read.response.data, clean);
  }

  return { name: 'walley', maxConcurrency: WALLEY_MAX_CONCURRENCY, cancel, confirm, readPayment };
}
