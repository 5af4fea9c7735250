/** The money-safety rules of one cycle (src/worker/plan.ts), on plain values: no database, no HTTP. */
import { describe, expect, it } from '@jest/globals';
import { snapshotOf } from '../support/records.js';
import type { OrderSnapshot, Route, SnapshotSummary, TrackedOrder } from '../../src/domain.js';
import { diffOrders, type OrderDiff } from '../../src/diff/diff.js';
import { paymentKeyOf } from '../../src/routing/payment.js';
import type { CancellationJob } from '../../src/store/jobs.js';
import { planCycle, type PlanInput } from '../../src/worker/plan.js';

const window = { fromDate: '2026-09-27', toDate: '2026-11-26' };
const klarna = (ref: string): Route => ({ kind: 'provider', provider: 'klarna', providerRef: ref });

function order(orderNo: string, over: Partial<TrackedOrder> = {}): TrackedOrder {
  const base: TrackedOrder = {
    orderNo,
    orderDate: '2026-11-20 10:15:00',
    status: 'open',
    statusId: '2',
    deliveryStatus: 'N',
    payTypeIdentifier: 'K',
    payTypeReference: `ref-${orderNo}`,
    route: klarna(`ref-${orderNo}`),
    paymentKey: null,
    amount: '100.00',
    currency: 'SEK',
    contentHash: '',
    ...over,
  };
  base.paymentKey = over.paymentKey !== undefined ? over.paymentKey : paymentKeyOf(base);
  base.contentHash = `${base.status}|${base.payTypeReference}|${base.route.kind}`;
  return base;
}
const cancelled = (orderNo: string, over: Partial<TrackedOrder> = {}) => order(orderNo, { status: 'cancelled', statusId: '5', ...over });

let nextJobId = 1;
function job(orderNo: string, over: Partial<CancellationJob> = {}): CancellationJob {
  const ref = over.providerRef ?? `ref-${orderNo}`;
  return {
    id: nextJobId++,
    orderNo,
    paymentKey: `klarna:${ref}`,
    provider: 'klarna',
    providerRef: ref,
    payTypeIdentifier: 'K',
    payTypeReference: ref,
    amount: '100.00',
    currency: 'SEK',
    reason: 'cancelled',
    idempotencyKey: `key-${orderNo}`,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: '2026-11-26T10:00:00.000Z',
    providerTransactionId: null,
    lastErrorCode: null,
    lastErrorMessage: null,
    failureReason: null,
    voidReason: null,
    personNote: null,
    twinOverride: false,
    acceptedAt: null,
    confirmDeadlineAt: null,
    createdAt: '2026-11-26T10:00:00.000Z',
    updatedAt: '2026-11-26T10:00:00.000Z',
    completedAt: null,
    ...over,
  };
}

interface Scenario {
  before?: OrderSnapshot[];
  listing?: TrackedOrder[];
  gone?: OrderSnapshot[];
  jobs?: CancellationJob[];
  revisitable?: CancellationJob[];
  vanishedAction?: 'flag' | 'cancel';
  guard?: number;
  routes?: (payment: { payTypeIdentifier: string | null; payTypeReference: string | null }) => Route;
}

function plan(s: Scenario) {
  const before = s.before ?? [];
  const listing = s.listing ?? [];
  const diff: OrderDiff<SnapshotSummary> = diffOrders({ snapshots: new Map(before.map((b) => [b.orderNo, b])), listing, window, baseline: false });
  const jobs = s.jobs ?? [];
  const input: PlanInput = {
    diff,
    gone: s.gone ?? [],
    present: listing,
    jobsByPayment: new Map(jobs.map((j) => [j.paymentKey, j])),
    jobsByOrder: new Map(jobs.map((j) => [j.orderNo, [j]])),
    revisitable: s.revisitable ?? [],
    recordedGone: new Set(),
    route: s.routes ?? (() => ({ kind: 'unrouted', reason: 'no rule' })),
    settings: { vanishedAction: s.vanishedAction ?? 'flag', vanishGuardMaxPerRun: s.guard ?? 10 },
  };
  return planCycle(input);
}

describe('a cancellation belongs to a payment', () => {
  it('a watched cancellation makes one job for its payment', () => {
    const p = plan({ before: [snapshotOf(order('1'))], listing: [cancelled('1')] });
    expect(p.jobs).toEqual([expect.objectContaining({ orderNo: '1', paymentKey: 'klarna:ref-1', provider: 'klarna', reason: 'cancelled' })]);
    expect(p.jobs[0]?.hold).toBeUndefined();
  });

  it('two orders carrying one payment, both cancelled, make one job', () => {
    const shared = { payTypeReference: 'shared', route: klarna('shared') };
    const p = plan({ before: [snapshotOf(order('1', shared)), snapshotOf(order('2', shared))], listing: [cancelled('1', shared), cancelled('2', shared)] });
    expect(p.jobs.map((j) => j.paymentKey)).toEqual(['klarna:shared']);
  });

  it('a payment whose job exists (sent, pending or failed) gets no second one; a voided one is asked for again', () => {
    for (const state of ['done', 'pending', 'failed', 'accepted', 'dismissed'] as const) {
      expect(plan({ before: [snapshotOf(order('1'))], listing: [cancelled('1')], jobs: [job('1', { state })] }).jobs).toEqual([]);
    }
    expect(plan({ before: [snapshotOf(order('1'))], listing: [cancelled('1')], jobs: [job('1', { state: 'voided' })] }).jobs).toHaveLength(1);
  });

  it('a live order carrying the payment holds the job for a person', () => {
    const shared = { payTypeReference: 'shared', route: klarna('shared') };
    const p = plan({ before: [snapshotOf(order('1', shared)), snapshotOf(order('2', shared))], listing: [cancelled('1', shared), order('2', shared)] });
    expect(p.jobs[0]?.hold).toEqual(expect.objectContaining({ reason: 'rejected', code: 'LIVE_TWIN' }));
  });
});

describe('every cancelled payment reaches a provider or a person', () => {
  it('an unrouted payment becomes a failed job with reason unrouted, and is reported', () => {
    const swish = {
      payTypeIdentifier: 'SW',
      payTypeReference: 'sw-1',
      route: { kind: 'unrouted', reason: 'no routing rule matches payTypeIdentifier "SW"' } as Route,
    };
    const p = plan({ before: [snapshotOf(order('1', swish))], listing: [cancelled('1', swish)] });
    expect(p.jobs).toEqual([
      expect.objectContaining({ paymentKey: 'unrouted:SW:sw-1', provider: null, hold: expect.objectContaining({ reason: 'unrouted' }) }),
    ]);
    expect(p.unrouted).toEqual([{ orderNo: '1', reason: 'no routing rule matches payTypeIdentifier "SW"' }]);
  });

  it('settled elsewhere, handled by Specter, or no payment at all: nothing and nobody', () => {
    const elsewhere = { route: { kind: 'elsewhere' } as Route };
    const specter = { payTypeIdentifier: 'SP', route: { kind: 'handledBySpecter' } as Route };
    const none = { payTypeIdentifier: null, payTypeReference: null, route: { kind: 'unrouted', reason: 'the order has no payment' } as Route };
    const p = plan({
      before: [snapshotOf(order('1', elsewhere)), snapshotOf(order('2', specter)), snapshotOf(order('3', none))],
      listing: [cancelled('1', elsewhere), cancelled('2', specter), cancelled('3', none)],
    });
    expect(p.jobs).toEqual([]);
    expect(p.unrouted).toEqual([]);
    expect(p.actions).toEqual([{ action: 'handled_by_specter', orderNo: '2', what: 'cancelled' }]);
  });

  it('a job voided as settled elsewhere awaits a person again once routing stops saying so (while its order is still cancelled)', () => {
    const swish = { payTypeIdentifier: 'SW', payTypeReference: 'sw-1', route: { kind: 'unrouted', reason: 'no rule' } as Route };
    const settled = job('1', {
      provider: null,
      providerRef: null,
      paymentKey: 'unrouted:SW:sw-1',
      payTypeIdentifier: 'SW',
      payTypeReference: 'sw-1',
      state: 'voided',
      voidReason: 'settled_elsewhere',
    });
    const still = plan({
      before: [snapshotOf(cancelled('1', swish))],
      listing: [cancelled('1', swish)],
      revisitable: [settled],
      routes: () => ({ kind: 'elsewhere' }),
    });
    expect(still.unsettles).toEqual([]);
    const back = plan({ before: [snapshotOf(cancelled('1', swish))], listing: [cancelled('1', swish)], revisitable: [settled] });
    expect(back.unsettles).toEqual([settled.id]);
    expect(back.unrouted).toEqual([expect.objectContaining({ orderNo: '1', jobId: settled.id })]);
    const reopened = plan({ before: [snapshotOf(order('1', swish))], listing: [order('1', swish)], revisitable: [settled] });
    expect(reopened.unsettles).toEqual([]);
  });

  it('an unrouted job that routing now covers is re-routed; one now settled elsewhere is voided', () => {
    const unrouted = job('1', { provider: null, providerRef: null, paymentKey: 'unrouted:K:ref-1', state: 'failed', failureReason: 'unrouted' });
    const routed = plan({ revisitable: [unrouted], routes: (p) => klarna(p.payTypeReference ?? '') });
    expect(routed.reroutes).toEqual([{ jobId: unrouted.id, provider: 'klarna', providerRef: 'ref-1', paymentKey: 'klarna:ref-1' }]);
    const elsewhere = plan({ revisitable: [unrouted], routes: () => ({ kind: 'elsewhere' }) });
    expect(elsewhere.voids).toEqual([{ jobId: unrouted.id, reason: 'settled_elsewhere' }]);
    expect(plan({ revisitable: [unrouted] }).reroutes).toEqual([]);
  });
});

describe('send-time truth: what stopped holding is voided', () => {
  it('a re-opened order voids its pending job and says nothing went out', () => {
    const pending = job('1');
    const p = plan({ before: [snapshotOf(cancelled('1'))], listing: [order('1')], jobs: [pending] });
    expect(p.voids).toEqual([{ jobId: pending.id, reason: 'reopened' }]);
    expect(p.reopened).toEqual([expect.objectContaining({ sentJob: null, was: 'cancelled' })]);
  });

  it('a re-opened order whose cancellation went out is the alert', () => {
    const done = job('1', { state: 'done' });
    const p = plan({ before: [snapshotOf(cancelled('1'))], listing: [order('1')], jobs: [done] });
    expect(p.voids).toEqual([]);
    expect(p.reopened).toEqual([expect.objectContaining({ sentJob: done })]);
  });

  it('the alert also finds a sent job under the payment key the order had before routing changed', () => {
    // Cancelled and sent as klarna:ref-1; then routing stopped covering K, so the order's key is unrouted:… now.
    const done = job('1', { state: 'done' });
    const unrouted = { route: { kind: 'unrouted', reason: 'no rule' } as Route };
    const p = plan({ before: [snapshotOf(cancelled('1', unrouted))], listing: [order('1', unrouted)], jobs: [done] });
    expect(p.reopened).toEqual([expect.objectContaining({ sentJob: done })]);
  });

  it('a reappeared order voids its vanished job', () => {
    const vanishedJob = job('1', { reason: 'vanished' });
    const p = plan({
      before: [snapshotOf(order('1'), { vanishedAt: '2026-11-25T00:00:00.000Z', vanishStatus: 'cancel_requested' })],
      listing: [order('1')],
      jobs: [vanishedJob],
    });
    expect(p.voids).toEqual([{ jobId: vanishedJob.id, reason: 'reappeared' }]);
  });

  it('a live-twin hold is released once no live order carries the payment', () => {
    const shared = { payTypeReference: 'shared', route: klarna('shared') };
    const hold = job('1', { providerRef: 'shared', state: 'failed', failureReason: 'rejected', lastErrorCode: 'LIVE_TWIN' });
    const stillLive = plan({
      before: [snapshotOf(cancelled('1', shared)), snapshotOf(order('2', shared))],
      listing: [cancelled('1', shared), order('2', shared)],
      revisitable: [hold],
    });
    expect(stillLive.releases).toEqual([]);
    const twinCancelled = plan({
      before: [snapshotOf(cancelled('1', shared)), snapshotOf(order('2', shared))],
      listing: [cancelled('1', shared), cancelled('2', shared)],
      jobs: [hold],
      revisitable: [hold],
    });
    expect(twinCancelled.releases).toEqual([hold.id]);
    // The twin's own cancellation finds the payment covered by the held job: no second job.
    expect(twinCancelled.jobs).toEqual([]);
  });
});

describe('twins across a routing change', () => {
  it('a live-twin hold is not released when routing gave the twins a new key for the same payment', () => {
    const shared = { payTypeReference: 'shared', route: klarna('shared') };
    const hold = job('1', { providerRef: 'shared', state: 'failed', failureReason: 'rejected', lastErrorCode: 'LIVE_TWIN' });
    // The Klarna rule was removed: both orders are unrouted:K:shared now; the held job is klarna:shared.
    const unrouted = { payTypeReference: 'shared', route: { kind: 'unrouted', reason: 'no rule' } as Route };
    const p = plan({
      before: [snapshotOf(cancelled('1', unrouted)), snapshotOf(order('2', unrouted))],
      listing: [cancelled('1', unrouted), order('2', unrouted)],
      revisitable: [hold],
    });
    expect(p.releases).toEqual([]);
    expect(shared.route.kind).toBe('provider');
  });
});

describe('vanished orders', () => {
  const gone = (o: TrackedOrder) => snapshotOf(o);

  it('flagged for a person by default, cancelled with VANISHED_ACTION=cancel', () => {
    expect(plan({ gone: [gone(order('1'))] }).vanished).toEqual([expect.objectContaining({ orderNo: '1', status: 'awaiting', announce: 'person_must_act' })]);
    const cancel = plan({ gone: [gone(order('1'))], vanishedAction: 'cancel' });
    expect(cancel.jobs).toEqual([expect.objectContaining({ orderNo: '1', reason: 'vanished' })]);
    expect(cancel.vanished).toEqual([expect.objectContaining({ status: 'cancel_requested', announce: 'cancel_queued' })]);
  });

  it('a payment with a job already needs nobody; an unrouted one becomes a job for a person', () => {
    expect(plan({ gone: [gone(cancelled('1'))], jobs: [job('1', { state: 'failed', failureReason: 'unrouted' })] }).vanished[0]?.status).toBe(
      'cancel_requested',
    );
    const swish = { payTypeIdentifier: 'SW', payTypeReference: 'sw-1', route: { kind: 'unrouted', reason: 'no rule' } as Route };
    const p = plan({ gone: [gone(order('1', swish))] });
    expect(p.jobs).toEqual([expect.objectContaining({ reason: 'vanished', provider: null, hold: expect.objectContaining({ reason: 'unrouted' }) })]);
  });

  it('the guard: more gone than the limit flags none and makes no job', () => {
    const p = plan({ gone: [gone(order('1')), gone(order('2')), gone(order('3'))], guard: 2, vanishedAction: 'cancel' });
    expect(p.guardTripped).toBe(true);
    expect(p.vanished).toEqual([]);
    expect(p.jobs).toEqual([]);
  });
});
