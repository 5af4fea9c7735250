/**
 * SYNC_DATABASE_URL on the command line, against the run's real PostgreSQL server
 * (test/support/postgres.ts): a URL that is not one, a refused connection and a wrong password
 * stop the program naming the setting and never the password; and the commands answer the same
 * on PostgreSQL as on SQLite (`status --json`, `jobs list --json`, `vanished list --json`).
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { about, expectExit, type CliResult } from '../support/cli.js';
import { makeOrder } from '../support/orders.js';
import { HAVE_POSTGRES, postgresUrl } from '../support/postgres.js';
import { useSandboxWorld, useWorldPerTest } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));
const worldPerTest = useWorldPerTest();
const onPostgres = HAVE_POSTGRES ? describe : describe.skip;

const PASSWORD = 'not-the-real-pw-7731';

function output(run: CliResult): string {
  return `${run.stdout}\n${run.stderr}`;
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('SYNC_DATABASE_URL that cannot be used', () => {
  it.each([
    ['not a URL', `host=db password=${PASSWORD}`],
    ['another scheme', `mysql://sync:${PASSWORD}@127.0.0.1/specter`],
  ])('%s: exit 2, config.invalid names the setting, the value is nowhere', async (_what, url) => {
    const ws = workspace();
    const run = await ws.run(['status'], { env: { SYNC_DATABASE_URL: url } });
    expectExit(run, 2);
    about(run, () => {
      expect(run.events('config.invalid')).toEqual([expect.objectContaining({ setting: 'SYNC_DATABASE_URL' })]);
      expect(output(run)).not.toContain(PASSWORD);
      expect(fs.existsSync(ws.dbPath)).toBe(false);
    });
  });

  it('a refused connection: exit 1, the message names SYNC_DATABASE_URL and not the password', async () => {
    const ws = workspace();
    const url = `postgres://sync:${PASSWORD}@127.0.0.1:${await closedPort()}/specter`;
    const run = await ws.run(['once'], { env: { SYNC_DATABASE_URL: url } });
    expectExit(run, 1);
    about(run, () => {
      expect(run.stderr).toMatch(/SYNC_DATABASE_URL.*refused/);
      expect(output(run)).not.toContain(PASSWORD);
      expect(output(run)).not.toContain(url);
      expect(world.specter.requests).toHaveLength(0);
    });
  });
});

onPostgres('on the run’s PostgreSQL server', () => {
  it('a wrong password: exit 2, config.invalid names the setting, the password is nowhere', async () => {
    const ws = workspace();
    const run = await ws.run(['once'], { env: { SYNC_DATABASE_URL: postgresUrl('postgres', PASSWORD) } });
    expectExit(run, 2);
    about(run, () => {
      const invalid = run.events('config.invalid');
      expect(invalid).toEqual([expect.objectContaining({ setting: 'SYNC_DATABASE_URL' })]);
      expect(invalid[0]!.message).toMatch(/password/);
      expect(output(run)).not.toContain(PASSWORD);
    });
  });

  it('the commands answer the same on both engines, from a URL given in SYNC_DATABASE_URL_FILE', async () => {
    const cancelled = makeOrder({ method: 'K' });
    const vanishing = makeOrder({ method: 'QL' });
    const orders = [cancelled, vanishing, makeOrder({ method: 'CL' })];
    // Two identical shops, one per engine: each provider sandbox sees its cancellation once.
    const shops = [await worldPerTest({ orders }), await worldPerTest({ orders })] as const;
    const sqlite = shops[0].workspace();
    const postgres = shops[1].workspace({}, 'postgres');
    const urlFile = path.join(postgres.dir, 'database-url');
    fs.writeFileSync(urlFile, `${(postgres.db as { url: string }).url}\n`, { mode: 0o600 });
    const env = { SYNC_DATABASE_URL: undefined, SYNC_DATABASE_URL_FILE: urlFile };
    const on = { sqlite: {}, postgres: env };

    for (const ws of [sqlite, postgres]) expectExit(await ws.run(['once'], { env: on[ws.engine] }), 0);
    for (const shop of shops) {
      shop.world.specter.cancel(cancelled.orderNo);
      shop.world.specter.delete(vanishing.orderNo);
    }
    for (const ws of [sqlite, postgres]) expectExit(await ws.run(['once'], { env: on[ws.engine] }), 3);

    const answers = async (ws: typeof sqlite) => {
      const json = async (args: string[]) => {
        const run = await ws.run([...args, '--json'], { env: on[ws.engine] });
        expectExit(run, 0);
        return JSON.parse(run.stdout) as unknown;
      };
      return { status: await json(['status']), jobs: await json(['jobs', 'list']), vanished: await json(['vanished', 'list']) };
    };
    const [fromSqlite, fromPostgres] = [await answers(sqlite), await answers(postgres)];
    // Times and keys differ run to run; everything else is the same document.
    const stable = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value)
          .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<key>')
          .replace(/"(ageSeconds|lastRunAgeSeconds|ageMinutes)":[0-9.]+/g, '"$1":0')
          .replace(/"holder":"[^"]*"/g, '"holder":"<holder>"'),
      );
    expect(stable(fromPostgres)).toEqual(stable(fromSqlite));
    // `once` frees the lease when it ends: nobody holds it now; the last cycle names the process that ran it.
    expect(fromPostgres.status).toMatchObject({ lease: null, lastSuccessfulRun: { holder: expect.stringMatching(/^[^:]+:\d+:[0-9a-f]{8}$/) } });
    // A live `run` keeps it between its cycles: `status` names it as the holder, and as the last cycle's.
    const worker = postgres.start(['run'], { env: { ...env, SYNC_SCHEDULE: '* * * * * *', HTTP_PORT: '0' } });
    const took = await worker.waitForLine((line) => line.event === 'lease.acquired');
    await worker.waitForLine((line) => line.event === 'sync.completed');
    const held = await postgres.run(['status', '--json'], { env });
    expectExit(held, 0);
    expect(JSON.parse(held.stdout)).toMatchObject({ lease: { holder: took['holder'] }, lastSuccessfulRun: { holder: took['holder'] } });
    expect((await worker.stop('SIGTERM')).code).toBe(0);
    expect((fromPostgres.jobs as unknown[]).length).toBe(1);
    expect((fromPostgres.vanished as unknown[]).length).toBe(1);
    expect(postgres.jobs(cancelled.orderNo)).toEqual([expect.objectContaining({ state: 'done', attempts: 1 })]);
    expect(fs.existsSync(postgres.dbPath)).toBe(false);
  });
});
