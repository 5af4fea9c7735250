/**
 * `specter-sync run` as operators run it: real child processes (`node dist/cli.js run`, so build
 * first), a real SQLite file in a temp folder, and the sandbox Specter and providers on 127.0.0.1
 * in this process, where the test makes them slow or broken. The schedule is once a second.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { freePort } from '../support/ports.js';
import { CLI, sleep, type EnvLayer, type LogLine } from '../support/cli.js';
import { writeDb } from '../support/db.js';
import { PROVIDERS, providerRequestCount } from '../support/sandbox.js';
import { useWorldPerTest, type Workspace } from '../support/world.js';

const newWorld = useWorldPerTest();

/** The seeded shop of these tests (40 orders), a world of the test's own. */
function world() {
  return newWorld({ seedCount: 40, seed: 7 });
}

/** How `run` is started here: a cycle a second, and one attempt at Specter. */
function runSettings(httpPort: number, extra: EnvLayer = {}): EnvLayer {
  return {
    SYNC_SCHEDULE: '* * * * * *',
    HTTP_PORT: String(httpPort),
    LOG_LEVEL: 'debug',
    // One attempt: a Specter outage fails the cycle at once instead of after backoffs.
    SPECTER_MAX_ATTEMPTS: '1',
    ...extra,
  };
}

function startRun(ws: Workspace, env: EnvLayer) {
  return ws.start(['run'], { env });
}

async function get(port: number, pathname: string): Promise<{ status: number; body: string; contentType: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`);
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

/** Polls until `probe` returns a value `accept` likes; returns the last value either way. */
async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await probe();
  while (!accept(value) && Date.now() < deadline) {
    await sleep(100);
    value = await probe();
  }
  return value;
}

const indexOfEvent = (lines: readonly LogLine[], event: string, from = 0) => lines.findIndex((l, i) => i >= from && l.event === event);
const count = (lines: readonly LogLine[], event: string) => lines.filter((l) => l.event === event).length;

/** Prometheus text format: `name{labels} value`, or a # HELP / # TYPE comment. */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?(?:[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)|NaN|\+Inf|-Inf)$/;

function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
});

describe('specter-sync run', () => {
  it('runs cycles; /healthz; /readyz 200, then 503 while Specter is down (sync.stale), 200 again; /metrics; the reminder on restart', async () => {
    const { world: w, workspace } = await world();
    const port = await freePort();
    const ws = workspace();
    const proc = startRun(ws, runSettings(port));

    const listening = await proc.waitForLine((l) => l.event === 'http.listening');
    expect(listening).toMatchObject({ level: 'info', address: '127.0.0.1', port });
    expect(await get(port, '/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}\n' });
    expect((await get(port, '/nope')).status).toBe(404);

    // The first cycle right after start (the baseline), then one a second.
    await proc.waitForLine((l) => l.event === 'sync.baseline');
    const firstCompleted = indexOfEvent(proc.lines, 'sync.completed');
    await proc.waitForLine((l) => l.event === 'sync.completed', { from: firstCompleted + 1 });
    await proc.waitForLine((l) => l.event === 'sync.completed', { from: indexOfEvent(proc.lines, 'sync.completed', firstCompleted + 1) + 1 });
    const ready = await until(
      () => get(port, '/readyz'),
      (r) => r.status === 200,
    );
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: true });

    // Specter down: every request answers 503.
    w.specter.faults.add({ kind: 'status', status: 503 }, { times: Infinity });
    const downFrom = proc.lines.length;
    const failed = await proc.waitForLine((l) => l.event === 'sync.failed', { from: downFrom });
    expect(failed).toMatchObject({ level: 'error', alert: true });
    const notReady = await until(
      () => get(port, '/readyz'),
      (r) => r.status === 503,
    );
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({ ready: false, reason: expect.stringMatching(/^the last cycle failed: .*503/) });
    // No success for more than 3 periods (3 s): the stale alert.
    const stale = await proc.waitForLine((l) => l.event === 'sync.stale', { from: downFrom, timeoutMs: 8_000 });
    expect(stale).toMatchObject({ level: 'error', alert: true, periodSeconds: 1 });
    expect((await get(port, '/readyz')).status).toBe(503);
    expect((await get(port, '/healthz')).status).toBe(200);

    // Specter back.
    w.specter.faults.clear();
    const upFrom = proc.lines.length;
    await proc.waitForLine((l) => l.event === 'sync.completed', { from: upFrom });
    const readyAgain = await until(
      () => get(port, '/readyz'),
      (r) => r.status === 200,
    );
    expect(readyAgain.status).toBe(200);

    // A deleted order: flagged, so the vanished gauge counts it after that cycle.
    const victim = w.specter.orders().find((o) => o.payment?.payTypeIdentifier === 'K' && o.statusId !== '5' && o.payment.payTypeReference);
    if (!victim) throw new Error('the seed has no open Klarna order to delete');
    w.specter.delete(victim.orderNo);
    await proc.waitForLine((l) => l.event === 'order.vanished' && l.orderNo === victim.orderNo);

    const metrics = await until(
      () => get(port, '/metrics'),
      (r) => parseMetrics(r.body).get('specter_sync_vanished_awaiting') === 1,
    );
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/^text\/plain/);
    const samples = parseMetrics(metrics.body);
    const names = new Set([...samples.keys()].map((k) => k.replace(/\{.*$/, '')));
    for (const name of [
      'specter_sync_cycles_total',
      'specter_sync_cycle_duration_seconds_bucket',
      'specter_sync_cycle_duration_seconds_sum',
      'specter_sync_cycle_duration_seconds_count',
      'specter_sync_tracked_orders',
      'specter_sync_vanished_awaiting',
      'specter_sync_jobs',
      'specter_sync_provider_requests_total',
      'specter_sync_last_success_timestamp_seconds',
      // Default process metrics, under our prefix.
      'specter_sync_process_cpu_user_seconds_total',
      'specter_sync_process_resident_memory_bytes',
      'specter_sync_nodejs_eventloop_lag_seconds',
    ]) {
      expect(names).toContain(name);
    }
    for (const type of [
      '# TYPE specter_sync_cycles_total counter',
      '# TYPE specter_sync_cycle_duration_seconds histogram',
      '# TYPE specter_sync_tracked_orders gauge',
    ]) {
      expect(metrics.body).toContain(type);
    }
    expect(samples.get('specter_sync_cycles_total{outcome="baseline"}')).toBe(1);
    expect(samples.get('specter_sync_cycles_total{outcome="succeeded"}')).toBeGreaterThanOrEqual(3);
    expect(samples.get('specter_sync_cycles_total{outcome="failed"}')).toBeGreaterThanOrEqual(1);
    // Every cycle that ran has a duration; ticks that ran none (lease_busy, overlap) have not.
    expect(samples.get('specter_sync_cycle_duration_seconds_count')).toBe(
      ['baseline', 'succeeded', 'failed'].reduce((sum, o) => sum + (samples.get(`specter_sync_cycles_total{outcome="${o}"}`) ?? NaN), 0),
    );
    const tracked = ['open', 'cancelled', 'delivered'].map((s) => samples.get(`specter_sync_tracked_orders{status="${s}"}`) ?? NaN);
    // 40 seeded orders; the deleted one is still tracked, as vanished.
    expect(tracked.reduce((a, b) => a + b, 0)).toBe(40);
    expect(samples.get('specter_sync_jobs{state="failed"}')).toBe(0);
    // Every provider's series is there from the start (before any answer: an alert rule on rate()
    // must see the first one), and counts what was answered: nothing, since nothing was sent (the
    // deleted order awaits a person; the seed's cancelled orders were history at the baseline). The
    // deleted order's payment was read once, to tell the person what is still reserved: a GET.
    expect(PROVIDERS.flatMap((p) => w[p].requests.filter((r) => r.method !== 'GET'))).toEqual([]);
    expect(providerRequestCount(w)).toBeLessThanOrEqual(1);
    const answered = [...samples].filter(([key]) => key.startsWith('specter_sync_provider_requests_total{'));
    expect(new Set(answered.map(([key]) => /provider="([^"]+)"/.exec(key)?.[1]))).toEqual(new Set(PROVIDERS));
    expect(answered.filter(([, value]) => value !== 0)).toEqual([]);
    expect(samples.get('specter_sync_provider_requests_total{provider="klarna",outcome="succeeded"}')).toBe(0);
    const lastSuccess = samples.get('specter_sync_last_success_timestamp_seconds') ?? 0;
    expect(Math.abs(Date.now() / 1000 - lastSuccess)).toBeLessThan(10);

    const exit = await proc.stop('SIGTERM');
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(proc.lines.at(-1)?.event).toBe('worker.stopped');
    expect(proc.notJson).toEqual([]);

    // Restarted on the same database: the vanished order is brought up again at once.
    const again = startRun(ws, runSettings(0));
    const reminder = await again.waitForLine((l) => l.event === 'vanished.reminder');
    expect(reminder).toMatchObject({ level: 'warn', alert: true, count: 1 });
    expect(reminder.orders).toEqual([
      {
        orderNo: victim.orderNo,
        provider: 'klarna',
        providerRef: victim.payment?.payTypeReference,
        amount: victim.payment?.totalIncVat,
        currency: victim.payment?.currency,
        vanishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        // What Klarna said when the cycle asked: still reserved, how much, until when.
        paymentState: 'reserved',
        reservedAmount: expect.stringMatching(/^\d+\.\d\d$/),
        expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      },
    ]);
    expect(reminder.message).toMatch(/payment reserved \d+\.\d\d until \d{4}-/);
    // HTTP_PORT=0: no server.
    expect(count(again.lines, 'http.listening')).toBe(0);
    await again.waitForLine((l) => l.event === 'sync.completed');
    expect(await again.stop('SIGTERM')).toMatchObject({ code: 0 });
    expect(again.notJson).toEqual([]);
  }, 45_000);

  it('reminds at start of the jobs that await a person (jobs.reminder): a failed job, then also one waiting over a day for an unconfigured provider', async () => {
    const { world: w, workspace } = await world();
    const ws = workspace();
    const openKlarna = w.specter.orders().filter((o) => o.payment?.payTypeIdentifier === 'K' && o.statusId !== '5' && o.payment.payTypeReference);
    const [captured, waiting] = openKlarna;
    if (!captured || !waiting) throw new Error('the seed has fewer than two open Klarna orders');
    const capturedRef = captured.payment!.payTypeReference!;

    // Nothing awaits a person on a fresh database: no reminder. Then a captured payment's order is
    // cancelled: its job fails permanently.
    const first = startRun(ws, runSettings(0));
    await first.waitForLine((l) => l.event === 'sync.baseline');
    expect(count(first.lines, 'jobs.reminder')).toBe(0);
    w.klarna.setOrder(capturedRef, 'captured');
    w.specter.cancel(captured.orderNo);
    const failed = await first.waitForLine((l) => l.event === 'cancel.failed' && l.orderNo === captured.orderNo);
    expect(failed).toMatchObject({ reason: 'captured' });
    expect(await first.stop('SIGTERM')).toMatchObject({ code: 0 });

    // Restarted (Klarna now configured off): the failed job is brought up at once, before the first cycle.
    const withoutKlarna = runSettings(0, { KLARNA_USERNAME: undefined, KLARNA_PASSWORD: undefined });
    const second = startRun(ws, withoutKlarna);
    const reminder = await second.waitForLine((l) => l.event === 'jobs.reminder');
    expect(reminder).toMatchObject({ level: 'warn', alert: true, count: 1, failed: 1, waitingForProvider: 0, truncated: false });
    expect(reminder.jobs).toEqual([
      {
        kind: 'failed',
        jobId: failed.jobId,
        orderNo: captured.orderNo,
        provider: 'klarna',
        providerRef: capturedRef,
        amount: captured.payment?.totalIncVat,
        currency: captured.payment?.currency,
        failureReason: 'captured',
        code: expect.any(String),
        message: expect.any(String),
      },
    ]);
    expect(reminder.message).toContain(`job ${String(failed.jobId)} order ${captured.orderNo} (klarna ${capturedRef}, captured)`);
    await second.waitForLine((l) => l.event === 'sync.started');
    expect(indexOfEvent(second.lines, 'jobs.reminder')).toBeLessThan(indexOfEvent(second.lines, 'sync.started'));
    // A second cancelled order's job waits for Klarna. The reminder is not repeated per cycle:
    // once at start, then every REMINDER_INTERVAL_MS.
    w.specter.cancel(waiting.orderNo);
    await second.waitForLine((l) => l.event === 'cancel.waiting_for_provider' && l.orderNo === waiting.orderNo);
    expect(await second.stop('SIGTERM')).toMatchObject({ code: 0 });
    expect(count(second.lines, 'jobs.reminder')).toBe(1);

    // The wait is made older than a day (created_at is what counts), and the worker restarted.
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3_600_000).toISOString();
    const aged = writeDb(
      ws.dbPath,
      (db) => db.prepare("UPDATE cancellation_jobs SET created_at = ? WHERE order_no = ? AND state = 'pending'").run(twoDaysAgo, waiting.orderNo).changes,
    );
    expect(aged).toBe(1);
    const third = startRun(ws, withoutKlarna);
    const both = await third.waitForLine((l) => l.event === 'jobs.reminder');
    expect(both).toMatchObject({ count: 2, failed: 1, waitingForProvider: 1 });
    expect((both.jobs as Array<Record<string, unknown>>).map((j) => [j.kind, j.orderNo])).toEqual([
      ['failed', captured.orderNo],
      ['waiting_for_provider', waiting.orderNo],
    ]);
    expect(both.jobs).toContainEqual(expect.objectContaining({ kind: 'waiting_for_provider', provider: 'klarna', waitingSince: twoDaysAgo }));
    // The vanished-orders reminder keeps its meaning: nothing vanished, so it is not logged.
    expect(count(third.lines, 'vanished.reminder')).toBe(0);
    expect(await third.stop('SIGTERM')).toMatchObject({ code: 0 });
    expect([...first.notJson, ...second.notJson, ...third.notJson]).toEqual([]);
  }, 45_000);

  it('on SIGTERM finishes the cycle in flight, starts no new one, and exits 0 within the grace', async () => {
    const { world: w, workspace } = await world();
    const ws = workspace();
    const proc = startRun(ws, runSettings(await freePort(), { SHUTDOWN_GRACE_MS: '10000' }));
    await proc.waitForLine((l) => l.event === 'sync.completed');

    // From now on Specter answers after 2.5 s: a cycle that starts now is in flight for that long,
    // and the ticks meanwhile (one a second) find it running.
    w.specter.faults.add({ kind: 'delay', ms: 2_500 }, { times: Infinity });
    const slowFrom = proc.lines.length;
    await proc.waitForLine((l) => l.event === 'sync.started', { from: slowFrom });
    const startedIndex = indexOfEvent(proc.lines, 'sync.started', slowFrom);
    const skipped = await proc.waitForLine((l) => l.event === 'sync.skipped', { from: startedIndex });
    expect(skipped).toMatchObject({ level: 'info' });
    expect(indexOfEvent(proc.lines, 'sync.completed', startedIndex)).toBe(-1); // still in flight

    const sentAt = Date.now();
    const exit = await proc.stop('SIGTERM');
    const tookMs = exit.atMs - sentAt;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(10_000);
    // It waited for the delayed answer rather than abandoning the cycle.
    expect(tookMs).toBeGreaterThanOrEqual(500);

    const events = proc.lines.map((l) => l.event);
    const stopping = events.indexOf('worker.stopping');
    const completed = indexOfEvent(proc.lines, 'sync.completed', startedIndex);
    const stopped = events.indexOf('worker.stopped');
    expect(stopping).toBeGreaterThan(startedIndex);
    expect(completed).toBeGreaterThan(stopping);
    expect(stopped).toBeGreaterThan(completed);
    expect(stopped).toBe(events.length - 1);
    // No cycle started after the stop request.
    expect(indexOfEvent(proc.lines, 'sync.started', stopping)).toBe(-1);
    expect(proc.lines[stopped]).toMatchObject({ level: 'info', signal: 'SIGTERM', exitCode: 0 });
    expect(proc.notJson).toEqual([]);
    // The lease was released on the way out: the next process takes it at once.
    expect(ws.rows('SELECT holder FROM worker_lease')).toEqual([{ holder: null }]);
  }, 30_000);

  it('ends at once on a second signal, and exits 1 when the grace runs out', async () => {
    const { world: w, workspace } = await world();
    const forced = startRun(workspace(), runSettings(0, { SHUTDOWN_GRACE_MS: '20000' }));
    const graceful = startRun(workspace(), runSettings(0, { SHUTDOWN_GRACE_MS: '300' }));
    await Promise.all([forced.waitForLine((l) => l.event === 'sync.completed'), graceful.waitForLine((l) => l.event === 'sync.completed')]);

    w.specter.faults.add({ kind: 'delay', ms: 4_000 }, { times: Infinity });
    const [forcedFrom, gracefulFrom] = [forced.lines.length, graceful.lines.length];
    await Promise.all([
      forced.waitForLine((l) => l.event === 'sync.started', { from: forcedFrom }),
      graceful.waitForLine((l) => l.event === 'sync.started', { from: gracefulFrom }),
    ]);

    forced.signal('SIGTERM');
    await forced.waitForLine((l) => l.event === 'worker.stopping');
    const secondAt = Date.now();
    const forcedExit = await forced.stop('SIGTERM');
    expect(forcedExit.code).toBe(143);
    expect(forcedExit.atMs - secondAt).toBeLessThan(1_500);

    const gracefulExit = await graceful.stop('SIGTERM');
    expect(gracefulExit.code).toBe(1);
    expect(graceful.lines.find((l) => l.event === 'worker.stopped')).toMatchObject({ graceExpired: true, exitCode: 1 });
  }, 30_000);

  it('two processes on one database: one keeps the lease and runs every cycle, the other stands by; /readyz names the holder', async () => {
    const { world: w, workspace } = await world();
    const ws = workspace();
    // Slow enough that both processes' ticks (each on the same second boundaries) meet a cycle
    // of the other's in flight: the lease, not luck, keeps them apart.
    w.specter.faults.add({ kind: 'delay', ms: 400 }, { times: Infinity });
    const [portA, portB] = [await freePort(), await freePort()];
    const a = startRun(ws, runSettings(portA));
    const b = startRun(ws, runSettings(portB));
    await Promise.all([a.waitForLine((l) => l.event === 'worker.started'), b.waitForLine((l) => l.event === 'worker.started')]);
    await sleep(5_000);
    // The holder kept the lease across every tick: it was taken once, by one of the two.
    const acquired = [...a.lines, ...b.lines].filter((l) => l.event === 'lease.acquired');
    expect(acquired).toHaveLength(1);
    const holder = String(acquired[0]!['holder']);
    const [standby, standbyPort] = a.lines.includes(acquired[0]!) ? [b, portB] : [a, portA];
    // Between cycles too, both replicas' /readyz name it (the lease as read after their last tick).
    for (const port of [portA, portB]) {
      const ready = JSON.parse((await get(port, '/readyz')).body) as { lease?: { holder: string | null } };
      expect(ready.lease?.holder).toBe(holder);
    }
    // The standby's ticks are counted as lease_busy and logged at info, not as a warning.
    const standbyBusy = parseMetrics((await get(standbyPort, '/metrics')).body).get('specter_sync_cycles_total{outcome="lease_busy"}') ?? NaN;
    expect(standbyBusy).toBeGreaterThanOrEqual(3);
    expect(standby.lines.filter((l) => l.event === 'sync.standby')).toEqual(
      expect.arrayContaining([expect.objectContaining({ level: 'info', heldBy: holder })]),
    );
    expect(count(a.lines, 'sync.lease_busy') + count(b.lines, 'sync.lease_busy')).toBe(0);
    const [exitA, exitB] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')]);
    expect(exitA.code).toBe(0);
    expect(exitB.code).toBe(0);

    const runs = ws.rows('SELECT started_at, finished_at, holder FROM sync_runs ORDER BY started_at') as Array<{
      started_at: string;
      finished_at: string;
      holder: string;
    }>;
    expect(runs.length).toBeGreaterThanOrEqual(3);
    // Intervals [started_at, finished_at] (start of the cycle → its commit) never overlap;
    // touching is allowed (ISO strings of the same millisecond compare equal).
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length; j++) {
        const [x, y] = [runs[i]!, runs[j]!];
        const overlap = x.started_at < y.finished_at && y.started_at < x.finished_at;
        if (overlap) throw new Error(`cycles overlap: ${JSON.stringify(x)} and ${JSON.stringify(y)}`);
      }
    }
    // Every cycle was the holder's, except perhaps one by the standby after the holder freed the
    // lease on its SIGTERM (both were stopped at once).
    expect(runs.filter((r) => r.holder !== holder).length).toBeLessThanOrEqual(1);
    expect([...a.lines, ...b.lines].filter((l) => l.event === 'worker.stopped')).toHaveLength(2);
    expect([...a.notJson, ...b.notJson]).toEqual([]);
  }, 30_000);
});
