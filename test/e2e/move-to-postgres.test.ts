/**
 * Moving a deployment from SQLite to PostgreSQL (`migrate --from-sqlite PATH`), with real
 * processes: a SQLite database made by this release (a baseline, a cancellation whose job is left
 * pending because its provider was not configured yet), moved to another folder and copied into
 * an empty PostgreSQL database. The next cycle there is not a baseline, and the pending job is
 * sent with the idempotency key it was made with; a second copy is refused (the target is not
 * empty), and so is a copy without a PostgreSQL target.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { about, expectExit } from '../support/cli.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { HAVE_POSTGRES } from '../support/postgres.js';
import { klarnaCancelKeys } from '../support/sandbox.js';
import { useSandboxWorld } from '../support/world.js';

jest.setTimeout(120_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));
const onPostgres = HAVE_POSTGRES ? describe : describe.skip;

/** Klarna not configured: its job is made, and waits pending with its key. */
const NO_KLARNA = { KLARNA_USERNAME: undefined, KLARNA_PASSWORD: undefined };

onPostgres('migrate --from-sqlite', () => {
  it('copies everything; the next cycle on PostgreSQL is no baseline and sends the pending job with its original key', async () => {
    const order = makeOrder({ method: 'K' });
    const bystander = makeOrder({ method: 'QL' });
    world.specter.add(order, bystander);
    const sqlite = workspace(NO_KLARNA);
    expectExit(await sqlite.run(['once']), 0);
    world.specter.cancel(order.orderNo);
    expectExit(await sqlite.run(['once']), 3); // a job waits for a provider that is not configured
    const [pending] = sqlite.jobs(order.orderNo);
    expect(pending).toMatchObject({ state: 'pending', attempts: 0 });
    const before = sqlite.dump();

    // The move: the file is taken elsewhere (a new volume), then copied into PostgreSQL.
    const moved = path.join(sqlite.dir, 'moved', 'old.db');
    fs.mkdirSync(path.dirname(moved));
    fs.renameSync(sqlite.dbPath, moved);
    for (const suffix of ['-wal', '-shm']) if (fs.existsSync(sqlite.dbPath + suffix)) fs.renameSync(sqlite.dbPath + suffix, moved + suffix);

    const postgres = workspace({}, 'postgres');
    const copy = await postgres.run(['migrate', '--from-sqlite', moved]);
    expectExit(copy, 0);
    about(copy, () => {
      expect(copy.events('db.copied')).toEqual([
        expect.objectContaining({ snapshots: before.order_snapshots.length, jobs: 1, runs: 2, paymentReads: 0, from: moved }),
      ]);
    });
    // Row for row what SQLite held, ids, keys and facts included.
    expect(postgres.dump()).toEqual(before);

    const next = await postgres.run(['once', '--json']);
    expectExit(next, 0);
    about(next, () => {
      expect(JSON.parse(next.stdout)).toMatchObject({ outcome: 'succeeded' });
      expect(next.events('sync.baseline')).toEqual([]);
    });
    expect(klarnaCancelKeys(world, providerRefOf(order))).toEqual([pending!.idempotency_key]);
    expect(postgres.jobs(order.orderNo)).toEqual([expect.objectContaining({ id: pending!.id, state: 'done', idempotency_key: pending!.idempotency_key })]);
    // New rows continue after the copied ids.
    expect(postgres.rows('SELECT id FROM sync_runs ORDER BY id').map((r) => r['id'])).toEqual([1, 2, 3]);

    // The target holds a history now: a second copy is refused, and changes nothing.
    const again = await postgres.run(['migrate', '--from-sqlite', moved]);
    expectExit(again, 2);
    expect(again.stderr).toMatch(/not empty/);
    expect(postgres.rows('SELECT COUNT(*) AS n FROM sync_runs')).toEqual([{ n: 3 }]);
  });

  it('needs a PostgreSQL target', async () => {
    const ws = workspace();
    expectExit(await ws.run(['once']), 0);
    const run = await ws.run(['migrate', '--from-sqlite', ws.dbPath]);
    expectExit(run, 2);
    expect(run.stderr).toMatch(/SYNC_DATABASE_URL/);
  });
});
