/** The store on a real SQLite file: schema, facts written once, the outbox's uniqueness, the lease. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TrackedOrder } from '../../src/domain.js';
import { openStore, type Store } from '../../src/store/database.js';
import { acquireLease, makeLeaseHolder, readLease, releaseLease, renewLease } from '../../src/store/lease.js';
import { commitCycle, loadSnapshotIndex, loadSnapshots, loadTrackedSnapshots, type CycleRecord } from '../../src/store/snapshots.js';
import { listJobs } from '../../src/store/jobs.js';
import { listVanishedAwaiting, requestVanishedCancel, resolveVanished } from '../../src/store/vanished.js';

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

function order(orderNo: string, over: Partial<TrackedOrder> = {}): TrackedOrder {
  return {
    orderNo,
    orderDate: '2026-11-20 10:15:00',
    status: 'open',
    statusId: '2',
    deliveryStatus: 'N',
    payTypeIdentifier: 'K',
    payTypeReference: `ref-${orderNo}`,
    route: { kind: 'provider', provider: 'klarna', providerRef: `ref-${orderNo}` },
    amount: '100.00',
    currency: 'SEK',
    contentHash: `h-${orderNo}-${over.status ?? 'open'}`,
    ...over,
  };
}

function record(over: Partial<CycleRecord>): CycleRecord {
  return {
    holder: 'test',
    startedAt: '2026-11-26T10:00:00.000Z',
    at: '2026-11-26T10:00:01.000Z',
    baseline: false,
    upserts: [],
    cancelledFacts: [],
    vanished: [],
    reappeared: [],
    leftWindow: [],
    jobs: [],
    counts: { listed: 0, newOrders: 0, changed: 0, cancelled: 0, missing: 0, guardTripped: false },
    ...over,
  };
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
    const applied = store.sqlite.prepare('SELECT name FROM kysely_migration').all() as Array<{ name: string }>;
    expect(applied.map((r) => r.name)).toEqual(expect.arrayContaining(['0001_initial', '0002_tracked_index', '0004_lease_identity']));
    expect(applied.map((r) => r.name)).toEqual([...new Set(applied.map((r) => r.name))].sort());
  });
});

describe('commitCycle', () => {
  it('writes cancelled_at and vanished_at once, never overwriting them', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2')], baseline: true }));
    commitCycle(store, record({ at: '2026-11-26T11:00:00.000Z', upserts: [order('1', { status: 'cancelled' })], cancelledFacts: ['1'], vanished: [{ orderNo: '2', status: 'awaiting', note: null }] }));
    commitCycle(store, record({ at: '2026-11-26T12:00:00.000Z', cancelledFacts: ['1'], vanished: [{ orderNo: '2', status: 'awaiting', note: null }] }));
    const snapshots = loadTrackedSnapshots(store);
    expect(snapshots.get('1')?.cancelledAt).toBe('2026-11-26T11:00:00.000Z');
    expect(snapshots.get('2')?.vanishedAt).toBe('2026-11-26T11:00:00.000Z');
    expect(snapshots.get('1')?.firstSeenAt).toBe('2026-11-26T10:00:01.000Z');
  });

  it('reads the tracked rows through the covering index, never walking the history', () => {
    const plan = store.sqlite
      .prepare(
        'EXPLAIN QUERY PLAN SELECT order_no, order_date, content_hash, cancelled_at, vanished_at, vanish_status FROM order_snapshots WHERE left_window_at IS NULL',
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

  it('creates one job per order and reference, whatever asks twice, each with its own key', () => {
    commitCycle(store, record({ upserts: [order('1'), order('2')] }));
    const job = { orderNo: '1', provider: 'klarna' as const, providerRef: 'ref-1', amount: '100.00', currency: 'SEK', reason: 'cancelled' as const };
    const first = commitCycle(store, record({ jobs: [job, { ...job, orderNo: '2', providerRef: 'ref-2' }] }));
    const second = commitCycle(store, record({ jobs: [job, { ...job, reason: 'vanished' }] }));
    expect(first.createdJobs).toHaveLength(2);
    expect(second.createdJobs).toHaveLength(0);
    const keys = store.sqlite.prepare('SELECT idempotency_key FROM cancellation_jobs').all() as Array<{ idempotency_key: string }>;
    expect(new Set(keys.map((k) => k.idempotency_key)).size).toBe(2);
  });

  it('is all or nothing: a failing statement leaves the database as it was', () => {
    commitCycle(store, record({ upserts: [order('1')] }));
    const before = store.sqlite.prepare('SELECT COUNT(*) AS n FROM sync_runs').get() as { n: number };
    // A job for an order with no snapshot violates the foreign key half-way through the commit.
    expect(() =>
      commitCycle(store, record({ upserts: [order('3')], jobs: [{ orderNo: 'nope', provider: 'klarna', providerRef: 'x', amount: null, currency: null, reason: 'cancelled' }] })),
    ).toThrow();
    expect(loadTrackedSnapshots(store).has('3')).toBe(false);
    expect((store.sqlite.prepare('SELECT COUNT(*) AS n FROM sync_runs').get() as { n: number }).n).toBe(before.n);
  });
});

describe('vanished orders', () => {
  it('lists, resolves and cancels vanished orders awaiting a person', async () => {
    commitCycle(store, record({ upserts: [order('1'), order('2'), order('3')] }));
    commitCycle(store, record({ vanished: [{ orderNo: '1', status: 'awaiting', note: null }, { orderNo: '2', status: 'awaiting', note: 'twin' }] }));
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
