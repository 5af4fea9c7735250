/**
 * Plain records the unit tests build the same way: a stored snapshot of a tracked order, the
 * cycle's commit record with nothing in it, and a Klarna job. One place, so a field added to the
 * domain is added to every test's fixtures at once.
 */
import type { OrderSnapshot, TrackedOrder } from '../../src/domain.js';
import { rawPaymentOf } from '../../src/routing/payment.js';
import type { CycleRecord } from '../../src/store/commit.js';
import type { NewCancellationJob } from '../../src/store/jobs.js';

/** An open order paid with Klarna under `ref-<orderNo>`, tracked as the cycle tracks it. */
export function trackedOrder(orderNo: string, over: Partial<TrackedOrder> = {}): TrackedOrder {
  return {
    orderNo,
    orderDate: '2026-11-20 10:15:00',
    status: 'open',
    statusId: '2',
    deliveryStatus: 'N',
    payTypeIdentifier: 'K',
    payTypeReference: `ref-${orderNo}`,
    route: { kind: 'provider', provider: 'klarna', providerRef: `ref-${orderNo}` },
    paymentKey: `klarna:ref-${orderNo}`,
    amount: '100.00',
    currency: 'SEK',
    contentHash: `h-${orderNo}-${over.status ?? 'open'}`,
    ...over,
  };
}

/** `o` as the store keeps it: seen once, facts as `o`'s status implies unless `facts` says otherwise. */
export function snapshotOf(o: TrackedOrder, facts: Partial<OrderSnapshot> = {}): OrderSnapshot {
  return {
    ...o,
    rawPayment: rawPaymentOf(o),
    firstSeenAt: '2026-11-20T09:20:00.000Z',
    lastSeenAt: '2026-11-20T09:20:00.000Z',
    cancelledAt: o.status === 'cancelled' ? '2026-11-20T09:20:00.000Z' : null,
    vanishedAt: null,
    vanishStatus: null,
    ...facts,
  };
}

/** A commit record that writes nothing but its run row; tests fill in what they commit. */
export function cycleRecord(over: Partial<CycleRecord> = {}): CycleRecord {
  return {
    holder: 'test',
    startedAt: '2026-11-26T10:00:00.000Z',
    at: '2026-11-26T10:00:01.000Z',
    baseline: false,
    window: { fromDate: '2026-09-27', toDate: '2026-11-26' },
    upserts: [],
    reentered: [],
    cancelledFacts: [],
    vanished: [],
    reappeared: [],
    leftWindow: [],
    jobs: [],
    voids: [],
    reroutes: [],
    releases: [],
    unsettles: [],
    counts: { listed: 0, newOrders: 0, changed: 0, cancelled: 0, missing: 0, guardTripped: false },
    ...over,
  };
}

/** The job of a Klarna payment `ref`, caused by order `orderNo`'s cancellation. */
export function klarnaJob(orderNo: string, ref: string, over: Partial<NewCancellationJob> = {}): NewCancellationJob {
  return {
    orderNo,
    paymentKey: `klarna:${ref}`,
    provider: 'klarna',
    providerRef: ref,
    payTypeIdentifier: 'K',
    payTypeReference: ref,
    amount: '100.00',
    currency: 'SEK',
    reason: 'cancelled',
    ...over,
  };
}
