/**
 * Migrations are plain SQL files in the package's migrations/ folder, applied in name order by
 * Kysely's Migrator (which records them in kysely_migration and takes its own lock, so two
 * processes starting together apply each file once).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type SqliteDatabase from 'better-sqlite3';
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from './schema.js';

/** src/store/ and dist/store/ are both two levels below the package root. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly sqlite: SqliteDatabase.Database,
    private readonly dir: string,
  ) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of fs.readdirSync(this.dir).filter((f) => f.endsWith('.sql')).sort()) {
      const text = fs.readFileSync(path.join(this.dir, file), 'utf8');
      // exec() runs a whole multi-statement script; the Migrator has already opened a
      // transaction on this same connection, so a failing file leaves nothing behind.
      migrations[file.replace(/\.sql$/, '')] = { up: async () => void this.sqlite.exec(text) };
    }
    return migrations;
  }
}

export interface MigrationReport {
  applied: string[];
}

export async function migrateToLatest(
  db: Kysely<Database>,
  sqlite: SqliteDatabase.Database,
  dir: string = MIGRATIONS_DIR,
): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(sqlite, dir) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
