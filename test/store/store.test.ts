/** The store on a real SQLite file: schema, facts written once, the outbox's uniqueness, the lease. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/database.js';
import { acquireLease, makeLeaseHolder, readLease, releaseLease, renewLease } from '../../src/store/lease.js';
import { commitCycle, type CycleRecord } from '../../src/store/commit.js';
import { loadSnapshotIndex, loadSnapshots } from '../../src/store/snapshots.js';
import { listJobs } from '../../src/store/jobs.js';
import { cycleRecord, klarnaJob, trackedOrder as order } from '../support/records.js';
import { listVanishedAwaiting, resolveVanished } from '../../src/store/vanished.js';
import { requestVanishedCancel } from '../../src/store/jobWrites.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-store-'));
  store = await openStore(path.join(dir, 'nested', 'sync.db'));
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function record(over: Partial<CycleRecord>): CycleRecord {
  return cycleRecord(over);
}

describe('opening', () => {
  it('creates the folder and a private (0600) database file, with WAL and foreign keys on', () => {
    const file = path.join(dir, 'nested', 'sync.db');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(Number(store.sqlite.pragma('busy_timeout', { simple: true }))).toBeGreaterThan(0);
  });

  it('applies migrations once; reopening is a no-op', async () => {
    await store.close();
    store = await openStore(path.join(dir, 'nested', 'sync.db'));
    const applied = store.sqlite.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as Array<{ name: string }>;
    const files = fs
      .readdirSync(new URL('../../migrations/', import.meta.url))
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(applied.map((r) => `${r.name}.sql`)).toEqual(files);
    expect(files.slice(0, 4)).toEqual(['0001_initial.sql', '0002_tracked_index.sql', '0003_payments.sql', '0004_lease_identity.sql']);
  });
});

describe('commitCycle', () => {
  it('writes cancelled_at and vanished_at once, never overwriting them', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2')], baseline: true }));
    commitCycle(
      store,
      record({
        at: '2026-11-26T11:00:00.000Z',
        upserts: [order('1', { status: 'cancelled' })],
        cancelledFacts: ['1'],
        vanished: [{ orderNo: '2', status: 'awaiting', note: null }],
      }),
    );
    commitCycle(store, record({ at: '2026-11-26T12:00:00.000Z', cancelledFacts: ['1'], vanished: [{ orderNo: '2', status: 'awaiting', note: null }] }));
    const snapshots = loadSnapshotIndex(store);
    expect(snapshots.get('1')?.cancelledAt).toBe('2026-11-26T11:00:00.000Z');
    expect(snapshots.get('2')?.vanishedAt).toBe('2026-11-26T11:00:00.000Z');
    expect(loadSnapshots(store, ['1'])[0]?.firstSeenAt).toBe('2026-11-26T10:00:01.000Z');
  });

  it('reads the tracked rows through the covering index, never walking the history', () => {
    const plan = store.sqlite
      .prepare(
        'EXPLAIN QUERY PLAN SELECT order_no, order_date, content_hash, status, payment_key, pay_type_identifier, pay_type_reference, cancelled_at, vanished_at, vanish_status FROM order_snapshots WHERE left_window_at IS NULL',
      )
      .all() as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toContain('USING COVERING INDEX order_snapshots_tracked');
  });

  it('the compact index holds what the diff needs; full rows are read for the few acted on', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2', { status: 'cancelled' }), order('3')], cancelledFacts: ['2'] }));
    commitCycle(store, record({ leftWindow: ['3'] }));
    const index = loadSnapshotIndex(store);
    expect([...index.keys()]).toEqual(['1', '2']);
    expect(index.get('2')).toEqual({
      orderNo: '2',
      orderDate: '2026-11-20 10:15:00',
      contentHash: 'h-2-cancelled',
      status: 'cancelled',
      paymentKey: 'klarna:ref-2',
      rawPayment: 'K:ref-2',
      cancelledAt: '2026-11-26T10:00:01.000Z',
      vanishedAt: null,
      vanishStatus: null,
    });
    const full = loadSnapshots(store, ['2', 'missing', '1']);
    expect(full.map((s) => [s.orderNo, s.route.kind, s.amount])).toEqual([
      ['2', 'provider', '100.00'],
      ['1', 'provider', '100.00'],
    ]);
  });

  it('creates one job per payment, whatever asks twice and however many orders carry it, each payment with its own key', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2'), order('3')] }));
    const first = commitCycle(store, record({ jobs: [klarnaJob('1', 'ref-1'), klarnaJob('2', 'ref-2')] }));
    // Order 3 carries order 1's payment; a vanish of order 1 asks for the same payment again.
    const second = commitCycle(store, record({ jobs: [klarnaJob('3', 'ref-1'), { ...klarnaJob('1', 'ref-1'), reason: 'vanished' }] }));
    expect(first.createdJobs).toHaveLength(2);
    expect(second.createdJobs).toHaveLength(0);
    const rows = store.sqlite.prepare('SELECT order_no, payment_key, idempotency_key FROM cancellation_jobs ORDER BY id').all() as Array<
      Record<string, string>
    >;
    expect(rows.map((r) => [r.order_no, r.payment_key])).toEqual([
      ['1', 'klarna:ref-1'],
      ['2', 'klarna:ref-2'],
    ]);
    expect(new Set(rows.map((k) => k.idempotency_key)).size).toBe(2);
  });

  it('re-arms a voided job of the payment with its original key instead of making a second one', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2')] }));
    const [created] = commitCycle(store, record({ jobs: [klarnaJob('1', 'ref-1')] })).createdJobs;
    const voided = commitCycle(store, record({ voids: [{ jobId: created!.id, reason: 'reopened' }] }));
    expect(voided.voided).toEqual([{ jobId: created!.id, reason: 'reopened' }]);
    expect(store.sqlite.prepare('SELECT state, void_reason FROM cancellation_jobs').get()).toEqual({ state: 'voided', void_reason: 'reopened' });
    const rearmed = commitCycle(store, record({ jobs: [klarnaJob('2', 'ref-1')] })).createdJobs;
    expect(rearmed).toEqual([expect.objectContaining({ id: created!.id, idempotencyKey: created!.idempotencyKey, rearmed: true, orderNo: '2' })]);
    expect(store.sqlite.prepare('SELECT order_no, state, void_reason, idempotency_key FROM cancellation_jobs').all()).toEqual([
      { order_no: '2', state: 'pending', void_reason: null, idempotency_key: created!.idempotencyKey },
    ]);
    // A done job is never voided: what went out went out.
    store.sqlite.prepare("UPDATE cancellation_jobs SET state = 'done'").run();
    expect(commitCycle(store, record({ voids: [{ jobId: created!.id, reason: 'reopened' }] })).voided).toEqual([]);
  });

  it('is all or nothing: a failing statement leaves the database as it was', () => {
    commitCycle(store, record({ upserts: [order('1')] }));
    const before = store.sqlite.prepare('SELECT COUNT(*) AS n FROM sync_runs').get() as { n: number };
    // A job for an order with no snapshot violates the foreign key half-way through the commit.
    expect(() => commitCycle(store, record({ upserts: [order('3')], jobs: [klarnaJob('nope', 'x')] }))).toThrow();
    expect(loadSnapshotIndex(store).has('3')).toBe(false);
    expect((store.sqlite.prepare('SELECT COUNT(*) AS n FROM sync_runs').get() as { n: number }).n).toBe(before.n);
  });
});

describe('vanished orders', () => {
  it('lists, resolves and cancels vanished orders awaiting a person', async () => {
    commitCycle(store, record({ upserts: [order('1'), order('2'), order('3')] }));
    commitCycle(
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

    const queued = requestVanishedCancel(store, '2', '2026-11-26T13:00:00.000Z');
    expect(queued.kind).toBe('queued');
    expect(requestVanishedCancel(store, '2', '2026-11-26T13:00:00.000Z').kind).toBe('not_awaiting');
    expect(requestVanishedCancel(store, '3', '2026-11-26T13:00:00.000Z').kind).toBe('not_awaiting');
    expect(await listVanishedAwaiting(store)).toEqual([]);
    const jobs = await listJobs(store);
    expect(jobs.map((j) => [j.orderNo, j.reason, j.state])).toEqual([['2', 'vanished', 'pending']]);
  });
});

describe('the lease', () => {
  it('has one holder at a time, expires, renews and releases', () => {
    const a = makeLeaseHolder();
    const b = { ...makeLeaseHolder(), id: 'other-host:1:b', hostname: 'other-host' };
    expect(acquireLease(store, a, 1000, 10_000)).toBe(true);
    expect(acquireLease(store, b, 1000, 10_500)).toBe(false);
    expect(renewLease(store, a, 1000, 10_900)).toBe(true);
    expect(acquireLease(store, b, 1000, 11_500)).toBe(false);
    // Expired: b may take it, and a's renewal then fails.
    expect(acquireLease(store, b, 1000, 12_000)).toBe(true);
    expect(renewLease(store, a, 1000, 12_001)).toBe(false);
    releaseLease(store, a); // not a's any more: no effect
    expect(readLease(store).holder).toBe(b.id);
    releaseLease(store, b);
    expect(readLease(store).holder).toBeNull();
  });

  it('takes over at once from a crashed process on this host', async () => {
    // A real process that exits: its pid is then gone.
    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid!;
    await new Promise((resolve) => child.on('exit', resolve));
    const dead = { id: `${os.hostname()}:${pid}:dead`, hostname: os.hostname(), pid };
    const now = Date.now();
    expect(acquireLease(store, dead, 60_000, now)).toBe(true);
    expect(acquireLease(store, makeLeaseHolder(), 60_000, now + 1)).toBe(true);
  });

  it('does not take over from a live process on this host before expiry', () => {
    const live = { id: `${os.hostname()}:${process.ppid}:live`, hostname: os.hostname(), pid: process.ppid };
    const now = Date.now();
    expect(acquireLease(store, live, 60_000, now)).toBe(true);
    expect(acquireLease(store, makeLeaseHolder(), 60_000, now + 1)).toBe(false);
  });
});
