/**
 * The command line as operators' scripts use it (docs/interface.md): the query commands' JSON, what a
 * person does (jobs retry, vanished resolve/cancel), --dry-run, --json, exit codes, and
 * configuration errors that stop the program before anything reaches Specter.
 */
import fs from 'node:fs';
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit } from '../support/cli.js';
import { makeOrder, type Method, providerRefOf } from '../support/orders.js';
import { klarnaCancelKeys, providerRequestCount } from '../support/sandbox.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(60_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

async function baselineWith(ws: Workspace, ...methods: Method[]): Promise<SandboxOrder[]> {
  const orders = methods.map((method) => makeOrder({ method }));
  world.specter.add(...orders);
  expectExit(await ws.run(['once']), 0);
  return orders;
}

describe('configuration errors exit 2, name the setting, and reach no sandbox', () => {
  it.each([
    { setting: 'SPECTER_SBM_ID', env: { SPECTER_SBM_ID: undefined } },
    { setting: 'SYNC_LOOKBACK_DAYS', env: { SYNC_LOOKBACK_DAYS: 'abc' } },
    { setting: 'SYNC_SCHEDULE', env: { SYNC_SCHEDULE: 'every five minutes' } },
    { setting: 'VANISHED_ACTION', env: { VANISHED_ACTION: 'delete' } },
  ])('$setting', async ({ setting, env }) => {
    const ws = workspace();
    const specterBefore = world.specter.requests.length;
    const run = await ws.run(['once'], { env });
    expectExit(run, 2);
    const invalid = run.events('config.invalid');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({ setting });
    expect(invalid[0]!.message).toContain(setting);
    // Where the value was read from is named too.
    expect(JSON.stringify(invalid[0]!.source ?? invalid[0]!.message)).toMatch(/environment|default|config/i);
    expect(run.events('sync.started')).toHaveLength(0);
    expect(world.specter.requests.length).toBe(specterBefore);
    expect(fs.existsSync(ws.dbPath)).toBe(false);
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [['frobnicate']],
    [['once', '--bogus']],
    [['jobs', 'retry']],
    [['jobs', 'retry', 'abc']],
    [['jobs', 'list', '--state', 'lost']],
    [['vanished', 'resolve', 'not-a-number']],
  ])('%j', async (args) => {
    const ws = workspace();
    const run = await ws.run(args);
    expectExit(run, 2);
    expect(run.stderr.length).toBeGreaterThan(0);
  });
});

describe('query commands', () => {
  it('status --json is an object with counts; jobs list --json is an array', async () => {
    const ws = workspace();
    const [cancelled, deleted, open] = await baselineWith(ws, 'K', 'K', 'QL');
    world.specter.cancel(cancelled!.orderNo);
    world.specter.delete(deleted!.orderNo);
    expectExit(await ws.run(['once']), 3);

    const status = await ws.run(['status', '--json']);
    expectExit(status, 0);
    const report = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      vanishedAwaitingPerson: 1,
      jobs: { pending: 0, sending: 0, accepted: 0, done: 1, failed: 0 },
      providersConfigured: expect.arrayContaining(['qliro', 'klarna', 'walley', 'svea']),
    });
    const tracked = report.trackedOrders as Record<string, number>;
    expect(tracked.cancelled).toBeGreaterThanOrEqual(1);
    expect(tracked.open).toBeGreaterThanOrEqual(2);
    expect(report.lastSuccessfulRun).toMatchObject({ outcome: 'succeeded', finishedAt: expect.any(String) });
    expect(ws.snapshot(open!.orderNo)).toMatchObject({ status: 'open' });

    const jobs = await ws.run(['jobs', 'list', '--json']);
    expectExit(jobs, 0);
    const list = JSON.parse(jobs.stdout) as Array<Record<string, unknown>>;
    expect(Array.isArray(list)).toBe(true);
    expect(list).toEqual([expect.objectContaining({ orderNo: cancelled!.orderNo, provider: 'klarna', state: 'done', reason: 'cancelled' })]);
    const failedOnly = await ws.run(['jobs', 'list', '--state', 'failed', '--json']);
    expect(JSON.parse(failedOnly.stdout)).toEqual([]);

    // Human output: aligned tables, not JSON.
    const human = await ws.run(['status']);
    expectExit(human, 0);
    expect(human.stdout).toMatch(/Vanished orders awaiting a person: 1/);
  });
});

describe('what a person does', () => {
  it('jobs retry re-queues a failed job with the same key and sends it now', async () => {
    const ws = workspace();
    const [order] = await baselineWith(ws, 'K');
    const ref = providerRefOf(order!);
    world.specter.cancel(order!.orderNo);
    // Klarna refuses the worker's credentials: a permanent failure a person fixes, then re-queues.
    expectExit(await ws.run(['once'], { env: { KLARNA_PASSWORD: 'an-outdated-password' } }), 3);
    const failed = ws.jobs(order!.orderNo)[0]!;
    expect(failed).toMatchObject({ state: 'failed', failure_reason: 'auth' });
    expect(world.klarna.orderState(ref)).not.toBe('cancelled');

    // Still failed (and still exit 3) until a person acts, even with the credentials fixed.
    const waiting = await ws.run(['once']);
    expectExit(waiting, 3);
    expect(waiting.events('cancel.sent')).toHaveLength(0);

    // Sent at once, under the lease like any cycle (test/e2e/lease.test.ts), so the person sees the answer.
    const retry = await ws.run(['jobs', 'retry', String(failed.id)]);
    expectExit(retry, 0);
    expect(retry.events('job.requeued')).toEqual([expect.objectContaining({ jobId: failed.id })]);
    expect(retry.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order!.orderNo, jobId: failed.id })]);
    expect(ws.jobs(order!.orderNo)).toEqual([expect.objectContaining({ id: failed.id, state: 'done', idempotency_key: failed.idempotency_key })]);

    const run = await ws.run(['once']);
    expectExit(run, 0);
    expect(run.events('cancel.sent')).toHaveLength(0);
    const keys = klarnaCancelKeys(world, ref);
    expect(keys).toHaveLength(2);
    expect(new Set(keys)).toEqual(new Set([failed.idempotency_key]));
    expect(world.klarna.orderState(ref)).toBe('cancelled');
    expect(world.klarna.cancelsApplied(ref)).toBe(1);

    // Retrying a job that has not failed, or does not exist, is refused.
    const notFailed = await ws.run(['jobs', 'retry', String(failed.id)]);
    expect(notFailed.code).not.toBe(0);
    const missing = await ws.run(['jobs', 'retry', '999999']);
    expect(missing.code).not.toBe(0);
  });

  it('vanished resolve --note stops the exit 3', async () => {
    const ws = workspace();
    const [order] = await baselineWith(ws, 'K');
    world.specter.delete(order!.orderNo);
    expectExit(await ws.run(['once']), 3);
    expectExit(await ws.run(['once']), 3);

    const resolve = await ws.run(['vanished', 'resolve', order!.orderNo, '--note', 'refunded by hand, ticket 4711']);
    expectExit(resolve, 0);
    expect(ws.snapshot(order!.orderNo)).toMatchObject({ vanish_status: 'resolved', vanish_note: 'refunded by hand, ticket 4711' });
    const list = await ws.run(['vanished', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
    const run = await ws.run(['once']);
    expectExit(run, 0);
    expect(run.events('order.vanished')).toHaveLength(0);
    expect(world.klarna.cancelRequests(providerRefOf(order!))).toBe(0);
  });

  it('vanished cancel sends the cancellation and stops the exit 3', async () => {
    const ws = workspace();
    const [order] = await baselineWith(ws, 'K');
    const ref = providerRefOf(order!);
    world.specter.delete(order!.orderNo);
    expectExit(await ws.run(['once']), 3);
    expect(world.klarna.cancelRequests(ref)).toBe(0);

    const cancel = await ws.run(['vanished', 'cancel', order!.orderNo]);
    expectExit(cancel, 0);
    expect(world.klarna.cancelRequests(ref)).toBe(1);
    expect(world.klarna.orderState(ref)).toBe('cancelled');
    expect(cancel.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order!.orderNo, provider: 'klarna', providerRef: ref })]);
    expect(ws.jobs(order!.orderNo)).toEqual([expect.objectContaining({ reason: 'vanished', state: 'done' })]);

    const run = await ws.run(['once']);
    expectExit(run, 0);
    expect(world.klarna.cancelRequests(ref)).toBe(1);
    // Asking twice queues nothing new.
    const twice = await ws.run(['vanished', 'cancel', order!.orderNo]);
    expect(twice.code).not.toBe(0);
    expect(world.klarna.cancelRequests(ref)).toBe(1);
    expect(ws.jobs(order!.orderNo)).toHaveLength(1);
  });
});

describe('once output modes', () => {
  it('once --dry-run --json writes nothing, sends nothing, and lists what it would do', async () => {
    const ws = workspace();
    const [toCancel, toDelete] = await baselineWith(ws, 'K', 'QL');
    world.specter.cancel(toCancel!.orderNo);
    world.specter.delete(toDelete!.orderNo);
    const newcomer = makeOrder({ method: 'CL' });
    world.specter.add(newcomer);
    const before = ws.dump();
    const providerRequests = providerRequestCount(world);

    const dry = await ws.run(['once', '--dry-run', '--json']);
    expect([0, 3]).toContain(dry.code);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; outcome: string; actions: Array<Record<string, unknown>>; counts: Record<string, number> };
    expect(report).toMatchObject({ dryRun: true, outcome: 'succeeded' });
    expect(report.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'cancel_job_created', orderNo: toCancel!.orderNo, provider: 'klarna', reason: 'cancelled' }),
        expect.objectContaining({ action: 'vanished_flagged', orderNo: toDelete!.orderNo, provider: 'qliro', providerRef: providerRefOf(toDelete!) }),
      ]),
    );
    expect(report.counts).toMatchObject({ cancelled: 1, vanished: 1, newOrders: 1 });
    expect(ws.dump()).toEqual(before);
    expect(providerRequestCount(world)).toBe(providerRequests);
    expect(dry.events('cancel.sent')).toHaveLength(0);

    // The real run afterwards does exactly what the dry run announced.
    const real = await ws.run(['once']);
    expectExit(real, 3);
    expect(ws.jobs(toCancel!.orderNo)).toHaveLength(1);
    expect(ws.snapshot(toDelete!.orderNo)).toMatchObject({ vanish_status: 'awaiting' });
  });

  it('once --json prints one JSON document on stdout and the log lines on stderr', async () => {
    const ws = workspace();
    const [order] = await baselineWith(ws, 'K');
    world.specter.cancel(order!.orderNo);

    const run = await ws.run(['once', '--json']);
    expectExit(run, 0);
    const report = JSON.parse(run.stdout) as { outcome: string; counts: Record<string, number>; actions: Array<Record<string, unknown>> };
    expect(report).toMatchObject({ outcome: 'succeeded', dryRun: false, counts: expect.objectContaining({ cancelled: 1, jobsCreated: 1 }) });
    expect(report.actions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'cancel_job_created', orderNo: order!.orderNo }),
        expect.objectContaining({ action: 'dispatch', orderNo: order!.orderNo, result: 'succeeded' }),
      ]),
    );
    const stderrLines = run.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(stderrLines.length).toBeGreaterThan(0);
    for (const line of stderrLines)
      expect(JSON.parse(line)).toMatchObject({ event: expect.any(String), level: expect.any(String), timestamp: expect.any(String) });
    expect(run.events('order.cancel_detected')).toHaveLength(1);
    // Without --json the log lines go to stdout.
    const plain = await ws.run(['once']);
    expectExit(plain, 0);
    expect(plain.stdout).toContain('"event":"sync.completed"');
    expect(plain.stderr).toBe('');
  });

  it('migrate creates the database and exits 0', async () => {
    const ws = workspace();
    const run = await ws.run(['migrate']);
    expectExit(run, 0);
    expect(fs.existsSync(ws.dbPath)).toBe(true);
    expect((fs.statSync(ws.dbPath).mode & 0o777).toString(8)).toBe('600');
    expect(
      ws.rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('order_snapshots', 'cancellation_jobs', 'sync_runs', 'worker_lease') ORDER BY name",
      ),
    ).toHaveLength(4);
  });
});
