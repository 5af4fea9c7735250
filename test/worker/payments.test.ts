/**
 * Asking the provider, in pieces: the plan told what the providers said (pure), the reads (one per
 * order, each provider's pool, a throwing client is `unknown`), dispatch's read before a vanished
 * order's cancellation, and the store's view of the reads (soonest expiry first; due again after a
 * reminder period). A real SQLite file; fake provider clients.
 */
import { describe, expect, it } from '@jest/globals';
import { dispatchDueJobs } from '../../src/dispatch/dispatcher.js';
import type { PaymentRead, ProviderClient } from '../../src/providers/types.js';
import { commitCycle } from '../../src/store/commit.js';
import { getJob } from '../../src/store/jobs.js';
import { listAwaitingDueForRead, recordPaymentReads, type StoredPaymentRead } from '../../src/store/paymentReads.js';
import { listVanishedAwaiting, resolveVanished } from '../../src/store/vanished.js';
import { planCycle, type CyclePlan, type PlanInput } from '../../src/worker/plan.js';
import { applyPaymentReads, cachedPaymentCheck, readPayments } from '../../src/worker/payments.js';
import { fakeClient, SETTINGS, seedJob, useDispatchFixture, type DispatchFixture } from '../dispatch/helpers.js';
import { cycleRecord, snapshotOf, trackedOrder } from '../support/records.js';

let fx!: DispatchFixture;
useDispatchFixture((fixture) => (fx = fixture));

const AT = '2026-01-01T00:00:00.000Z';
/** A cycle that saw nothing: its plan is empty (the test fills in what it needs). */
const PLAN_NOTHING: PlanInput = {
  diff: {
    newOrders: [],
    changed: [],
    unchanged: 0,
    cancellations: [],
    cancelledFacts: [],
    missing: [],
    reappeared: [],
    reopened: [],
    leftWindow: [],
    reentered: [],
  },
  gone: [],
  present: [],
  jobsByPayment: new Map(),
  jobsByOrder: new Map(),
  revisitable: [],
  recordedGone: new Set(),
  route: () => ({ kind: 'elsewhere' }),
  settings: { vanishedAction: 'flag', vanishGuardMaxPerRun: 10 },
};
const read = (state: PaymentRead['state'], over: Partial<PaymentRead> = {}): PaymentRead => ({
  state,
  reservedAmount: state === 'reserved' ? '1249.00' : null,
  currency: 'SEK',
  expiresAt: null,
  detail: `said ${state}`,
  ...over,
});
const stored = (orderNo: string, state: PaymentRead['state'], over: Partial<StoredPaymentRead> = {}): StoredPaymentRead => ({
  orderNo,
  provider: 'klarna',
  providerRef: `ref-${orderNo}`,
  ...read(state),
  readAt: AT,
  ...over,
});

function emptyPlan(over: Partial<CyclePlan> = {}): CyclePlan {
  return { ...planCycle(PLAN_NOTHING), ...over };
}

describe('applyPaymentReads (pure)', () => {
  it('cancelled or expired → recorded resolved, announced auto_resolved, and no cancellation made; other states change nothing', () => {
    const job = (orderNo: string) => ({
      orderNo,
      paymentKey: `klarna:ref-${orderNo}`,
      provider: 'klarna' as const,
      providerRef: `ref-${orderNo}`,
      payTypeIdentifier: 'K',
      payTypeReference: `ref-${orderNo}`,
      amount: '1249.00',
      currency: 'SEK',
      reason: 'vanished' as const,
    });
    const flagged = (orderNo: string) => ({
      action: 'vanished_flagged' as const,
      orderNo,
      provider: 'klarna',
      providerRef: `ref-${orderNo}`,
      amount: '1249.00',
      currency: 'SEK',
      note: null,
    });
    const plan = emptyPlan({
      vanished: [
        { orderNo: '1', status: 'awaiting', note: null, announce: 'person_must_act' },
        { orderNo: '2', status: 'cancel_requested', note: 'queued', announce: 'cancel_queued' },
        { orderNo: '3', status: 'awaiting', note: null, announce: 'person_must_act' },
        { orderNo: '4', status: 'cancel_requested', note: 'queued', announce: 'cancel_queued' },
        { orderNo: '5', status: 'awaiting', note: null, announce: 'person_must_act' },
      ],
      jobs: [job('2'), job('4')],
      actions: [
        flagged('1'),
        { action: 'cancel_job_created', orderNo: '2', provider: 'klarna', providerRef: 'ref-2', reason: 'vanished' },
        flagged('2'),
        flagged('3'),
        { action: 'cancel_job_created', orderNo: '4', provider: 'klarna', providerRef: 'ref-4', reason: 'vanished' },
        flagged('5'),
      ],
    });
    applyPaymentReads(
      plan,
      new Map([
        ['1', stored('1', 'cancelled')],
        ['2', stored('2', 'expired')],
        ['3', stored('3', 'captured')],
        ['4', stored('4', 'unknown')],
      ]),
    );
    expect(plan.vanished).toEqual([
      { orderNo: '1', status: 'resolved', note: expect.stringContaining('payment is cancelled'), announce: 'auto_resolved' },
      { orderNo: '2', status: 'resolved', note: expect.stringContaining('payment is expired'), announce: 'auto_resolved' },
      { orderNo: '3', status: 'awaiting', note: null, announce: 'person_must_act' },
      { orderNo: '4', status: 'cancel_requested', note: 'queued', announce: 'cancel_queued' },
      { orderNo: '5', status: 'awaiting', note: null, announce: 'person_must_act' },
    ]);
    expect(plan.jobs.map((j) => j.orderNo)).toEqual(['4']);
    expect(plan.actions.filter((a) => a.action === 'cancel_job_created').map((a) => ('orderNo' in a ? a.orderNo : null))).toEqual(['4']);
    const payments = plan.actions.flatMap((a) =>
      a.action === 'vanished_flagged' ? [[a.orderNo, a.payment?.state ?? null, a.payment?.autoResolved ?? null]] : [],
    );
    expect(payments).toEqual([
      ['1', 'cancelled', true],
      ['2', 'expired', true],
      ['3', 'captured', false],
      ['5', null, null],
    ]);
  });
});

describe('readPayments', () => {
  it('one read per order, each provider within its pool; an unconfigured provider is not asked; a throwing client is unknown', async () => {
    let inFlight = 0;
    let most = 0;
    const klarna = fakeClient('klarna', [], { maxConcurrency: 2 });
    const counting: ProviderClient = {
      ...klarna,
      readPayment: async (request) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return klarna.readPayment(request);
      },
    };
    const broken: ProviderClient = { ...fakeClient('walley', []), readPayment: () => Promise.reject(new TypeError('boom\nstack')) };
    const asks = [
      ...['a', 'b', 'c', 'd', 'a'].map((n) => ({ orderNo: n, provider: 'klarna' as const, providerRef: `k-${n}` })),
      { orderNo: 'w', provider: 'walley' as const, providerRef: 'w-1' },
      { orderNo: 'q', provider: 'qliro' as const, providerRef: '1' },
    ];
    const reads = await readPayments({ klarna: counting, walley: broken }, asks, () => new Date(AT));
    expect(klarna.readCalls.map((r) => r.orderNo).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(most).toBeLessThanOrEqual(2);
    expect([...reads.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'w']);
    expect(reads.get('w')).toMatchObject({ state: 'unknown', detail: 'provider client bug: TypeError: boom', provider: 'walley', readAt: AT });
  });
});

describe('before a vanished order’s cancellation is sent', () => {
  const dispatch = (client: ProviderClient) =>
    dispatchDueJobs({
      store: fx.db.store,
      providers: { klarna: client },
      settings: SETTINGS,
      logger: fx.logger,
      now: fx.clock.now,
      sleep: fx.clock.sleep,
      paymentCheck: cachedPaymentCheck({ store: fx.db.store, providers: { klarna: client } }, new Map(), fx.clock.now),
    });

  it('already cancelled or expired → voided without a request, saying why', async () => {
    for (const state of ['cancelled', 'expired'] as const) {
      const { id } = await seedJob(fx.db.store, { reason: 'vanished' });
      const client = fakeClient('klarna', [{ kind: 'succeeded', alreadyCancelled: false }], { read: read(state) });
      const report = await dispatch(client);
      expect(report.actions).toEqual([expect.objectContaining({ jobId: id, result: 'voided', reason: `payment_${state}` })]);
      expect(client.cancelCalls).toEqual([]);
      expect(await getJob(fx.db.store, id)).toMatchObject({ state: 'voided', voidReason: `payment_${state}`, attempts: 0 });
    }
    expect(fx.logger.events.filter((e) => e.event === 'cancel.voided').map((e) => e.fields.reason)).toEqual(['payment_cancelled', 'payment_expired']);
  });

  it('captured → failed at once with reason captured, no request', async () => {
    const { id } = await seedJob(fx.db.store, { reason: 'vanished' });
    const client = fakeClient('klarna', [{ kind: 'succeeded', alreadyCancelled: false }], { read: read('captured') });
    const report = await dispatch(client);
    expect(report.actions).toEqual([expect.objectContaining({ jobId: id, result: 'failed', reason: 'captured' })]);
    expect(client.cancelCalls).toEqual([]);
    expect(await getJob(fx.db.store, id)).toMatchObject({ state: 'failed', failureReason: 'captured', lastErrorCode: 'PAYMENT_CAPTURED' });
  });

  it('reserved or unknown → sent as before; a job made from a cancellation in Specter is not read at all', async () => {
    const vanished = await seedJob(fx.db.store, { reason: 'vanished' });
    const cancelled = await seedJob(fx.db.store);
    const client = fakeClient('klarna', [{ kind: 'succeeded', alreadyCancelled: false }], { read: read('unknown') });
    const report = await dispatch(client);
    expect(report.counts.succeeded).toBe(2);
    expect(client.readCalls.map((r) => r.orderNo)).toEqual([vanished.orderNo]);
    expect(client.cancelCalls.map((r) => r.orderNo).sort()).toEqual([vanished.orderNo, cancelled.orderNo].sort());
    expect(await getJob(fx.db.store, cancelled.id)).toMatchObject({ state: 'done' });
  });
});

describe('the store’s payment reads', () => {
  async function vanish(orderNos: string[]): Promise<void> {
    const snapshots = orderNos.map((orderNo) => snapshotOf(trackedOrder(orderNo)));
    await commitCycle(fx.db.store, cycleRecord({ upserts: snapshots }));
    await commitCycle(fx.db.store, cycleRecord({ vanished: orderNos.map((orderNo) => ({ orderNo, status: 'awaiting' as const, note: null })) }));
  }

  it('vanished list: soonest expiry first, then those without; the fields of interface.md', async () => {
    await vanish(['11', '12', '13', '14']);
    await recordPaymentReads(fx.db.store, [
      stored('11', 'reserved', { expiresAt: '2026-03-01T00:00:00.000Z' }),
      stored('12', 'unknown'),
      stored('13', 'reserved', { expiresAt: '2026-02-01T00:00:00.000Z' }),
    ]);
    // A second read replaces the first.
    await recordPaymentReads(fx.db.store, [stored('11', 'reserved', { expiresAt: '2026-01-15T00:00:00.000Z', reservedAmount: '99.00' })]);
    const list = await listVanishedAwaiting(fx.db.store);
    expect(list.map((v) => [v.orderNo, v.paymentState, v.reservedAmount, v.expiresAt])).toEqual([
      ['11', 'reserved', '99.00', '2026-01-15T00:00:00.000Z'],
      ['13', 'reserved', '1249.00', '2026-02-01T00:00:00.000Z'],
      ['12', 'unknown', null, null],
      ['14', null, null, null],
    ]);
  });

  it('due again: never read, or read before the cut-off; resolving changes only an order still awaiting', async () => {
    await vanish(['21', '22', '23']);
    await recordPaymentReads(fx.db.store, [
      stored('21', 'reserved', { readAt: '2026-01-01T00:00:00.000Z' }),
      stored('22', 'reserved', { readAt: '2026-01-03T00:00:00.000Z' }),
    ]);
    const due = await listAwaitingDueForRead(fx.db.store, { readBefore: '2026-01-02T00:00:00.000Z', limit: 10 });
    expect(due.map((d) => d.orderNo).sort()).toEqual(['21', '23']);
    expect(await resolveVanished(fx.db.store, '21', 'resolved automatically', AT)).toBe('resolved');
    expect(await resolveVanished(fx.db.store, '21', 'again', AT)).toBe('not_awaiting');
    expect((await listVanishedAwaiting(fx.db.store)).map((v) => v.orderNo)).toEqual(['22', '23']);
  });
});
