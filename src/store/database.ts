/**
 * The store: one interface, two engines behind it (docs/architecture.md, "Beyond one machine").
 * SQLite (sqlite.ts) is the embedded default; PostgreSQL (postgres.ts) is for several replicas on
 * one database. Callers see only Kysely and `write()`: every difference between the engines —
 * 64-bit integers, the write lock, the clock, how a failure is worded — is settled in those two
 * files, so the SQL elsewhere in src/store/ is the same for both.
 *
 * Both engines store timestamps as ISO 8601 text (UTC, milliseconds, so text order is time
 * order), booleans as 0/1 integers, and money as the text Specter gave: the rows read back
 * identically, and so does every command's --json.
 */
import type { Kysely, RawBuilder } from 'kysely';
import type { Database } from './schema.js';
import { checkFence, type Fence } from './fence.js';

export type Engine = 'sqlite' | 'postgres';

/** Where the data lives: the SQLite file, or a PostgreSQL URL (a secret: never printed). */
export type StoreTarget = { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };

export interface Store {
  readonly engine: Engine;
  /** Typed queries (reads, and single-statement writes that are atomic on their own). */
  readonly db: Kysely<Database>;
  /** For messages and logs: the file's path, or "PostgreSQL (SYNC_DATABASE_URL)" — never the URL. */
  readonly location: string;
  /** The database's clock, in epoch milliseconds, as an SQL expression (the lease is judged by it). */
  readonly nowMs: RawBuilder<number>;
  /**
   * One write transaction, everything inside it through `tx`: SQLite `BEGIN IMMEDIATE` on its one
   * connection (the write lock taken at BEGIN, so a reader's snapshot cannot fail the commit half
   * way); PostgreSQL one transaction on one pooled connection. With a fence, the lease's token is
   * checked first inside the same transaction (fence.ts): a holder that lost the lease writes
   * nothing.
   */
  write<T>(fn: (tx: Kysely<Database>) => Promise<T>, options?: { fence?: Fence | undefined }): Promise<T>;
  /** Applies pending migrations (done on open unless asked not to); says which. */
  migrate(): Promise<MigrationReport>;
  close(): Promise<void>;
}

export interface MigrationReport {
  applied: string[];
}

export interface OpenStoreOptions {
  /** Apply pending migrations (default true; `migrate` and the worker start both do). */
  migrate?: boolean;
  readonly?: boolean;
  /** The migrations folder (default: the package's migrations/; PostgreSQL's are in its postgres/). */
  migrationsDir?: string;
}

export class StoreError extends Error {
  override readonly name = 'StoreError';
}

/** Runs `fn` after the fence check, for the engines' write(). */
export async function fenced<T>(engine: Engine, tx: Kysely<Database>, fence: Fence | undefined, fn: (tx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (fence) await checkFence(engine, tx, fence);
  return fn(tx);
}

/**
 * The store as the holder of the lease sees it: every write() checks `fence` first, in its own
 * transaction. The cycle and the send-now path pass this view to everything they call.
 */
export function withFence(store: Store, fence: Fence): Store {
  return { ...store, write: (fn, options) => store.write(fn, { fence: options?.fence ?? fence }) };
}

/** The configured database: PostgreSQL when SYNC_DATABASE_URL is set, else the SQLite file. */
export function storeTarget(sync: { databaseUrl?: string | null | undefined; dbPath: string }): StoreTarget {
  return sync.databaseUrl ? { engine: 'postgres', url: sync.databaseUrl } : { engine: 'sqlite', path: sync.dbPath };
}

export async function openStore(target: StoreTarget | string, options: OpenStoreOptions = {}): Promise<Store> {
  const resolved: StoreTarget = typeof target === 'string' ? { engine: 'sqlite', path: target } : target;
  // Each engine's driver is loaded only when it is used: a SQLite deployment never loads pg.
  if (resolved.engine === 'postgres') {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(resolved.url, options);
  }
  const { openSqliteStore } = await import('./sqlite.js');
  return openSqliteStore(resolved.path, options);
}
