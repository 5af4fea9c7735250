/**
 * Money safety over time (issue 8), end to end, stories 3, 4, 6 and 8: the payment is the unit.
 *
 * Story 3, every cancelled payment reaches a provider or a person: no route is a failed
 * `unrouted` job until routing covers it (then it is sent) or a person dismisses it; `elsewhere`
 * is the quiet route on purpose; a new reference on an order is a new payment. Story 4, one
 * payment, one cancellation, however many orders carry it. Story 6, the vanish guard stops asking
 * getOrder once more orders are confirmed gone than it allows. Story 8, `jobs dismiss` closes a
 * failed job without sending, and refuses bad input without changing anything.
 *
 * Stories 1 and 2 are in money-safety.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import { formatStockholm } from '../../src/sandbox/specter/seed.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { about, expectExit } from '../support/cli.js';
import type { Row } from '../support/db.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { klarnaCancelKeys } from '../support/sandbox.js';
import { configDirWithRouting, type RoutingRuleJson, useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

/** The shipped routing without its Klarna rule: a K payment has no route. */
const withoutKlarna = (routing: RoutingRuleJson[]): RoutingRuleJson[] => routing.filter((r) => !(r.payTypeIdentifiers ?? []).includes('K'));

/** A workspace whose baseline tracks `orders` (added to the sandbox here). */
async function baselined(ws: Workspace, env: Record<string, string>, ...orders: SandboxOrder[]): Promise<void> {
  world.specter.add(...orders);
  const base = await ws.run(['once'], { env });
  expectExit(base, 0);
}

/** Two Klarna orders carrying one payment: an order split, or a duplicate made by an integration. */
function twins(): { first: SandboxOrder; second: SandboxOrder; ref: string } {
  const first = makeOrder({ method: 'K' });
  const second = makeOrder({ method: 'K', reference: first.payment!.payTypeReference! });
  return { first, second, ref: providerRefOf(first) };
}

/**
 * A LIVE_TWIN hold, as today: of two orders sharing a payment one is cancelled, the other is
 * still open, so the job is failed/rejected and awaits a person (exit 3). `alsoCancel` orders
 * are cancelled in the same cycle (and sent).
 */
async function liveTwinHold(ws: Workspace, ...alsoCancel: SandboxOrder[]): Promise<{ live: SandboxOrder; held: SandboxOrder; ref: string; job: Row }> {
  const { first: live, second: held, ref } = twins();
  await baselined(ws, {}, live, held, ...alsoCancel);
  world.specter.cancel(held.orderNo);
  for (const o of alsoCancel) world.specter.cancel(o.orderNo);
  const run = await ws.run(['once']);
  expectExit(run, 3);
  const jobs = ws.jobs().filter((j) => j.provider_ref === ref);
  about(run, () => {
    expect(jobs).toEqual([expect.objectContaining({ state: 'failed', failure_reason: 'rejected', last_error_code: 'LIVE_TWIN' })]);
    expect(klarnaCancelKeys(world, ref)).toHaveLength(0);
  });
  return { live, held, ref, job: jobs[0]! };
}

describe('story 3: every cancelled payment reaches a provider or a person', () => {
  it("no route: a failed unrouted job awaits a person (exit 3, status); once routing covers it, it is sent with the job's key", async () => {
    const ws = workspace();
    const noKlarna = { SYNC_CONFIG_DIR: configDirWithRouting(ws, withoutKlarna) };
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    await baselined(ws, noKlarna, order);

    world.specter.cancel(order.orderNo);
    const unrouted = await ws.run(['once'], { env: noKlarna });
    expectExit(unrouted, 3);
    const [job] = ws.jobs();
    about(unrouted, () => {
      expect(ws.jobs()).toEqual([
        expect.objectContaining({
          order_no: order.orderNo,
          reason: 'cancelled',
          state: 'failed',
          failure_reason: 'unrouted',
          provider: null,
          provider_ref: null,
        }),
      ]);
      expect(unrouted.events('order.unrouted')).toEqual([expect.objectContaining({ level: 'warn', alert: true, orderNo: order.orderNo, jobId: job!.id })]);
      expect(klarnaCancelKeys(world, ref)).toHaveLength(0);
    });

    const status = await ws.run(['status', '--json'], { env: noKlarna });
    expectExit(status, 0);
    about(status, () => expect(JSON.parse(status.stdout)).toMatchObject({ jobs: { failed: 1 } }));

    // The operator adds the route back: the waiting payment gets its provider and is sent.
    const routed = await ws.run(['once']);
    expectExit(routed, 0);
    about(routed, () => {
      expect(ws.jobs()).toEqual([expect.objectContaining({ id: job!.id, provider: 'klarna', provider_ref: ref, state: 'done' })]);
      expect(routed.events('job.rerouted')).toHaveLength(1);
      const key = ws.jobs()[0]!.idempotency_key;
      expect(klarnaCancelKeys(world, ref)).toEqual([key]);
    });
    expect(world.klarna.orderState(ref)).toBe('cancelled');
  });

  it('cancel → re-open paid again under a new reference → cancel: the new payment gets its own job and key', async () => {
    const ws = workspace();
    const order = makeOrder({ method: 'K' });
    const refA = providerRefOf(order);
    await baselined(ws, {}, order);

    world.specter.cancel(order.orderNo);
    const first = await ws.run(['once']);
    expectExit(first, 0);
    about(first, () => expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ provider_ref: refA, state: 'done' })]));

    // The customer pays again: the order is open once more, under a new Klarna reference.
    const refB = randomUUID();
    world.specter.update(order.orderNo, {
      statusId: '2',
      lastChanged: formatStockholm(Date.now()),
      payment: { ...order.payment!, payTypeReference: refB },
    });
    const reopened = await ws.run(['once']);
    about(reopened, () => expect([0, 3]).toContain(reopened.code));

    world.specter.cancel(order.orderNo);
    const second = await ws.run(['once']);
    about([reopened, second], () => {
      expect(second.code).toBe(0);
      const jobs = ws.jobs(order.orderNo);
      expect(jobs).toEqual([
        expect.objectContaining({ provider_ref: refA, state: 'done' }),
        expect.objectContaining({ provider_ref: refB, state: 'done', reason: 'cancelled' }),
      ]);
      expect(jobs[0]!.idempotency_key).not.toBe(jobs[1]!.idempotency_key);
      expect(klarnaCancelKeys(world, refA)).toEqual([jobs[0]!.idempotency_key]);
      expect(klarnaCancelKeys(world, refB)).toEqual([jobs[1]!.idempotency_key]);
    });
    expect(world.klarna.orderState(refB)).toBe('cancelled');
  });

  it('an unrouted cancelled order that is then deleted still awaits a person', async () => {
    const ws = workspace();
    const noKlarna = { SYNC_CONFIG_DIR: configDirWithRouting(ws, withoutKlarna) };
    const order = makeOrder({ method: 'K' });
    await baselined(ws, noKlarna, order);

    world.specter.cancel(order.orderNo);
    const cancelled = await ws.run(['once'], { env: noKlarna });
    expectExit(cancelled, 3);

    // Deleted after it was cancelled: no cancellation ever went out, so this is not "already
    // cancelled"; the payment still waits for a person (or for routing).
    expect(world.specter.delete(order.orderNo)).toBe(true);
    const deleted = await ws.run(['once'], { env: noKlarna });
    const later = await ws.run(['once'], { env: noKlarna });
    about([cancelled, deleted, later], () => {
      expect(deleted.code).toBe(3);
      expect(later.code).toBe(3);
      expect(ws.jobs()).toEqual([expect.objectContaining({ order_no: order.orderNo, state: 'failed', failure_reason: 'unrouted' })]);
      expect(klarnaCancelKeys(world, providerRefOf(order))).toHaveLength(0);
    });
  });

  it('Swish (unrouted by default) cancelled: a failed unrouted job, a refund decision for a person', async () => {
    const ws = workspace();
    const swish = makeOrder({ method: 'SW' });
    await baselined(ws, {}, swish);

    world.specter.cancel(swish.orderNo);
    const run = await ws.run(['once']);
    about(run, () => {
      expect(run.code).toBe(3);
      expect(ws.jobs()).toEqual([
        expect.objectContaining({ order_no: swish.orderNo, state: 'failed', failure_reason: 'unrouted', provider: null, pay_type_identifier: 'SW' }),
      ]);
      expect(run.events('order.unrouted')).toEqual([expect.objectContaining({ alert: true, orderNo: swish.orderNo })]);
    });
  });

  it('a route to `elsewhere` (settled outside specter-sync) keeps a cancelled Swish payment quiet on purpose', async () => {
    const ws = workspace();
    const elsewhere = { SYNC_CONFIG_DIR: configDirWithRouting(ws, (routing) => [...routing, { payTypeIdentifiers: ['SW'], provider: 'elsewhere' }]) };
    const swish = makeOrder({ method: 'SW' });
    await baselined(ws, elsewhere, swish);

    world.specter.cancel(swish.orderNo);
    const run = await ws.run(['once'], { env: elsewhere });
    about(run, () => {
      expect(run.code).toBe(0);
      expect(ws.jobs()).toEqual([]);
      expect(run.events('order.unrouted')).toEqual([]);
      expect(run.lines.filter((l) => l.alert === true)).toEqual([]);
    });
  });
});

describe('story 4: two orders sharing one Klarna payment', () => {
  it('both cancelled in the same cycle: one job, one request, one idempotency key', async () => {
    const ws = workspace();
    const { first, second, ref } = twins();
    await baselined(ws, {}, first, second);

    world.specter.cancel(first.orderNo);
    world.specter.cancel(second.orderNo);
    const run = await ws.run(['once']);
    about(run, () => {
      expect(run.code).toBe(0);
      const jobs = ws.jobs();
      expect(jobs).toEqual([expect.objectContaining({ provider: 'klarna', provider_ref: ref, state: 'done' })]);
      expect(klarnaCancelKeys(world, ref)).toEqual([jobs[0]!.idempotency_key]);
    });
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
  });

  it('one cancelled while its twin is open (held, LIVE_TWIN), then the twin cancelled too: still one job, one request, one key', async () => {
    const ws = workspace();
    const { live, ref, job } = await liveTwinHold(ws);

    world.specter.cancel(live.orderNo);
    const run = await ws.run(['once']);
    about(run, () => {
      // The held job is the payment's one job: released now that no live order carries it.
      expect(ws.jobs()).toEqual([
        expect.objectContaining({ id: job.id, provider: 'klarna', provider_ref: ref, state: 'done', idempotency_key: job.idempotency_key }),
      ]);
      expect(klarnaCancelKeys(world, ref)).toEqual([job.idempotency_key]);
      expect(run.code).toBe(0);
    });
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
  });
});

describe('story 6: the guard acts before the flood', () => {
  it('a listing that lacks all 30 tracked orders costs at most limit + 1 + 4 getOrder requests, then the guard trips', async () => {
    const limit = 3;
    const ws = workspace({ VANISH_GUARD_MAX_PER_RUN: String(limit) });
    const orders = Array.from({ length: 30 }, () => makeOrder({ method: 'K' }));
    await baselined(ws, {}, ...orders);

    for (const o of orders) expect(world.specter.delete(o.orderNo)).toBe(true);
    const getOrders = (): number => world.specter.requestsFor(world.specter.actions.getOrder).length;
    const before = getOrders();
    const run = await ws.run(['once']);
    const asked = getOrders() - before;
    about(run, () => {
      expect(run.code).toBe(3);
      const tripped = run.events('vanish_guard.tripped');
      expect(tripped).toEqual([expect.objectContaining({ level: 'error', alert: true, limit })]);
      expect(Number(tripped[0]!.count)).toBeGreaterThan(limit);
      expect(run.events('order.vanished')).toHaveLength(0);
      for (const o of orders) expect(ws.snapshot(o.orderNo)).toMatchObject({ vanished_at: null, vanish_status: null });
      // Tripping needs limit + 1 confirmed gone; the confirmations run 4 at a time, so up to 4
      // more may be in flight when the guard decides. Not one per tracked order.
      expect(asked).toBeGreaterThanOrEqual(limit + 1);
      expect(asked).toBeLessThanOrEqual(limit + 1 + 4);
    });
  });
});

describe('story 8: a person can close what needs them', () => {
  it('jobs dismiss closes a LIVE_TWIN hold with a note, sends nothing, and the next once is clean', async () => {
    const ws = workspace();
    const { ref, job } = await liveTwinHold(ws);
    const note = 'the twin is the real order';

    const dismiss = await ws.run(['jobs', 'dismiss', String(job.id), '--note', note]);
    expectExit(dismiss, 0);
    about(dismiss, () => {
      expect(ws.jobs()).toEqual([expect.objectContaining({ id: job.id, state: 'dismissed', person_note: note })]);
      expect(dismiss.events('job.dismissed')).toEqual([expect.objectContaining({ jobId: job.id, note })]);
    });

    const listed = await ws.run(['jobs', 'list', '--state', 'dismissed', '--json']);
    expectExit(listed, 0);
    about(listed, () => expect((JSON.parse(listed.stdout) as Array<{ id: number }>).map((j) => j.id)).toEqual([job.id]));

    const next = await ws.run(['once']);
    about(next, () => {
      expect(next.code).toBe(0);
      expect(next.events('cancel.sent')).toHaveLength(0);
      expect(klarnaCancelKeys(world, ref)).toHaveLength(0);
      expect(ws.jobs()).toEqual([expect.objectContaining({ id: job.id, state: 'dismissed' })]);
    });
  });

  it('jobs dismiss refuses bad input with exit 2, naming the argument, and changes nothing', async () => {
    const ws = workspace();
    const sentAlready = makeOrder({ method: 'K' });
    const { job: held } = await liveTwinHold(ws, sentAlready);
    const [done] = ws.jobs(sentAlready.orderNo);
    expect(done).toMatchObject({ state: 'done' });

    const cases: Array<{ what: string; args: string[]; names: RegExp }> = [
      { what: 'no --note', args: [String(held.id)], names: /--note/ },
      { what: 'an empty --note', args: [String(held.id), '--note', ''], names: /--note/ },
      { what: 'an unknown job id', args: ['999999', '--note', 'x'], names: /JOB_ID|999999/ },
      { what: 'a job that is not failed', args: [String(done!.id), '--note', 'x'], names: new RegExp(`JOB_ID|job ${String(done!.id)}\\b`, 'i') },
    ];
    for (const c of cases) {
      const before = ws.dump();
      const run = await ws.run(['jobs', 'dismiss', ...c.args]);
      about(run, () => {
        expect({ case: c.what, code: run.code }).toEqual({ case: c.what, code: 2 });
        expect({ case: c.what, says: `${run.stderr}${run.stdout}` }).toEqual({ case: c.what, says: expect.stringMatching(c.names) });
        expect(run.events('job.dismissed')).toHaveLength(0);
        expect(ws.dump()).toEqual(before);
      });
    }
  });
});
