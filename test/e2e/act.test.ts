/**
 * Act, end to end: a cancellation in the sandbox Specter travels through the real CLI to the
 * sandbox providers, and every answer class ends in the right job state, event and exit code.
 */
import { beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit, type EnvLayer } from '../support/cli.js';
import { makeOrder, type Method, providerRefOf } from '../support/orders.js';
import { cancelRequestsAt } from '../support/sandbox.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';
import type { Engine } from '../../src/store/database.js';
import { ENGINES } from '../support/postgres.js';

jest.setTimeout(60_000);

let world!: SandboxWorld;
const sandboxWorkspace = useSandboxWorld((w) => (world = w));
/** The engine of the suite running now (describe.each below): each test's workspace is on it. */
let engine: Engine = 'sqlite';
const workspace = (env?: EnvLayer): Workspace => sandboxWorkspace(env, engine);

/** A workspace with a baseline that already tracks a fresh open order paid with `method`. */
async function trackedOrder(method: Method, env: Record<string, string> = {}): Promise<{ ws: Workspace; order: SandboxOrder; ref: string }> {
  const ws = workspace(env);
  const order = makeOrder({ method });
  world.specter.add(order);
  const base = await ws.run(['once']);
  expectExit(base, 0);
  return { ws, order, ref: providerRefOf(order) };
}

const klarnaCancels = (ref: string): RecordedRequest[] => cancelRequestsAt(world, 'klarna', ref);

/** Every request to Klarna about this order (cancels, reads), whatever the method. */
function klarnaRequestsFor(ref: string): RecordedRequest[] {
  return world.klarna.requests.filter((r) => r.path.includes(ref));
}

// One suite on both engines: the SQLite file, and a PostgreSQL database (test/support/postgres.ts).
describe.each(ENGINES)('on %s', (suiteEngine) => {
  beforeAll(() => {
    engine = suiteEngine;
  });

  describe('Klarna answers', () => {
    it('captured → cancel.failed reason captured, alert, exit 3, and never sent again', async () => {
      const { ws, order, ref } = await trackedOrder('K');
      world.klarna.setOrder(ref, 'captured');
      world.specter.cancel(order.orderNo);

      const run = await ws.run(['once']);
      expectExit(run, 3);
      const failed = run.events('cancel.failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ level: 'error', alert: true, reason: 'captured', orderNo: order.orderNo, provider: 'klarna', providerRef: ref });
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'failed', failure_reason: 'captured', attempts: 1 })]);
      expect(world.klarna.orderState(ref)).toBe('captured');
      const requestsAfterFirst = klarnaRequestsFor(ref).length;
      expect(requestsAfterFirst).toBeGreaterThanOrEqual(1);

      const again = await ws.run(['once']);
      expectExit(again, 3);
      expect(again.events('cancel.sent')).toHaveLength(0);
      expect(again.events('cancel.failed')).toHaveLength(0);
      expect(klarnaRequestsFor(ref).length).toBe(requestsAfterFirst);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'failed', attempts: 1 })]);
    });

    it('already cancelled at the provider → cancel.succeeded, job done', async () => {
      const { ws, order, ref } = await trackedOrder('K');
      world.klarna.setOrder(ref, 'cancelled');
      world.specter.cancel(order.orderNo);

      const run = await ws.run(['once']);
      expectExit(run, 0);
      expect(run.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo, alreadyCancelled: true })]);
      expect(run.events('cancel.failed')).toHaveLength(0);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done', failure_reason: null })]);
    });

    it('503, 409 and 429 (Retry-After) are retried with growing waits, then succeed', async () => {
      const { ws, order, ref } = await trackedOrder('K', { DISPATCH_RETRY_MIN_MS: '100', DISPATCH_RETRY_MAX_MS: '3000' });
      const matches = (r: RecordedRequest) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`);
      world.klarna.faults.add({ kind: 'status', status: 503, body: '' }, { matches });
      world.klarna.faults.add(
        {
          kind: 'status',
          status: 409,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ error_code: 'CONFLICT', error_messages: ['busy'] }),
        },
        { matches },
      );
      world.klarna.faults.add({ kind: 'status', status: 429, headers: { 'retry-after': '1', 'content-type': 'text/plain' }, body: 'slow down' }, { matches });
      world.specter.cancel(order.orderNo);

      const run = await ws.run(['once']);
      expectExit(run, 0);
      const retries = run.events('cancel.retry_scheduled');
      expect(retries.map((l) => l.code)).toEqual(['HTTP_503', 'CONFLICT', 'HTTP_429']);
      for (const r of retries) expect(r).toMatchObject({ level: 'warn', orderNo: order.orderNo, provider: 'klarna', providerRef: ref });
      const delays = retries.map((l) => Number(l.delayMs));
      // Exponential backoff with full jitter: the ceiling doubles (100, 200, 400 ms) and Retry-After wins.
      expect(delays[0]).toBe(100);
      expect(delays[1]).toBeGreaterThanOrEqual(100);
      expect(delays[1]).toBeLessThanOrEqual(200);
      expect(delays[2]).toBeGreaterThanOrEqual(1000);
      expect(run.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo })]);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done', attempts: 4 })]);

      // What the provider saw: four requests, the waits between them at least the logged delays, growing.
      const sent = klarnaCancels(ref);
      expect(sent).toHaveLength(4);
      const gaps = sent.slice(1).map((r, i) => r.receivedAt - sent[i]!.receivedAt);
      gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(delays[i]! - 5));
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
      expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
      // Every attempt carried the job's one idempotency key.
      const key = ws.jobs(order.orderNo)[0]!.idempotency_key;
      expect(new Set(sent.map((r) => r.headers['klarna-idempotency-key']))).toEqual(new Set([key]));
      expect(world.klarna.cancelsApplied(ref)).toBe(1);
    });

    it('transient for ever → cancel.failed reason exhausted after DISPATCH_MAX_ATTEMPTS, alert, exit 3', async () => {
      const { ws, order, ref } = await trackedOrder('K', { DISPATCH_MAX_ATTEMPTS: '3', DISPATCH_RETRY_MIN_MS: '20', DISPATCH_RETRY_MAX_MS: '100' });
      world.klarna.faults.add(
        { kind: 'status', status: 503, body: '' },
        { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`), times: Infinity },
      );
      world.specter.cancel(order.orderNo);

      const run = await ws.run(['once']);
      expectExit(run, 3);
      expect(run.events('cancel.sent')).toHaveLength(3);
      expect(run.events('cancel.retry_scheduled')).toHaveLength(2);
      const failed = run.events('cancel.failed');
      expect(failed).toEqual([expect.objectContaining({ level: 'error', alert: true, reason: 'exhausted', orderNo: order.orderNo })]);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'failed', failure_reason: 'exhausted', attempts: 3 })]);
      expect(klarnaCancels(ref)).toHaveLength(3);

      // Exhausted is final until a person re-queues it: the next run sends nothing.
      const again = await ws.run(['once']);
      expectExit(again, 3);
      expect(klarnaCancels(ref)).toHaveLength(3);
    });
  });

  describe('asynchronous providers', () => {
    it('Qliro: accepted, then the next once confirms the reversal → done', async () => {
      const { ws, order, ref } = await trackedOrder('QL');
      world.specter.cancel(order.orderNo);

      const first = await ws.run(['once']);
      expectExit(first, 0);
      expect(first.events('cancel.accepted')).toEqual([expect.objectContaining({ orderNo: order.orderNo, provider: 'qliro', providerRef: ref })]);
      expect(first.events('cancel.succeeded')).toHaveLength(0);
      const accepted = ws.jobs(order.orderNo)[0]!;
      expect(accepted).toMatchObject({ state: 'accepted' });
      const tx = world.qliro.transactions().find((t) => t.orderId === ref)!;
      expect(accepted.provider_transaction_id).toBe(String(tx.paymentTransactionId));

      const second = await ws.run(['once']);
      expectExit(second, 0);
      expect(second.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo, provider: 'qliro' })]);
      expect(second.events('cancel.sent')).toHaveLength(0);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done' })]);
      expect(world.qliro.cancelRequests().filter((c) => c.orderId === ref)).toEqual([
        expect.objectContaining({ answer: 'accepted', requestId: accepted.idempotency_key }),
      ]);
      expect(world.qliro.transactions().find((t) => t.orderId === ref)?.status).toBe('Success');
    });

    it('Walley: accepted (202), then the next once confirms the order cancelled → done', async () => {
      const { ws, order, ref } = await trackedOrder('CL');
      world.specter.cancel(order.orderNo);

      const first = await ws.run(['once']);
      expectExit(first, 0);
      expect(first.events('cancel.accepted')).toEqual([expect.objectContaining({ orderNo: order.orderNo, provider: 'walley', providerRef: ref })]);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'accepted' })]);

      const second = await ws.run(['once']);
      expectExit(second, 0);
      expect(second.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo, provider: 'walley' })]);
      expect(second.events('cancel.sent')).toHaveLength(0);
      expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done' })]);
      expect(world.walley.cancelRequests().filter((c) => c.orderId === ref)).toEqual([expect.objectContaining({ answer: '202' })]);
      expect(world.walley.orderState(ref)).toBe('cancelled');
    });
  });
});
