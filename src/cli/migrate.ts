/** `specter-sync migrate`: apply pending database migrations (also done on every start). */
import { loadConfig } from '../config/load.js';
import { migrateToLatest } from '../store/migrate.js';
import { openStore } from '../store/database.js';
import { loggerFor } from './context.js';
import { EXIT, type ExitCode } from './exit.js';

export async function migrateCommand(): Promise<ExitCode> {
  const config = loadConfig({ env: process.env });
  const logger = loggerFor(config, {});
  try {
    const store = await openStore(config.sync.dbPath, { migrate: false });
    try {
      const { applied } = await migrateToLatest(store.db, store.sqlite);
      logger.event('db.migrated', applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'the database is up to date', {
        applied,
        dbPath: store.path,
      });
    } finally {
      await store.close();
    }
    return EXIT.ok;
  } finally {
    await logger.close();
  }
}
