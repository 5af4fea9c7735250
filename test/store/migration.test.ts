/**
 * Migration 0003 carries a database made by the first release over to payments as the unit: no
 * job and no idempotency key is lost, states are kept, and two orders' jobs for one payment
 * (the bug 0003 ends) become one live job, the later duplicate kept but voided if it was not sent.
 * The old database is made the way the first release made it: its two migration files only.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { openStore } from '../../src/store/database.js';
import { MIGRATIONS_DIR, migrateSqlite, POSTGRES_MIGRATIONS_DIR } from '../../src/store/migrate.js';
import type { Database } from '../../src/store/schema.js';
import { about, childEnv, REPO_ROOT, runNode } from '../support/cli.js';
import { readDb, writeDb } from '../support/db.js';
import { freshDatabase, HAVE_POSTGRES } from '../support/postgres.js';
let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-migration-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A database at the first release's schema (0001, 0002), with rows written in its shape. */
async function firstReleaseDatabase(file: string): Promise<void> {
  const oldDir = path.join(dir, 'old-migrations');
  fs.mkdirSync(oldDir);
  for (const name of ['0001_initial.sql', '0002_tracked_index.sql']) fs.copyFileSync(path.join(MIGRATIONS_DIR, name), path.join(oldDir, name));
  const sqlite = new SqliteDatabase(file);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateSqlite(db, sqlite, oldDir);
  const snapshot = sqlite.prepare(`
    INSERT INTO order_snapshots (order_no, order_date, status, status_id, route_kind, provider, provider_ref,
      pay_type_identifier, pay_type_reference, route_note, amount, currency, content_hash, first_seen_at, last_seen_at, cancelled_at)
    VALUES (?, '2026-11-20 10:00:00', ?, ?, ?, ?, ?, ?, ?, ?, '100.00', 'SEK', 'h', '2026-11-20T10:00:00.000Z', '2026-11-20T10:00:00.000Z', ?)`);
  snapshot.run('1', 'cancelled', '5', 'provider', 'klarna', 'shared', 'K', 'shared', null, '2026-11-21T00:00:00.000Z');
  snapshot.run('2', 'cancelled', '5', 'provider', 'klarna', 'shared', 'K', 'shared', null, '2026-11-21T00:00:00.000Z');
  snapshot.run('3', 'cancelled', '5', 'provider', 'qliro', '77', 'QL', 'QLIRO-77', null, '2026-11-21T00:00:00.000Z');
  snapshot.run('4', 'open', '2', 'unrouted', null, null, 'SW', 'sw-4', 'no routing rule matches payTypeIdentifier "SW"', null);
  const job = sqlite.prepare(`
    INSERT INTO cancellation_jobs (order_no, provider, provider_ref, amount, currency, reason, idempotency_key, state,
      attempts, next_attempt_at, created_at, updated_at)
    VALUES (?, ?, ?, '100.00', 'SEK', 'cancelled', ?, ?, ?, '2026-11-21T00:00:00.000Z', '2026-11-21T00:00:00.000Z', '2026-11-21T00:00:00.000Z')`);
  job.run('1', 'klarna', 'shared', 'key-1', 'done', 1);
  job.run('2', 'klarna', 'shared', 'key-2', 'pending', 0);
  job.run('3', 'qliro', '77', 'key-3', 'accepted', 1);
  await db.destroy();
}

describe('migration 0003: payments as the unit', () => {
  it('keeps every job, key and state, and gives each payment exactly one live job', async () => {
    const file = path.join(dir, 'sync.db');
    await firstReleaseDatabase(file);
    const store = await openStore(file);
    await store.close();
    readDb(file, (sqlite) => {
      const jobs = sqlite
        .prepare('SELECT id, order_no, payment_key, idempotency_key, state, void_reason, pay_type_reference FROM cancellation_jobs ORDER BY id')
        .all();
      expect(jobs).toEqual([
        { id: 1, order_no: '1', payment_key: 'klarna:shared', idempotency_key: 'key-1', state: 'done', void_reason: null, pay_type_reference: 'shared' },
        // The second order's job for the same payment was never sent: kept, voided, its key kept.
        {
          id: 2,
          order_no: '2',
          payment_key: 'klarna:shared#duplicate-2',
          idempotency_key: 'key-2',
          state: 'voided',
          void_reason: 'duplicate_payment',
          pay_type_reference: 'shared',
        },
        { id: 3, order_no: '3', payment_key: 'qliro:77', idempotency_key: 'key-3', state: 'accepted', void_reason: null, pay_type_reference: 'QLIRO-77' },
      ]);
      const snapshots = sqlite.prepare('SELECT order_no, payment_key, cancelled_at FROM order_snapshots ORDER BY order_no').all();
      expect(snapshots).toEqual([
        { order_no: '1', payment_key: 'klarna:shared', cancelled_at: '2026-11-21T00:00:00.000Z' },
        { order_no: '2', payment_key: 'klarna:shared', cancelled_at: '2026-11-21T00:00:00.000Z' },
        { order_no: '3', payment_key: 'qliro:77', cancelled_at: '2026-11-21T00:00:00.000Z' },
        { order_no: '4', payment_key: 'unrouted:SW:sw-4', cancelled_at: null },
      ]);
      expect(sqlite.pragma('foreign_key_check')).toEqual([]);
    });
    writeDb(file, (sqlite) => {
      // New jobs continue after the old ids (AUTOINCREMENT's sequence came along).
      sqlite
        .prepare(
          `INSERT INTO cancellation_jobs (order_no, payment_key, provider, provider_ref, reason, idempotency_key, state, next_attempt_at, created_at, updated_at)
           VALUES ('3', 'qliro:78', 'qliro', '78', 'cancelled', 'key-new', 'pending', 'x', 'x', 'x')`,
        )
        .run();
      expect(sqlite.prepare("SELECT id FROM cancellation_jobs WHERE idempotency_key = 'key-new'").get()).toEqual({ id: 4 });
    });
  });

  it('two processes opening an old database together apply each migration once', async () => {
    const file = path.join(dir, 'sync.db');
    await firstReleaseDatabase(file);
    // Two real processes (one process's two connections would block its own thread on the lock).
    const script = `import('${pathToFileURL(path.join(REPO_ROOT, 'dist', 'store', 'database.js')).href}').then(async (m) => { const s = await m.openStore(process.argv[1]); await s.close(); })`;
    const open = () => runNode(['-e', script, file], { env: childEnv() });
    const both = await Promise.all([open(), open()]);
    about(both, () => expect(both.map((r) => r.code)).toEqual([0, 0]));
    readDb(file, (sqlite) => {
      const applied = sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>;
      expect(applied.map((r) => r.name)).toEqual(
        fs
          .readdirSync(MIGRATIONS_DIR)
          .filter((f) => f.endsWith('.sql'))
          .sort()
          .map((f) => f.replace(/\.sql$/, '')),
      );
      expect((sqlite.prepare('SELECT COUNT(*) AS n FROM cancellation_jobs').get() as { n: number }).n).toBe(3);
    });
  });

  it('a migration that fails leaves the database exactly as it was', async () => {
    const file = path.join(dir, 'sync.db');
    await firstReleaseDatabase(file);
    const broken = path.join(dir, 'broken-migrations');
    fs.mkdirSync(broken);
    for (const name of fs.readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')))
      fs.copyFileSync(path.join(MIGRATIONS_DIR, name), path.join(broken, name));
    fs.writeFileSync(
      path.join(broken, '0003_payments.sql'),
      `${fs.readFileSync(path.join(MIGRATIONS_DIR, '0003_payments.sql'), 'utf8')}\nSELECT no_such_function();\n`,
    );
    const sqlite = new SqliteDatabase(file);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    try {
      await expect(migrateSqlite(db, sqlite, broken)).rejects.toThrow(/0003_payments/);
      const applied = sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>;
      expect(applied.map((r) => r.name)).toEqual(['0001_initial', '0002_tracked_index']);
      const columns = (sqlite.prepare('PRAGMA table_info(cancellation_jobs)').all() as Array<{ name: string }>).map((c) => c.name);
      expect(columns).not.toContain('payment_key');
      expect((sqlite.prepare('SELECT COUNT(*) AS n FROM cancellation_jobs').get() as { n: number }).n).toBe(3);
    } finally {
      await db.destroy();
    }
  });
});

/** Each table's columns, in order, as SQLite reports them and as PostgreSQL does. */
function sqliteColumns(file: string): Record<string, string[]> {
  return readDb(file, (sqlite) => {
    const tables = (
      sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%' ORDER BY name")
        .all() as Array<{ name: string }>
    ).map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, (sqlite.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string }>).map((c) => c.name)]));
  });
}

const onPostgres = HAVE_POSTGRES ? describe : describe.skip;

onPostgres('PostgreSQL migrations', () => {
  it("are the SQLite schema's twin: the same tables with the same columns in the same order", async () => {
    const file = path.join(dir, 'sync.db');
    await (await openStore(file)).close();
    const store = await openStore({ engine: 'postgres', url: await freshDatabase() });
    try {
      const rows = (
        await sql<{ table_name: string; column_name: string }>`
          SELECT table_name, column_name FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%' ORDER BY table_name, ordinal_position`.execute(store.db)
      ).rows;
      const columns: Record<string, string[]> = {};
      for (const row of rows) (columns[row.table_name] ??= []).push(row.column_name);
      expect(columns).toEqual(sqliteColumns(file));
      expect(fs.readdirSync(POSTGRES_MIGRATIONS_DIR).sort()).toEqual(['0001_initial.sql', '0006_lease_fencing.sql']);
    } finally {
      await store.close();
    }
  });

  it("two replicas starting together on one empty database apply each migration once (the migrator's lock)", async () => {
    const url = await freshDatabase();
    // Two real processes, as two replicas are.
    const script = `import('${pathToFileURL(path.join(REPO_ROOT, 'dist', 'store', 'database.js')).href}').then(async (m) => { const s = await m.openStore({ engine: 'postgres', url: process.env.SYNC_DATABASE_URL }); await s.close(); })`;
    const open = () => runNode(['-e', script], { env: childEnv({ SYNC_DATABASE_URL: url }) });
    const both = await Promise.all([open(), open(), open()]);
    about(both, () => expect(both.map((r) => r.code)).toEqual([0, 0, 0]));
    const store = await openStore({ engine: 'postgres', url }, { migrate: false });
    try {
      const applied = (await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db)).rows;
      expect(applied.map((r) => r.name)).toEqual(['0001_initial', '0006_lease_fencing']);
      expect(await store.db.selectFrom('worker_lease').select(['name', 'token']).execute()).toEqual([{ name: 'sync', token: 0 }]);
    } finally {
      await store.close();
    }
  });
});
