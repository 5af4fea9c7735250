/**
 * The measuring process: one per size (and one for dispatch), forked by bench.ts, which hosts the
 * sandboxes. Only the worker's own code runs here, so process.resourceUsage().maxRSS is the
 * worker's peak for this size alone (maxRSS never goes down within a process: a fresh process per
 * size is what makes it a per-size figure).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { diffOrders } from '../src/diff/diff.js';
import { compileStatusMap, trackOrder } from '../src/diff/track.js';
import { windowFor } from '../src/diff/window.js';
import { dispatchDueJobs } from '../src/dispatch/dispatcher.js';
import { silentLogger } from '../src/observability/logger.js';
import { createProviderRegistry } from '../src/providers/registry.js';
import { compileRoutingRules } from '../src/routing/route.js';
import { createSpecterClient } from '../src/specter/client.js';
import { decodeSpecterBody, parseSpecterDocument } from '../src/specter/xml.js';
import SqliteDatabase from 'better-sqlite3';
import { sql, type RawBuilder } from 'kysely';
import type { AppConfig } from '../src/config/types.js';
import { openStore, type Store } from '../src/store/database.js';
import { makeLeaseHolder } from '../src/store/lease.js';
import { hasSuccessfulRun } from '../src/store/runs.js';
import { ensureJob } from '../src/store/jobWrites.js';
import { loadSnapshotIndex } from '../src/store/snapshots.js';
import { runCycle, type CycleDeps, type CycleReport } from '../src/worker/cycle.js';
import { FloorTable, makeRawFetcher, runFloor, type FloorTimes } from './floor.js';
import type {
  ChildMessage,
  DispatchJob,
  DispatchResult,
  FloorSample,
  ParentMessage,
  PostgresJob,
  PostgresResult,
  Sample,
  SizeJob,
  SizeResult,
  SnapshotWriteProof,
} from './protocol.js';

/** dist-bench/bench/child.js → the repository root (config/ and migrations/ live there). */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONFIG_DIR = path.join(ROOT, 'config');
const MIGRATIONS_DIR = path.join(ROOT, 'migrations');

function send(message: ChildMessage): void {
  process.send!(message);
}

let cancelWaiter: ((orderNos: string[]) => void) | null = null;

function requestCancel(rep: number, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    cancelWaiter = resolve;
    send({ type: 'cancel', rep, count });
  });
}

/** Between repetitions: start each from a collected heap (the child runs with --expose-gc). */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------------------------------------------------------------------------------------------
// "An unchanged cycle writes no snapshot rows", proved on the worker's own connection.

/**
 * TEMP triggers count every row the cycle inserts, updates (including the upsert's DO UPDATE)
 * or deletes in order_snapshots. They live in this connection's temp schema only: the database
 * file is not changed, and a trigger costs nothing while no snapshot row is written.
 */
/**
 * Counts every write to order_snapshots with TEMP triggers. Kysely's SQLite dialect runs every
 * query on its one connection, so the triggers (per connection) see the cycle's writes.
 */
async function installWriteCounters(store: Store): Promise<void> {
  for (const statement of [
    'CREATE TEMP TABLE bench_snapshot_writes (n INTEGER NOT NULL)',
    'INSERT INTO bench_snapshot_writes VALUES (0)',
    'CREATE TEMP TRIGGER bench_snapshot_ins AFTER INSERT ON main.order_snapshots BEGIN UPDATE bench_snapshot_writes SET n = n + 1; END',
    'CREATE TEMP TRIGGER bench_snapshot_upd AFTER UPDATE ON main.order_snapshots BEGIN UPDATE bench_snapshot_writes SET n = n + 1; END',
    'CREATE TEMP TRIGGER bench_snapshot_del AFTER DELETE ON main.order_snapshots BEGIN UPDATE bench_snapshot_writes SET n = n + 1; END',
  ]) {
    await sql.raw(statement).execute(store.db);
  }
}

interface ProofMark {
  writes: number;
  total: number;
  runs: number;
  jobs: number;
  startIso: string;
}

async function scalar(store: Store, query: RawBuilder<{ n: number }>): Promise<number> {
  return Number((await query.execute(store.db)).rows[0]?.n);
}

async function mark(store: Store): Promise<ProofMark> {
  return {
    writes: await scalar(store, sql`SELECT n FROM temp.bench_snapshot_writes`),
    total: await scalar(store, sql`SELECT total_changes() AS n`),
    runs: await scalar(store, sql`SELECT COUNT(*) AS n FROM sync_runs`),
    jobs: await scalar(store, sql`SELECT COUNT(*) AS n FROM cancellation_jobs`),
    startIso: new Date().toISOString(),
  };
}

async function proofSince(store: Store, before: ProofMark): Promise<SnapshotWriteProof> {
  const after = await mark(store);
  return {
    // The counter's own UPDATEs happen inside triggers; total_changes() counts them too, so the
    // delta is taken before the counter is read (mark() reads, it never writes).
    snapshotRowWrites: after.writes - before.writes,
    lastSeenChanged: await scalar(store, sql`SELECT COUNT(*) AS n FROM order_snapshots WHERE last_seen_at >= ${before.startIso}`),
    totalChanges: after.total - before.total,
    runsAdded: after.runs - before.runs,
    jobsAdded: after.jobs - before.jobs,
  };
}

// ---------------------------------------------------------------------------------------------

async function openBenchStore(dbPath: string): Promise<Store> {
  // Migrations from the repository's folder: the compiled sources sit one level deeper in
  // dist-bench/ than in dist/, so the default MIGRATIONS_DIR would not find them.
  return openStore(dbPath, { migrationsDir: MIGRATIONS_DIR });
}

/** Resets the kernel's peak-RSS mark (Linux ≥ 4.0), so VmHWM is the next run's own peak. */
function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakKb(canReset: boolean): number {
  if (canReset) {
    const m = /^VmHWM:\s+([0-9]+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  }
  return process.resourceUsage().maxRSS;
}

async function measured<T>(run: () => Promise<T>): Promise<{ sample: Sample; value: T }> {
  settle();
  const canReset = resetPeak();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { sample: { ms, cpuMs: (cpu.user + cpu.system) / 1000, peakKb: peakKb(canReset) }, value };
}

async function timedCycle(deps: CycleDeps): Promise<{ sample: Sample; report: Extract<CycleReport, { counts: unknown }> }> {
  const { sample, value: report } = await measured(() => runCycle(deps, { dispatch: false }));
  if (report.outcome !== 'succeeded' && report.outcome !== 'baseline') {
    throw new Error(`cycle ${report.outcome}: ${'reason' in report ? report.reason : ''}`);
  }
  return { sample, report };
}

async function timedFloor(run: () => Promise<FloorTimes>, size: number): Promise<FloorSample> {
  const { sample, value } = await measured(run);
  if (value.rows !== size || value.indexed < size) throw new Error(`floor parsed ${value.rows} orders, indexed ${value.indexed}; expected ${size}`);
  return { ...sample, fetchMs: value.fetchMs, parseMs: value.parseMs, indexMs: value.indexMs, writeMs: value.writeMs };
}

async function measureSize(job: SizeJob): Promise<SizeResult> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-bench-'));
  try {
    const env = { ...job.env, SYNC_DB_PATH: path.join(tmp, 'sync.db') };
    const config = loadConfig({ env, configDir: CONFIG_DIR });
    const store = await openBenchStore(config.sync.dbPath);
    await installWriteCounters(store);
    const deps = cycleDeps(config, store);
    const peakMode: SizeResult['peakMode'] = resetPeak() ? 'VmHWM' : 'maxRSS';

    // The baseline: the first cycle records every order.
    const baseline = await timedCycle(deps);
    if (baseline.report.outcome !== 'baseline' || baseline.report.counts.listed !== job.size) {
      throw new Error(`baseline listed ${baseline.report.counts.listed} orders (${baseline.report.outcome}), expected ${job.size} in the window`);
    }
    await timedCycle(deps); // warm-up: JIT, the sandbox's page cache

    // The floor, over the very same pages, interleaved with the cycles it divides (one run, one load).
    const window = windowFor(new Date(), config.sync.lookbackDays);
    const fetchPage = makeRawFetcher(config.specter);
    const table = new FloorTable(path.join(tmp, 'floor.db'), fs.readFileSync(path.join(MIGRATIONS_DIR, '0001_initial.sql'), 'utf8'));
    // The floor reads the snapshot index over its own raw connection to the same file (the store's
    // is Kysely's, behind the async interface).
    const indexReader = new SqliteDatabase(config.sync.dbPath, { readonly: true });
    const bodies: Buffer[] = [];
    // Fills the floor's table (the 1 % floor's upserts then update existing rows, as the cycle's do).
    const baselineFloor = await timedFloor(
      () => runFloor(fetchPage, window, { sqlite: indexReader, write: { table, orderNos: 'all' }, keepBodies: bodies }),
      job.size,
    );
    await timedFloor(() => runFloor(fetchPage, window, { sqlite: indexReader }), job.size); // warm-up

    const steady: Sample[] = [];
    const steadyFloor: FloorSample[] = [];
    const steadyProof: SnapshotWriteProof[] = [];
    for (let rep = 0; rep < job.reps; rep += 1) {
      const before = await mark(store);
      const { sample, report } = await timedCycle(deps);
      steadyProof.push(await proofSince(store, before));
      if (report.counts.changed !== 0 || report.counts.newOrders !== 0 || report.counts.unchanged !== job.size) {
        throw new Error(`steady-state cycle saw changes: ${JSON.stringify(report.counts)}`);
      }
      steady.push(sample);
      steadyFloor.push(await timedFloor(() => runFloor(fetchPage, window, { sqlite: indexReader }), job.size));
    }

    const cancel: Sample[] = [];
    const cancelFloor: FloorSample[] = [];
    const cancelProof: SizeResult['cancelProof'] = [];
    const perRep = Math.max(1, Math.round(job.size / 100));
    for (let rep = 0; rep < job.reps; rep += 1) {
      const orderNos = await requestCancel(rep, perRep);
      const before = await mark(store);
      const { sample, report } = await timedCycle(deps);
      const proof = await proofSince(store, before);
      if (report.counts.changed !== orderNos.length || report.counts.cancelled !== orderNos.length) {
        throw new Error(`1 % cycle: ${orderNos.length} cancelled in Specter, report ${JSON.stringify(report.counts)}`);
      }
      cancelProof.push({ ...proof, cancelled: orderNos.length, cancelledInReport: report.counts.cancelled, jobsCreated: report.counts.jobsCreated });
      cancel.push(sample);
      const changed = new Set(orderNos);
      cancelFloor.push(await timedFloor(() => runFloor(fetchPage, window, { sqlite: indexReader, write: { table, orderNos: changed } }), job.size));
    }
    table.close();
    indexReader.close();

    // Where a steady-state cycle's time goes: its steps, called one by one.
    const phases: Record<string, number[]> = { listing: [], productParse: [], track: [], loadSnapshots: [], diff: [] };
    const statusMap = compileStatusMap(config.specter.statusMap);
    const rules = compileRoutingRules(config.routing);
    for (let rep = 0; rep < Math.min(3, job.reps); rep += 1) {
      settle();
      let t = performance.now();
      const raw = await deps.specter.listOrdersInWindow(window);
      phases.listing!.push(performance.now() - t);
      t = performance.now();
      let parsedCount = 0;
      for (const body of bodies) parsedCount += parseSpecterDocument(decodeSpecterBody(body)).orders.length;
      phases.productParse!.push(performance.now() - t);
      if (parsedCount !== job.size) throw new Error(`product parser: ${parsedCount} orders`);
      t = performance.now();
      const listing = raw.map((o) => trackOrder(o, statusMap, rules));
      phases.track!.push(performance.now() - t);
      t = performance.now();
      const baselineRun = !(await hasSuccessfulRun(store));
      const snapshots = await loadSnapshotIndex(store);
      phases.loadSnapshots!.push(performance.now() - t);
      t = performance.now();
      const diff = diffOrders({ snapshots, listing, window, baseline: baselineRun });
      phases.diff!.push(performance.now() - t);
      if (diff.changed.length !== 0 || diff.newOrders.length !== 0) throw new Error('phase run: unexpected changes');
    }

    const result: SizeResult = {
      kind: 'size',
      size: job.size,
      reps: job.reps,
      pages: bodies.length,
      bytes: bodies.reduce((sum, b) => sum + b.length, 0),
      peakMode,
      baseline: baseline.sample,
      baselineFloor,
      steady,
      steadyProof,
      steadyFloor,
      cancel,
      cancelProof,
      cancelFloor,
      phases,
      peakRssEndKb: process.resourceUsage().maxRSS,
    };
    await store.close();
    return result;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function measureDispatch(job: DispatchJob): Promise<DispatchResult> {
  const ms: number[] = [];
  const succeeded: number[] = [];
  let concurrency = 0;
  for (let rep = 0; rep < job.reps; rep += 1) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-bench-'));
    try {
      const config = loadConfig({ env: { ...job.env, SYNC_DB_PATH: path.join(tmp, 'sync.db') }, configDir: CONFIG_DIR });
      const store = await openBenchStore(config.sync.dbPath);
      const at = new Date(Date.now() - 1000).toISOString();
      await store.write(async (tx) => {
        for (let i = 0; i < job.jobs; i += 1) {
          const orderNo = String(500001 + i);
          const providerRef = randomUUID(); // fresh per rep: every cancel meets an authorised order
          await tx
            .insertInto('order_snapshots')
            .values({
              order_no: orderNo,
              order_date: '2026-01-01 12:00:00',
              status: 'cancelled',
              status_id: '5',
              route_kind: 'provider',
              provider: 'klarna',
              provider_ref: providerRef,
              amount: '100.00',
              currency: 'SEK',
              content_hash: 'x',
              first_seen_at: at,
              last_seen_at: at,
              cancelled_at: at,
            })
            .execute();
          await ensureJob(
            tx,
            {
              orderNo,
              paymentKey: `klarna:${providerRef}`,
              provider: 'klarna',
              providerRef,
              payTypeIdentifier: 'K',
              payTypeReference: providerRef,
              amount: '100.00',
              currency: 'SEK',
              reason: 'cancelled',
            },
            at,
          );
        }
      });
      const all = createProviderRegistry(config.providers);
      const klarna = all.klarna;
      if (!klarna) throw new Error('the sandbox environment configures no Klarna');
      concurrency = klarna.maxConcurrency;
      settle();
      const t0 = performance.now();
      const report = await dispatchDueJobs({ store, providers: { klarna }, settings: config.dispatch, logger: silentLogger() });
      ms.push(performance.now() - t0);
      succeeded.push(report.counts.succeeded);
      if (report.counts.succeeded !== job.jobs) throw new Error(`dispatch: ${JSON.stringify(report.counts)}`);
      await store.close();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { kind: 'dispatch', jobs: job.jobs, reps: job.reps, latencyMs: job.latencyMs, concurrency, ms, succeeded };
}

/** What a measured cycle runs with: the real clients over loopback, a silent logger, its own lease holder. */
function cycleDeps(config: AppConfig, store: Store): CycleDeps {
  return {
    config,
    store,
    specter: createSpecterClient(config.specter),
    providers: createProviderRegistry(config.providers),
    logger: silentLogger(),
    holder: makeLeaseHolder(),
  };
}

/**
 * The steady-state cycle of the same shop on PostgreSQL: a baseline, a warm-up, then `reps`
 * cycles that find nothing changed — the figure to set beside SQLite's.
 */
async function measurePostgres(job: PostgresJob): Promise<PostgresResult> {
  const config = loadConfig({ env: { ...job.env, SYNC_DATABASE_URL: job.url }, configDir: CONFIG_DIR });
  const store = await openStore({ engine: 'postgres', url: job.url }, { migrationsDir: MIGRATIONS_DIR });
  try {
    const deps = cycleDeps(config, store);
    const baseline = await timedCycle(deps);
    if (baseline.report.outcome !== 'baseline' || baseline.report.counts.listed !== job.size)
      throw new Error(`PostgreSQL baseline listed ${baseline.report.counts.listed}`);
    await timedCycle(deps); // warm-up
    const steady: Sample[] = [];
    for (let rep = 0; rep < job.reps; rep += 1) {
      settle();
      const { sample, report } = await timedCycle(deps);
      if (report.counts.unchanged !== job.size) throw new Error(`PostgreSQL steady-state cycle saw changes: ${JSON.stringify(report.counts)}`);
      steady.push(sample);
    }
    return { kind: 'postgres', size: job.size, reps: job.reps, baseline: baseline.sample, steady };
  } finally {
    await store.close();
  }
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'cancelled') {
    const waiter = cancelWaiter;
    cancelWaiter = null;
    waiter?.(message.orderNos);
    return;
  }
  const job = message.job;
  const run = job.kind === 'size' ? measureSize(job) : job.kind === 'postgres' ? measurePostgres(job) : measureDispatch(job);
  run.then(
    (result) => {
      send({ type: 'result', result });
      process.disconnect();
    },
    (error: unknown) => {
      send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      process.disconnect();
    },
  );
});
