/**
 * Money safety over time (issue 8), end to end, stories 1 and 2: short histories of one order
 * driven through the real CLI against the sandbox Specter and Klarna, checked after each cycle.
 *
 * Story 1, send-time truth: a job is sent only while what it was made from still holds (the order
 * still cancelled, or still gone), checked by the cycle's own listing and by `getOrder` for
 * `jobs retry`; otherwise it is voided and said so. Story 2, history stays history: a longer
 * lookback, or an order re-entering the window, forwards nothing that happened unwatched.
 *
 * The payments and routing stories (3, 4, 6, 8) are in money-safety-payments.test.ts.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import { formatStockholm } from '../../src/sandbox/specter/seed.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { about, expectExit, waitFor, type EnvLayer } from '../support/cli.js';
import type { Row } from '../support/db.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { getOrderRequests, klarnaCancelKeys } from '../support/sandbox.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';
import type { Engine } from '../../src/store/database.js';
import { ENGINES } from '../support/postgres.js';

// Two tests wait out a provider's Retry-After (a little over 5 s) between their cycles.
jest.setTimeout(90_000);

let world!: SandboxWorld;
const sandboxWorkspace = useSandboxWorld((w) => (world = w));
/** The engine of the suite running now (describe.each below): each test's workspace is on it. */
let engine: Engine = 'sqlite';
const workspace = (env?: EnvLayer): Workspace => sandboxWorkspace(env, engine);

/**
 * A Retry-After longer than IN_CYCLE_RETRY_MAX_MS (5 s, dispatcher.ts) sends the job back to the
 * queue instead of waiting in the cycle; DISPATCH_RETRY_MAX_MS above it keeps backoff.ts from
 * capping the wait below 5 s. The job is then pending, due about 6 s later.
 */
const DEFERRING = { DISPATCH_RETRY_MIN_MS: '100', DISPATCH_RETRY_MAX_MS: '6000' };

/** The next cancel request for `ref` answers 503 with Retry-After: 6 (a Klarna maintenance window). */
function deferNextCancel(ref: string): void {
  world.klarna.faults.add(
    { kind: 'status', status: 503, headers: { 'retry-after': '6', 'content-type': 'text/plain' }, body: 'Service Unavailable' },
    { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`) },
  );
}

/** A workspace with a baseline that already tracks a fresh open Klarna order. */
async function trackedKlarnaOrder(env: Record<string, string> = {}): Promise<{ ws: Workspace; order: SandboxOrder; ref: string }> {
  const ws = workspace(env);
  const order = makeOrder({ method: 'K' });
  world.specter.add(order);
  expectExit(await ws.run(['once']), 0);
  return { ws, order, ref: providerRefOf(order) };
}

/** A person re-opens the order in Specter (any status but cancelled). */
function reopen(orderNo: string): void {
  world.specter.update(orderNo, { statusId: '2', lastChanged: formatStockholm(Date.now()) });
}

/** Waits (no assertion on time) until the job's next attempt is due, so today's code would send it. */
async function untilDue(job: Row): Promise<void> {
  const due = Date.parse(String(job.next_attempt_at));
  expect(Number.isFinite(due)).toBe(true);
  await waitFor(() => Date.now() > due + 200, 20_000, `job ${String(job.id)} to fall due at ${String(job.next_attempt_at)}`);
}

// One suite on both engines: the SQLite file, and a PostgreSQL database (test/support/postgres.ts).
describe.each(ENGINES)('on %s', (suiteEngine) => {
  beforeAll(() => {
    engine = suiteEngine;
  });

  describe('story 1: send-time truth', () => {
    it('a cancellation deferred by a 503 is voided, not sent, when the order is re-opened before its retry', async () => {
      const { ws, order, ref } = await trackedKlarnaOrder(DEFERRING);
      world.specter.cancel(order.orderNo);
      deferNextCancel(ref);

      const deferred = await ws.run(['once']);
      expectExit(deferred, 0);
      const [job] = ws.jobs(order.orderNo);
      about(deferred, () => {
        expect(deferred.events('cancel.retry_scheduled')).toEqual([expect.objectContaining({ orderNo: order.orderNo, code: 'HTTP_503', inCycle: false })]);
        expect(job).toMatchObject({ state: 'pending', attempts: 1, reason: 'cancelled' });
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
      });

      reopen(order.orderNo);
      await untilDue(job!);
      const run = await ws.run(['once']);
      expectExit(run, 0);
      about(run, () => {
        // The only request Klarna ever saw is the one that answered 503.
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
        expect(run.events('cancel.sent')).toHaveLength(0);
        expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: job!.id, state: 'voided', void_reason: 'reopened' })]);
        expect(run.events('cancel.voided')).toEqual([
          expect.objectContaining({ level: 'warn', jobId: job!.id, orderNo: order.orderNo, provider: 'klarna', providerRef: ref, reason: 'reopened' }),
        ]);
        // Nothing went out, so nothing about this order is an alert.
        expect(run.lines.filter((l) => l.orderNo === order.orderNo && l.alert === true)).toEqual([]);
      });
      expect(world.klarna.orderState(ref)).not.toBe('cancelled');
    });

    it("VANISHED_ACTION=cancel: a vanished order's deferred cancellation is voided when the order is restored", async () => {
      const { ws, order, ref } = await trackedKlarnaOrder({ ...DEFERRING, VANISHED_ACTION: 'cancel' });
      expect(world.specter.delete(order.orderNo)).toBe(true);
      deferNextCancel(ref);

      const deferred = await ws.run(['once']);
      expectExit(deferred, 0);
      const [job] = ws.jobs(order.orderNo);
      about(deferred, () => {
        expect(deferred.events('order.vanished')).toEqual([expect.objectContaining({ orderNo: order.orderNo, action: 'cancel_queued' })]);
        expect(job).toMatchObject({ state: 'pending', attempts: 1, reason: 'vanished' });
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
      });

      // Deleted by mistake: the shop puts the order back (same number, same payment).
      world.specter.add(order);
      await untilDue(job!);
      const run = await ws.run(['once']);
      expectExit(run, 0);
      about(run, () => {
        expect(run.events('order.reappeared')).toEqual([expect.objectContaining({ orderNo: order.orderNo })]);
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
        expect(run.events('cancel.sent')).toHaveLength(0);
        expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: job!.id, state: 'voided', void_reason: 'reappeared' })]);
        expect(run.events('cancel.voided')).toEqual([expect.objectContaining({ jobId: job!.id, orderNo: order.orderNo, reason: 'reappeared' })]);
      });
      expect(world.klarna.orderState(ref)).not.toBe('cancelled');
    });

    it('jobs retry asks Specter first: a failed job whose order was re-opened since is voided, not sent', async () => {
      const { ws, order, ref } = await trackedKlarnaOrder({ DISPATCH_RETRY_MIN_MS: '20', DISPATCH_RETRY_MAX_MS: '100' });
      world.specter.cancel(order.orderNo);
      world.klarna.faults.add({ kind: 'status', status: 503, body: '' }, { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`) });

      // One attempt allowed, and it answers 503: the job fails exhausted and waits for a person.
      const failed = await ws.run(['once'], { env: { DISPATCH_MAX_ATTEMPTS: '1' } });
      expectExit(failed, 3);
      const [job] = ws.jobs(order.orderNo);
      about(failed, () => {
        expect(job).toMatchObject({ state: 'failed', failure_reason: 'exhausted' });
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
      });

      // Days later the order is live again, and a person, reading an old alert, retries the job
      // (no cycle in between: only getOrder can tell the retry what Specter says now).
      reopen(order.orderNo);
      const askedBefore = getOrderRequests(world, order.orderNo);
      const retry = await ws.run(['jobs', 'retry', String(job!.id)]);
      expectExit(retry, 0);
      about(retry, () => {
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
        expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: job!.id, state: 'voided', void_reason: 'reopened' })]);
        expect(retry.events('cancel.voided')).toEqual([expect.objectContaining({ jobId: job!.id, orderNo: order.orderNo, reason: 'reopened' })]);
        expect(getOrderRequests(world, order.orderNo)).toBeGreaterThan(askedBefore);
      });

      // And no later cycle sends it either.
      const after = await ws.run(['once']);
      about(after, () => {
        expect(after.code).toBe(0);
        expect(after.events('cancel.sent')).toHaveLength(0);
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
        expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'voided' })]);
      });
      expect(world.klarna.orderState(ref)).not.toBe('cancelled');
    });

    it('an order re-opened after its cancellation went out raises order.reopened as an alert', async () => {
      const { ws, order, ref } = await trackedKlarnaOrder();
      world.specter.cancel(order.orderNo);
      const sent = await ws.run(['once']);
      expectExit(sent, 0);
      const [job] = ws.jobs(order.orderNo);
      about(sent, () => {
        expect(job).toMatchObject({ state: 'done' });
        expect(world.klarna.orderState(ref)).toBe('cancelled');
      });

      reopen(order.orderNo);
      const run = await ws.run(['once']);
      about(run, () => {
        expect([0, 3]).toContain(run.code);
        // The customer's reservation is gone: a person must arrange payment again.
        expect(run.events('order.reopened')).toEqual([
          expect.objectContaining({
            level: 'warn',
            alert: true,
            cancellationSent: true,
            orderNo: order.orderNo,
            provider: 'klarna',
            providerRef: ref,
            jobId: job!.id,
          }),
        ]);
        expect(klarnaCancelKeys(world, ref)).toHaveLength(1);
        expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: job!.id, state: 'done' })]);
      });
    });
  });

  describe('story 2: history stays history', () => {
    it('lengthening the lookback from 60 to 90 days forwards no cancellation the worker never watched', async () => {
      const ws = workspace();
      // Cancelled 86 days ago: outside the 60-day baseline, never watched by this worker.
      const history = makeOrder({ method: 'K', daysAgo: 86, statusId: '5' });
      // The control: watched from the baseline, cancelled after it; it must still be forwarded.
      const watched = makeOrder({ method: 'K', daysAgo: 10 });
      world.specter.add(history, watched);

      const base = await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '60' } });
      expectExit(base, 0);
      expect(ws.snapshot(history.orderNo)).toBeUndefined();
      expect(ws.snapshot(watched.orderNo)).toMatchObject({ status: 'open' });

      world.specter.cancel(watched.orderNo);
      const longer = await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '90' } });
      const again = await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '90' } });
      about([longer, again], () => {
        expect(longer.code).toBe(0);
        expect(again.code).toBe(0);
        expect(ws.jobs(history.orderNo)).toEqual([]);
        expect(klarnaCancelKeys(world, providerRefOf(history))).toHaveLength(0);
        // Tracked from now on (its facts recorded, like a baseline), just not forwarded.
        expect(ws.snapshot(history.orderNo)).toMatchObject({ status: 'cancelled' });
        expect(ws.jobs(watched.orderNo)).toEqual([expect.objectContaining({ reason: 'cancelled', state: 'done' })]);
        expect(klarnaCancelKeys(world, providerRefOf(watched))).toHaveLength(1);
        expect(ws.jobs()).toHaveLength(1);
      });
    });

    it('60 → 30 → 60 days: an order cancelled before the baseline re-enters the window as history, its facts kept', async () => {
      const ws = workspace();
      const history = makeOrder({ method: 'K', daysAgo: 45, statusId: '5' });
      // The control: a recent order cancelled while the window is short; it must still be forwarded.
      const watched = makeOrder({ method: 'K', daysAgo: 5 });
      world.specter.add(history, watched);

      expectExit(await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '60' } }), 0);
      const recorded = ws.snapshot(history.orderNo);
      expect(recorded).toMatchObject({ status: 'cancelled', cancelled_at: expect.any(String), first_seen_at: expect.any(String) });

      const shorter = await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '30' } });
      expectExit(shorter, 0);
      expect(ws.snapshot(history.orderNo)?.left_window_at).toEqual(expect.any(String));

      world.specter.cancel(watched.orderNo);
      const back = await ws.run(['once'], { env: { SYNC_LOOKBACK_DAYS: '60' } });
      about([shorter, back], () => {
        expect(back.code).toBe(0);
        expect(ws.jobs(history.orderNo)).toEqual([]);
        expect(back.events('order.cancel_detected').map((l) => l.orderNo)).not.toContain(history.orderNo);
        expect(klarnaCancelKeys(world, providerRefOf(history))).toHaveLength(0);
        // Matched with the snapshot kept for it: the same facts, not a new order.
        expect(ws.snapshot(history.orderNo)).toMatchObject({
          status: 'cancelled',
          first_seen_at: recorded!.first_seen_at,
          cancelled_at: recorded!.cancelled_at,
        });
        expect(ws.jobs(watched.orderNo)).toEqual([expect.objectContaining({ reason: 'cancelled', state: 'done' })]);
        expect(klarnaCancelKeys(world, providerRefOf(watched))).toHaveLength(1);
      });
    });
  });
});
