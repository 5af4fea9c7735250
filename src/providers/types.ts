/**
 * The contract between the dispatcher and a provider client. A client speaks only its
 * provider's protocol and turns every answer into exactly one outcome; it never throws for
 * anything the provider or the network did (a thrown error is a bug, and the dispatcher treats
 * it as transient so nothing is lost).
 */
import type { PaymentState, ProviderName } from '../domain.js';

/** Why a cancellation can never succeed by retrying; a person must act. */
export type PermanentReason = 'captured' | 'not_found' | 'auth' | 'rejected';

export interface CancelRequest {
  orderNo: string;
  /** The provider's own id of the order (prefix already stripped by routing). */
  providerRef: string;
  /** Made once per cancellation job, stored with it, sent unchanged on every attempt. */
  idempotencyKey: string;
  amount: string | null;
  currency: string | null;
}

export type CancelOutcome =
  /** Cancelled now, synchronously (Klarna 204, Svea 2xx), or it already was cancelled. */
  | { kind: 'succeeded'; alreadyCancelled: boolean }
  /** Accepted asynchronously (Qliro, Walley): confirm later with `confirm`. */
  | { kind: 'accepted'; transactionId: string | null }
  /** Worth another attempt later: 429, 5xx, 409, timeouts, resets, anything undocumented. */
  | { kind: 'transient'; code: string; message: string; retryAfterMs?: number }
  /** Never retried; the reason is kept on the job. */
  | { kind: 'permanent'; reason: PermanentReason; code: string; message: string };

export interface ConfirmRequest {
  orderNo: string;
  providerRef: string;
  /** What `accepted` returned (Qliro's PaymentTransactionId; null for Walley). */
  transactionId: string | null;
}

export type ConfirmOutcome =
  | { kind: 'succeeded' }
  /** Not final yet (Qliro Created/InProcess/OnHold/…; Walley still NotActivated/lagging). */
  | { kind: 'pending'; status: string }
  | { kind: 'transient'; code: string; message: string; retryAfterMs?: number }
  | { kind: 'permanent'; reason: PermanentReason; code: string; message: string };

export interface PaymentReadRequest {
  orderNo: string;
  /** The provider's own id of the order (prefix already stripped by routing). */
  providerRef: string;
}

/**
 * What the provider says about the money of one order. Exactly one state per documented answer;
 * anything else (an error, a timeout, a 401, a malformed body, an undocumented status) is
 * `unknown` with the reason in `detail` — never "nothing reserved".
 */
export interface PaymentRead {
  state: PaymentState;
  /** `reserved` only: what is still reserved, major units ("1249.00"); null where the provider does not tell. */
  reservedAmount: string | null;
  currency: string | null;
  /** `reserved` only: when the reservation lapses (ISO 8601, UTC), where the provider tells it. */
  expiresAt: string | null;
  /** What the provider said ("status AUTHORIZED"), or for `unknown` why the read failed. Secret-free. */
  detail: string;
}

export interface ProviderClient {
  readonly name: ProviderName;
  /** Requests in flight at once, so the provider's rate limit holds. */
  readonly maxConcurrency: number;
  cancel(request: CancelRequest, signal?: AbortSignal): Promise<CancelOutcome>;
  /** Present only for providers that accept asynchronously. */
  confirm?(request: ConfirmRequest, signal?: AbortSignal): Promise<ConfirmOutcome>;
  /** The payment's state as the provider has it now (one read; never throws for what the provider did). */
  readPayment(request: PaymentReadRequest, signal?: AbortSignal): Promise<PaymentRead>;
}
