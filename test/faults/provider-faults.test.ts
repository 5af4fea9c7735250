/**
 * Provider faults, end to end: a real `once` process against the four provider sandboxes, each
 * fault applied to all four at once (Qliro, Klarna, Walley, Svea). Whatever the fault, every
 * cancellation ends done, applied once at the provider (cancelsApplied = 1), under the same
 * idempotency key on every attempt, and no other order is touched (harness.assertInvariants).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import type { Fault, RecordedRequest } from '../../src/sandbox/loopback.js';
import { PROVIDERS, type Provider } from '../support/sandbox.js';
import { Scenario } from './scenario.js';

/** The request that carries the cancel itself (Walley's token request and Svea's GET are not it). */
const isCancel: Record<Provider, (r: RecordedRequest) => boolean> = {
  qliro: (r) => r.method === 'POST' && r.path.endsWith('/cancelOrder'),
  klarna: (r) => r.method === 'POST' && r.path.endsWith('/cancel'),
  walley: (r) => r.method === 'POST' && r.path.endsWith('/cancel'),
  svea: (r) => r.method === 'PATCH',
};

/** Anything but Walley's token request (a fault there tests OAuth, not the cancellation). */
const isApi = (r: RecordedRequest): boolean => r.path !== '/oauth2/v2.0/token';

let scenario: Scenario | null = null;
afterEach(async () => {
  await scenario?.close();
  scenario = null;
});

/** Baseline, then the first order of every provider cancelled in Specter. */
async function cancelledAtEveryProvider(env: Record<string, string> = {}): Promise<Scenario> {
  const s = (scenario = await Scenario.startAfterBaseline(env));
  // Walley's accepted cancel shows after a short time (the real one: "a few seconds").
  s.world.walley.setCancelLag({ reads: 0, ms: 400 });
  s.cancel(...PROVIDERS.map((p) => s.order(p, 0)));
  return s;
}

function addToCancels(s: Scenario, fault: Fault, times: number): void {
  for (const p of PROVIDERS) s.world[p].faults.add(fault, { matches: isCancel[p], times });
}

describe('provider faults: the job ends done, never doubled, one key throughout', () => {
  test('timeouts: a hung cancel (PROVIDER_TIMEOUT_MS=400) is retried and succeeds', async () => {
    const s = await cancelledAtEveryProvider({ PROVIDER_TIMEOUT_MS: '400' });
    addToCancels(s, { kind: 'hang' }, 2);
    await s.runOk();
    await s.settle(6);
    s.assertInvariants();
    for (const p of PROVIDERS) expect(s.cancelRequestsAt(p, s.order(p, 0).providerRef!).length).toBeGreaterThanOrEqual(3);
  }, 120_000);

  test('connection resets before the provider saw the cancel', async () => {
    const s = await cancelledAtEveryProvider();
    addToCancels(s, { kind: 'reset' }, 2);
    await s.runOk();
    await s.settle(6);
    s.assertInvariants();
  }, 120_000);

  test('resetAfterEffect: applied, answer lost → the retry with the same key counts as success', async () => {
    // Backoff ≥ 100 ms per retry: Walley's 400 ms lag is seen as "409 same key in progress" at
    // least once, and outlasted well within DISPATCH_MAX_ATTEMPTS.
    const s = await cancelledAtEveryProvider({ DISPATCH_RETRY_MIN_MS: '100', DISPATCH_RETRY_MAX_MS: '400' });
    addToCancels(s, { kind: 'resetAfterEffect' }, 1);
    await s.runOk();
    await s.settle(6);
    s.assertInvariants();
    // Klarna replayed the first result (204) for the key: applied once, asked twice.
    const k = s.order('klarna', 0).providerRef!;
    expect(s.world.klarna.cancelRequests(k)).toBe(1);
    expect(s.cancelRequestsAt('klarna', k).length).toBeGreaterThanOrEqual(2);
    // Qliro answered the repeated RequestId with ORDER_HAS_BEEN_CANCELLED.
    const q = s.order('qliro', 0).providerRef!;
    expect(
      s.world.qliro
        .cancelRequests()
        .filter((c) => c.orderId === q)
        .map((c) => c.answer),
    ).toEqual(['accepted', 'ORDER_HAS_BEEN_CANCELLED']);
    // Walley: the repeat under the same key was told "in progress", then got the first answer again.
    const w = s.order('walley', 0).providerRef!;
    const walleyAnswers = s.world.walley
      .cancelRequests()
      .filter((c) => c.orderId === w)
      .map((c) => c.answer);
    expect(walleyAnswers[0]).toBe('202');
    // There was a repeat (the first answer was lost), so the check below is about something.
    expect(walleyAnswers.length).toBeGreaterThanOrEqual(2);
    expect(walleyAnswers.slice(1).every((a) => a === '202 (replayed)' || a.startsWith('409'))).toBe(true);
    // Svea: the retry read the order first, saw it cancelled, and sent no second PATCH.
    const v = s.order('svea', 0).providerRef!;
    expect(s.cancelRequestsAt('svea', v)).toHaveLength(1);
  }, 120_000);

  test('a burst of 429 with Retry-After: 1 is honoured, then succeeds', async () => {
    const s = await cancelledAtEveryProvider({ DISPATCH_RETRY_MAX_MS: '3000' });
    addToCancels(s, { kind: 'status', status: 429, headers: { 'retry-after': '1', 'content-type': 'text/plain' }, body: 'slow down' }, 3);
    await s.runOk();
    await s.settle(6);
    s.assertInvariants();
    for (const p of PROVIDERS) {
      const sent = s.cancelRequestsAt(p, s.order(p, 0).providerRef!);
      expect(sent.length).toBeGreaterThanOrEqual(4);
      // Never sooner than the provider asked (a little slack for timer granularity).
      for (let i = 1; i <= 3; i += 1) expect(sent[i]!.receivedAt - sent[i - 1]!.receivedAt).toBeGreaterThanOrEqual(950);
    }
  }, 120_000);

  test('a slow body longer than PROVIDER_TIMEOUT_MS is a timeout, then the retry succeeds', async () => {
    const s = await cancelledAtEveryProvider({ PROVIDER_TIMEOUT_MS: '500' });
    addToCancels(s, { kind: 'slowBody', ms: 3000 }, 1);
    await s.runOk();
    await s.settle(6);
    s.assertInvariants();
  }, 120_000);

  test('a flapping provider (503 / ok / reset / 429 / ok …) across runs, confirmations included', async () => {
    const s = await cancelledAtEveryProvider();
    const healthy: Fault = { kind: 'delay', ms: 0 };
    // Consumed one per request, in order: the first two requests to each provider fail, then it
    // flaps on through the later attempts and the confirmation reads of the following runs.
    const flap: Fault[] = [
      { kind: 'status', status: 503, body: 'down' },
      { kind: 'reset' },
      healthy,
      { kind: 'status', status: 429, body: 'busy' },
      { kind: 'status', status: 502, body: 'bad gateway' },
      healthy,
      { kind: 'reset' },
      healthy,
    ];
    for (const p of PROVIDERS) for (const fault of flap) s.world[p].faults.add(fault, { matches: isApi });
    await s.runOk();
    await s.settle(8);
    s.assertInvariants();
    for (const p of ['qliro', 'klarna', 'walley'] as const) {
      // Two failed sends under the same key before the one that went through.
      expect(s.cancelRequestsAt(p, s.order(p, 0).providerRef!).length).toBeGreaterThanOrEqual(3);
    }
  }, 120_000);
});

describe('Walley: the answer to an applied cancel is lost while Walley lags', () => {
  /**
   * The cancel was applied (202) but the answer was lost; Walley answers "409 same key in
   * progress" to the retries under our (same) key. Each 409 is settled by reading the order:
   * while the cancel has not shown yet (NotActivated) it is transient and retried; once the order
   * reads Cancelled the job is done. Here the lag (1.5 s) is shorter than the retry budget, so
   * Walley may also have replayed its 202 by then: either way the job ends done, once, one key.
   */
  test('resetAfterEffect at Walley with a 1.5 s lag: the job still ends done, once, with one key', async () => {
    const s = (scenario = await Scenario.startAfterBaseline());
    s.world.walley.setCancelLag({ reads: 0, ms: 1_500 });
    const w = s.order('walley', 0);
    s.cancel(w);
    s.world.walley.faults.add({ kind: 'resetAfterEffect' }, { matches: isCancel.walley, times: 1 });
    const env = { DISPATCH_RETRY_MIN_MS: '400', DISPATCH_RETRY_MAX_MS: '800' };
    let run = await s.run({ env });
    for (let i = 0; i < 3 && run.code !== 0; i += 1) run = await s.run({ env });
    s.assertInvariants();
    expect(run.code).toBe(0);
  }, 120_000);

  /**
   * Story 9 of issue 8. Before, "in progress" for longer than the whole retry budget
   * (DISPATCH_MAX_ATTEMPTS × the backoff) ended `exhausted` with a cancel.failed alert although
   * Walley had cancelled. Now: Walley holds our key "in progress" for ever, the order shows the
   * cancel after one read, and the budget is three attempts — the lost 202, a 409 whose read
   * still shows NotActivated, a 409 whose read shows Cancelled. Counted in reads, not time, so a
   * slow machine cannot change the story.
   */
  test('a 409 "in progress" outlasting the whole retry budget ends done, not exhausted, once, with one key', async () => {
    const s = (scenario = await Scenario.startAfterBaseline());
    s.world.walley.setCancelLag({ reads: 1, ms: 0 });
    s.world.walley.setKeyInProgress(Infinity);
    const w = s.order('walley', 0);
    s.cancel(w);
    s.world.walley.faults.add({ kind: 'resetAfterEffect' }, { matches: isCancel.walley, times: 1 });
    const run = await s.runOk({ env: { DISPATCH_MAX_ATTEMPTS: '3', DISPATCH_RETRY_MIN_MS: '50', DISPATCH_RETRY_MAX_MS: '100' } });
    s.assertInvariants();
    expect(run.code).toBe(0);

    const answers = s.world.walley
      .cancelRequests()
      .filter((c) => c.orderId === w.providerRef)
      .map((c) => c.answer);
    expect(answers).toEqual(['202', '409 IDEMPOTENCY_KEY_IN_PROGRESS', '409 IDEMPOTENCY_KEY_IN_PROGRESS']);
    const [job] = s.jobs();
    expect(job).toMatchObject({ state: 'done', attempts: 3 });
    expect(run.events('cancel.failed')).toEqual([]);
    expect(run.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: w.orderNo, alreadyCancelled: false })]);
  }, 120_000);
});
