/**
 * Jest globalSetup: ONE throwaway PostgreSQL server for the whole run (initdb and pg_ctl into a
 * temporary folder, on a free port on 127.0.0.1); globalTeardown (postgres-teardown.ts) stops it.
 * Jest loads this file outside the test module system, so it imports no file of ours: the helpers
 * a test uses are in postgres.ts.
 *
 * PostgreSQL refuses to run as root, so as root the server's folder is given to the `postgres`
 * user and initdb / pg_ctl run as that user (runuser). Where the binaries are missing the
 * PostgreSQL half of every suite is skipped with a loud message, unless
 * SPECTER_SYNC_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The admin URL of the run's server (to its `postgres` database); set by globalSetup. */
export const URL_VARIABLE = 'SPECTER_SYNC_TEST_POSTGRES_URL';
/** Where each created database is counted (one line each); .ci/run checks it. */
export const MARKER_VARIABLE = 'SPECTER_SYNC_POSTGRES_MARKER';

const BIN_CANDIDATES = [process.env.SPECTER_SYNC_POSTGRES_BIN, '/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

/** The password of the server's superuser: scram over TCP, so a wrong password is refused for real. */
export const SUPERUSER_PASSWORD = 'test-only-password';

export interface Server {
  dir: string;
  bin: string;
  asPostgres: boolean;
}

function findBin(): string | null {
  for (const dir of BIN_CANDIDATES) if (dir && fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'))) return dir;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(server: Pick<Server, 'bin' | 'asPostgres'>, tool: string, args: string[]): void {
  const exe = path.join(server.bin, tool);
  const [file, argv] = server.asPostgres ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: os.tmpdir() });
}

/** A throwaway server: its superuser URL, and how to stop it (and remove its folder). */
export interface ThrowawayPostgres {
  adminUrl: string;
  server: Server;
}

/** Where PostgreSQL's binaries are, or null. */
export function postgresBinaries(): string | null {
  return findBin();
}

/** initdb and pg_ctl into a new temporary folder, on a free port on 127.0.0.1 (also the bench's). */
export async function startThrowawayPostgres(bin: string): Promise<ThrowawayPostgres> {
  const asPostgres = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-pg-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  fs.writeFileSync(pwfile, SUPERUSER_PASSWORD, { mode: 0o600 });
  if (asPostgres) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    fs.chownSync(dir, uid, gid);
    fs.chownSync(pwfile, uid, gid);
  }
  const server: Server = { dir, bin, asPostgres };
  run(server, 'initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--pwfile',
    pwfile,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--no-sync',
    '-E',
    'UTF8',
    '--locale=C',
  ]);
  const port = await freePort();
  // Durability off: a test server's data is thrown away; fsync would only slow every commit.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
  run(server, 'pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  return { adminUrl: `postgres://postgres:${SUPERUSER_PASSWORD}@127.0.0.1:${port}/postgres`, server };
}

/** globalSetup: starts the run's server, or says loudly why not. */
export default async function startPostgres(): Promise<void> {
  // CI names the marker and reads it after the run; otherwise it is ours, removed at the end.
  const ownMarker = process.env[MARKER_VARIABLE] === undefined;
  const marker = process.env[MARKER_VARIABLE] ?? path.join(os.tmpdir(), `specter-sync-postgres-tests-${process.pid}`);
  process.env[MARKER_VARIABLE] = marker;
  fs.writeFileSync(marker, '');
  const stop = globalThis as { specterSyncStopPostgres?: () => void };
  stop.specterSyncStopPostgres = () => {
    if (ownMarker) fs.rmSync(marker, { force: true });
  };
  const bin = findBin();
  if (bin === null) {
    const message = `PostgreSQL binaries (initdb, pg_ctl) not found in ${BIN_CANDIDATES.filter(Boolean).join(', ')}`;
    if (process.env.SPECTER_SYNC_REQUIRE_POSTGRES === '1') throw new Error(`${message}, and SPECTER_SYNC_REQUIRE_POSTGRES=1: install postgresql-15`);
    process.stderr.write(`\n!!! ${message}: EVERY POSTGRESQL TEST IS SKIPPED (only SQLite runs). Install postgresql-15 to run them.\n\n`);
    return;
  }
  const { adminUrl, server } = await startThrowawayPostgres(bin);
  process.env[URL_VARIABLE] = adminUrl;
  process.env.SPECTER_SYNC_TEST_POSTGRES_SERVER = JSON.stringify(server);
  stop.specterSyncStopPostgres = () => {
    if (ownMarker) fs.rmSync(marker, { force: true });
    stopThrowawayPostgres(server);
  };
}

/** Stops the server (immediate: nothing in it is kept) and removes its folder. */
export function stopThrowawayPostgres(server: Server): void {
  try {
    run(server, 'pg_ctl', ['-D', path.join(server.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  } finally {
    fs.rmSync(server.dir, { recursive: true, force: true });
  }
}
