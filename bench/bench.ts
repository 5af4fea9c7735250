/**
 * `npm run bench`: how close specter-sync runs to an honest floor (issues 5 and 13).
 *
 * For each size N this process hosts a sandbox world (Specter with N orders in the window, the four
 * providers) and forks a fresh child (child.ts) that runs only the worker's code against it over
 * HTTP: a baseline, then steady-state cycles (nothing changed) each followed by the steady FLOOR
 * (the same pages fetched at most one request ahead, parsed by saxes strict with minimal handlers,
 * the snapshot index read: no writes), then cycles after 1 % of the orders were cancelled in the
 * sandbox, each followed by the 1 % floor (the steady floor + writing only the cancelled orders'
 * rows). Floor and subject alternate in one process, so machine load hits both alike. Each run
 * records wall time, the child's CPU time (process.cpuUsage) and its peak RSS (VmHWM, reset
 * before each run through /proc/self/clear_refs).
 *
 * This process then spawns the real CLI as a user runs it, alternating with a bare `node -e 0`:
 * `specter-sync --version` and `--help`, and `specter-sync once` (spawn to exit) on a database
 * that already holds a baseline. Every spawned process preloads probe.js, which reports its CPU
 * time and peak RSS. `once` is divided by (steady floor + `node -e 0`).
 *
 * Every figure is the median of --reps repetitions; machines are shared and noisy, so the targets
 * are ratios, and the load average during the run is printed with them. Targets print PASS/FAIL;
 * the exit code is 0 unless --strict.
 *
 *   node dist-bench/bench/bench.js [--sizes 10000,100000] [--reps 5] [--dispatch-jobs 1000]
 *     [--dispatch-reps 3] [--dispatch-latency 50] [--results bench/RESULTS.md] [--strict]
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSandboxWorld, type SandboxWorld } from '../src/sandbox/world.js';
import { seedOrders } from '../src/sandbox/specter/seed.js';
import pg from 'pg';
import { postgresBinaries, startThrowawayPostgres, stopThrowawayPostgres } from '../test/support/postgres-setup.js';
import type { ChildJob, ChildMessage, DispatchResult, FloorSample, PostgresResult, Sample, SizeResult } from './protocol.js';
import { measureOnce, measureStartup, type OnceResult, type SpawnSample, type StartupResult } from './spawned.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const PROBE = path.join(HERE, 'probe.js');
/** The CLI as built by `npm run build` (the bench scripts build it first). */
const CLI = path.join(ROOT, 'dist', 'cli.js');

// Targets (issues 5 and 13).
const STEADY_OVER_FLOOR_MAX = 1.5;
const ONCE_OVER_FLOOR_MAX_LARGE = 2.0;
const ONCE_OVER_FLOOR_MAX_SMALL = 3.0;
const STARTUP_OVER_NODE_MAX = 2.0;
const STEADY_RSS_MAX_MB = 160;
const CANCEL_RSS_MAX_MB = 200;
const SMALL_SIZE = 10_000;
const DISPATCH_MIN_SHARE = 0.8;
/** Linear: per-order cost at the largest size within 25 % of the smallest size's. */
const LINEAR_TOLERANCE = 1.25;
const TARGET_SIZE = 100_000;

interface Options {
  sizes: number[];
  reps: number;
  dispatchJobs: number;
  dispatchReps: number;
  dispatchLatencyMs: number;
  strict: boolean;
  results: string | null;
  postgres: boolean;
}

function positiveInt(name: string, raw: string): number {
  if (!/^[0-9]+$/.test(raw) || Number(raw) < 1) throw new Error(`--${name} ${JSON.stringify(raw)} is not a positive integer`);
  return Number(raw);
}

function readOptions(): Options {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', multiple: true },
      reps: { type: 'string' },
      'dispatch-jobs': { type: 'string' },
      'dispatch-reps': { type: 'string' },
      'dispatch-latency': { type: 'string' },
      results: { type: 'string' },
      strict: { type: 'boolean' },
      'no-postgres': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: bench [--sizes 10000,100000] [--reps 5] [--dispatch-jobs 1000] [--dispatch-reps 3]\n' +
        '             [--dispatch-latency 50] [--results FILE.md] [--strict]\n' +
        '  --dispatch-jobs 0 skips the dispatch measurement; --no-postgres the PostgreSQL cycle\n' +
        '  (measured at the largest size on a throwaway server when its binaries are installed).\n',
    );
    process.exit(0);
  }
  const sizes = (values.sizes ?? ['10000,100000'])
    .flatMap((s) => s.split(','))
    .filter((s) => s.trim() !== '')
    .map((s) => positiveInt('sizes', s.trim()));
  const dispatchJobs = values['dispatch-jobs'] === '0' ? 0 : positiveInt('dispatch-jobs', values['dispatch-jobs'] ?? '1000');
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    reps: positiveInt('reps', values.reps ?? '5'),
    dispatchJobs,
    dispatchReps: positiveInt('dispatch-reps', values['dispatch-reps'] ?? '3'),
    dispatchLatencyMs: positiveInt('dispatch-latency', values['dispatch-latency'] ?? '50'),
    strict: values.strict ?? false,
    results: values.results ?? null,
    postgres: !(values['no-postgres'] ?? false),
  };
}

// ---------------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** mulberry32, for a reproducible choice of the orders to cancel. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runChild(job: ChildJob, world: SandboxWorld, cancelPool: string[]): Promise<SizeResult | DispatchResult | PostgresResult> {
  return new Promise((resolve, reject) => {
    // --expose-gc: the child collects between repetitions so each starts from a similar heap.
    const child = fork(path.join(HERE, 'child.js'), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: SizeResult | DispatchResult | PostgresResult | null = null;
    let failure: string | null = null;
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'cancel') {
        const orderNos = cancelPool.splice(0, message.count);
        for (const orderNo of orderNos) world.specter.cancel(orderNo);
        child.send({ type: 'cancelled', orderNos });
      } else if (message.type === 'result') {
        result = message.result;
      } else {
        failure = message.message;
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (result) resolve(result);
      else reject(new Error(failure ?? `the bench child exited with ${signal ?? code} and no result`));
    });
    child.send({ type: 'start', job });
  });
}

interface SizeOutcome {
  result: SizeResult;
  once: OnceResult;
}

async function measureSize(size: number, reps: number): Promise<SizeOutcome> {
  // Orders over 45 days, the window is 60: every order is in the window.
  const orders = seedOrders({ count: size, seed: 1, lookbackDays: 45 });
  const random = prng(size);
  const pool = orders.filter((o) => o.statusId !== '5').map((o) => o.orderNo);
  for (let i = pool.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  const world = await startSandboxWorld({ orders });
  try {
    const result = (await runChild({ kind: 'size', size, reps, env: world.env }, world, pool)) as SizeResult;
    const once = await measureOnce(PROBE, CLI, world.env, reps);
    return { result, once };
  } finally {
    await world.close();
  }
}

/**
 * The same shop's steady-state cycle on PostgreSQL: a throwaway server (the tests' harness,
 * test/support/postgres-setup.ts) and a fresh database, measured by a fresh child like SQLite's.
 */
async function measurePostgres(size: number, reps: number): Promise<PostgresResult | string> {
  const bin = postgresBinaries();
  if (bin === null) return 'skipped: no PostgreSQL binaries (install postgresql-15)';
  const server = await startThrowawayPostgres(bin);
  const world = await startSandboxWorld({ orders: seedOrders({ count: size, seed: 1, lookbackDays: 45 }) });
  try {
    const admin = new pg.Client({ connectionString: server.adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const url = new URL(server.adminUrl);
    url.pathname = '/bench';
    return (await runChild({ kind: 'postgres', size, reps, env: world.env, url: url.href }, world, [])) as PostgresResult;
  } finally {
    await world.close();
    stopThrowawayPostgres(server.server);
  }
}

async function measureDispatch(jobs: number, reps: number, latencyMs: number): Promise<DispatchResult & { requestsSeen: number }> {
  const world = await startSandboxWorld({ orders: [], providerLatencyMs: latencyMs });
  try {
    const result = (await runChild({ kind: 'dispatch', jobs, reps, latencyMs, env: world.env }, world, [])) as DispatchResult;
    return { ...result, requestsSeen: world.klarna.requests.length };
  } finally {
    await world.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const n0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const n1 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const n2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

interface Target {
  name: string;
  pass: boolean | null;
  detail: string;
}

interface Summary {
  sizes: SizeOutcome[];
  startup: StartupResult;
  dispatch: (DispatchResult & { requestsSeen: number }) | null;
  load: { before: number[]; after: number[] };
}

const med = (samples: readonly { ms: number }[]): number => median(samples.map((s) => s.ms));
const medCpu = (samples: readonly { cpuMs: number }[]): number => median(samples.map((s) => s.cpuMs));
const maxPeakMb = (samples: readonly { peakKb: number }[]): number => Math.max(...samples.map((s) => s.peakKb)) / 1024;
const msCpu = (samples: readonly (Sample | SpawnSample)[]): string => `${n0.format(med(samples))} ms (CPU ${n0.format(medCpu(samples))} ms)`;
const ratio = (a: number, b: number): string => `${n2.format(a / b)}×`;
const floorParts = (f: readonly FloorSample[]): string =>
  `${n0.format(median(f.map((x) => x.fetchMs)))} / ${n0.format(median(f.map((x) => x.parseMs)))} / ${n0.format(median(f.map((x) => x.indexMs)))} / ${n0.format(median(f.map((x) => x.writeMs)))} ms`;

/** `once` is divided by the steady floor (in-process) + a bare `node -e 0` of the same run. */
function onceDivisor(o: SizeOutcome): number {
  return med(o.result.steadyFloor) + med(o.once.nodeE0);
}

function sizeTable(outcomes: SizeOutcome[]): string {
  const head = ['', ...outcomes.map((o) => `${n0.format(o.result.size)} orders`)];
  const per = (f: (o: SizeOutcome) => string) => outcomes.map(f);
  const rows: string[][] = [
    ['steady-state cycle (nothing changed), in-process', ...per((o) => msCpu(o.result.steady))],
    ['  steady floor: fetch + saxes + read index, no writes', ...per((o) => msCpu(o.result.steadyFloor))],
    ['  floor parts: fetch wait / parse / index / write', ...per((o) => floorParts(o.result.steadyFloor))],
    ['  **steady ÷ steady floor** (wall)', ...per((o) => `**${ratio(med(o.result.steady), med(o.result.steadyFloor))}**`)],
    ['  steady ÷ steady floor (CPU)', ...per((o) => ratio(medCpu(o.result.steady), medCpu(o.result.steadyFloor)))],
    ['  ms per 10,000 orders (steady)', ...per((o) => n1.format((med(o.result.steady) / o.result.size) * 10_000))],
    ['cycle after 1 % cancelled (dispatch off), in-process', ...per((o) => msCpu(o.result.cancel))],
    ['  1 % floor: steady floor + write the changed rows', ...per((o) => msCpu(o.result.cancelFloor))],
    ['  floor parts: fetch wait / parse / index / write', ...per((o) => floorParts(o.result.cancelFloor))],
    ['  **1 % cycle ÷ 1 % floor** (wall)', ...per((o) => `**${ratio(med(o.result.cancel), med(o.result.cancelFloor))}**`)],
    ['  1 % cycle ÷ 1 % floor (CPU)', ...per((o) => ratio(medCpu(o.result.cancel), medCpu(o.result.cancelFloor)))],
    ['`once`, spawn to exit (steady state, dispatch on)', ...per((o) => msCpu(o.once.once))],
    ['  bare `node -e 0` (same run)', ...per((o) => msCpu(o.once.nodeE0))],
    ['  **`once` ÷ (steady floor + `node -e 0`)** (wall)', ...per((o) => `**${ratio(med(o.once.once), onceDivisor(o))}**`)],
    ['  `once` ÷ (steady floor + `node -e 0`) (CPU)', ...per((o) => ratio(medCpu(o.once.once), medCpu(o.result.steadyFloor) + medCpu(o.once.nodeE0)))],
    ['peak RSS, steady cycle (in-process, worst run)', ...per((o) => `${n0.format(maxPeakMb(o.result.steady))} MB`)],
    ['peak RSS, steady floor (in-process, worst run)', ...per((o) => `${n0.format(maxPeakMb(o.result.steadyFloor))} MB`)],
    ['peak RSS, 1 % cycle (in-process, worst run)', ...per((o) => `${n0.format(maxPeakMb(o.result.cancel))} MB`)],
    ['peak RSS, `once` process (maxRSS, worst run)', ...per((o) => `${n0.format(maxPeakMb(o.once.once))} MB`)],
    ['baseline (first) cycle, writes every row', ...per((o) => msCpu([o.result.baseline]))],
    ['  its floor: fetch + saxes + index + write every row', ...per((o) => msCpu([o.result.baselineFloor]))],
    [
      'unchanged cycle: snapshot rows written',
      ...per((o) => {
        const r = o.result;
        const worst = Math.max(...r.steadyProof.map((p) => p.snapshotRowWrites));
        const lastSeen = Math.max(...r.steadyProof.map((p) => p.lastSeenChanged));
        const total = Math.max(...r.steadyProof.map((p) => p.totalChanges));
        return `${worst} (last_seen_at changed: ${lastSeen}; total_changes Δ ${total})`;
      }),
    ],
    [
      '1 % cycle: orders cancelled → snapshot row writes, jobs',
      ...per((o) => {
        const p = o.result.cancelProof[0]!;
        return `${p.cancelled} → ${p.snapshotRowWrites} writes (${p.lastSeenChanged} rows), ${p.jobsCreated} jobs`;
      }),
    ],
    ['pages, bytes on the wire per listing', ...per((o) => `${o.result.pages}, ${n1.format(o.result.bytes / 1048576)} MB`)],
  ];
  return table(head, rows);
}

function startupTable(s: StartupResult): string {
  const base = med(s.nodeE0);
  return table(
    ['start-up, spawn to exit', 'wall (median)', 'CPU (median)', 'peak RSS', '÷ `node -e 0` (wall)'],
    [
      ['`node -e 0`', `${n0.format(base)} ms`, `${n0.format(medCpu(s.nodeE0))} ms`, `${n0.format(maxPeakMb(s.nodeE0))} MB`, '1.00×'],
      [
        '`specter-sync --version`',
        `${n0.format(med(s.version))} ms`,
        `${n0.format(medCpu(s.version))} ms`,
        `${n0.format(maxPeakMb(s.version))} MB`,
        ratio(med(s.version), base),
      ],
      [
        '`specter-sync --help`',
        `${n0.format(med(s.help))} ms`,
        `${n0.format(medCpu(s.help))} ms`,
        `${n0.format(maxPeakMb(s.help))} MB`,
        ratio(med(s.help), base),
      ],
    ],
  );
}

function phaseTable(outcomes: SizeOutcome[]): string {
  const results = outcomes.map((o) => o.result);
  const head = ['step of a steady-state cycle, called one by one', ...results.map((r) => `${n0.format(r.size)}`), 'share at largest'];
  const largest = results[results.length - 1]!;
  const steadyL = med(largest.steady);
  const m = (r: SizeResult, k: string) => median(r.phases[k] ?? []);
  const row = (label: string, f: (r: SizeResult) => number): string[] => [
    label,
    ...results.map((r) => `${n0.format(f(r))} ms`),
    `${n0.format((f(largest) / steadyL) * 100)} %`,
  ];
  return table(head, [
    row('listing: listOrdersInWindow (HTTP, decode, parse, checks)', (r) => m(r, 'listing')),
    row('  of it: decode + parseSpecterDocument (same bytes)', (r) => m(r, 'productParse')),
    row('track: route + content hash', (r) => m(r, 'track')),
    row('hasSuccessfulRun + loadSnapshotIndex', (r) => m(r, 'loadSnapshots')),
    row('diffOrders', (r) => m(r, 'diff')),
    row('whole cycle (median, pipelined)', (r) => med(r.steady)),
    row('floor parse (saxes, minimal handlers)', (r) => median(r.steadyFloor.map((f) => f.parseMs))),
  ]);
}

function dispatchBound(d: DispatchResult): { bound: number; perSecond: number } {
  // The Klarna sandbox enforces no rate limit, so the bound is Little's law alone.
  const bound = d.concurrency / (d.latencyMs / 1000);
  const perSecond = d.jobs / (median(d.ms) / 1000);
  return { bound, perSecond };
}

function dispatchTable(d: DispatchResult & { requestsSeen: number }): string {
  const { bound, perSecond } = dispatchBound(d);
  return table(
    ['dispatch to the Klarna sandbox', 'value'],
    [
      ['jobs per run × runs', `${n0.format(d.jobs)} × ${d.reps}`],
      ['provider latency, client concurrency', `${d.latencyMs} ms, ${d.concurrency} in flight`],
      ['bound min(concurrency ÷ latency, rate limit)', `${n0.format(bound)} jobs/s (the sandbox has no rate limit)`],
      ['time for all jobs (median)', `${n0.format(median(d.ms))} ms`],
      ['jobs per second', n1.format(perSecond)],
      ['**share of the bound**', `**${n0.format((perSecond / bound) * 100)} %**`],
      ['requests the sandbox received (all runs)', n0.format(d.requestsSeen)],
    ],
  );
}

function evaluate(summary: Summary): Target[] {
  const targets: Target[] = [];
  const outcomes = summary.sizes;
  const largest = outcomes[outcomes.length - 1];
  const smallest = outcomes[0];
  const at = (o: SizeOutcome) =>
    o.result.size === TARGET_SIZE ? '' : ` (measured at ${n0.format(o.result.size)}, the target is for ${n0.format(TARGET_SIZE)})`;
  if (largest) {
    const r = largest.result;
    const steady = med(r.steady) / med(r.steadyFloor);
    targets.push({
      name: `steady cycle ≤ ${STEADY_OVER_FLOOR_MAX}× steady floor at ${n0.format(TARGET_SIZE)}`,
      pass: steady <= STEADY_OVER_FLOOR_MAX,
      detail: `${n2.format(steady)}× = ${n0.format(med(r.steady))} ÷ ${n0.format(med(r.steadyFloor))} ms${at(largest)}`,
    });
    const once = med(largest.once.once) / onceDivisor(largest);
    targets.push({
      name: `\`once\` ≤ ${ONCE_OVER_FLOOR_MAX_LARGE}× (steady floor + node -e 0) at ${n0.format(TARGET_SIZE)}`,
      pass: once <= ONCE_OVER_FLOOR_MAX_LARGE,
      detail: `${n2.format(once)}× = ${n0.format(med(largest.once.once))} ÷ (${n0.format(med(r.steadyFloor))} + ${n0.format(med(largest.once.nodeE0))}) ms${at(largest)}`,
    });
  }
  const small = outcomes.find((o) => o.result.size === SMALL_SIZE) ?? (outcomes.length > 1 ? smallest : undefined);
  if (small) {
    const once = med(small.once.once) / onceDivisor(small);
    targets.push({
      name: `\`once\` ≤ ${ONCE_OVER_FLOOR_MAX_SMALL}× (steady floor + node -e 0) at ${n0.format(SMALL_SIZE)}`,
      pass: once <= ONCE_OVER_FLOOR_MAX_SMALL,
      detail: `${n2.format(once)}× = ${n0.format(med(small.once.once))} ÷ (${n0.format(med(small.result.steadyFloor))} + ${n0.format(med(small.once.nodeE0))}) ms${small.result.size === SMALL_SIZE ? '' : ` (measured at ${n0.format(small.result.size)})`}`,
    });
  }
  const base = med(summary.startup.nodeE0);
  for (const [flag, samples] of [
    ['--version', summary.startup.version],
    ['--help', summary.startup.help],
  ] as const) {
    const x = med(samples) / base;
    targets.push({
      name: `\`specter-sync ${flag}\` ≤ ${STARTUP_OVER_NODE_MAX}× node -e 0`,
      pass: x <= STARTUP_OVER_NODE_MAX,
      detail: `${n2.format(x)}× = ${n0.format(med(samples))} ÷ ${n0.format(base)} ms`,
    });
  }
  if (largest) {
    const r = largest.result;
    const steadyMb = Math.max(maxPeakMb(r.steady), maxPeakMb(largest.once.once));
    targets.push({
      name: `peak RSS ≤ ${STEADY_RSS_MAX_MB} MB, steady cycle at ${n0.format(TARGET_SIZE)}`,
      pass: steadyMb <= STEADY_RSS_MAX_MB,
      detail: `${n0.format(steadyMb)} MB (worst of in-process ${n0.format(maxPeakMb(r.steady))} MB [${r.peakMode}], \`once\` process ${n0.format(maxPeakMb(largest.once.once))} MB)${at(largest)}`,
    });
    const cancelMb = maxPeakMb(r.cancel);
    targets.push({
      name: `peak RSS ≤ ${CANCEL_RSS_MAX_MB} MB, 1 % cycle at ${n0.format(TARGET_SIZE)}`,
      pass: cancelMb <= CANCEL_RSS_MAX_MB,
      detail: `${n0.format(cancelMb)} MB in-process [${r.peakMode}]${at(largest)}`,
    });
    const writes = outcomes.flatMap((o) => o.result.steadyProof.map((p) => p.snapshotRowWrites + p.lastSeenChanged));
    targets.push({
      name: 'an unchanged cycle writes no snapshot rows',
      pass: writes.every((w) => w === 0),
      detail: `${writes.length} unchanged cycles, ${writes.reduce((a, b) => a + b, 0)} snapshot row writes in all`,
    });
  }
  if (summary.dispatch) {
    const { bound, perSecond } = dispatchBound(summary.dispatch);
    targets.push({
      name: `dispatch ≥ ${DISPATCH_MIN_SHARE * 100} % of the bound`,
      pass: perSecond >= DISPATCH_MIN_SHARE * bound,
      detail: `${n1.format(perSecond)} of ${n0.format(bound)} jobs/s = ${n0.format((perSecond / bound) * 100)} %`,
    });
  } else {
    targets.push({ name: `dispatch ≥ ${DISPATCH_MIN_SHARE * 100} % of the bound`, pass: null, detail: 'not measured (--dispatch-jobs 0)' });
  }
  if (smallest && largest && largest.result.size > smallest.result.size) {
    // Judged on CPU time: the sizes run one after the other, not interleaved, so wall time also
    // measures how the machine's load changed between them (printed beside it for that reason).
    const sizeRatio = largest.result.size / smallest.result.size;
    const growth = medCpu(largest.result.steady) / medCpu(smallest.result.steady);
    const cancelGrowth = medCpu(largest.result.cancel) / medCpu(smallest.result.cancel);
    const floorGrowth = medCpu(largest.result.steadyFloor) / medCpu(smallest.result.steadyFloor);
    const wallGrowth = med(largest.result.steady) / med(smallest.result.steady);
    const wallFloorGrowth = med(largest.result.steadyFloor) / med(smallest.result.steadyFloor);
    const worst = Math.max(growth, cancelGrowth);
    targets.push({
      name: `cost (CPU) linear from ${n0.format(smallest.result.size)} to ${n0.format(largest.result.size)} (≤ ${n1.format(sizeRatio * LINEAR_TOLERANCE)}×)`,
      pass: worst <= sizeRatio * LINEAR_TOLERANCE,
      detail:
        `CPU: steady ${n1.format(growth)}×, 1 % cycle ${n1.format(cancelGrowth)}×, steady floor ${n1.format(floorGrowth)}× for ${n0.format(sizeRatio)}× the orders; ` +
        `wall: steady ${n1.format(wallGrowth)}×, floor ${n1.format(wallFloorGrowth)}×`,
    });
  } else {
    targets.push({ name: 'cost linear in the number of orders', pass: null, detail: 'needs two sizes' });
  }
  return targets;
}

function targetTable(targets: Target[]): string {
  return table(
    ['target', 'result', 'measured'],
    targets.map((t) => [t.name, t.pass === null ? 'n/a' : t.pass ? 'PASS' : 'FAIL', t.detail]),
  );
}

function machine(): string {
  let model = 'unknown';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    model = os.cpus()[0]?.model ?? model;
  }
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return `${cpus} CPUs (nproc), ${model}, ${n0.format(os.totalmem() / 1073741824)} GB RAM, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

// ---------------------------------------------------------------------------------------------

function postgresTable(result: PostgresResult | string, sizes: readonly SizeResult[]): string {
  if (typeof result === 'string') return `PostgreSQL: ${result}`;
  const sqlite = sizes.find((s) => s.size === result.size);
  const ms = (samples: readonly Sample[]) => median(samples.map((x) => x.ms));
  const peakMb = (samples: readonly Sample[]) => Math.max(...samples.map((x) => x.peakKb)) / 1024;
  const sqliteMs = sqlite ? ms(sqlite.steady) : Number.NaN;
  const pgMs = ms(result.steady);
  return [
    `PostgreSQL (a throwaway local server, fsync off), ${n0.format(result.size)} orders, the same shop as SQLite's:`,
    '',
    '| engine | baseline | steady-state cycle (median) | ratio to SQLite | peak RSS (steady) |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| SQLite | ${sqlite ? `${n0.format(sqlite.baseline.ms)} ms` : '–'} | ${n0.format(sqliteMs)} ms | 1.00 | ${sqlite ? `${n0.format(peakMb(sqlite.steady))} MB` : '–'} |`,
    `| PostgreSQL | ${n0.format(result.baseline.ms)} ms | ${n0.format(pgMs)} ms | ${n2.format(pgMs / sqliteMs)} | ${n0.format(peakMb(result.steady))} MB |`,
  ].join('\n');
}

function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

async function main(): Promise<number> {
  const options = readOptions();
  const started = new Date();
  const loadBefore = loadAverage();
  process.stderr.write(`bench: sizes ${options.sizes.join(', ')}, ${options.reps} reps; dispatch ${options.dispatchJobs} jobs × ${options.dispatchReps}\n`);
  if (!fs.existsSync(CLI)) throw new Error(`${path.relative(ROOT, CLI)} is missing: run npm run build first (npm run bench does)`);
  process.stderr.write('bench: start-up … ');
  const startup = await measureStartup(PROBE, CLI, Math.max(10, options.reps * 2));
  process.stderr.write('done\n');
  const sizes: SizeOutcome[] = [];
  for (const size of options.sizes) {
    const t0 = Date.now();
    process.stderr.write(`bench: ${n0.format(size)} orders … `);
    sizes.push(await measureSize(size, options.reps));
    process.stderr.write(`${n1.format((Date.now() - t0) / 1000)} s\n`);
  }
  let dispatch: Summary['dispatch'] = null;
  if (options.dispatchJobs > 0) {
    const t0 = Date.now();
    process.stderr.write(`bench: dispatch of ${n0.format(options.dispatchJobs)} jobs … `);
    dispatch = await measureDispatch(options.dispatchJobs, options.dispatchReps, options.dispatchLatencyMs);
    process.stderr.write(`${n1.format((Date.now() - t0) / 1000)} s\n`);
  }

  let postgres: PostgresResult | string | null = null;
  if (options.postgres) {
    const t0 = Date.now();
    const size = options.sizes[options.sizes.length - 1]!;
    process.stderr.write(`bench: ${n0.format(size)} orders on PostgreSQL … `);
    postgres = await measurePostgres(size, options.reps);
    process.stderr.write(`${n1.format((Date.now() - t0) / 1000)} s\n`);
  }

  const load = { before: loadBefore, after: loadAverage() };
  const summary: Summary = { sizes, startup, dispatch, load };
  const targets = evaluate(summary);
  const sections = [
    `Machine: ${machine()}`,
    `Load: load average (1, 5, 15 min) ${load.before.join(', ')} at the start, ${load.after.join(', ')} at the end, on ${os.availableParallelism()} CPUs; ` +
      'other work on the machine shows in wall time, so every ratio divides figures measured alternately in the same run, and CPU time is printed beside wall time.',
    `Run: ${started.toISOString()}, sizes ${options.sizes.map((s) => n0.format(s)).join(' and ')}, every figure the median of ${options.reps} runs (start-up: ${startup.reps}; dispatch: ${options.dispatchReps}).`,
    targetTable(targets),
    [
      "What each ratio divides by (issue 13). **Steady floor**: the same listing pages fetched with the client's axios settings, the next page",
      'requested when a page arrives (one ahead, as the client does), parsed by saxes in strict mode with handlers that only collect the kept',
      'fields, plus the snapshot index read (orderNo → content hash, one raw statement); nothing written. **1 % floor**: that plus one prepared',
      'upsert per cancelled order in one transaction. **`once`** (spawn to exit, as cron runs it) divides by the steady floor + a bare',
      '`node -e 0` of the same run. **Start-up** divides by `node -e 0`. Subject and floor alternate within one process (in-process figures)',
      'or one run (spawned), so load hits both. Peak RSS in-process is VmHWM reset before each run (it includes what the process already',
      "holds from earlier runs); the `once` figure is the whole process's maxRSS, the honest one for a worker started per cycle.",
    ].join('\n'),
    sizeTable(sizes),
    startupTable(startup),
    phaseTable(sizes),
    ...(dispatch ? [dispatchTable(dispatch)] : []),
    ...(postgres === null
      ? []
      : [
          postgresTable(
            postgres,
            sizes.map((o) => o.result),
          ),
        ]),
  ];
  const text = sections.join('\n\n');
  process.stdout.write(`\n${text}\n`);

  if (options.results) {
    const file = path.resolve(ROOT, options.results);
    const doc = ['# specter-sync benchmark results', '', 'Written by `npm run bench` (bench/bench.ts, whose header explains each figure).', '', text, ''].join(
      '\n',
    );
    fs.writeFileSync(file, doc);
    process.stderr.write(`bench: results written to ${path.relative(ROOT, file)}\n`);
  }
  const failed = targets.some((t) => t.pass === false);
  return options.strict && failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
