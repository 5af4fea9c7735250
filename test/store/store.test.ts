/**
 * The store on both engines (a real SQLite file, a real PostgreSQL database: test/support/postgres.ts):
 * schema, facts written once, the outbox's uniqueness, the lease and its fencing token. One suite,
 * parameterised by engine; the few engine-specific facts (SQLite's file and pragmas, its query
 * plan) are asked of that engine only.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import { openStore, withFence, type Store } from '../../src/store/database.js';
import { LeaseLostError } from '../../src/store/fence.js';
import { acquireLease, makeLeaseHolder, readLease, releaseLease, renewLease } from '../../src/store/lease.js';
import { ENGINES, openTestStore } from '../support/postgres.js';
import { commitCycle, type CycleRecord } from '../../src/store/commit.js';
import { loadSnapshotIndex, loadSnapshotPayments, loadSnapshots } from '../../src/store/snapshots.js';
import { listJobs } from '../../src/store/jobs.js';
import { cycleRecord, klarnaJob, trackedOrder as order } from '../support/records.js';
import { listVanishedAwaiting, resolveVanished } from '../../src/store/vanished.js';
import { requestVanishedCancel } from '../../src/store/jobWrites.js';

let dir: string;
let store: Store;

function record(over: Partial<CycleRecord>): CycleRecord {
  return cycleRecord(over);
}

/** The jobs' rows as stored (the columns asked), in id order. */
async function jobRows(columns: readonly string[]): Promise<Array<Record<string, unknown>>> {
  const rows = await store.db.selectFrom('cancellation_jobs').selectAll().orderBy('id').execute();
  return rows.map((row) => Object.fromEntries(columns.map((c) => [c, (row as Record<string, unknown>)[c]])));
}

async function countRuns(): Promise<number> {
  const row = await store.db
    .selectFrom('sync_runs')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}

/** The lease's expiry in the past, as the database's clock sees it: the TTL ran out. */
async function expireLease(): Promise<void> {
  await store.db.updateTable('worker_lease').set({ expires_at_ms: 1 }).execute();
}

describe('SQLite: opening', () => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-store-'));
    store = await openStore(path.join(dir, 'nested', 'sync.db'));
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the folder and a private (0600) database file, with WAL and foreign keys on', async () => {
    const file = path.join(dir, 'nested', 'sync.db');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const pragma = async (name: string) => (await sql<Record<string, unknown>>`${sql.raw(`PRAGMA ${name}`)}`.execute(store.db)).rows[0];
    expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
    expect(await pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
    expect(Number((await pragma('busy_timeout'))?.['timeout'])).toBeGreaterThan(0);
  });

  it('applies migrations once; reopening is a no-op', async () => {
    await store.close();
    store = await openStore(path.join(dir, 'nested', 'sync.db'));
    expect((await store.migrate()).applied).toEqual([]);
    const applied = (await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(store.db)).rows;
    const files = fs
      .readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(applied.map((r) => `${r.name}.sql`)).toEqual(files);
    expect(files.slice(0, 4)).toEqual(['0001_initial.sql', '0002_tracked_index.sql', '0003_payments.sql', '0004_lease_identity.sql']);
  });

  it('reads the tracked rows through the covering index, never walking the history', async () => {
    const sqlite = new SqliteDatabase(path.join(dir, 'nested', 'sync.db'), { readonly: true });
    try {
      const plan = sqlite
        .prepare(
          'EXPLAIN QUERY PLAN SELECT order_no, order_date, content_hash, status, payment_key, pay_type_identifier, pay_type_reference, cancelled_at, vanished_at, vanish_status FROM order_snapshots WHERE left_window_at IS NULL',
        )
        .all() as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join(' ')).toContain('USING COVERING INDEX order_snapshots_tracked');
    } finally {
      sqlite.close();
    }
  });
});

describe.each(ENGINES)('the store on %s', (engine) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-store-'));
    store = await openTestStore(engine, dir);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('commitCycle', () => {
    it('writes cancelled_at and vanished_at once, never overwriting them', async () => {
      await commitCycle(store, record({ upserts: [order('1'), order('2')], baseline: true }));
      await commitCycle(
        store,
        record({
          at: '2026-11-26T11:00:00.000Z',
          upserts: [order('1', { status: 'cancelled' })],
          cancelledFacts: ['1'],
          vanished: [{ orderNo: '2', status: 'awaiting', note: null }],
        }),
      );
      await commitCycle(store, record({ at: '2026-11-26T12:00:00.000Z', cancelledFacts: ['1'], vanished: [{ orderNo: '2', status: 'awaiting', note: null }] }));
      const snapshots = await loadSnapshotIndex(store);
      expect(snapshots.get('1')?.cancelledAt).toBe('2026-11-26T11:00:00.000Z');
      expect(snapshots.get('2')?.vanishedAt).toBe('2026-11-26T11:00:00.000Z');
      expect((await loadSnapshots(store, ['1']))[0]?.firstSeenAt).toBe('2026-11-26T10:00:01.000Z');
    });

    it('the compact index holds what the diff needs; full rows are read for the few acted on', async () => {
      await commitCycle(store, record({ upserts: [order('1'), order('2', { status: 'cancelled' }), order('3')], cancelledFacts: ['2'] }));
      await commitCycle(store, record({ leftWindow: ['3'] }));
      const index = await loadSnapshotIndex(store);
      expect([...index.keys()]).toEqual(['1', '2']);
      expect(index.get('2')).toEqual({
        orderNo: '2',
        orderDate: '2026-11-20 10:15:00',
        contentHash: 'h-2-cancelled',
        status: 'cancelled',
        cancelledAt: '2026-11-26T10:00:01.000Z',
        vanishedAt: null,
        vanishStatus: null,
      });
      // The payment columns: only for the orders asked (the diff's transitions), not in the index.
      const payments = await loadSnapshotPayments(store, ['2', 'missing', '2']);
      expect([...payments]).toEqual([['2', { paymentKey: 'klarna:ref-2', rawPayment: 'K:ref-2' }]]);
      const full = await loadSnapshots(store, ['2', 'missing', '1']);
      expect(full.map((s) => [s.orderNo, s.route.kind, s.amount])).toEqual([
        ['2', 'provider', '100.00'],
        ['1', 'provider', '100.00'],
      ]);
    });

    it('creates one job per payment, whatever asks twice and however many orders carry it, each payment with its own key', async () => {
      await commitCycle(store, record({ upserts: [order('1'), order('2'), order('3')] }));
      const first = await commitCycle(store, record({ jobs: [klarnaJob('1', 'ref-1'), klarnaJob('2', 'ref-2')] }));
      // Order 3 carries order 1's payment; a vanish of order 1 asks for the same payment again.
      const second = await commitCycle(store, record({ jobs: [klarnaJob('3', 'ref-1'), { ...klarnaJob('1', 'ref-1'), reason: 'vanished' }] }));
      expect(first.createdJobs).toHaveLength(2);
      expect(second.createdJobs).toHaveLength(0);
      const rows = await jobRows(['order_no', 'payment_key', 'idempotency_key']);
      expect(rows.map((r) => [r.order_no, r.payment_key])).toEqual([
        ['1', 'klarna:ref-1'],
        ['2', 'klarna:ref-2'],
      ]);
      expect(new Set(rows.map((k) => k.idempotency_key)).size).toBe(2);
    });

    it('re-arms a voided job of the payment with its original key instead of making a second one', async () => {
      await commitCycle(store, record({ upserts: [order('1'), order('2')] }));
      const [created] = (await commitCycle(store, record({ jobs: [klarnaJob('1', 'ref-1')] }))).createdJobs;
      const voided = await commitCycle(store, record({ voids: [{ jobId: created!.id, reason: 'reopened' }] }));
      expect(voided.voided).toEqual([{ jobId: created!.id, reason: 'reopened' }]);
      expect(await jobRows(['state', 'void_reason'])).toEqual([{ state: 'voided', void_reason: 'reopened' }]);
      const rearmed = (await commitCycle(store, record({ jobs: [klarnaJob('2', 'ref-1')] }))).createdJobs;
      expect(rearmed).toEqual([expect.objectContaining({ id: created!.id, idempotencyKey: created!.idempotencyKey, rearmed: true, orderNo: '2' })]);
      expect(await jobRows(['order_no', 'state', 'void_reason', 'idempotency_key'])).toEqual([
        { order_no: '2', state: 'pending', void_reason: null, idempotency_key: created!.idempotencyKey },
      ]);
      // A done job is never voided: what went out went out.
      await store.db.updateTable('cancellation_jobs').set({ state: 'done' }).execute();
      expect((await commitCycle(store, record({ voids: [{ jobId: created!.id, reason: 'reopened' }] }))).voided).toEqual([]);
    });

    it('is all or nothing: a failing statement leaves the database as it was', async () => {
      await commitCycle(store, record({ upserts: [order('1')] }));
      const before = await countRuns();
      // A job for an order with no snapshot violates the foreign key half-way through the commit.
      const failed = await commitCycle(store, record({ upserts: [order('3')], jobs: [klarnaJob('nope', 'x')] })).then(
        async (result) => ({ committed: result, jobs: await jobRows(['id', 'order_no', 'payment_key', 'state']) }),
        (error: unknown) => error,
      );
      // The foreign key refused it (better-sqlite3's SqliteError may come from another realm than
      // Jest's Error, so the code is asked, not the class).
      expect(failed).toMatchObject({ code: expect.stringMatching(/^(SQLITE_CONSTRAINT_FOREIGNKEY|23503)$/) });
      expect((await loadSnapshotIndex(store)).has('3')).toBe(false);
      expect(await countRuns()).toBe(before);
    });
  });

  describe('vanished orders', () => {
    it('lists, resolves and cancels vanished orders awaiting a person', async () => {
      await commitCycle(store, record({ upserts: [order('1'), order('2'), order('3')] }));
      await commitCycle(
        store,
        record({
          vanished: [
            { orderNo: '1', status: 'awaiting', note: null },
            { orderNo: '2', status: 'awaiting', note: 'twin' },
          ],
        }),
      );
      expect((await listVanishedAwaiting(store)).map((v) => v.orderNo)).toEqual(['1', '2']);

      expect(await resolveVanished(store, '1', 'refunded by phone', '2026-11-26T13:00:00.000Z')).toBe('resolved');
      expect(await resolveVanished(store, '1', null, '2026-11-26T13:00:00.000Z')).toBe('not_awaiting');
      expect(await resolveVanished(store, '99', null, '2026-11-26T13:00:00.000Z')).toBe('not_found');

      const queued = await requestVanishedCancel(store, '2', '2026-11-26T13:00:00.000Z');
      expect(queued.kind).toBe('queued');
      expect((await requestVanishedCancel(store, '2', '2026-11-26T13:00:00.000Z')).kind).toBe('not_awaiting');
      expect((await requestVanishedCancel(store, '3', '2026-11-26T13:00:00.000Z')).kind).toBe('not_awaiting');
      expect(await listVanishedAwaiting(store)).toEqual([]);
      const jobs = await listJobs(store);
      expect(jobs.map((j) => [j.orderNo, j.reason, j.state])).toEqual([['2', 'vanished', 'pending']]);
    });
  });

  describe('the lease', () => {
    it('has one holder at a time, by the database clock; its token rises when it changes hands', async () => {
      const a = makeLeaseHolder();
      const b = { ...makeLeaseHolder(), id: 'other-host:1:b', hostname: 'other-host' };
      const fenceA = await acquireLease(store, a, 60_000);
      expect(fenceA).toEqual({ holder: a.id, token: 1 });
      expect(await acquireLease(store, b, 60_000)).toBeNull();
      expect(await renewLease(store, fenceA!, 60_000)).toBe(true);
      // Taken again by its holder: the same token (nobody else wrote in between).
      expect(await acquireLease(store, a, 60_000)).toEqual(fenceA);
      const lease = await readLease(store);
      expect(lease).toMatchObject({ holder: a.id, token: 1 });
      expect(typeof lease.expiresAtMs).toBe('number');
      expect(lease.expiresAtMs - lease.nowMs).toBeGreaterThan(50_000);
      // Expired: b may take it, with the next token, and a's renewal then fails.
      await expireLease();
      const fenceB = await acquireLease(store, b, 60_000);
      expect(fenceB).toEqual({ holder: b.id, token: 2 });
      expect(await renewLease(store, fenceA!, 60_000)).toBe(false);
      await releaseLease(store, fenceA!); // not a's any more: no effect
      expect((await readLease(store)).holder).toBe(b.id);
      await releaseLease(store, fenceB!);
      expect((await readLease(store)).holder).toBeNull();
      // Released and taken again, even by the same holder: a new token.
      expect(await acquireLease(store, b, 60_000)).toEqual({ holder: b.id, token: 3 });
    });

    it('a write fenced by a token that moved on commits nothing and says the lease was lost', async () => {
      const a = makeLeaseHolder();
      const fenceA = (await acquireLease(store, a, 60_000))!;
      const fencedA = withFence(store, fenceA);
      await commitCycle(fencedA, record({ upserts: [order('1')] }));
      // a is paused past its TTL; another replica takes over.
      await expireLease();
      expect(await acquireLease(store, { ...makeLeaseHolder(), id: 'other-host:2:b', hostname: 'other-host' }, 60_000)).not.toBeNull();
      await expect(commitCycle(fencedA, record({ upserts: [order('2')] }))).rejects.toThrow(LeaseLostError);
      expect([...(await loadSnapshotIndex(store)).keys()]).toEqual(['1']);
      expect(await countRuns()).toBe(1);
    });

    it('takes over at once from a crashed process on this host', async () => {
      // A real process that exits: its pid is then gone.
      const child = spawn(process.execPath, ['-e', '']);
      const pid = child.pid!;
      await new Promise((resolve) => child.on('exit', resolve));
      const dead = { id: `${os.hostname()}:${pid}:dead`, hostname: os.hostname(), pid };
      expect(await acquireLease(store, dead, 60_000)).not.toBeNull();
      expect(await acquireLease(store, makeLeaseHolder(), 60_000)).toEqual(expect.objectContaining({ token: 2 }));
    });

    it('does not take over from a live process on this host before expiry', async () => {
      const live = { id: `${os.hostname()}:${process.ppid}:live`, hostname: os.hostname(), pid: process.ppid };
      expect(await acquireLease(store, live, 60_000)).not.toBeNull();
      expect(await acquireLease(store, makeLeaseHolder(), 60_000)).toBeNull();
    });
  });
});
