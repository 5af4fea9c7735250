/**
 * The SQLite engine: the folder and the file are created private (0700 / 0600) before SQLite
 * touches them, since the file holds order data; WAL so that readers (status, the HTTP endpoints)
 * never block the writer; busy_timeout so a second process waits on a lock instead of failing at
 * once; foreign keys on, which SQLite leaves off by default.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from './kysely.js';
import type { Database } from './schema.js';
import { fenced, StoreError, type OpenStoreOptions, type Store } from './database.js';
import { migrateSqlite } from './migrate.js';

/** 50 × 100 ms: as long as busy_timeout waits for any other lock. */
const OPEN_ATTEMPTS = 50;

export async function openSqliteStore(dbPath: string, options: OpenStoreOptions = {}): Promise<Store> {
  const resolved = path.resolve(dbPath);
  let sqlite: SqliteDatabase.Database | null = null;
  // Two processes opening a NEW file together: while one turns it to WAL, the other's PRAGMAs can
  // fail with SQLITE_BUSY despite busy_timeout (seen with two `run` processes on a loaded machine).
  // A short wait and another try, a bounded number of times, is all it needs.
  for (let attempt = 1; sqlite === null; attempt += 1) {
    let opened: SqliteDatabase.Database | null = null;
    try {
      if (!options.readonly) ensurePrivateFile(resolved);
      opened = new SqliteDatabase(resolved, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      opened.pragma('busy_timeout = 5000');
      if (!options.readonly) opened.pragma('journal_mode = WAL');
      opened.pragma('foreign_keys = ON');
      // WAL with NORMAL sync is durable against process crashes (the kill -9 case); only an OS
      // crash or power loss can lose the last transactions, and the outbox tolerates a repeat.
      opened.pragma('synchronous = NORMAL');
      sqlite = opened;
    } catch (error) {
      opened?.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY' && attempt < OPEN_ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      throw new StoreError(`cannot open the database ${resolved} (SYNC_DB_PATH): ${(error as Error).message}`);
    }
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const store: Store = {
    engine: 'sqlite',
    db,
    location: resolved,
    // julianday keeps milliseconds (unixepoch() alone drops them).
    nowMs: sql<number>`CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)`,
    // Kysely's SQLite driver has one connection behind a mutex: while this holds it, no other
    // query of this process (an HTTP handler, a timer) can interleave with the transaction.
    write: (fn, writeOptions) =>
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fenced('sqlite', conn, writeOptions?.fence, fn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (error) {
          if (sqlite.inTransaction) await sql`ROLLBACK`.execute(conn);
          throw error;
        }
      }),
    migrate: () => migrateSqlite(db, sqlite, options.migrationsDir),
    close: async () => {
      await db.destroy(); // closes the better-sqlite3 connection too
    },
  };
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  // The migration turns foreign keys off for its table rebuilds and on again; a PRAGMA inside a
  // transaction is silently ignored, so it is asked rather than assumed.
  if (sqlite.pragma('foreign_keys', { simple: true }) !== 1) {
    await store.close();
    throw new StoreError(`the database ${resolved} (SYNC_DB_PATH) did not turn foreign keys on`);
  }
  return store;
}

function ensurePrivateFile(file: string): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(file)) {
    // Create it ourselves with 0600: SQLite would use the umask (usually 0644), and it gives the
    // -wal and -shm files the main file's permissions.
    fs.closeSync(fs.openSync(file, 'a', 0o600));
    fs.chmodSync(file, 0o600);
  }
}
