/**
 * The PostgreSQL engine, for several replicas on one database (docs/architecture.md, "Beyond one
 * machine"). The differences from SQLite are settled here, once:
 * - 64-bit integers (int8: COUNT(*), the lease's token and expiry) come from `pg` as strings; they
 *   are parsed to numbers, and one beyond 2^53 is an error rather than a silently rounded value.
 * - A write is one transaction on one pooled connection (Kysely's transaction()).
 * - The clock is the server's (clock_timestamp(): the time now, not the transaction's start).
 * - A failure to connect names SYNC_DATABASE_URL and never the URL: the whole value is a secret.
 */
import path from 'node:path';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from './kysely.js';
import { ConfigError } from '../config/errors.js';
import type { Database } from './schema.js';
import { fenced, StoreError, type OpenStoreOptions, type Store } from './database.js';
import { migratePostgres } from './migrate.js';

const INT8_OID = 20;

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new StoreError(`PostgreSQL returned the integer ${text}, beyond what this program counts exactly`);
  return value;
}

/** This pool's own parsers (never pg's global ones): int8 as a number, the rest as pg parses them. */
const types = new pg.TypeOverrides();
types.setTypeParser(INT8_OID, 'text', parseInt8);

const SETTING = 'SYNC_DATABASE_URL';

/** What went wrong connecting, in words that carry no part of the URL. */
function describeConnectError(error: unknown): Error {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case '28P01':
    case '28000':
      return new ConfigError(SETTING, 'PostgreSQL refused the user name or password', `environment variable ${SETTING}`);
    case '3D000':
      return new ConfigError(SETTING, 'the database it names does not exist on the PostgreSQL server', `environment variable ${SETTING}`);
    case 'ECONNREFUSED':
      return new StoreError(`cannot connect to PostgreSQL (${SETTING}): the connection was refused; is the server running at the host and port it names?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new StoreError(`cannot connect to PostgreSQL (${SETTING}): the host it names cannot be resolved`);
    case 'ETIMEDOUT':
      return new StoreError(`cannot connect to PostgreSQL (${SETTING}): the connection timed out`);
    default:
      // pg's own messages name neither the password nor the URL; the code helps a search.
      return new StoreError(`cannot use PostgreSQL (${SETTING}): ${e.message ?? String(error)}${e.code ? ` (${e.code})` : ''}`);
  }
}

export async function openPostgresStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, types, max: 4, connectionTimeoutMillis: 10_000, application_name: 'specter-sync' });
  // An idle connection the server drops (a restart, a failover) emits 'error' on the pool; the
  // next query opens a new one. Unhandled, the event would end the process.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw describeConnectError(error);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const store: Store = {
    engine: 'postgres',
    db,
    location: `PostgreSQL (${SETTING})`,
    nowMs: sql<number>`(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::int8`,
    write: (fn, writeOptions) => db.transaction().execute((tx) => fenced('postgres', tx, writeOptions?.fence, fn)),
    migrate: () => migratePostgres(db, options.migrationsDir === undefined ? undefined : path.join(options.migrationsDir, 'postgres')),
    close: () => db.destroy(), // ends the pool
  };
  if (options.migrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
