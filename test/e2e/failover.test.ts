/**
 * Two replicas on one PostgreSQL database: real `run` processes against the sandbox world.
 *
 * Failover: the replica with a provider request in flight is killed (SIGKILL); the other takes
 * the lease once it expires and sends the job again with the SAME idempotency key: one
 * cancellation applied, no job lost. Fencing: a replica frozen (SIGSTOP) in the middle of its
 * cycle past the TTL, while the other takes over, is thawed (SIGCONT): it commits nothing and
 * sends nothing more, says it lost the lease, and stands by. Holding: one replica keeps the lease
 * across ticks (the other stands by at info), `status` names it between cycles, and a graceful stop
 * frees it so the standby takes over at its next tick, without waiting out the TTL.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { freePort } from '../support/ports.js';
import { expectExit, waitFor } from '../support/cli.js';
import { post, signIn } from '../console/fixture.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { HAVE_POSTGRES } from '../support/postgres.js';
import { cancelRequestsAt, idempotencyKeyOf, isListing } from '../support/sandbox.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(120_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));
const onPostgres = HAVE_POSTGRES ? describe : describe.skip;

const TTL_MS = 3_000;
/** Every second (6 fields, seconds first): a standby asks for the lease once a second. */
const REPLICA_ENV = { SYNC_SCHEDULE: '* * * * * *', SYNC_LEASE_TTL_MS: String(TTL_MS), HTTP_PORT: '0', PROVIDER_TIMEOUT_MS: '60000' };

const CONSOLE_TOKEN = 'failover-console-token-71c0';

function replica(ws: Workspace, env: Record<string, string> = {}) {
  return ws.start(['run'], { env: { ...REPLICA_ENV, ...env } });
}

onPostgres('two replicas on one PostgreSQL database', () => {
  it('one replica keeps the lease across ticks, status names it; on SIGTERM it frees it and the standby takes over at once', async () => {
    const ws = workspace({}, 'postgres');
    world.specter.add(makeOrder({ method: 'K' }));
    // A long TTL: a takeover well inside it can only come from the lease being freed.
    const env = { SYNC_LEASE_TTL_MS: '30000' };
    const a = replica(ws, env);
    const taken = await a.waitForLine((line) => line.event === 'lease.acquired');
    const b = replica(ws, env);
    await b.waitForLine((line) => line.event === 'worker.started');
    // Several ticks of both: a runs every cycle, b stands by on every one (info, naming a).
    await waitFor(() => b.lines.filter((line) => line.event === 'sync.standby').length >= 3, 15_000, 'three standby ticks of the second replica');
    // b's standby tick is logged while a's cycle of the same tick may still be running: wait for
    // a's completions rather than count them at the instant b's third tick was seen.
    await waitFor(() => a.lines.filter((line) => line.event === 'sync.completed').length >= 3, 15_000, 'three cycles completed by the holder');
    expect(b.lines.filter((line) => line.event === 'sync.standby')).toEqual(
      expect.arrayContaining([expect.objectContaining({ level: 'info', heldBy: taken['holder'] })]),
    );
    const said = (who: typeof a, event: string) => who.lines.filter((line) => line.event === event).length;
    // Taken once and kept; the standby never took it, never ran a cycle, and never warned.
    expect({
      aTook: said(a, 'lease.acquired'),
      bTook: said(b, 'lease.acquired'),
      busy: said(a, 'sync.lease_busy') + said(b, 'sync.lease_busy'),
      bCycles: said(b, 'sync.started'),
    }).toEqual({
      aTook: 1,
      bTook: 0,
      busy: 0,
      bCycles: 0,
    });
    // Between cycles, `status` (another process) reads the lease row: a holds it.
    const status = await ws.run(['status', '--json']);
    expectExit(status, 0);
    expect(JSON.parse(status.stdout)).toMatchObject({ lease: { holder: taken['holder'] } });

    const stoppedAt = Date.now();
    expect((await a.stop('SIGTERM')).code).toBe(0);
    expect(a.lines.filter((line) => line.event === 'lease.released')).toEqual([expect.objectContaining({ holder: taken['holder'] })]);
    const from = b.lines.length;
    const takenOver = await b.waitForLine((line) => line.event === 'lease.acquired', { timeoutMs: 15_000 });
    // At b's next tick (every second), far inside the 30 s TTL (slack for a loaded machine).
    expect(Date.parse(takenOver.timestamp) - stoppedAt).toBeLessThan(10_000);
    expect(Number(takenOver['token'])).toBe(Number(taken['token']) + 1);
    await b.waitForLine((line) => line.event === 'sync.completed', { from, timeoutMs: 15_000 });
    await b.stop('SIGTERM');
    const runs = ws.rows('SELECT holder FROM sync_runs ORDER BY id').map((r) => r['holder']);
    expect(new Set(runs)).toEqual(new Set([taken['holder'], takenOver['holder']]));
  });

  it("a standby's console queues Cancel payment and sends nothing; the holder's next cycle sends it, once", async () => {
    const ws = workspace({}, 'postgres');
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order, makeOrder({ method: 'K' }));
    expectExit(await ws.run(['once']), 0);
    world.specter.delete(order.orderNo);
    // Vanished, awaiting a person (VANISHED_ACTION=flag): nothing is sent by the cycle alone.
    expectExit(await ws.run(['once']), 3);

    const a = replica(ws);
    await a.waitForLine((line) => line.event === 'sync.completed');
    const port = await freePort();
    const b = replica(ws, { HTTP_PORT: String(port), CONSOLE_TOKEN });
    await b.waitForLine((line) => line.event === 'sync.standby');
    const base = `http://127.0.0.1:${port}`;
    const { cookie, csrf } = await signIn(base, CONSOLE_TOKEN);
    expect((await post(`${base}/vanished/${order.orderNo}/cancel`, { csrf }, cookie)).status).toBe(303);
    const action = await b.waitForLine((line) => line.event === 'console.action');
    expect(action).toMatchObject({ action: 'cancel', status: 'ok' });
    expect(String(action.message)).toContain('holds the database lease');

    // a, the holder, sends it at its next cycle; b never did.
    await a.waitForLine((line) => line.event === 'cancel.succeeded' && line.orderNo === order.orderNo, { timeoutMs: 15_000 });
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
    expect(b.lines.filter((line) => line.event === 'cancel.sent' || line.event === 'lease.acquired')).toEqual([]);
    expect(cancelRequestsAt(world, 'klarna', ref)).toHaveLength(1);
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done' })]);
  });

  it('the holder is killed with a provider request in flight: the other takes over and repeats it with the same key', async () => {
    const ws = workspace({}, 'postgres');
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order);
    expectExit(await ws.run(['once']), 0);
    world.specter.cancel(order.orderNo);
    // Klarna holds the first cancellation for a minute: it is in flight when its sender dies.
    world.klarna.faults.add({ kind: 'delay', ms: 60_000 }, { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`), times: 1 });

    const a = replica(ws);
    await waitFor(() => cancelRequestsAt(world, 'klarna', ref).length === 1, 30_000, 'the first replica to send the cancellation');
    const b = replica(ws);
    await b.waitForLine((line) => line.event === 'worker.started');
    await a.stop('SIGKILL');
    const killedAt = Date.now();

    const taken = await b.waitForLine((line) => line.event === 'lease.acquired' && line['token'] !== undefined, { timeoutMs: 30_000 });
    await b.waitForLine((line) => line.event === 'cancel.succeeded', { timeoutMs: 30_000 });
    // Within the TTL plus one tick (and some slack for a loaded machine), by the log's clock.
    expect(Date.parse(taken.timestamp) - killedAt).toBeLessThan(TTL_MS + 1_000 + 5_000);

    const requests = cancelRequestsAt(world, 'klarna', ref);
    expect(requests).toHaveLength(2);
    const [key] = ws.jobs(order.orderNo).map((j) => j.idempotency_key);
    expect(requests.map((r) => idempotencyKeyOf('klarna', r))).toEqual([key, key]);
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done' })]);
    // b keeps the lease it took: it runs the next cycles too, and takes it no second time.
    const takenAt = b.lines.indexOf(taken);
    await waitFor(() => b.lines.slice(takenAt).filter((line) => line.event === 'sync.completed').length >= 2, 15_000, 'two cycles of the new holder');
    expect(b.lines.filter((line) => line.event === 'lease.acquired')).toEqual([taken]);
    await b.stop('SIGTERM');
  });

  it.each([
    ['during the listing', 'cycle.listing'],
    ['after the provider answered, before the answer was recorded', 'dispatch.after_answer'],
  ])('the holder dies %s: the other takes over; one key, one cancellation, no job lost', async (_when, point) => {
    const ws = workspace({}, 'postgres');
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order);
    expectExit(await ws.run(['once']), 0);
    world.specter.cancel(order.orderNo);

    // The first replica takes the lease and kills itself (SIGKILL) at the point; the standby,
    // started while it holds the lease, takes over on a later tick.
    const a = replica(ws, { SPECTER_SYNC_CRASH_AT: point });
    await a.waitForLine((line) => line.event === 'lease.acquired');
    const b = replica(ws);
    expect((await a.exited).signal).toBe('SIGKILL');
    await b.waitForLine((line) => line.event === 'cancel.succeeded' || line.event === 'cancel.already_cancelled', { timeoutMs: 30_000 });
    await b.stop('SIGTERM');

    const jobs = ws.jobs(order.orderNo);
    expect(jobs).toEqual([expect.objectContaining({ state: 'done' })]);
    const requests = cancelRequestsAt(world, 'klarna', ref);
    expect(requests.length).toBeGreaterThan(0);
    expect(new Set(requests.map((r) => idempotencyKeyOf('klarna', r)))).toEqual(new Set([jobs[0]!.idempotency_key]));
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
  });

  it('a holder frozen past the TTL (SIGSTOP) and thawed (SIGCONT) commits and sends nothing more, and says it lost the lease', async () => {
    const ws = workspace({}, 'postgres');
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order);
    expectExit(await ws.run(['once']), 0);
    world.specter.cancel(order.orderNo);
    const runsBefore = ws.rows('SELECT id FROM sync_runs').length;
    // The first listing after this is slow: the first replica is frozen in the middle of it.
    world.specter.faults.add({ kind: 'delay', ms: 4_000 }, { matches: isListing, times: 1 });

    const a = replica(ws);
    const aHolder = String((await a.waitForLine((line) => line.event === 'lease.acquired'))['holder']);
    a.signal('SIGSTOP');
    const b = replica(ws);
    try {
      // b takes over once a's lease runs out, runs the cycle, and sends the cancellation.
      await b.waitForLine((line) => line.event === 'cancel.succeeded', { timeoutMs: 30_000 });
    } finally {
      a.signal('SIGCONT');
    }
    const lost = await a.waitForLine((line) => line.event === 'lease.lost', { timeoutMs: 30_000 });
    expect(lost).toMatchObject({ level: 'warn', heldBy: b.lines.find((line) => line.event === 'lease.acquired')?.['holder'] });
    // Then a is a standby like any other: its next ticks ask for the lease, which b keeps.
    const lostAt = a.lines.indexOf(lost);
    await a.waitForLine((line) => line.event === 'sync.standby', { from: lostAt, timeoutMs: 15_000 });
    await a.stop('SIGTERM');
    await b.stop('SIGTERM');
    expect(a.lines.slice(lostAt).filter((line) => line.event === 'lease.acquired' || line.event === 'lease.lost' || line.event === 'lease.released')).toEqual([
      lost,
    ]);

    const said = (event: string) => a.lines.filter((line) => line.event === event);
    expect(said('cancel.sent')).toEqual([]);
    expect(said('sync.completed')).toEqual([]);
    expect(cancelRequestsAt(world, 'klarna', ref)).toHaveLength(1);
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
    // Only b's cycle (or cycles) were committed: every run after the baseline is b's.
    const runs = ws.rows('SELECT holder FROM sync_runs ORDER BY id').slice(runsBefore);
    expect(runs.length).toBeGreaterThan(0);
    expect(runs.map((r) => r['holder'])).not.toContain(aHolder);
  });
});
