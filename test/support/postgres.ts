/**
 * The tests' side of the run's PostgreSQL server (started by postgres-setup.ts): the engines a
 * parameterised suite runs on, and a fresh database for each test that asks. Every database
 * created is counted in a marker file, so CI fails when no PostgreSQL test ran at all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Engine, type Store } from '../../src/store/database.js';
import { MARKER_VARIABLE, SUPERUSER_PASSWORD, URL_VARIABLE } from './postgres-setup.js';

const adminUrl = process.env[URL_VARIABLE];

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
  const marker = process.env[MARKER_VARIABLE];
  if (marker) fs.appendFileSync(marker, `${name}\n`);
  return postgresUrl(name);
}

/** A migrated store on `engine`: a SQLite file in `dir`, or a fresh PostgreSQL database. */
export async function openTestStore(engine: Engine, dir: string): Promise<Store> {
  if (engine === 'postgres') return openStore({ engine: 'postgres', url: await freshDatabase() });
  return openStore(path.join(dir, `sync-${randomBytes(4).toString('hex')}.db`));
}
