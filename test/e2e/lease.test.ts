/**
 * One writer, everywhere (story 5 of issue 8), end to end: real CLI processes on one SQLite file
 * against the sandbox world. `vanished cancel` keeps its lease renewed while a slow provider
 * answers, so a `once` started meanwhile does not send the same job again; it sends only its own
 * job; `jobs retry` sends under the same lease; and a lease left by "pid 1 on this host" from
 * before a container restart does not block the next run.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { describe, expect, it, jest } from '@jest/globals';
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit, show, sleep, waitFor } from '../support/cli.js';
import { writeDb } from '../support/db.js';
import { DAY_MS, makeOrder, providerRefOf } from '../support/orders.js';
import { cancelRequestsAt } from '../support/sandbox.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

/** Recorded on arrival, before any scripted delay: a request in flight is counted. */
const klarnaCancelArrivals = (ref: string): RecordedRequest[] => cancelRequestsAt(world, 'klarna', ref);

/** Writes the lease row directly, as another process would have left it. */
function writeLease(
  ws: Workspace,
  row: { holder: string; hostname: string; pid: number; bootId: string | null; startTicks: number | null; expiresAtMs: number },
): void {
  const changed = writeDb(
    ws.dbPath,
    (db) =>
      db
        .prepare(
          `UPDATE worker_lease SET holder = @holder, hostname = @hostname, pid = @pid, boot_id = @bootId, start_ticks = @startTicks,
                acquired_at = @acquiredAt, expires_at_ms = @expiresAtMs WHERE name = 'sync'`,
        )
        .run({ ...row, acquiredAt: new Date().toISOString() }).changes,
  );
  // The lease row exists from the first run on: an UPDATE of nothing would test nothing.
  if (changed !== 1) throw new Error(`expected to rewrite the one lease row, changed ${changed}`);
}

/** pid 1's real identity on this host, read the way the worker reads it; null off Linux. */
function pid1Identity(): { bootId: string; startTicks: number } | null {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync('/proc/1/stat', 'utf8');
    return {
      bootId,
      startTicks: Number(
        stat
          .slice(stat.lastIndexOf(')') + 1)
          .trim()
          .split(/\s+/)[19],
      ),
    };
  } catch {
    return null;
  }
}
const linuxIt = pid1Identity() === null ? it.skip : it;

describe('vanished cancel under the lease', () => {
  it('keeps its lease while a slow provider answers: a once started after the TTL has passed does not send the job again', async () => {
    const ttlMs = 1_500;
    // The provider's timeout is longer than its answer takes: one request, only slow.
    const ws = workspace({ SYNC_LEASE_TTL_MS: String(ttlMs), PROVIDER_TIMEOUT_MS: '30000' });
    const order = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order);
    expectExit(await ws.run(['once']), 0);
    world.specter.delete(order.orderNo);
    expectExit(await ws.run(['once']), 3);

    // Klarna takes five TTLs to answer this cancellation.
    world.klarna.faults.add({ kind: 'delay', ms: 5 * ttlMs }, { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${ref}/cancel`) });
    const cancelling = ws.run(['vanished', 'cancel', order.orderNo]);
    await waitFor(() => klarnaCancelArrivals(ref).length === 1, 30_000, 'the cancellation to reach Klarna');
    // Well past the TTL the lease was taken with: only renewals can still be holding it.
    await sleep(ttlMs + 1_000);

    const before = Date.now();
    const lease = ws.rows('SELECT holder, acquired_at, expires_at_ms FROM worker_lease')[0] as {
      holder: string | null;
      acquired_at: string;
      expires_at_ms: number;
    };
    const after = Date.now();
    expect(lease.holder).toEqual(expect.stringContaining(os.hostname()));
    // The setting is honoured (a renewal sets now + SYNC_LEASE_TTL_MS) …
    expect(lease.expires_at_ms).toBeLessThanOrEqual(after + ttlMs);
    // … and it was renewed since it was taken, so it is still ours now.
    expect(lease.expires_at_ms).toBeGreaterThan(Date.parse(lease.acquired_at) + ttlMs);
    expect(lease.expires_at_ms).toBeGreaterThan(before);

    const concurrent = await ws.run(['once']);
    // It found the lease held and did nothing: no second request for the job in flight.
    expect(concurrent.events('sync.lease_busy')).toHaveLength(1);
    expect(concurrent.events('cancel.sent')).toHaveLength(0);
    expectExit(concurrent, 1);

    const cancel = await cancelling;
    expectExit(cancel, 0);
    expect(cancel.events('lease.acquired')).toHaveLength(1);
    expect(cancel.events('lease.lost')).toHaveLength(0);
    expect(cancel.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo, provider: 'klarna', providerRef: ref })]);
    expect(klarnaCancelArrivals(ref)).toHaveLength(1);
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done', attempts: 1 })]);
    // Released on the way out.
    expect(ws.rows('SELECT holder FROM worker_lease')).toEqual([{ holder: null }]);
  });

  it('sends only its own job: other due jobs stay pending for the worker', async () => {
    const ws = workspace();
    const vanishing = makeOrder({ method: 'K' });
    const cancelled = makeOrder({ method: 'K' });
    world.specter.add(vanishing, cancelled);
    expectExit(await ws.run(['once']), 0);

    // A cycle while Klarna is not configured: the cancelled order's job waits, due, pending.
    world.specter.cancel(cancelled.orderNo);
    world.specter.delete(vanishing.orderNo);
    expectExit(await ws.run(['once'], { env: { KLARNA_USERNAME: undefined, KLARNA_PASSWORD: undefined } }), 3);
    const waiting = ws.jobs(cancelled.orderNo);
    expect(waiting).toEqual([expect.objectContaining({ state: 'pending', attempts: 0 })]);

    const cancel = await ws.run(['vanished', 'cancel', vanishing.orderNo]);
    expectExit(cancel, 0);
    expect(cancel.events('cancel.sent').map((l) => l.orderNo)).toEqual([vanishing.orderNo]);
    expect(klarnaCancelArrivals(providerRefOf(vanishing))).toHaveLength(1);
    expect(klarnaCancelArrivals(providerRefOf(cancelled))).toHaveLength(0);
    expect(ws.jobs(cancelled.orderNo)).toEqual(waiting);

    // The worker sends it on its next run.
    const run = await ws.run(['once']);
    expectExit(run, 0);
    expect(run.events('cancel.succeeded').map((l) => l.orderNo)).toEqual([cancelled.orderNo]);
    expect(klarnaCancelArrivals(providerRefOf(cancelled))).toHaveLength(1);
    expect(klarnaCancelArrivals(providerRefOf(vanishing))).toHaveLength(1);
  });
});

describe('jobs retry under the lease', () => {
  it('sends its job now; while a worker holds the lease, or the provider is off, it says so and leaves it queued', async () => {
    const ws = workspace();
    const order = makeOrder({ method: 'K' });
    const other = makeOrder({ method: 'K' });
    const ref = providerRefOf(order);
    world.specter.add(order, other);
    expectExit(await ws.run(['once']), 0);
    world.specter.cancel(order.orderNo);
    world.specter.cancel(other.orderNo);
    // Klarna refuses the worker's credentials: both jobs fail; a person fixes them and retries one.
    expectExit(await ws.run(['once'], { env: { KLARNA_PASSWORD: 'an-outdated-password' } }), 3);
    const [failed] = ws.jobs(order.orderNo) as Array<{ id: number; state: string; idempotency_key: string }>;
    expect(failed).toMatchObject({ state: 'failed' });
    const sentBefore = klarnaCancelArrivals(ref).length;

    // The provider off: re-queued, nothing sent, and said so.
    const off = await ws.run(['jobs', 'retry', String(failed!.id)], { env: { KLARNA_USERNAME: undefined, KLARNA_PASSWORD: undefined } });
    expectExit(off, 0);
    expect(off.human).toContain('klarna is not configured');
    expect(klarnaCancelArrivals(ref)).toHaveLength(sentBefore);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'pending', attempts: 0 })]);

    // Fail it again, then retry while "a worker" (a live holder elsewhere) holds the lease.
    expectExit(await ws.run(['once'], { env: { KLARNA_PASSWORD: 'an-outdated-password' } }), 3);
    const sentThen = klarnaCancelArrivals(ref).length;
    writeLease(ws, { holder: 'worker-host:7:w', hostname: 'worker-host', pid: 7, bootId: null, startTicks: null, expiresAtMs: Date.now() + DAY_MS });
    const busy = await ws.run(['jobs', 'retry', String(failed!.id)]);
    expectExit(busy, 0);
    expect(busy.human).toContain('holds the database lease');
    expect(klarnaCancelArrivals(ref)).toHaveLength(sentThen);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'pending' })]);
    writeLease(ws, { holder: 'worker-host:7:w', hostname: 'worker-host', pid: 7, bootId: null, startTicks: null, expiresAtMs: 0 });

    // Fail it once more, then the retry that sends: only its own job, with the original key.
    expectExit(await ws.run(['once'], { env: { KLARNA_PASSWORD: 'an-outdated-password' } }), 3);
    const retry = await ws.run(['jobs', 'retry', String(failed!.id)]);
    expectExit(retry, 0);
    expect(retry.events('lease.acquired')).toHaveLength(1);
    expect(retry.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo, jobId: failed!.id })]);
    expect(retry.events('cancel.sent').map((l) => l.orderNo)).toEqual([order.orderNo]);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: failed!.id, state: 'done', idempotency_key: failed!.idempotency_key })]);
    expect(ws.jobs(other.orderNo)).toEqual([expect.objectContaining({ state: 'failed' })]);
    expect(world.klarna.orderState(ref)).toBe('cancelled');
    expect(world.klarna.orderState(providerRefOf(other))).not.toBe('cancelled');
  });
});

describe('a lease left behind by a restarted container', () => {
  linuxIt('"pid 1 on this host" with another start identity and a far-future expiry does not block once', async () => {
    const ws = workspace();
    world.specter.add(makeOrder({ method: 'K' }));
    expectExit(await ws.run(['once']), 0);
    const pid1 = pid1Identity()!;
    // The process that was pid 1 before the restart: same host, same pid, another process.
    writeLease(ws, {
      holder: `${os.hostname()}:1:before-restart`,
      hostname: os.hostname(),
      pid: 1,
      bootId: pid1.bootId,
      startTicks: pid1.startTicks + 1,
      expiresAtMs: Date.now() + DAY_MS,
    });

    const run = await ws.run(['once']);
    if (run.code !== 0 && run.code !== 3) throw new Error(`expected exit 0 or 3\n${show(run)}`);
    expect(run.events('sync.lease_busy')).toHaveLength(0);
    expect(run.events('lease.acquired')).toHaveLength(1);
    expect(run.events('sync.completed')).toHaveLength(1);

    // The same row naming pid 1 as it really is (alive) is honoured: the run is skipped.
    writeLease(ws, {
      holder: `${os.hostname()}:1:alive`,
      hostname: os.hostname(),
      pid: 1,
      bootId: pid1.bootId,
      startTicks: pid1.startTicks,
      expiresAtMs: Date.now() + DAY_MS,
    });
    const blocked = await ws.run(['once']);
    expectExit(blocked, 1);
    expect(blocked.events('sync.lease_busy')).toHaveLength(1);
  });
});
