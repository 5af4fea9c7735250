/**
 * The sandbox world's lifecycle in a test file, and the Workspace: one test's own folder and
 * SQLite file, with the CLI bound to it and to the world. The world (simulated Specter and
 * providers on 127.0.0.1) lives in the test process; the CLI runs as a child pointed at it; the
 * test reads the SQLite file the child wrote.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import type Database from 'better-sqlite3';
import { startSandboxWorld, type SandboxWorld, type SandboxWorldOptions } from '../../src/sandbox/world.js';
import { childEnv, RUN_TIMEOUT_MS, startCli, type Child, type CliResult, type EnvLayer } from './cli.js';
import type { Engine } from '../../src/store/database.js';
import { dumpDb, integrity, jobRows, rawBytes, readDb, rows, type DbDump, type DbRef, type JobRow, type Row } from './db.js';
import { freshDatabaseSync } from './postgres.js';
import { makeOrder } from './orders.js';
import { clearFaults } from './sandbox.js';

interface WorkspaceOptions {
  /** Where the database lives, relative to the workspace folder (default data/sync.db). */
  dbFile?: string;
  /** Another build of the CLI (the fault suite's FAULTS_CLI); default: this checkout's. */
  cli?: string;
  /** The engine the CLI is pointed at: the SQLite file (default), or a fresh PostgreSQL database. */
  engine?: Engine;
  /** PostgreSQL: the new database is a copy of this one (its URL). */
  postgresTemplate?: string;
}

interface WorkspaceRunOptions {
  /** Set (string) or remove (undefined) variables after the workspace's own. */
  env?: EnvLayer;
  timeoutMs?: number;
  /** Polled every 10 ms while the child runs; when it returns true the child is SIGKILLed. */
  killWhen?: () => boolean;
}

/**
 * One test's own database in its own temp dir, and a CLI runner bound to it and to the world.
 * Every child it starts is its own: `cleanup` kills any still running (a failed assertion must not
 * leave a process holding the test run open), then removes the folder.
 */
export class Workspace {
  readonly dir: string;
  readonly dbPath: string;
  /** The database the children write: the SQLite file, or the PostgreSQL database (SYNC_DATABASE_URL). */
  readonly db: DbRef;
  readonly engine: Engine;
  private readonly children = new Set<Child>();

  constructor(
    readonly world: SandboxWorld,
    /** Settings every run in this workspace gets (a run's own `env` wins). */
    readonly baseEnv: EnvLayer = {},
    private readonly options: WorkspaceOptions = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-e2e-'));
    this.dbPath = path.join(this.dir, options.dbFile ?? path.join('data', 'sync.db'));
    this.engine = options.engine ?? 'sqlite';
    this.db = this.engine === 'postgres' ? { url: freshDatabaseSync(options.postgresTemplate) } : this.dbPath;
  }

  env(overrides: EnvLayer = {}): Record<string, string> {
    const database = typeof this.db === 'string' ? {} : { SYNC_DATABASE_URL: this.db.url };
    return childEnv(this.world.env, { SYNC_DB_PATH: this.dbPath, LOG_LEVEL: 'info', ...database }, this.baseEnv, overrides);
  }

  /** Starts the CLI and returns at once: for `run`, read its lines as they arrive. */
  start(args: readonly string[], options: WorkspaceRunOptions = {}): Child {
    const child = startCli(args, {
      env: this.env(options.env),
      cwd: this.dir,
      ...(options.killWhen ? { killWhen: options.killWhen } : {}),
      ...(this.options.cli ? { cli: this.options.cli } : {}),
    });
    this.children.add(child);
    void child.exited.then(
      () => this.children.delete(child),
      () => this.children.delete(child),
    );
    return child;
  }

  /** Runs the CLI to its end; never rejects on a non-zero exit. */
  run(args: readonly string[], options: WorkspaceRunOptions = {}): Promise<CliResult> {
    return this.start(args, options).finished(options.timeoutMs ?? RUN_TIMEOUT_MS);
  }

  /** Opens the database read-only for one look. */
  read<T>(fn: (db: Database.Database) => T): T {
    return readDb(this.sqliteOnly('read()'), fn);
  }

  /** One query, on either engine (`?` placeholders). */
  rows(sql: string, ...params: unknown[]): Row[] {
    return rows(this.db, sql, ...params);
  }

  jobs(orderNo?: string): JobRow[] {
    return jobRows(this.db, orderNo);
  }

  snapshot(orderNo: string): Row | undefined {
    return this.rows('SELECT * FROM order_snapshots WHERE order_no = ?', orderNo)[0];
  }

  dump(): DbDump {
    return dumpDb(this.db);
  }

  integrity(): string {
    return integrity(this.sqliteOnly('integrity()'));
  }

  /** The raw bytes of the database file and its WAL, if any (for secret searches). */
  rawBytes(): Buffer {
    return rawBytes(this.sqliteOnly('rawBytes()'));
  }

  private sqliteOnly(what: string): string {
    if (typeof this.db !== 'string') throw new Error(`Workspace.${what} reads the SQLite file; this workspace is on PostgreSQL`);
    return this.db;
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.children].map((child) => child.stop('SIGKILL').catch(() => undefined)));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A world with a handful of ordinary orders (every test adds the orders it acts on). */
async function startWorld(options: SandboxWorldOptions = {}): Promise<SandboxWorld> {
  const orders = options.orders ?? [makeOrder({ method: 'K' }), makeOrder({ method: 'QL' }), makeOrder({ method: 'CL' }), makeOrder({ method: 'SP' })];
  return startSandboxWorld({ ...options, orders });
}

/**
 * One sandbox world for a test file, its lifecycle registered with Jest: started before the
 * file's tests, faults cleared and workspaces removed after each test, closed at the end.
 * `onStart` hands the world to the file; `workspace(env)` makes a per-test workspace on it.
 */
export function useSandboxWorld(onStart: (world: SandboxWorld) => void, options: SandboxWorldOptions = {}): (env?: EnvLayer, engine?: Engine) => Workspace {
  let world: SandboxWorld | undefined;
  const workspaces: Workspace[] = [];
  beforeAll(async () => {
    world = await startWorld(options);
    onStart(world);
  });
  afterEach(async () => {
    if (world) clearFaults(world);
    for (const ws of workspaces.splice(0)) await ws.cleanup();
  });
  afterAll(async () => {
    await world?.close();
  });
  return (env = {}, engine: Engine = 'sqlite') => {
    if (!world) throw new Error('the sandbox world is not started yet (use workspaces inside tests)');
    const ws = new Workspace(world, env, { engine });
    workspaces.push(ws);
    return ws;
  };
}

/**
 * A world per test, for files whose tests each need their own (a seeded shop, processes that
 * outlive one run): made inside the test, closed after it with its workspaces and their children.
 */
export function useWorldPerTest(): (
  options?: SandboxWorldOptions,
) => Promise<{ world: SandboxWorld; workspace: (env?: EnvLayer, engine?: Engine) => Workspace }> {
  const worlds: SandboxWorld[] = [];
  const workspaces: Workspace[] = [];
  afterEach(async () => {
    // Children first: they talk to the world.
    for (const ws of workspaces.splice(0)) await ws.cleanup();
    for (const w of worlds.splice(0)) await w.close();
  });
  return async (options = {}) => {
    const world = await startSandboxWorld(options);
    worlds.push(world);
    return {
      world,
      workspace: (env = {}, engine: Engine = 'sqlite') => {
        const ws = new Workspace(world, env, { engine });
        workspaces.push(ws);
        return ws;
      },
    };
  };
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
  const shipped = JSON.parse(fs.readFileSync(new URL('../../config/default.json', import.meta.url), 'utf8')) as { routing: RoutingRuleJson[] } & Record<
    string,
    unknown
  >;
  nextConfigDir += 1;
  const dir = path.join(ws.dir, `config-${nextConfigDir}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'default.json'), `${JSON.stringify({ ...shipped, routing: edit(shipped.routing) }, null, 2)}\n`);
  return dir;
}
