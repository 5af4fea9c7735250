/** The diff's rules (docs/architecture.md), each on plain values: no database, no HTTP, no clock. */
import { describe, expect, it } from '@jest/globals';
import { snapshotOf } from '../support/records.js';
import type { OrderSnapshot, Route, SnapshotSummary, TrackedOrder } from '../../src/domain.js';
import { diffOrders, ordersNeedingPayment, type DiffInput } from '../../src/diff/diff.js';
import { windowFor } from '../../src/diff/window.js';

const window = { fromDate: '2026-09-27', toDate: '2026-11-26' };
const qliro = (ref: string): Route => ({ kind: 'provider', provider: 'qliro', providerRef: ref });

function order(orderNo: string, over: Partial<TrackedOrder> = {}): TrackedOrder {
  const base: TrackedOrder = {
    orderNo,
    orderDate: '2026-11-20 10:15:00',
    status: 'open',
    statusId: '2',
    deliveryStatus: 'N',
    payTypeIdentifier: 'QL',
    payTypeReference: `QLIRO-${orderNo}`,
    route: qliro(orderNo),
    paymentKey: `qliro:${orderNo}`,
    amount: '1249.00',
    currency: 'SEK',
    contentHash: '',
    ...over,
  };
  base.contentHash = over.contentHash ?? `${base.status}|${base.orderDate}|${base.statusId}|${base.deliveryStatus}`;
  return base;
}

function input(snapshots: OrderSnapshot[], listing: TrackedOrder[], baseline = false): DiffInput {
  return { snapshots: new Map(snapshots.map((s) => [s.orderNo, s])), listing, window, baseline };
}

describe('baseline', () => {
  it('records every order and forwards nothing, even orders already cancelled', () => {
    const listing = [order('1'), order('2', { status: 'cancelled', statusId: '5' })];
    const diff = diffOrders(input([], listing, true));
    expect(diff.newOrders.map((o) => o.orderNo)).toEqual(['1', '2']);
    expect(diff.cancelledFacts.map((o) => o.orderNo)).toEqual(['2']);
    expect(diff.cancellations).toEqual([]);
    expect(diff.missing).toEqual([]);
  });
});

describe('cancellations', () => {
  it('an open order that turns cancelled is one transition', () => {
    const before = snapshotOf(order('1'));
    const after = order('1', { status: 'cancelled', statusId: '5' });
    const diff = diffOrders(input([before], [after]));
    expect(diff.cancellations).toEqual([{ order: after, firstSeenCancelled: false }]);
    expect(diff.changed).toHaveLength(1);
  });

  it('after the baseline, an order first seen already cancelled is forwarded', () => {
    const diff = diffOrders(input([snapshotOf(order('1'))], [order('1'), order('2', { status: 'cancelled', statusId: '5' })]));
    expect(diff.cancellations.map((c) => [c.order.orderNo, c.firstSeenCancelled])).toEqual([['2', true]]);
  });

  it('a cancelled order seen again is not a second transition (cancelled_at is written once)', () => {
    const cancelled = order('1', { status: 'cancelled', statusId: '5' });
    const diff = diffOrders(input([snapshotOf(cancelled)], [cancelled]));
    expect(diff.cancellations).toEqual([]);
    expect(diff.cancelledFacts).toEqual([]);
    expect(diff.unchanged).toBe(1);
  });

  it("cancelled, re-opened and cancelled again is a transition each time it is watched (the payment's one job makes it forwarded once: test/worker/plan.test.ts)", () => {
    const reopened = snapshotOf(order('1'), { cancelledAt: '2026-11-21T08:00:00.000Z' });
    const diff = diffOrders(input([reopened], [order('1', { status: 'cancelled', statusId: '5' })]));
    expect(diff.cancellations.map((c) => c.order.orderNo)).toEqual(['1']);
    // cancelled_at is a fact written once: it is already there.
    expect(diff.cancelledFacts).toEqual([]);
    expect(diff.changed).toHaveLength(1);
  });

  it('a cancelled order seen cancelled again is no transition; one seen open again is re-opened', () => {
    const cancelled = snapshotOf(order('1', { status: 'cancelled', statusId: '5' }));
    expect(diffOrders(input([cancelled], [order('1', { status: 'cancelled', statusId: '5' })])).cancellations).toEqual([]);
    const diff = diffOrders(input([cancelled], [order('1')]));
    expect(diff.reopened.map((r) => [r.before.orderNo, r.after.status])).toEqual([['1', 'open']]);
    expect(diff.cancellations).toEqual([]);
  });

  it('a routing change gives the same payment a new key, and that is no new payment to cancel', () => {
    const unrouted = order('1', {
      status: 'cancelled',
      statusId: '5',
      payTypeIdentifier: 'K',
      payTypeReference: 'k-1',
      route: { kind: 'unrouted', reason: 'no rule' },
      paymentKey: 'unrouted:K:k-1',
    });
    const routed = {
      ...unrouted,
      route: { kind: 'provider', provider: 'klarna', providerRef: 'k-1' } as Route,
      paymentKey: 'klarna:k-1',
      contentHash: 'routed',
    };
    const diff = diffOrders(input([snapshotOf(unrouted)], [routed]));
    expect(diff.changed).toHaveLength(1);
    expect(diff.cancellations).toEqual([]);
  });

  it('a cancelled order paid again under a new reference carries a new payment to cancel', () => {
    const cancelled = snapshotOf(order('1', { status: 'cancelled', statusId: '5' }));
    const repaid = order('1', {
      status: 'cancelled',
      statusId: '5',
      payTypeReference: 'QLIRO-77',
      route: qliro('77'),
      paymentKey: 'qliro:77',
      contentHash: 'repaid',
    });
    expect(diffOrders(input([cancelled], [repaid])).cancellations.map((c) => c.order.paymentKey)).toEqual(['qliro:77']);
  });

  it('a delivered order is not a cancellation', () => {
    const diff = diffOrders(input([snapshotOf(order('1'))], [order('1', { status: 'delivered', deliveryStatus: 'D' })]));
    expect(diff.cancellations).toEqual([]);
    expect(diff.changed).toHaveLength(1);
  });

  it('unchanged orders are counted, not listed as changed', () => {
    const diff = diffOrders(input([snapshotOf(order('1')), snapshotOf(order('2'))], [order('1'), order('2')]));
    expect(diff.unchanged).toBe(2);
    expect(diff.changed).toEqual([]);
    expect(diff.newOrders).toEqual([]);
  });
});

describe('missing orders', () => {
  it('a tracked order absent from the listing is a candidate, not a verdict', () => {
    const diff = diffOrders(input([snapshotOf(order('1')), snapshotOf(order('2'))], [order('1')]));
    expect(diff.missing.map((s) => s.orderNo)).toEqual(['2']);
  });

  it('an order older than the window leaves tracking quietly and is never missing', () => {
    const old = snapshotOf(order('1', { orderDate: '2026-09-26 23:59:59' }));
    const edge = snapshotOf(order('2', { orderDate: '2026-09-27 00:00:00' }));
    const diff = diffOrders(input([old, edge], []));
    expect(diff.leftWindow.map((s) => s.orderNo)).toEqual(['1']);
    expect(diff.missing.map((s) => s.orderNo)).toEqual(['2']);
  });

  it('a tracked order found with a date older than the window leaves it; it did not vanish', () => {
    const tracked = snapshotOf(order('1'));
    const diff = diffOrders(input([tracked], [order('1', { orderDate: '2026-01-02 08:00:00' })]));
    expect(diff.leftWindow.map((s) => s.orderNo)).toEqual(['1']);
    expect(diff.missing).toEqual([]);
  });

  it('an order already recorded as vanished is not asked about again', () => {
    const gone = snapshotOf(order('1'), { vanishedAt: '2026-11-21T08:00:00.000Z', vanishStatus: 'awaiting' });
    const resolved = snapshotOf(order('2'), { vanishedAt: '2026-11-21T08:00:00.000Z', vanishStatus: 'resolved' });
    expect(diffOrders(input([gone, resolved], [])).missing).toEqual([]);
  });

  it('an order that reappeared and then went missing again is a candidate again', () => {
    const back = snapshotOf(order('1'), { vanishedAt: '2026-11-21T08:00:00.000Z', vanishStatus: 'reappeared' });
    expect(diffOrders(input([back], [])).missing.map((s) => s.orderNo)).toEqual(['1']);
  });
});

describe('reappearance', () => {
  it('a vanished order listed again is reported as reappeared', () => {
    const gone = snapshotOf(order('1'), { vanishedAt: '2026-11-21T08:00:00.000Z', vanishStatus: 'awaiting' });
    const diff = diffOrders(input([gone], [order('1')]));
    expect(diff.reappeared.map((r) => r.after.orderNo)).toEqual(['1']);
    expect(diff.missing).toEqual([]);
  });

  it('an order that reappeared before is not reported again', () => {
    const back = snapshotOf(order('1'), { vanishedAt: '2026-11-21T08:00:00.000Z', vanishStatus: 'reappeared' });
    expect(diffOrders(input([back], [order('1')])).reappeared).toEqual([]);
  });
});

describe('the window', () => {
  it('a listed order dated before the window is ignored, not tracked', () => {
    const diff = diffOrders(input([], [order('1', { orderDate: '2026-01-01 00:00:00' })]));
    expect(diff.newOrders).toEqual([]);
  });

  it('is computed in Stockholm days, not UTC days', () => {
    // 23:30 UTC on 26 Nov is already 27 Nov in Stockholm (UTC+1 in winter).
    expect(windowFor(new Date('2026-11-26T23:30:00Z'), 60)).toEqual({ fromDate: '2026-09-28', toDate: '2026-11-27' });
    expect(windowFor(new Date('2026-11-26T12:00:00Z'), 60)).toEqual({ fromDate: '2026-09-27', toDate: '2026-11-26' });
    // Across the end of summer time: calendar days, not 24-hour steps.
    expect(windowFor(new Date('2026-10-26T00:30:00Z'), 1)).toEqual({ fromDate: '2026-10-25', toDate: '2026-10-26' });
  });
});

describe('history stays history', () => {
  const cancelled = (orderNo: string, orderDate: string) => order(orderNo, { status: 'cancelled', statusId: '5', orderDate });

  it('a new order already cancelled is forwarded only when the previous run covered its date', () => {
    const coverage = { fromDate: '2026-10-27', toDate: '2026-11-25' }; // the lookback was 30 days
    const listing = [cancelled('1', '2026-10-01 09:00:00'), cancelled('2', '2026-11-24 09:00:00'), cancelled('3', '2026-11-26 08:00:00')];
    const diff = diffOrders({ ...input([], listing), coverage });
    // 1 is dated before anything watched (the lookback grew): recorded, not forwarded.
    expect(diff.cancellations.map((c) => c.order.orderNo)).toEqual(['2', '3']);
    expect(diff.cancelledFacts.map((o) => o.orderNo)).toEqual(['1', '2', '3']);
    // Unknown coverage (runs recorded before it was kept): every date counts as covered.
    expect(diffOrders({ ...input([], listing), coverage: null }).cancellations).toHaveLength(3);
  });

  it('an order re-entering the window is matched with its kept snapshot: its facts stand, nothing it did outside is news', () => {
    const kept = { ...snapshotOf(order('1', { orderDate: '2026-10-01 09:00:00' })), reentering: true };
    const diff = diffOrders(input([kept], [cancelled('1', '2026-10-01 09:00:00')]));
    expect(diff.newOrders).toEqual([]);
    expect(diff.reentered.map((s) => s.orderNo)).toEqual(['1']);
    expect(diff.cancellations).toEqual([]);
    expect(diff.cancelledFacts.map((o) => o.orderNo)).toEqual(['1']);
  });

  it('a kept snapshot dated inside the window again but not listed is not asked about', () => {
    const kept = { ...snapshotOf(order('1', { orderDate: '2026-10-01 09:00:00' })), reentering: true };
    expect(diffOrders(input([kept], [])).missing).toEqual([]);
  });
});

describe('purity', () => {
  it('does not change its inputs', () => {
    const snapshots = [snapshotOf(order('1')), snapshotOf(order('2'))];
    const listing = [order('1', { status: 'cancelled', statusId: '5' }), order('3')];
    const frozen = JSON.stringify([snapshots, listing]);
    diffOrders(input(snapshots, listing));
    expect(JSON.stringify([snapshots, listing])).toBe(frozen);
  });
});

describe('the compact index: stored payments only where a transition is judged', () => {
  /** As loadSnapshotIndex returns it: no payment columns. */
  function summaryOf(s: OrderSnapshot): SnapshotSummary {
    const { orderNo, orderDate, contentHash, status, cancelledAt, vanishedAt, vanishStatus } = s;
    return { orderNo, orderDate, contentHash, status, cancelledAt, vanishedAt, vanishStatus };
  }
  const stored = [
    snapshotOf(order('1')),
    snapshotOf(order('2')),
    snapshotOf(order('3', { status: 'cancelled', statusId: '5' }), { cancelledAt: '2026-11-20T09:20:00.000Z' }),
    snapshotOf(order('4'), { vanishedAt: '2026-11-21T09:20:00.000Z', vanishStatus: 'awaiting' }),
  ];
  const snapshots = new Map(stored.map((s) => [s.orderNo, summaryOf(s)]));
  // 1 unchanged; 2 cancelled now; 3 cancelled again under a new payment; 4 back, unchanged.
  const listing = [
    order('1'),
    order('2', { status: 'cancelled', statusId: '5' }),
    order('3', { status: 'cancelled', statusId: '5', payTypeReference: 'QLIRO-3b', contentHash: 'paid again' }),
    order('4'),
  ];
  const payments = new Map(stored.map((s) => [s.orderNo, { paymentKey: s.paymentKey, rawPayment: s.rawPayment }]));

  it('names the changed and the reappeared orders, never the unchanged ones', () => {
    expect(ordersNeedingPayment(snapshots, listing)).toEqual(['2', '3', '4']);
  });

  it('judges the transitions against the stored payments it was given', () => {
    const diff = diffOrders({ snapshots, payments, listing, window, baseline: false });
    expect(diff.unchanged).toBe(2);
    expect(diff.changed.map((c) => [c.before.orderNo, c.before.paymentKey])).toEqual([
      ['2', 'qliro:2'],
      ['3', 'qliro:3'],
    ]);
    expect(diff.cancellations.map((c) => c.order.orderNo)).toEqual(['2', '3']);
    expect(diff.reappeared.map((r) => [r.before.orderNo, r.before.rawPayment])).toEqual([['4', 'QL:QLIRO-4']]);
  });

  it('refuses to judge a transition whose stored payment was not read', () => {
    const partial = new Map([...payments].filter(([orderNo]) => orderNo !== '3'));
    expect(() => diffOrders({ snapshots, payments: partial, listing, window, baseline: false })).toThrow(/order 3 was not read/);
  });
});
