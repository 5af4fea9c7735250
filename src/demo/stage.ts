/**
 * The demo's stage: the sandbox world, a configuration made by the real loader, a fresh SQLite
 * file, and the real Specter client and provider clients over HTTP on 127.0.0.1 — everything
 * `once` builds, so that what the demo shows is what the worker does.
 *
 * The environment is built here from nothing but the sandbox's own values: a user's SPECTER_*,
 * SYNC_*, provider or LOG_* variables must not point the demo at a real account or change its
 * story, so process.env is never read.
 */
import { createWriteStream, mkdtempSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import type { AppConfig } from '../config/types.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { startSandboxWorld, type SandboxWorld } from '../sandbox/world.js';
import { openStore, type Store } from '../store/database.js';
import { runCycle, type CycleReport } from '../worker/cycle.js';
import { buildCycleDeps } from '../worker/deps.js';

/** A cycle that completed (baseline or not): the only kind the story can go on from. */
export type CompletedReport = Extract<CycleReport, { outcome: 'succeeded' | 'baseline' }>;

/** The story went differently from what it tells: the demo says so and exits 1, never pretends. */
export class DemoStoryError extends Error {
  override readonly name = 'DemoStoryError';
}

export interface DemoStage {
  world: SandboxWorld;
  config: AppConfig;
  store: Store;
  /** The worker's logger (JSON lines to the log file). */
  logger: Logger;
  /** The folder holding the database and the worker's log; left in place for a look afterwards. */
  dir: string;
  dbPath: string;
  logPath: string;
  /** Runs one real cycle; throws DemoStoryError if it did not complete. */
  cycle(): Promise<CompletedReport>;
  /** How many cycles have run. */
  readonly runs: number;
  close(): Promise<void>;
}

/** The demo's environment: the sandbox's, a database in `dir`, and defaults spelled out. */
function demoEnv(world: Pick<SandboxWorld, 'env'>, dbPath: string): NodeJS.ProcessEnv {
  return {
    ...world.env,
    SYNC_DB_PATH: dbPath,
    SYNC_LOOKBACK_DAYS: '60',
    // Spelled out although they are the defaults: the story depends on them.
    VANISHED_ACTION: 'flag',
    VANISH_GUARD_MAX_PER_RUN: '10',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    HTTP_PORT: '0',
  };
}

/**
 * Starts the world with an empty Specter: the orders are seeded once the configuration is loaded,
 * since choosing them uses its routing rules (src/demo/cast.ts).
 */
export async function startStage(): Promise<DemoStage> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'specter-sync-demo-'));
  const dbPath = path.join(dir, 'specter-sync.db');
  const logPath = path.join(dir, 'worker.log');
  const world = await startSandboxWorld({ orders: [] });

  let store: Store | null = null;
  let logFile: WriteStream | null = null;
  let logger: Logger | null = null;
  const close = async (): Promise<void> => {
    // Each part closes even if another fails: a stuck server must not leave the database open.
    const results = await Promise.allSettled([
      world.close(),
      (async () => {
        if (store) await store.close();
      })(),
      (async () => {
        if (logger) await logger.close();
        if (logFile) {
          const file = logFile;
          await new Promise<void>((resolve) => file.end(resolve));
        }
      })(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    // The real configuration path (defaults, the package's config/default.json, then this env).
    const config = loadConfig({ env: demoEnv(world, dbPath) });
    store = await openStore(config.sync.dbPath);
    // The worker's JSON lines are the alerting interface, not the story: they go to a file.
    logFile = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
    logger = createLogger({ level: config.log.level, format: 'json', secrets: config.secrets, stream: logFile });
    const deps = buildCycleDeps(config, store, logger);

    let runs = 0;
    const cycle = async (): Promise<CompletedReport> => {
      runs += 1;
      const report = await runCycle(deps);
      if (report.outcome === 'failed' || report.outcome === 'skipped') {
        throw new DemoStoryError(`run ${runs} did not complete (${report.outcome}: ${report.reason}); see ${logPath}`);
      }
      return report;
    };

    return {
      world,
      config,
      store,
      logger,
      dir,
      dbPath,
      logPath,
      cycle,
      get runs() {
        return runs;
      },
      close,
    };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}
