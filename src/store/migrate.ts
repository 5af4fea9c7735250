/**
 * Migrations are plain SQL files in the package's migrations/ folder, applied in name order by
 * Kysely's Migrator, which records them in kysely_migration.
 *
 * For SQLite, Kysely's Migrator opens no transaction (its SQLite adapter reports no transactional
 * DDL) and its migration lock is a no-op (one connection per process is all it guards). So we do
 * both ourselves: every pending migration, and its kysely_migration row, run inside ONE
 * `BEGIN IMMEDIATE` transaction. Two processes starting together: the second waits for the write
 * lock (busy_timeout), then finds the migrations recorded and applies nothing; a failing or
 * interrupted migration leaves the database exactly as it was. Foreign keys are off for the
 * duration (a table rebuild must drop a parent table; SQLite ignores the pragma inside a
 * transaction) and checked with foreign_key_check before the commit.
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

  getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      const text = fs.readFileSync(path.join(this.dir, file), 'utf8');
      // exec() runs a whole multi-statement script inside migrateToLatest's transaction.
      migrations[file.replace(/\.sql$/, '')] = { up: () => Promise.resolve(void this.sqlite.exec(text)) };
    }
    return Promise.resolve(migrations);
  }
}

export interface MigrationReport {
  applied: string[];
}

export async function migrateToLatest(db: Kysely<Database>, sqlite: SqliteDatabase.Database, dir: string = MIGRATIONS_DIR): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(sqlite, dir) });
  sqlite.pragma('foreign_keys = OFF');
  try {
    sqlite.exec('BEGIN IMMEDIATE');
    let committed = false;
    try {
      const { error, results } = await migrator.migrateToLatest();
      if (error) {
        const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
        throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
      }
      const broken = sqlite.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new Error(`database migration left ${broken.length} broken foreign key reference(s); nothing was applied`);
      sqlite.exec('COMMIT');
      committed = true;
      return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
    } finally {
      if (!committed && sqlite.inTransaction) sqlite.exec('ROLLBACK');
    }
  } finally {
    sqlite.pragma('foreign_keys = ON');
  }
}
