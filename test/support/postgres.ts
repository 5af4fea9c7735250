/**
 * The tests' side of the run's PostgreSQL server (started by postgres-setup.ts): the engines a
 * parameterised suite runs on, and a fresh database for each test that asks. Every database
 * created is counted in a marker file, so CI fails when no PostgreSQL test ran at all.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Engine, type Store } from '../../src/store/database.js';
import { MARKER_VARIABLE, SUPERUSER_PASSWORD, URL_VARIABLE } from './postgres-setup.js';

const adminUrl = process.env[URL_VARIABLE];

/** This run has its PostgreSQL server. */
export const HAVE_POSTGRES = adminUrl !== undefined;

/** The engines a parameterised suite runs on: PostgreSQL whenever the run has its server. */
export const ENGINES: readonly Engine[] = adminUrl ? ['sqlite', 'postgres'] : ['sqlite'];

/** The run's server, as a URL to database `name` (with `password` instead of the real one, if given). */
export function postgresUrl(name: string, password = SUPERUSER_PASSWORD): string {
  if (!adminUrl) throw new Error('no PostgreSQL server in this run');
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  url.password = password;
  return url.href;
}

function countDatabase(name: string): void {
  const marker = process.env[MARKER_VARIABLE];
  if (marker) fs.appendFileSync(marker, `${name}\n`);
}

/** A new, empty database on the run's server; its URL. */
export async function freshDatabase(): Promise<string> {
  if (!adminUrl) throw new Error('no PostgreSQL server in this run');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  countDatabase(name);
  return postgresUrl(name);
}

/** psql, for the synchronous looks the end-to-end suites take at a child's database. */
function psql(url: string, command: string): string {
  const bin = process.env.SPECTER_SYNC_TEST_POSTGRES_SERVER ? (JSON.parse(process.env.SPECTER_SYNC_TEST_POSTGRES_SERVER) as { bin: string }).bin : null;
  return execFileSync(bin ? path.join(bin, 'psql') : 'psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', command], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * freshDatabase(), synchronously (a Workspace is made inside a test, without awaiting); a copy of
 * the database `template` when given (PostgreSQL copies it whole: a baseline made once).
 */
export function freshDatabaseSync(template?: string): string {
  if (!adminUrl) throw new Error('no PostgreSQL server in this run');
  const name = `t_${randomBytes(6).toString('hex')}`;
  psql(adminUrl, `CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${new URL(template).pathname.slice(1)}`}`);
  countDatabase(name);
  return postgresUrl(name);
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * The rows of one query, as JSON objects like better-sqlite3's: `?` placeholders (the suites'
 * SQLite spelling) are filled in as quoted literals, in order.
 */
export function postgresRows(url: string, query: string, params: readonly unknown[] = []): Array<Record<string, unknown>> {
  let next = 0;
  const filled = query.replace(/\?/g, () => literal(params[next++]));
  const out = psql(url, `SELECT COALESCE(json_agg(t), '[]'::json) FROM (${filled}) t`).trim();
  return JSON.parse(out) as Array<Record<string, unknown>>;
}

/** A migrated store on `engine`: a SQLite file in `dir`, or a fresh PostgreSQL database. */
export async function openTestStore(engine: Engine, dir: string): Promise<Store> {
  if (engine === 'postgres') return openStore({ engine: 'postgres', url: await freshDatabase() });
  return openStore(path.join(dir, `sync-${randomBytes(4).toString('hex')}.db`));
}
