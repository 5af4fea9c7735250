/**
 * Reading (and, where a test plays another process, writing) the database a child wrote: the
 * SQLite file (opened for one look and closed again, so no connection of the test's is open while
 * the next child runs), or a PostgreSQL database (through psql, also one look at a time).
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { postgresRows } from './postgres.js';

/** A child's database: the SQLite file's path, or a PostgreSQL database's URL. */
export type DbRef = string | { url: string };

export type Row = Record<string, unknown>;

/** A cancellation job as the table holds it (the columns the suites read by name). */
export interface JobRow {
  id: number;
  order_no: string;
  /** NULL for an unrouted payment's job. */
  provider: string | null;
  provider_ref: string | null;
  idempotency_key: string;
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_error_code: string | null;
  last_error_message: string | null;
  [column: string]: unknown;
}

/** Everything a cycle writes, table by table (the lease row is not: taking it changes nothing). */
export interface DbDump {
  order_snapshots: Row[];
  cancellation_jobs: Row[];
  sync_runs: Row[];
}

/**
 * Opens the file read-only for one look: safe right after a kill (a read-only connection recovers
 * nothing, so the file stays exactly as the dead process left it), and while a child holds it.
 */
export function readDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

/** Opens the file for writing, as another process would (a lease left behind, an aged row). */
export function writeDb<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

export function rows(file: DbRef, sql: string, ...params: unknown[]): Row[] {
  if (typeof file !== 'string') return postgresRows(file.url, sql, params);
  return readDb(file, (db) => db.prepare(sql).all(...params) as Row[]);
}

export function jobRows(file: DbRef, orderNo?: string): JobRow[] {
  return (
    orderNo === undefined
      ? rows(file, 'SELECT * FROM cancellation_jobs ORDER BY id')
      : rows(file, 'SELECT * FROM cancellation_jobs WHERE order_no = ? ORDER BY id', orderNo)
  ) as JobRow[];
}

export function dumpDb(file: DbRef): DbDump {
  return {
    order_snapshots: rows(file, 'SELECT * FROM order_snapshots ORDER BY order_no'),
    cancellation_jobs: rows(file, 'SELECT * FROM cancellation_jobs ORDER BY id'),
    sync_runs: rows(file, 'SELECT * FROM sync_runs ORDER BY id'),
  };
}

/** PRAGMA integrity_check: 'ok' for an intact file. */
export function integrity(file: string): string {
  return readDb(file, (db) => String(db.pragma('integrity_check', { simple: true })));
}

/** The raw bytes of the database file and its WAL and journal, if any (for secret searches). */
export function rawBytes(file: string): Buffer {
  const parts: Buffer[] = [];
  for (const suffix of ['', '-wal', '-journal']) {
    if (fs.existsSync(file + suffix)) parts.push(fs.readFileSync(file + suffix));
  }
  return Buffer.concat(parts);
}
