/**
 * `npm run bench`: how close a specter-sync cycle runs to what the machine allows (issue 5, item 3).
 *
 * For each size N this process hosts a sandbox world (Specter with N orders in the window, the four
 * providers) and forks a fresh child (child.ts) that runs only the worker's code against it over
 * HTTP: a baseline, steady-state cycles (nothing changed), cycles after 1 % of the orders were
 * cancelled in the sandbox (this process cancels them when the child asks), the floor for the
 * same work (raw fetch + minimal saxes + one prepared upsert in one transaction), and the cycle's
 * steps one by one. A last child dispatches jobs to the Klarna sandbox answering after 50 ms.
 *
 * Every figure is the median of --reps repetitions; machines are shared and noisy, so the targets
 * are ratios. Targets print PASS/FAIL; the exit code is 0 unless --strict.
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
import type { ChildJob, ChildMessage, DispatchResult, PostgresResult, SizeResult } from './protocol.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

// Targets (issue 5).
const STEADY_OVER_FLOOR_MAX = 2.0;
const PEAK_RSS_MAX_MB = 256;
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

async function measureSize(size: number, reps: number): Promise<SizeResult> {
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
    return (await runChild({ kind: 'size', size, reps, env: world.env }, world, pool)) as SizeResult;
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
  sizes: SizeResult[];
  dispatch: (DispatchResult & { requestsSeen: number }) | null;
}

function sizeTable(results: SizeResult[]): string {
  const head = ['', ...results.map((r) => `${n0.format(r.size)} orders`)];
  const per = (f: (r: SizeResult) => string) => results.map(f);
  const steady = (r: SizeResult) => median(r.steadyMs);
  const cancel = (r: SizeResult) => median(r.cancelMs);
  const floor = (r: SizeResult) => median(r.floorMs);
  const rows: string[][] = [
    ['steady-state cycle (nothing changed)', ...per((r) => `${n0.format(steady(r))} ms`)],
    ['  orders per second', ...per((r) => n0.format((r.size / steady(r)) * 1000))],
    ['  ms per 10,000 orders', ...per((r) => n1.format((steady(r) / r.size) * 10_000))],
    ['cycle after 1 % cancelled (dispatch off)', ...per((r) => `${n0.format(cancel(r))} ms`)],
    ['  orders per second', ...per((r) => n0.format((r.size / cancel(r)) * 1000))],
    ['  ms per 10,000 orders', ...per((r) => n1.format((cancel(r) / r.size) * 10_000))],
    ['floor: raw fetch + saxes + one upsert', ...per((r) => `${n0.format(floor(r))} ms`)],
    [
      '  fetch / parse / write',
      ...per((r) => `${n0.format(median(r.floorFetchMs))} / ${n0.format(median(r.floorParseMs))} / ${n0.format(median(r.floorWriteMs))} ms`),
    ],
    ['  ms per 10,000 orders', ...per((r) => n1.format((floor(r) / r.size) * 10_000))],
    ['**steady-state / floor**', ...per((r) => `**${n2.format(steady(r) / floor(r))}×**`)],
    ['1 % cycle / floor', ...per((r) => `${n2.format(cancel(r) / floor(r))}×`)],
    ['baseline (first) cycle, writes every row', ...per((r) => `${n0.format(r.baselineMs)} ms`)],
    ['peak RSS of the worker process (cycles)', ...per((r) => `${n0.format(r.peakRssCycleKb / 1024)} MB`)],
    [
      'unchanged cycle: snapshot rows written',
      ...per((r) => {
        const worst = Math.max(...r.steadyProof.map((p) => p.snapshotRowWrites));
        const lastSeen = Math.max(...r.steadyProof.map((p) => p.lastSeenChanged));
        const total = Math.max(...r.steadyProof.map((p) => p.totalChanges));
        return `${worst} (last_seen_at changed: ${lastSeen}; total_changes Δ ${total})`;
      }),
    ],
    [
      '1 % cycle: orders cancelled → snapshot row writes, jobs',
      ...per((r) => {
        const p = r.cancelProof[0]!;
        return `${p.cancelled} → ${p.snapshotRowWrites} writes (${p.lastSeenChanged} rows), ${p.jobsCreated} jobs`;
      }),
    ],
    ['pages, bytes on the wire per listing', ...per((r) => `${r.pages}, ${n1.format(r.bytes / 1048576)} MB`)],
  ];
  return table(head, rows);
}

function phaseTable(results: SizeResult[]): string {
  const head = ['step of a steady-state cycle', ...results.map((r) => `${n0.format(r.size)}`), 'share at largest'];
  const largest = results[results.length - 1]!;
  const steadyL = median(largest.steadyMs);
  const m = (r: SizeResult, k: string) => median(r.phases[k] ?? []);
  const rest = (r: SizeResult) => median(r.steadyMs) - m(r, 'listing') - m(r, 'track') - m(r, 'loadSnapshots') - m(r, 'diff');
  const row = (label: string, f: (r: SizeResult) => number): string[] => [
    label,
    ...results.map((r) => `${n0.format(f(r))} ms`),
    `${n0.format((f(largest) / steadyL) * 100)} %`,
  ];
  return table(head, [
    row('listing: listOrdersInWindow (HTTP, decode, parse, checks)', (r) => m(r, 'listing')),
    row('  of it: decode + parseSpecterDocument (same bytes)', (r) => m(r, 'productParse')),
    row('  of it: raw HTTP fetch (floor, same pages)', (r) => median(r.floorFetchMs)),
    row('track: route + sha1 content hash', (r) => m(r, 'track')),
    row('hasSuccessfulRun + loadSnapshotIndex', (r) => m(r, 'loadSnapshots')),
    row('diffOrders', (r) => m(r, 'diff')),
    row('rest: lease, commit (no rows), awaitingPerson', rest),
    row('whole cycle (median)', (r) => median(r.steadyMs)),
    row('floor parse (saxes, minimal handlers)', (r) => median(r.floorParseMs)),
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
  const largest = summary.sizes[summary.sizes.length - 1];
  const smallest = summary.sizes[0];
  if (largest) {
    const at = largest.size === TARGET_SIZE ? '' : ` (measured at ${n0.format(largest.size)}, the target is for ${n0.format(TARGET_SIZE)})`;
    const ratio = median(largest.steadyMs) / median(largest.floorMs);
    targets.push({
      name: `steady-state cycle ≤ ${STEADY_OVER_FLOOR_MAX}× floor at ${n0.format(TARGET_SIZE)}`,
      pass: ratio <= STEADY_OVER_FLOOR_MAX,
      detail: `${n2.format(ratio)}×${at}`,
    });
    const writes = summary.sizes.flatMap((r) => r.steadyProof.map((p) => p.snapshotRowWrites + p.lastSeenChanged));
    targets.push({
      name: 'an unchanged cycle writes no snapshot rows',
      pass: writes.every((w) => w === 0),
      detail: `${writes.length} unchanged cycles, ${writes.reduce((a, b) => a + b, 0)} snapshot row writes in all`,
    });
    const rss = largest.peakRssCycleKb / 1024;
    targets.push({ name: `peak RSS ≤ ${PEAK_RSS_MAX_MB} MB at ${n0.format(TARGET_SIZE)}`, pass: rss <= PEAK_RSS_MAX_MB, detail: `${n0.format(rss)} MB${at}` });
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
  if (smallest && largest && largest.size > smallest.size) {
    const sizeRatio = largest.size / smallest.size;
    const growth = median(largest.steadyMs) / median(smallest.steadyMs);
    const cancelGrowth = median(largest.cancelMs) / median(smallest.cancelMs);
    const worst = Math.max(growth, cancelGrowth);
    targets.push({
      name: `cost linear from ${n0.format(smallest.size)} to ${n0.format(largest.size)} (≤ ${n1.format(sizeRatio * LINEAR_TOLERANCE)}×)`,
      pass: worst <= sizeRatio * LINEAR_TOLERANCE,
      detail: `steady ${n1.format(growth)}×, 1 % cycle ${n1.format(cancelGrowth)}×, floor ${n1.format(median(largest.floorMs) / median(smallest.floorMs))}× for ${n0.format(sizeRatio)}× the orders`,
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
  const sqliteMs = sqlite ? median(sqlite.steadyMs) : Number.NaN;
  const pgMs = median(result.steadyMs);
  return [
    `PostgreSQL (a throwaway local server, fsync off), ${n0.format(result.size)} orders, the same shop as SQLite's:`,
    '',
    '| engine | baseline | steady-state cycle (median) | ratio to SQLite | peak RSS |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| SQLite | ${sqlite ? `${n0.format(sqlite.baselineMs)} ms` : '–'} | ${n0.format(sqliteMs)} ms | 1.00 | ${sqlite ? `${n0.format(sqlite.peakRssCycleKb / 1024)} MB` : '–'} |`,
    `| PostgreSQL | ${n0.format(result.baselineMs)} ms | ${n0.format(pgMs)} ms | ${n2.format(pgMs / sqliteMs)} | ${n0.format(result.peakRssKb / 1024)} MB |`,
  ].join('\n');
}

async function main(): Promise<number> {
  const options = readOptions();
  const started = new Date();
  process.stderr.write(`bench: sizes ${options.sizes.join(', ')}, ${options.reps} reps; dispatch ${options.dispatchJobs} jobs × ${options.dispatchReps}\n`);
  const sizes: SizeResult[] = [];
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

  const summary: Summary = { sizes, dispatch };
  const targets = evaluate(summary);
  const sections = [
    `Machine: ${machine()}`,
    `Run: ${started.toISOString()}, sizes ${options.sizes.map((s) => n0.format(s)).join(' and ')}, every figure the median of ${options.reps} runs (dispatch: ${options.dispatchReps}).`,
    sizeTable(sizes),
    phaseTable(sizes),
    ...(dispatch ? [dispatchTable(dispatch)] : []),
    ...(postgres === null ? [] : [postgresTable(postgres, sizes)]),
    targetTable(targets),
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
