/**
 * Migrations are plain SQL files, applied in name order by Kysely's Migrator, which records them
 * in kysely_migration: migrations/*.sql for SQLite, migrations/postgres/*.sql for PostgreSQL
 * (twins: the same tables and constraints in each engine's dialect; PostgreSQL's history starts at
 * the schema SQLite reached by 0005, so its 0001 is that schema).
 *
 * PostgreSQL: the Migrator runs all pending migrations in one transaction under an advisory lock
 * (pg_advisory_xact_lock), so replicas starting together apply each migration once: the second
 * waits for the lock, then finds them recorded.
 *
 * SQLite: the Migrator opens no transaction (its SQLite adapter reports no transactional DDL) and
 * its lock is a no-op (one connection per process is all it guards). So we do both ourselves:
 * every pending migration, and its kysely_migration row, run inside ONE `BEGIN IMMEDIATE`
 * transaction. Two processes starting together: the second waits for the write lock
 * (busy_timeout), then finds the migrations recorded and applies nothing; a failing or interrupted
 * migration leaves the database exactly as it was. Foreign keys are off for the duration (a table
 * rebuild must drop a parent table; SQLite ignores the pragma inside a transaction) and checked
 * with foreign_key_check before the commit.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type SqliteDatabase from 'better-sqlite3';
import type { Kysely, Migration, MigrationProvider, MigrationResultSet } from 'kysely';
import { Migrator, sql } from './kysely.js';
import type { Database } from './schema.js';
import type { MigrationReport } from './database.js';

/** src/store/ and dist/store/ are both two levels below the package root. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
export const POSTGRES_MIGRATIONS_DIR = path.join(MIGRATIONS_DIR, 'postgres');

class SqlFileMigrationProvider implements MigrationProvider {
  constructor(
    private readonly dir: string,
    /** Runs one whole multi-statement script. */
    private readonly exec: (db: Kysely<unknown>, text: string) => Promise<void>,
  ) {}

  getMigrations(): Promise<Record<string, Migration>> {
    const migrations: Record<string, Migration> = {};
    for (const file of fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()) {
      const text = fs.readFileSync(path.join(this.dir, file), 'utf8');
      migrations[file.replace(/\.sql$/, '')] = { up: (db) => this.exec(db, text) };
    }
    return Promise.resolve(migrations);
  }
}

function reportOf({ error, results }: MigrationResultSet): MigrationReport {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`, { cause: error });
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

export async function migratePostgres(db: Kysely<Database>, dir: string = POSTGRES_MIGRATIONS_DIR): Promise<MigrationReport> {
  // A query without parameters goes over pg's simple protocol, which runs a multi-statement script.
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(dir, async (tx, text) => void (await sql.raw(text).execute(tx))) });
  return reportOf(await migrator.migrateToLatest());
}

export async function migrateSqlite(db: Kysely<Database>, sqlite: SqliteDatabase.Database, dir: string = MIGRATIONS_DIR): Promise<MigrationReport> {
  // exec() runs a whole multi-statement script inside the transaction below.
  const migrator = new Migrator({ db, provider: new SqlFileMigrationProvider(dir, (_db, text) => Promise.resolve(void sqlite.exec(text))) });
  sqlite.pragma('foreign_keys = OFF');
  try {
    sqlite.exec('BEGIN IMMEDIATE');
    let committed = false;
    try {
      const report = reportOf(await migrator.migrateToLatest());
      const broken = sqlite.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new Error(`database migration left ${broken.length} broken foreign key reference(s); nothing was applied`);
      sqlite.exec('COMMIT');
      committed = true;
      return report;
    } finally {
      if (!committed && sqlite.inTransaction) sqlite.exec('ROLLBACK');
    }
  } finally {
    sqlite.pragma('foreign_keys = ON');
  }
}
