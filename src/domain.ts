/**
 * The vocabulary every module shares: what Specter says about an order, what the worker
 * tracks of it, and where its payment lives. Plain data only; no behaviour.
 */

export const PROVIDER_NAMES = ['qliro', 'klarna', 'walley', 'svea'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** A lookback window in Specter's calendar (diff/window.ts makes one): inclusive 'YYYY-MM-DD' dates. */
export interface OrderWindow {
  fromDate: string;
  toDate: string;
}

/** Specter's status fields mapped through the (configurable) status map. */
export type OrderStatus = 'open' | 'cancelled' | 'delivered';

/** The payment of an order, every value exactly as Specter gives it. */
export interface SpecterPayment {
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
  payTypeIdentifierPaySystemUser: string | null;
  currency: string | null;
  /** Decimal string with a dot, as Specter gives it (e.g. "1249.00"). */
  totalIncVat: string | null;
}

/** One order as Specter answered it, validated where it entered (see specter/xml.ts). */
export interface SpecterOrder {
  /** A positive integer, kept as the string Specter sent. */
  orderNo: string;
  externalOrderNo: string | null;
  /** "YYYY-MM-DD HH:mm:ss", Europe/Stockholm local time, no offset (as Specter gives it). */
  orderDate: string;
  lastChanged: string | null;
  statusId: string | null;
  deliveryStatus: string | null;
  customerName: string | null;
  /** Null on old orders that carry no <payment>: tracked, but nothing to forward. */
  payment: SpecterPayment | null;
}

/**
 * Where an order's payment is cancelled, decided by the routing rules in config. `elsewhere`: the
 * merchant settles these payments outside specter-sync, on purpose (quiet); `unrouted`: no rule
 * covers the payment, so a cancelled or vanished order's payment awaits a person.
 */
export type Route =
  | { kind: 'provider'; provider: ProviderName; providerRef: string }
  | { kind: 'handledBySpecter' }
  | { kind: 'elsewhere' }
  | { kind: 'unrouted'; reason: string };
export type RouteKind = Route['kind'];

/** What the worker tracks of one order: Specter's facts, mapped and routed. */
export interface TrackedOrder {
  orderNo: string;
  /** As Specter gives it; its first 10 characters are the order's date for the window. */
  orderDate: string;
  status: OrderStatus;
  statusId: string | null;
  deliveryStatus: string | null;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
  route: Route;
  /**
   * The payment this order carries now, the unit a cancellation belongs to (routing/payment.ts):
   * "<provider>:<providerRef>", or "unrouted:…" for a payment no route covers; null when there is
   * nothing to cancel (no payment, handled by Specter, settled elsewhere).
   */
  paymentKey: string | null;
  amount: string | null;
  currency: string | null;
  /** Hash over every field above: equal hashes mean nothing changed. */
  contentHash: string;
}

export type CancellationReason = 'cancelled' | 'vanished';

/**
 * The outbox's states (docs/money-safety.md): pending → sending → done | accepted → done|failed;
 * voided: never sent, what the job was made from no longer holds; dismissed: a person closed a
 * failed job without sending. The one list every other module derives from.
 */
export const JOB_STATES = ['pending', 'sending', 'accepted', 'done', 'failed', 'voided', 'dismissed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Why a job failed for good (the `reason` of `cancel.failed`), or `unrouted`: no route covers its payment. */
export const FAILURE_REASONS = ['captured', 'not_found', 'auth', 'rejected', 'exhausted', 'unrouted'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * What a payment's provider says about the money (docs/providers.md, "Reading a payment's state"):
 * still `reserved`, `captured`, `cancelled`, `expired` (the authorisation lapsed), `not_found`, or
 * `unknown` — the read failed or got an answer nobody documented, never taken as an answer.
 */
export const PAYMENT_STATES = ['reserved', 'captured', 'cancelled', 'expired', 'not_found', 'unknown'] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

/** What became of a vanished order (see migrations/0001_initial.sql). */
export type VanishStatus = 'awaiting' | 'reappeared' | 'resolved' | 'cancel_requested' | 'handled_by_specter' | 'settled_elsewhere' | 'unrouted';

/**
 * What the diff needs to know of EVERY tracked order: enough to decide, not to act. At 100,000
 * orders the cycle holds this compact index, not the full snapshots (bench/RESULTS.md, peak RSS),
 * and no payment columns: an order whose content hash is unchanged has the same payment (the
 * payment's fields are in the hash), so the stored payment (SnapshotPayment) is read only for the
 * few orders the diff finds changed or back after a recorded disappearance (diff.ts
 * ordersNeedingPayment), and the full rows only of the few orders the cycle acts on.
 */
export interface SnapshotSummary {
  orderNo: string;
  orderDate: string;
  contentHash: string;
  /** As last seen: a transition is judged against it (a re-open, a cancellation while watched). */
  status: OrderStatus;
  cancelledAt: string | null;
  vanishedAt: string | null;
  vanishStatus: VanishStatus | null;
  /**
   * The order had left the window and is listed again (a lengthened lookback): its facts stand,
   * and what happened to it while it was out of the window was not watched.
   */
  reentering?: boolean;
}

/** The stored payment of a tracked order: what a transition (changed, re-opened, reappeared) is judged against. */
export interface SnapshotPayment {
  paymentKey: string | null;
  /** The payment as Specter gave it: "<payTypeIdentifier>:<payTypeReference>" (routing/payment.ts rawPaymentOf). */
  rawPayment: string;
}

/** A tracked order as stored, with the facts written once about it. */
export interface OrderSnapshot extends TrackedOrder {
  /** As in SnapshotPayment: the payment as Specter gave it. */
  rawPayment: string;
  firstSeenAt: string;
  lastSeenAt: string;
  cancelledAt: string | null;
  vanishedAt: string | null;
  vanishStatus: VanishStatus | null;
}
