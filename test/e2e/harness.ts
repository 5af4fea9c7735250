/**
 * End-to-end harness: the sandbox world lives in the test process, the REAL CLI (`node dist/cli.js`)
 * runs as a child process pointed at it, and the test reads the SQLite file the child wrote.
 *
 * The child is spawned asynchronously on purpose: the sandbox servers answer from this process's
 * event loop, so a spawnSync would deadlock them against the child. The child's environment is
 * built from nothing but PATH and HOME plus the world's variables: a developer's own SPECTER_*
 * settings must never leak into a test run (or a test into their account).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import Database from 'better-sqlite3';
import { startSandboxWorld, type SandboxWorld, type SandboxWorldOptions } from '../../src/sandbox/world.js';
import { formatStockholm } from '../../src/sandbox/specter/seed.js';
import type { SandboxOrder } from '../../src/sandbox/specter/server.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

const DAY_MS = 86_400_000;

/** One JSON log line (anything else on a stream is the human report). */
export interface LogLine {
  timestamp: string;
  level: string;
  event: string;
  message: string;
  alert?: boolean;
  [field: string]: unknown;
}

export interface CliResult {
  args: readonly string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** JSON log lines from stdout and stderr, in order per stream (stdout first). */
  lines: LogLine[];
  /** Lines of one event. */
  events(name: string): LogLine[];
  /** Non-JSON stdout text. */
  human: string;
  durationMs: number;
}

export interface RunOptions {
  /** Set (string) or remove (undefined) variables after the defaults. */
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

function parseLines(text: string): { lines: LogLine[]; human: string[] } {
  const lines: LogLine[] = [];
  const human: string[] = [];
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (trimmed.startsWith('{') && trimmed.endsWith('}')) {
      try {
        const value = JSON.parse(trimmed) as unknown;
        if (typeof value === 'object' && value !== null && typeof (value as LogLine).event === 'string') {
          lines.push(value as LogLine);
          continue;
        }
      } catch {
        // not a log line
      }
    }
    human.push(raw);
  }
  return { lines, human };
}

/** Runs `node dist/cli.js ...args` with exactly `env`; never rejects on a non-zero exit. */
export function spawnCli(args: readonly string[], env: Record<string, string>, cwd: string, timeoutMs = 60_000): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`specter-sync ${args.join(' ')} did not end within ${timeoutMs} ms\nstdout:\n${Buffer.concat(out).toString()}\nstderr:\n${Buffer.concat(err).toString()}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const o = parseLines(stdout);
      const e = parseLines(stderr);
      const lines = [...o.lines, ...e.lines];
      resolve({
        args,
        code,
        signal,
        stdout,
        stderr,
        lines,
        events: (name) => lines.filter((l) => l.event === name),
        human: o.human.join('\n'),
        durationMs: Date.now() - started,
      });
    });
  });
}

/** A rendering of a result for failure messages. */
export function show(result: CliResult): string {
  return `specter-sync ${result.args.join(' ')} → code ${result.code} signal ${result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;
}

export type Row = Record<string, unknown>;

export interface DbDump {
  order_snapshots: Row[];
  cancellation_jobs: Row[];
  sync_runs: Row[];
}

/**
 * One test's own database in its own temp dir, and a CLI runner bound to it and to the world.
 */
export class Workspace {
  readonly dir: string;
  readonly dbPath: string;

  constructor(
    readonly world: SandboxWorld,
    readonly baseEnv: Record<string, string | undefined> = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-e2e-'));
    this.dbPath = path.join(this.dir, 'data', 'sync.db');
  }

  env(overrides: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string | undefined> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? this.dir,
      ...this.world.env,
      SYNC_DB_PATH: this.dbPath,
      LOG_LEVEL: 'info',
      ...this.baseEnv,
      ...overrides,
    };
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    return clean;
  }

  run(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
    return spawnCli(args, this.env(options.env), this.dir, options.timeoutMs);
  }

  /** Opens the database read-only for one look (the child has exited; nothing else writes). */
  read<T>(fn: (db: Database.Database) => T): T {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  }

  rows(sql: string, ...params: unknown[]): Row[] {
    return this.read((db) => db.prepare(sql).all(...params) as Row[]);
  }

  jobs(orderNo?: string): Row[] {
    return orderNo === undefined
      ? this.rows('SELECT * FROM cancellation_jobs ORDER BY id')
      : this.rows('SELECT * FROM cancellation_jobs WHERE order_no = ? ORDER BY id', orderNo);
  }

  snapshot(orderNo: string): Row | undefined {
    return this.rows('SELECT * FROM order_snapshots WHERE order_no = ?', orderNo)[0];
  }

  dump(): DbDump {
    return this.read((db) => ({
      order_snapshots: db.prepare('SELECT * FROM order_snapshots ORDER BY order_no').all() as Row[],
      cancellation_jobs: db.prepare('SELECT * FROM cancellation_jobs ORDER BY id').all() as Row[],
      sync_runs: db.prepare('SELECT * FROM sync_runs ORDER BY id').all() as Row[],
    }));
  }

  /** The raw bytes of the database file and its WAL, if any (for secret searches). */
  rawBytes(): Buffer {
    const parts: Buffer[] = [];
    for (const suffix of ['', '-wal', '-journal']) {
      const file = this.dbPath + suffix;
      if (fs.existsSync(file)) parts.push(fs.readFileSync(file));
    }
    return Buffer.concat(parts);
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Orders

let nextOrderNo = 700_000 + Math.floor(Math.random() * 1000) * 100;

/** A fresh orderNo, unique in this test process. */
export function freshOrderNo(): string {
  nextOrderNo += 1;
  return String(nextOrderNo);
}

let nextQliroId = 5_000_000 + Math.floor(Math.random() * 100_000) * 10;

/** K → klarna, QL → qliro, CL → walley, SP → handled by Specter, SW → unrouted (default routing). */
export type Method = 'K' | 'QL' | 'CL' | 'SP' | 'SW';

export interface OrderSpec {
  orderNo?: string;
  method?: Method;
  /** Default: a fresh reference fitting the method (QLIRO-n for QL, a UUID otherwise). */
  reference?: string;
  statusId?: string;
  deliveryStatus?: string | null;
  daysAgo?: number;
  amount?: string;
  currency?: string;
  customerName?: string | null;
}

/** The providerRef the worker derives from a reference (the QLIRO- prefix stripped). */
export function providerRefOf(order: SandboxOrder): string {
  const ref = order.payment?.payTypeReference ?? '';
  return ref.startsWith('QLIRO-') ? ref.slice('QLIRO-'.length) : ref;
}

/** A Specter order for the sandbox, in the window, open, paid with `method` (default Klarna). */
export function makeOrder(spec: OrderSpec = {}): SandboxOrder {
  const method = spec.method ?? 'K';
  const orderNo = spec.orderNo ?? freshOrderNo();
  let reference = spec.reference;
  if (reference === undefined) {
    if (method === 'QL') {
      nextQliroId += 1;
      reference = `QLIRO-${nextQliroId}`;
    } else if (method === 'SP') {
      reference = String(10_000_000 + Number(orderNo));
    } else {
      reference = randomUUID();
    }
  }
  const placed = Date.now() - (spec.daysAgo ?? 2) * DAY_MS;
  return {
    orderNo,
    externalOrderNo: `WEB-${orderNo}`,
    orderDate: formatStockholm(placed),
    lastChanged: formatStockholm(placed + 60_000),
    statusId: spec.statusId ?? '2',
    deliveryStatus: spec.deliveryStatus === undefined ? 'N' : spec.deliveryStatus,
    customerName: spec.customerName === undefined ? 'Karl Ström' : spec.customerName,
    payment: {
      payTypeIdentifier: method,
      payTypeReference: reference,
      payTypeIdentifierPaySystemUser: method === 'QL' ? '12345' : method === 'K' ? 'PK04711_8f2c1d' : '7001',
      currency: spec.currency ?? 'SEK',
      totalIncVat: spec.amount ?? '1249.00',
    },
  };
}

/** A world with a handful of ordinary orders (every test adds the orders it acts on). */
export async function startWorld(options: SandboxWorldOptions = {}): Promise<SandboxWorld> {
  const orders = options.orders ?? [makeOrder({ method: 'K' }), makeOrder({ method: 'QL' }), makeOrder({ method: 'CL' }), makeOrder({ method: 'SP' })];
  return startSandboxWorld({ ...options, orders });
}

/**
 * One sandbox world for a test file, its lifecycle registered with Jest: started before the
 * file's tests, faults cleared and workspaces removed after each test, closed at the end.
 * `onStart` hands the world to the file; `workspace(env)` makes a per-test workspace on it.
 */
export function useSandboxWorld(
  onStart: (world: SandboxWorld) => void,
  options: SandboxWorldOptions = {},
): (env?: Record<string, string | undefined>) => Workspace {
  let world: SandboxWorld | undefined;
  const workspaces: Workspace[] = [];
  beforeAll(async () => {
    world = await startWorld(options);
    onStart(world);
  });
  afterEach(() => {
    if (world) clearFaults(world);
    for (const ws of workspaces.splice(0)) ws.cleanup();
  });
  afterAll(async () => {
    await world?.close();
  });
  return (env = {}) => {
    if (!world) throw new Error('the sandbox world is not started yet (use workspaces inside tests)');
    const ws = new Workspace(world, env);
    workspaces.push(ws);
    return ws;
  };
}

/** Polls `check` until it is true (no fixed sleeps). */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Requests one provider sandbox received for a path containing `fragment`. */
export function requestsTo(server: { requests: Array<{ method: string; path: string }> }, method: string, fragment: string) {
  return server.requests.filter((r) => r.method === method && r.path.includes(fragment));
}

/** How many Specter getOrder requests asked for `orderNo`. */
export function getOrderRequests(world: SandboxWorld, orderNo: string): number {
  return world.specter.requestsFor(world.specter.actions.getOrder).filter((r) => r.query.get('orderNo') === orderNo).length;
}

/** Forget every scripted fault in the world (tests share one world per file). */
export function clearFaults(world: SandboxWorld): void {
  world.specter.clearScripts();
  world.specter.setEncoding('utf-8');
  world.specter.setNotFoundAnswer('code20');
  for (const p of [world.qliro, world.klarna, world.walley, world.svea]) p.faults.clear();
}

/** Asserts the exit code, showing the whole output when it is not the expected one. */
export function expectExit(result: CliResult, code: number): void {
  if (result.code !== code) throw new Error(`expected exit code ${code}\n${show(result)}`);
}

// ---------------------------------------------------------------------------------------------
// Routing variants (a SYNC_CONFIG_DIR of the test's own)

/** One routing rule as default.json spells it; `provider` is a string so a test can name any target. */
export interface RoutingRuleJson {
  payTypeIdentifiers?: string[];
  referencePrefix?: string;
  provider: string;
  providerIdPattern?: string;
}

let nextConfigDir = 0;

/**
 * A config folder inside the workspace: the package's config/default.json with its `routing`
 * replaced by `edit(routing)`. Pass the returned path as SYNC_CONFIG_DIR.
 */
export function configDirWithRouting(ws: Workspace, edit: (routing: RoutingRuleJson[]) => RoutingRuleJson[]): string {
  const shipped = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'config', 'default.json'), 'utf8')) as { routing: RoutingRuleJson[] } & Record<string, unknown>;
  nextConfigDir += 1;
  const dir = path.join(ws.dir, `config-${nextConfigDir}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'default.json'), `${JSON.stringify({ ...shipped, routing: edit(shipped.routing) }, null, 2)}\n`);
  return dir;
}

/**
 * The idempotency key of every cancel request the Klarna sandbox received for `providerRef`, in
 * order, the ones a scripted fault answered included (the sandbox's own cancelRequests() counts
 * only those that reached it). Keys, not whole requests: a failure message stays readable.
 */
export function klarnaCancelKeys(world: SandboxWorld, providerRef: string): string[] {
  const cancelPath = `/ordermanagement/v1/orders/${encodeURIComponent(providerRef)}/cancel`;
  return world.klarna.requests
    .filter((r) => r.method === 'POST' && r.path === cancelPath)
    .map((r) => String(r.headers['klarna-idempotency-key'] ?? '(no key)'));
}

/**
 * Runs `assertions` about what the CLI did; when one fails, the failure carries the whole output
 * of `results` too (the log lines say why the worker did what it did).
 */
export function about(results: CliResult | readonly CliResult[], assertions: () => void): void {
  try {
    assertions();
  } catch (error) {
    const shown = (Array.isArray(results) ? results : [results]).map((r: CliResult) => show(r)).join('\n\n');
    const failure = error instanceof Error ? error : new Error(String(error));
    const wrapped = new Error(`${failure.message}\n\n${shown}`);
    wrapped.stack = `${wrapped.message}\n${(failure.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).join('\n')}`;
    throw wrapped;
  }
}
