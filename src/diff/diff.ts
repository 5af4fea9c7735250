/**
 * The diff: a pure function from what we knew (snapshots) and what Specter says now (a COMPLETE
 * listing) to what changed. No I/O, no clock: everything it needs comes in as values, so every
 * rule of docs/architecture.md is tested on plain data (test/diff/diff.test.ts).
 */
import type { SnapshotPayment, SnapshotSummary, TrackedOrder } from '../domain.js';
import { rawPaymentOf } from '../routing/payment.js';
import { isBeforeWindow, orderDay, type OrderWindow } from './window.js';

/** S: the compact SnapshotSummary in the cycle, or full OrderSnapshots; the diff reads only the summary. */
export interface DiffInput<S extends SnapshotSummary = SnapshotSummary> {
  /** Every order still tracked (not yet left the window), by orderNo, plus kept snapshots of orders that left it and are dated inside it again (`reentering`). */
  snapshots: ReadonlyMap<string, S>;
  /**
   * The stored payments of the orders ordersNeedingPayment names (store/snapshots.ts
   * loadSnapshotPayments). Not needed when the snapshots carry their payment (full OrderSnapshots).
   */
  payments?: ReadonlyMap<string, SnapshotPayment>;
  /** A complete listing of the window, plus any order `getOrder` found since. */
  listing: readonly TrackedOrder[];
  window: OrderWindow;
  /** No successful run yet: record what exists and forward nothing. */
  baseline: boolean;
  /**
   * The window of the previous successful run: an order first seen with an order date before it
   * was never watched (a lengthened lookback brought it in), so it is recorded like a baseline.
   * Null: unknown (runs recorded before migration 0003), every date counts as covered.
   */
  coverage?: OrderWindow | null;
}

export interface CancellationTransition {
  order: TrackedOrder;
  /** Created and cancelled between two polls: never seen open. */
  firstSeenCancelled: boolean;
}

export interface Transition<S> {
  /** With its stored payment: plan.ts judges the payment's jobs by it. */
  before: S & SnapshotPayment;
  after: TrackedOrder;
}

export interface OrderDiff<S extends SnapshotSummary = SnapshotSummary> {
  /** Not tracked before. */
  newOrders: TrackedOrder[];
  /** Tracked, and its content hash differs. */
  changed: Array<Transition<S>>;
  /** Seen cancelled for the first time (cancelled_at is still unset): the fact to write. */
  cancelledFacts: TrackedOrder[];
  /**
   * Cancellations the worker watched happen, to be forwarded (none on a baseline): an order seen
   * not cancelled that is cancelled now, a cancelled order carrying a new payment, or a new order
   * already cancelled whose date the previous run covered (created and cancelled between polls).
   */
  cancellations: CancellationTransition[];
  /** Recorded as cancelled, open (or delivered) in Specter again. */
  reopened: Array<Transition<S>>;
  /** Had left the window and is listed again: matched with its kept snapshot, not new. */
  reentered: S[];
  /** Tracked, in the window, absent from the listing: a question for getOrder, not an answer. */
  missing: S[];
  /** Vanished before (and not dealt with as gone for good) but listed again. */
  reappeared: Array<Transition<S>>;
  /** Tracked, but now older than the window: they leave tracking quietly. */
  leftWindow: S[];
  unchanged: number;
}

/** Vanished orders whose disappearance is already recorded are not asked about again. */
function vanishIsRecorded(snapshot: SnapshotSummary): boolean {
  return snapshot.vanishedAt !== null && snapshot.vanishStatus !== 'reappeared';
}

/**
 * The tracked orders whose stored payment the diff reads: those listed with another content hash
 * (a changed order, a re-open, a cancellation that may carry a new payment) and those back after
 * a recorded disappearance. Every other listed order has an equal hash, so the same payment
 * (both payment fields are hashed, diff/track.ts): the index needs no payment columns.
 */
export function ordersNeedingPayment(snapshots: ReadonlyMap<string, SnapshotSummary>, listing: readonly TrackedOrder[]): string[] {
  const orderNos: string[] = [];
  for (const order of listing) {
    const before = snapshots.get(order.orderNo);
    if (before && needsPayment(before, order)) orderNos.push(order.orderNo);
  }
  return orderNos;
}

/** A re-open changes the status, so the hash, too; named anyway, so a stale hash cannot hide one. */
function needsPayment(before: SnapshotSummary, order: TrackedOrder): boolean {
  return before.contentHash !== order.contentHash || vanishIsRecorded(before) || (before.status === 'cancelled' && order.status !== 'cancelled');
}

function hasPayment<S extends SnapshotSummary>(snapshot: S): snapshot is S & SnapshotPayment {
  const candidate = snapshot as S & Partial<SnapshotPayment>;
  return typeof candidate.rawPayment === 'string' && candidate.paymentKey !== undefined;
}

/** Was `orderDate` inside the previous run's window (or is it newer)? Unknown coverage: yes. */
function covered(orderDate: string, coverage: OrderWindow | null | undefined): boolean {
  return coverage === null || coverage === undefined || orderDay(orderDate) >= coverage.fromDate;
}

export function diffOrders<S extends SnapshotSummary>(input: DiffInput<S>): OrderDiff<S> {
  const { snapshots, listing, window, baseline, coverage } = input;
  const result: OrderDiff<S> = {
    newOrders: [],
    changed: [],
    cancelledFacts: [],
    cancellations: [],
    reopened: [],
    reentered: [],
    missing: [],
    reappeared: [],
    leftWindow: [],
    unchanged: 0,
  };
  const listed = new Set<string>();
  // A transition without its stored payment would be judged against nothing: refused loudly, never guessed.
  const withPayment = (before: S): S & SnapshotPayment => {
    if (hasPayment(before)) return before;
    const payment = input.payments?.get(before.orderNo);
    if (!payment) throw new Error(`diff: the stored payment of order ${before.orderNo} was not read (ordersNeedingPayment names it)`);
    return { ...before, ...payment };
  };

  for (const order of listing) {
    const before = snapshots.get(order.orderNo);
    // Specter should not list an order outside the window, but getOrder answers for any order:
    // an order older than the window is no longer ours to act on, wherever it came from. A
    // tracked order whose date moved back out of the window (the listing no longer has it, and
    // getOrder found it with its new date) leaves tracking; it did not vanish.
    if (isBeforeWindow(order.orderDate, window)) {
      if (before && !listed.has(order.orderNo)) {
        listed.add(order.orderNo);
        result.leftWindow.push(before);
      }
      continue;
    }
    listed.add(order.orderNo);

    if (!before) {
      result.newOrders.push(order);
      if (order.status === 'cancelled') {
        result.cancelledFacts.push(order);
        // History stays history: an order dated before what the previous run covered may have
        // been cancelled years ago; only one the worker could have seen open is news.
        if (!baseline && covered(order.orderDate, coverage)) result.cancellations.push({ order, firstSeenCancelled: true });
      }
      continue;
    }

    const hashChanged = before.contentHash !== order.contentHash;
    // With its stored payment only when a transition is judged: an unchanged order needs none.
    const full = needsPayment(before, order) ? withPayment(before) : null;
    // Back after a recorded disappearance — even one a person already resolved or cancelled:
    // whoever acted on it must hear that the order exists after all.
    if (full && vanishIsRecorded(before)) result.reappeared.push({ before: full, after: order });
    if (before.reentering === true) result.reentered.push(before);
    if (full && hashChanged) result.changed.push({ before: full, after: order });
    else result.unchanged += 1;

    // cancelled_at is a fact written once (when it was first seen cancelled, watched or not).
    if (order.status === 'cancelled' && before.cancelledAt === null) result.cancelledFacts.push(order);
    // What happened while the order was outside the window was not watched: a re-entering order
    // adds history, not news.
    const watched = !baseline && before.reentering !== true;
    if (order.status === 'cancelled') {
      // A cancellation belongs to a payment: a cancelled order that now carries another payment
      // (paid again under a new reference) has a new payment to cancel. The same payment again
      // (cancelled, re-opened, cancelled) finds its job already there: forwarded once.
      const newlyCancelled = before.status !== 'cancelled';
      // An equal hash is the same payment (its fields are hashed): only a changed order can carry a new one.
      const newPayment = !newlyCancelled && full !== null && hashChanged && order.paymentKey !== null && rawPaymentOf(order) !== full.rawPayment;
      if (watched && (newlyCancelled || newPayment)) result.cancellations.push({ order, firstSeenCancelled: false });
    } else if (before.status === 'cancelled') {
      result.reopened.push({ before: withPayment(before), after: order });
    }
  }

  for (const snapshot of snapshots.values()) {
    if (listed.has(snapshot.orderNo)) continue;
    // A kept snapshot of an order that left the window, dated inside it again but not listed: it
    // was never re-entered, so its absence is not news (it may have gone while unwatched).
    if (snapshot.reentering === true) continue;
    if (isBeforeWindow(snapshot.orderDate, window)) {
      result.leftWindow.push(snapshot);
      continue;
    }
    if (vanishIsRecorded(snapshot)) continue;
    result.missing.push(snapshot);
  }

  return result;
}
