/** `specter-sync migrate`: apply pending database migrations (also done on every start). */
import { loadConfig } from '../config/load.js';
import { openStore, storeTarget } from '../store/database.js';
import { EXIT, loggerFor, type ExitCode } from './context.js';

export async function migrateCommand(): Promise<ExitCode> {
  const config = loadConfig({ env: process.env });
  const logger = loggerFor(config, {});
  try {
    const store = await openStore(storeTarget(config.sync), { migrate: false });
    try {
      const { applied } = await store.migrate();
      logger.event('db.migrated', applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'the database is up to date', {
        applied,
        engine: store.engine,
        database: store.location,
      });
    } finally {
      await store.close();
    }
    return EXIT.ok;
  } finally {
    await logger.close();
  }
}
