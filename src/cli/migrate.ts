/**
 * `specter-sync migrate`: apply pending database migrations (also done on every start).
 * `specter-sync migrate --from-sqlite PATH`: move a deployment's SQLite history into the empty
 * PostgreSQL database SYNC_DATABASE_URL names (store/copy.ts), so it switches engines without a
 * new baseline and without re-keying a job.
 */
import fs from 'node:fs';
import { loadConfig } from '../config/load.js';
import { CopyRefused, copySqliteToPostgres } from '../store/copy.js';
import { openStore, storeTarget } from '../store/database.js';
import { loggerFor } from './context.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';

export async function migrateCommand(options: { fromSqlite?: string } = {}): Promise<ExitCode> {
  const config = loadConfig({ env: process.env });
  const logger = loggerFor(config, {});
  try {
    if (options.fromSqlite !== undefined) return await copyFromSqlite(config, options.fromSqlite, logger);
    const store = await openStore(storeTarget(config.sync), { migrate: false });
    try {
      const { applied } = await store.migrate();
      logger.event('db.migrated', applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'the database is up to date', {
        applied,
        engine: store.engine,
        ...(store.engine === 'sqlite' ? { dbPath: store.location } : {}),
      });
    } finally {
      await store.close();
    }
    return EXIT.ok;
  } finally {
    await logger.close();
  }
}

async function copyFromSqlite(config: ReturnType<typeof loadConfig>, sqlitePath: string, logger: ReturnType<typeof loggerFor>): Promise<ExitCode> {
  if (!config.sync.databaseUrl)
    throw new UsageError('--from-sqlite copies into PostgreSQL: set SYNC_DATABASE_URL (or SYNC_DATABASE_URL_FILE) to the empty target database');
  if (!fs.existsSync(sqlitePath)) throw new UsageError(`--from-sqlite: there is no SQLite database at ${sqlitePath}`);
  // The source is brought to the current schema first, as a worker starting on it would.
  const source = await openStore({ engine: 'sqlite', path: sqlitePath });
  try {
    const target = await openStore({ engine: 'postgres', url: config.sync.databaseUrl });
    try {
      const copied = await copySqliteToPostgres(source, target);
      logger.event(
        'db.copied',
        `copied ${source.location} into PostgreSQL: ${copied.snapshots} order snapshot(s), ${copied.jobs} job(s) with their idempotency keys and states, ${copied.paymentReads} payment read(s), ${copied.runs} run(s)`,
        { from: source.location, ...copied },
      );
      return EXIT.ok;
    } catch (error) {
      if (error instanceof CopyRefused) throw new UsageError(error.message);
      throw error;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}
