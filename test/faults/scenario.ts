/**
 * The fault-injection harness: a sandbox world (simulated Specter and providers on 127.0.0.1) and
 * a real `node dist/cli.js once` child process per run, each scenario on its own SQLite file.
 *
 * Why child processes: a crash must be a real SIGKILL of a real process (no finally blocks, no
 * flushed buffers, a WAL left behind), and the restart a fresh process that finds the database
 * exactly as the dead one left it. Why async spawn: the sandboxes live in this (the test) process,
 * so it must keep serving requests while the child runs.
 *
 * A scenario is a Workspace of the shared harness (test/support/): its child processes, their
 * environment (built from scratch: nothing SPECTER_* leaks in from whoever runs the tests) and the
 * database reads are the ones every end-to-end suite uses.
 *
 * The invariants every scenario ends with (assertInvariants):
 *   - no cancellation lost: every cancelled order has exactly one job, it is done, and its
 *     provider shows the payment cancelled, applied exactly once;
 *   - no second idempotency key: every cancel request the provider recorded for the order (also
 *     the ones a fault swallowed) carries the job's key;
 *   - never a live order cancelled: no job and no provider cancel request for any other order;
 *   - no false vanish: only the deleted orders have vanished_at;
 *   - an intact database: every job's order has its snapshot; on SQLite PRAGMA integrity_check is ok.
 *
 * Every scenario runs on the engine it is given: the SQLite file, or a PostgreSQL database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from '@jest/globals';
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import { startSandboxWorld, type SandboxWorld } from '../../src/sandbox/world.js';
import { CLI, show, waitFor, type CliResult } from '../support/cli.js';
import type { Engine } from '../../src/store/database.js';
import { dumpDb, integrity, jobRows, rows, type DbRef, type JobRow } from '../support/db.js';
import { makeOrder, type Method } from '../support/orders.js';
import { cancelRequestsAt, cancelsApplied, idempotencyKeyOf, providerState, type Provider } from '../support/sandbox.js';
import { Workspace } from '../support/world.js';

/** FAULTS_CLI (read only here) points the suite at another build, e.g. a deliberately broken copy. */
const FAULTS_CLI = process.env.FAULTS_CLI ?? CLI;

/**
 * One instant for every fixture in this process: the orders (and so their snapshots) are then the
 * same in every scenario, and one baseline database can seed them all (see startAfterBaseline).
 */
const FIXTURE_NOW = Date.now();

/** The baseline database of this process, per engine (a clean, closed SQLite file; a PostgreSQL database), made once. */
const baselineDb: Partial<Record<Engine, Promise<DbRef>>> = {};

/** An order of the fixture, with the provider its payment routes to (null: none of ours). */
interface FixtureOrder {
  orderNo: string;
  provider: Provider | null;
  /** The provider's id of the payment (routing strips Qliro's "QLIRO-" prefix). */
  providerRef: string | null;
}

/**
 * A small, fixed shop: three orders per provider, two Svea orders Specter handles itself, one old
 * order without payment. 14 orders, listed 5 per page: three pages, so a kill can land mid-listing.
 */
function fixtureOrders(now = Date.now()): { orders: SandboxOrder[]; fixture: FixtureOrder[] } {
  const orders: SandboxOrder[] = [];
  const fixture: FixtureOrder[] = [];
  let n = 0;
  const add = (provider: Provider | null, method: Method | null, reference: string | null, providerRef: string | null): void => {
    n += 1;
    const orderNo = String(300000 + n);
    orders.push(
      makeOrder({
        orderNo,
        externalOrderNo: `WEB-${n}`,
        method,
        ...(reference === null ? {} : { reference }),
        // Spread over the last few days, well inside the 60-day window, rising with orderNo.
        placedAt: now - (20 - n) * 3_600_000 * 5,
        lastChangedAt: now - 60_000,
        statusId: '1',
        deliveryStatus: method === null ? null : 'N',
        customerName: 'Åsa Öberg',
        paySystemUser: '7001',
        amount: `${1000 + n}.00`,
      }),
    );
    fixture.push({ orderNo, provider, providerRef });
  };
  for (let i = 1; i <= 3; i += 1) {
    add('qliro', 'QL', `QLIRO-${3_100_000 + i}`, String(3_100_000 + i));
    add('klarna', 'K', `k-${i}000000-0000-4000-8000-00000000000${i}`, `k-${i}000000-0000-4000-8000-00000000000${i}`);
    add('walley', 'WA', `w-${i}000000-0000-4000-8000-00000000000${i}`, `w-${i}000000-0000-4000-8000-00000000000${i}`);
    add('svea', 'SP', String(81_000_000 + i), String(81_000_000 + i));
  }
  add(null, 'SCH', '91000001', null);
  add(null, null, null, null);
  return { orders, fixture };
}

/**
 * The package's routing, with Svea's "SP" method sent to Svea (by default Specter cancels Svea
 * payments itself): so every provider client is exercised. SCH stays handled by Specter.
 */
const ROUTING_CONFIG = {
  specter: {
    actions: { listOrders: 'getOrders', getOrder: 'getOrder' },
    statusMap: { cancelledStatusIds: ['5'], deliveredDeliveryStatuses: ['D'] },
  },
  routing: [
    { referencePrefix: 'QLIRO-', payTypeIdentifiers: ['QL'], provider: 'qliro', providerIdPattern: '^[0-9]+$' },
    { payTypeIdentifiers: ['K', 'KG'], provider: 'klarna' },
    { payTypeIdentifiers: ['CL', 'WA'], provider: 'walley' },
    { payTypeIdentifiers: ['SP'], provider: 'svea' },
    { payTypeIdentifiers: ['SS', 'SCH'], provider: 'handledBySpecter' },
  ],
};

interface RunResult extends CliResult {
  /** The `once --json` report, when the run got far enough to print it. */
  report: { outcome?: string } | null;
}

interface RunOptions {
  /** Extra environment for this run only (e.g. SPECTER_SYNC_CRASH_AT). */
  env?: Record<string, string>;
  /** Polled every 10 ms while the child runs; when it returns true the child is SIGKILLed. */
  killWhen?: () => boolean;
}

export class Scenario {
  readonly dir: string;
  readonly dbPath: string;
  readonly configDir: string;
  /** Settings every run of this scenario gets (a run's own `env` wins). */
  readonly baseEnv: Record<string, string>;
  readonly cancelled = new Set<string>();
  readonly deleted = new Set<string>();
  readonly runs: RunResult[] = [];
  readonly ws: Workspace;

  private constructor(
    readonly world: SandboxWorld,
    readonly fixture: FixtureOrder[],
    env: Record<string, string>,
    readonly engine: Engine,
    postgresTemplate?: string,
  ) {
    this.ws = new Workspace(world, {}, { dbFile: path.join('db', 'sync.db'), cli: FAULTS_CLI, engine, ...(postgresTemplate ? { postgresTemplate } : {}) });
    this.dir = this.ws.dir;
    this.dbPath = this.ws.dbPath;
    this.configDir = path.join(this.dir, 'config');
    fs.mkdirSync(this.configDir);
    fs.writeFileSync(path.join(this.configDir, 'default.json'), JSON.stringify(ROUTING_CONFIG, null, 2));
    this.baseEnv = { SYNC_CONFIG_DIR: this.configDir, SPECTER_PAGE_SIZE: '5', ...env };
  }

  static async start(env: Record<string, string> = {}, engine: Engine = 'sqlite', postgresTemplate?: string): Promise<Scenario> {
    if (!fs.existsSync(FAULTS_CLI)) throw new Error(`${FAULTS_CLI} is missing: run \`npm run build\` before the fault-injection suite`);
    const { orders, fixture } = fixtureOrders(FIXTURE_NOW);
    const world = await startSandboxWorld({ orders });
    return new Scenario(world, fixture, env, engine, postgresTemplate);
  }

  /**
   * A scenario whose database already holds the baseline (a copy of one real baseline run made
   * by this process: on a loaded machine every child process costs seconds). The first call makes
   * it with a real `once` and checks it was a baseline that sent nothing.
   */
  static async startAfterBaseline(env: Record<string, string> = {}, engine: Engine = 'sqlite'): Promise<Scenario> {
    baselineDb[engine] ??= (async () => {
      const first = await Scenario.start({}, engine);
      try {
        const run = await first.runOk();
        expect(run.report?.outcome).toBe('baseline');
        expect(first.jobs()).toHaveLength(0);
        // PostgreSQL: the baseline's database is kept (the run's server goes at the end), and
        // each scenario's is a copy of it.
        if (typeof first.ws.db !== 'string') return first.ws.db;
        const keepDir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-baseline-'));
        process.once('exit', () => fs.rmSync(keepDir, { recursive: true, force: true }));
        const keep = path.join(keepDir, 'sync.db');
        fs.copyFileSync(first.dbPath, keep);
        return keep;
      } finally {
        await first.close();
      }
    })();
    const source = await baselineDb[engine];
    if (typeof source !== 'string') return Scenario.start(env, engine, source.url);
    const s = await Scenario.start(env, engine);
    fs.mkdirSync(path.dirname(s.dbPath), { recursive: true, mode: 0o700 });
    fs.copyFileSync(source, s.dbPath);
    fs.chmodSync(s.dbPath, 0o600);
    return s;
  }

  async close(): Promise<void> {
    // The children first (a run still going talks to the world), then the world.
    await this.ws.cleanup();
    await this.world.close();
  }

  order(provider: Provider, index: number): FixtureOrder {
    const found = this.fixture.filter((o) => o.provider === provider)[index];
    if (!found) throw new Error(`fixture has no ${provider} order #${index}`);
    return found;
  }

  /** Cancels the order in the sandbox Specter (statusId 5); the next good run must forward it. */
  cancel(...orders: FixtureOrder[]): void {
    for (const o of orders) {
      this.world.specter.cancel(o.orderNo);
      this.cancelled.add(o.orderNo);
    }
  }

  /** The trash icon: gone from Specter without a trace; the next good run must flag it, only it. */
  delete(...orders: FixtureOrder[]): void {
    for (const o of orders) {
      expect(this.world.specter.delete(o.orderNo)).toBe(true);
      this.deleted.add(o.orderNo);
    }
  }

  /** The environment of a run (`extra` wins over the scenario's settings). */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return this.ws.env({ ...this.baseEnv, ...extra });
  }

  /** One `specter-sync once --json` in a child process; resolves when it has exited. */
  async run(options: RunOptions = {}): Promise<RunResult> {
    const result = await this.ws.run(['once', '--json'], {
      env: { ...this.baseEnv, ...options.env },
      ...(options.killWhen ? { killWhen: options.killWhen } : {}),
    });
    let report: RunResult['report'];
    try {
      report = result.stdout.trim() ? (JSON.parse(result.stdout) as RunResult['report']) : null;
    } catch {
      // A killed run may have printed half a report, or none: there is no report then.
      report = null;
    }
    const run = { ...result, report };
    this.runs.push(run);
    return run;
  }

  /** A run that must complete its cycle: exit 0, or 3 while a vanished order awaits a person. */
  async runOk(options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(options);
    const allowed = this.deleted.size > 0 ? [0, 3] : [0];
    if (result.signal !== null || !allowed.includes(result.code ?? -1)) {
      throw new Error(`expected a completed run (exit ${allowed.join(' or ')})\n${show(result, 6000)}`);
    }
    return result;
  }

  /** A run that must fail cleanly: exit 1, no crash, a `failed` report. */
  async runFailed(options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(options);
    if (result.signal !== null || result.code !== 1) {
      throw new Error(`expected a failed run (exit 1)\n${show(result, 6000)}`);
    }
    expect(result.report?.outcome).toBe('failed');
    return result;
  }

  jobs(): JobRow[] {
    return jobRows(this.ws.db);
  }

  vanishedOrderNos(): string[] {
    return rows(this.ws.db, 'SELECT order_no FROM order_snapshots WHERE vanished_at IS NOT NULL ORDER BY order_no').map((r) => String(r['order_no']));
  }

  /**
   * Everything a cycle writes (snapshots, jobs, runs), as one comparable value. The lease row is
   * left out: taking and releasing it is not a change of state.
   */
  dump(): string {
    return JSON.stringify(dumpDb(this.ws.db));
  }

  /**
   * 'ok' for an intact database: every job's order has its snapshot (on either engine), and on
   * SQLite PRAGMA integrity_check says so of the file (PostgreSQL recovers its own from its WAL).
   */
  integrity(): string {
    const orphans = rows(this.ws.db, 'SELECT j.id FROM cancellation_jobs j LEFT JOIN order_snapshots s ON s.order_no = j.order_no WHERE s.order_no IS NULL');
    if (orphans.length > 0) return `${orphans.length} job(s) without their order's snapshot`;
    return typeof this.ws.db === 'string' ? integrity(this.ws.db) : 'ok';
  }

  /** Every cancel request this provider's sandbox received for `ref`, faulted ones included. */
  cancelRequestsAt(provider: Provider, ref: string): RecordedRequest[] {
    return cancelRequestsAt(this.world, provider, ref);
  }

  /** The idempotency key a recorded cancel request carries (Svea has none: null). */
  keyOf(provider: Provider, request: RecordedRequest): string | null | undefined {
    return idempotencyKeyOf(provider, request);
  }

  /** Cancels the provider sandbox actually carried out for `ref` (must never exceed 1). */
  cancelsApplied(provider: Provider, ref: string): number {
    return cancelsApplied(this.world, provider, ref);
  }

  providerState(provider: Provider, ref: string): string {
    return providerState(this.world, provider, ref);
  }

  /**
   * Runs `once` until every cancellation job is final (done or failed), at most `maxRuns` times.
   * Qliro and Walley confirm on a later cycle, and a job whose retry was deferred is due a little
   * later: this keeps the suite free of fixed sleeps while bounding the patience.
   */
  async settle(maxRuns = 4): Promise<void> {
    for (let i = 0; i < maxRuns; i += 1) {
      const open = this.jobs().filter((j) => j.state !== 'done' && j.state !== 'failed');
      const missing = [...this.cancelled].filter((no) => this.routed(no) && !this.jobs().some((j) => j.order_no === no));
      if (open.length === 0 && missing.length === 0) return;
      await this.runOk();
      // A deferred retry is due after at most DISPATCH_RETRY_MAX_MS: wait for it by polling the row.
      await waitFor(() => this.jobs().every((j) => j.state !== 'pending' || Date.parse(j.next_attempt_at) <= Date.now()), 10_000);
    }
  }

  routed(orderNo: string): boolean {
    return this.fixture.some((o) => o.orderNo === orderNo && o.provider !== null);
  }

  /** The invariants of the module header, asserted on the database and on every sandbox. */
  assertInvariants(): void {
    const jobs = this.jobs();
    const byOrder = new Map<string, JobRow[]>();
    for (const job of jobs) byOrder.set(job.order_no, [...(byOrder.get(job.order_no) ?? []), job]);

    for (const o of this.fixture) {
      if (o.provider === null || o.providerRef === null) continue;
      const own = byOrder.get(o.orderNo) ?? [];
      const requests = this.cancelRequestsAt(o.provider, o.providerRef);
      if (this.cancelled.has(o.orderNo)) {
        // No cancellation lost, none doubled.
        expect({ orderNo: o.orderNo, jobs: own.length }).toEqual({ orderNo: o.orderNo, jobs: 1 });
        const job = own[0]!;
        // (The error code rides along on both sides only so that a failure shows it.)
        expect({ orderNo: o.orderNo, state: job.state, error: job.last_error_code }).toEqual({ orderNo: o.orderNo, state: 'done', error: job.last_error_code });
        expect({ orderNo: o.orderNo, provider: o.provider, state: this.providerState(o.provider, o.providerRef) }).toEqual({
          orderNo: o.orderNo,
          provider: o.provider,
          state: 'cancelled',
        });
        expect({ orderNo: o.orderNo, applied: this.cancelsApplied(o.provider, o.providerRef) }).toEqual({ orderNo: o.orderNo, applied: 1 });
        // One idempotency key, the job's, on every request that reached the provider.
        expect(requests.length).toBeGreaterThan(0);
        if (o.provider !== 'svea') {
          const keys = new Set(requests.map((r) => this.keyOf(o.provider!, r)));
          expect({ orderNo: o.orderNo, keys: [...keys] }).toEqual({ orderNo: o.orderNo, keys: [job.idempotency_key] });
        }
      } else {
        // Never a live (or merely deleted, flagged-for-a-person) order cancelled.
        expect({ orderNo: o.orderNo, jobs: own.length, requests: requests.length }).toEqual({ orderNo: o.orderNo, jobs: 0, requests: 0 });
        expect({ orderNo: o.orderNo, applied: this.cancelsApplied(o.provider, o.providerRef) }).toEqual({ orderNo: o.orderNo, applied: 0 });
      }
    }
    // No job for anything outside the fixture's routed, cancelled orders.
    expect([...byOrder.keys()].sort()).toEqual([...this.cancelled].filter((no) => this.routed(no)).sort());
    // No false vanish.
    expect(this.vanishedOrderNos()).toEqual([...this.deleted].sort());
    expect(this.integrity()).toBe('ok');
  }
}
