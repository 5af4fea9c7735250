/**
 * The diff: a pure function from what we knew (snapshots) and what Specter says now (a COMPLETE
 * listing) to what changed. No I/O, no clock: everything it needs comes in as values, so every
 * rule of design.md is tested on plain data (test/diff/diff.test.ts).
 */
import type { SnapshotSummary, TrackedOrder } from '../domain.js';
import { isBeforeWindow, type OrderWindow } from './window.js';

/** S: the compact SnapshotSummary in the cycle, or full OrderSnapshots; the diff reads only the summary. */
export interface DiffInput<S extends SnapshotSummary = SnapshotSummary> {
  /** Every order still tracked (not yet left the window), by orderNo. */
  snapshots: ReadonlyMap<string, S>;
  /** A complete listing of the window, plus any order `getOrder` found since. */
  listing: readonly TrackedOrder[];
  window: OrderWindow;
  /** No successful run yet: record what exists and forward nothing. */
  baseline: boolean;
}

export interface CancellationTransition {
  order: TrackedOrder;
  /** Created and cancelled between two polls: never seen open. */
  firstSeenCancelled: boolean;
}

export interface OrderDiff<S extends SnapshotSummary = SnapshotSummary> {
  /** Not tracked before. */
  newOrders: TrackedOrder[];
  /** Tracked, and its content hash differs. */
  changed: Array<{ before: S; after: TrackedOrder }>;
  /** Seen cancelled for the first time (cancelled_at is still unset): the fact to write. */
  cancelledFacts: TrackedOrder[];
  /** The subset of cancelledFacts that must be forwarded (none on a baseline). */
  cancellations: CancellationTransition[];
  /** Tracked, in the window, absent from the listing: a question for getOrder, not an answer. */
  missing: S[];
  /** Vanished before (and not dealt with as gone for good) but listed again. */
  reappeared: Array<{ before: S; after: TrackedOrder }>;
  /** Tracked, but now older than the window: they leave tracking quietly. */
  leftWindow: S[];
  unchanged: number;
}

/** Vanished orders whose disappearance is already recorded are not asked about again. */
function vanishIsRecorded(snapshot: SnapshotSummary): boolean {
  return snapshot.vanishedAt !== null && snapshot.vanishStatus !== 'reappeared';
}

export function diffOrders<S extends SnapshotSummary>(input: DiffInput<S>): OrderDiff<S> {
  const { snapshots, listing, window, baseline } = input;
  const result: OrderDiff<S> = {
    newOrders: [],
    changed: [],
    cancelledFacts: [],
    cancellations: [],
    missing: [],
    reappeared: [],
    leftWindow: [],
    unchanged: 0,
  };
  const listed = new Set<string>();

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
        if (!baseline) result.cancellations.push({ order, firstSeenCancelled: true });
      }
      continue;
    }

    // Back after a recorded disappearance — even one a person already resolved or cancelled:
    // whoever acted on it must hear that the order exists after all.
    if (vanishIsRecorded(before)) result.reappeared.push({ before, after: order });
    if (before.contentHash !== order.contentHash) result.changed.push({ before, after: order });
    else result.unchanged += 1;

    // cancelled_at is a fact written once: an order cancelled, re-opened and cancelled again
    // is forwarded once, and an order seen cancelled at the baseline is never forwarded.
    if (order.status === 'cancelled' && before.cancelledAt === null) {
      result.cancelledFacts.push(order);
      if (!baseline) result.cancellations.push({ order, firstSeenCancelled: false });
    }
  }

  for (const snapshot of snapshots.values()) {
    if (listed.has(snapshot.orderNo)) continue;
    if (isBeforeWindow(snapshot.orderDate, window)) {
      result.leftWindow.push(snapshot);
      continue;
    }
    if (vanishIsRecorded(snapshot)) continue;
    result.missing.push(snapshot);
  }

  return result;
}
