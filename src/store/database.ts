/**
 * Opening the SQLite file: the folder and the file are created private (0700 / 0600) before
 * SQLite touches them, since the file holds order data; WAL so that readers (status, the HTTP
 * endpoints) never block the writer; busy_timeout so a second process waits on a lock instead of
 * failing at once; foreign keys on, which SQLite leaves off by default.
 */
import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Database } from './schema.js';
import { migrateToLatest } from './migrate.js';

export interface Store {
  /** Typed queries. */
  readonly db: Kysely<Database>;
  /** The raw connection, for the few hot statements and synchronous transactions. */
  readonly sqlite: SqliteDatabase.Database;
  readonly path: string;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Apply pending migrations (default true; `migrate` and the worker start both do). */
  migrate?: boolean;
  readonly?: boolean;
}

class StoreError extends Error {
  override readonly name = 'StoreError';
}

export async function openStore(dbPath: string, options: OpenStoreOptions = {}): Promise<Store> {
  const resolved = path.resolve(dbPath);
  let sqlite: SqliteDatabase.Database;
  try {
    if (!options.readonly) ensurePrivateFile(resolved);
    sqlite = new SqliteDatabase(resolved, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    sqlite.pragma('busy_timeout = 5000');
    if (!options.readonly) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    // WAL with NORMAL sync is durable against process crashes (the kill -9 case); only an OS
    // crash or power loss can lose the last transactions, and the outbox tolerates a repeat.
    sqlite.pragma('synchronous = NORMAL');
  } catch (error) {
    throw new StoreError(`cannot open the database ${resolved} (SYNC_DB_PATH): ${(error as Error).message}`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const store: Store = {
    db,
    sqlite,
    path: resolved,
    close: async () => {
      await db.destroy(); // closes the better-sqlite3 connection too
    },
  };
  if (options.migrate ?? true) {
    try {
      await migrateToLatest(db, sqlite);
    } catch (error) {
      await store.close();
      throw error;
    }
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
