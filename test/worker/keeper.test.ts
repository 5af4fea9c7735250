/**
 * The lease `run` keeps (worker/keeper.ts), on both engines (a real SQLite file, a real PostgreSQL
 * database): taken once and kept across ticks; a standby takes nothing and lends nothing; lost
 * once, it is a standby again and takes the lease back when it is free; a person's send waits for
 * the cycle in flight and a tick for the send (one sender at a time); a graceful stop frees it.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memoryLogger } from '../../src/observability/logger.js';
import type { Store } from '../../src/store/database.js';
import { acquireLease, makeLeaseHolder, readLease, type LeaseHolder } from '../../src/store/lease.js';
import { createLeaseKeeper } from '../../src/worker/keeper.js';
import { ENGINES, openTestStore } from '../support/postgres.js';

/** Long enough that the real renewal timer (a quarter of it) never fires during a test. */
const TTL = 60_000;

let dir: string;
let store: Store;

/** A holder of another (imaginary) host: never judged dead, only expired. */
const elsewhere: LeaseHolder = { id: 'other-host:4242:standby-test', hostname: 'other-host', pid: 4242, start: null };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe.each(ENGINES)('on %s', (engine) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-keeper-'));
    store = await openTestStore(engine, dir);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the lease once and keeps it across ticks; a graceful stop frees it and lends it no more', async () => {
    const logger = memoryLogger();
    const holder = makeLeaseHolder();
    const keeper = createLeaseKeeper({ store, holder, ttlMs: TTL, logger });
    const first = await keeper.hold();
    expect(first).not.toBeNull();
    // Later ticks: the same lease, renewed, not taken again; the row names us between them.
    expect(await keeper.hold()).toBe(first);
    expect(await keeper.hold()).toBe(first);
    expect(await readLease(store)).toMatchObject({ holder: holder.id, token: first!.fence.token });
    expect(logger.events.filter((e) => e.event === 'lease.acquired')).toHaveLength(1);

    await keeper.release();
    expect(await readLease(store)).toMatchObject({ holder: null });
    expect(logger.events.filter((e) => e.event === 'lease.released')).toEqual([
      expect.objectContaining({ level: 'info', fields: expect.objectContaining({ holder: holder.id }) }),
    ]);
    expect(await keeper.hold()).toBeNull();
    expect(await keeper.withHeldLease(async () => 'sent')).toBeNull();
    // Freed, so another process takes it at once (no TTL to wait out).
    expect(await acquireLease(store, elsewhere, TTL)).not.toBeNull();
  });

  it('a lease that cannot be freed on stop (the database refuses) does not fail the stop: it is logged, and expires by itself', async () => {
    const logger = memoryLogger();
    const keeper = createLeaseKeeper({ store, holder: makeLeaseHolder(), ttlMs: TTL, logger });
    expect(await keeper.hold()).not.toBeNull();
    await store.db.schema.dropTable('worker_lease').execute();
    await expect(keeper.release()).resolves.toBeUndefined();
    expect(logger.events.filter((e) => e.event === 'sync.failed')).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ phase: 'lease', willRetry: false }) }),
    ]);
    expect(logger.events.filter((e) => e.event === 'lease.released')).toEqual([]);
  });

  it('a standby takes nothing and lends nothing; lost once, it stands by, and takes the lease again when it is free', async () => {
    const logger = memoryLogger();
    const keeper = createLeaseKeeper({ store, holder: makeLeaseHolder(), ttlMs: TTL, logger });
    expect(await acquireLease(store, elsewhere, TTL)).not.toBeNull();
    expect(await keeper.hold()).toBeNull();
    let ran = false;
    expect(
      await keeper.withHeldLease(async () => {
        ran = true;
      }),
    ).toBeNull();
    expect(ran).toBe(false);

    // Free now: taken at the next tick. Then it expires and the other takes it (a freeze).
    await store.db.updateTable('worker_lease').set({ holder: null, expires_at_ms: 0 }).execute();
    const mine = await keeper.hold();
    expect(mine).not.toBeNull();
    await store.db.updateTable('worker_lease').set({ expires_at_ms: 1 }).execute();
    expect(await acquireLease(store, elsewhere, TTL)).not.toBeNull();
    expect(await keeper.hold()).toBeNull();
    expect(mine!.lost).toBe(true);
    expect(await keeper.hold()).toBeNull();
    expect(logger.events.filter((e) => e.event === 'lease.lost')).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ heldBy: elsewhere.id }) }),
    ]);
    expect(await keeper.withHeldLease(async () => 'sent')).toBeNull();

    // The other freed it: taken back, with a new token, and lent again.
    await store.db.updateTable('worker_lease').set({ holder: null, expires_at_ms: 0 }).execute();
    const again = await keeper.hold();
    expect(again!.fence.token).toBeGreaterThan(mine!.fence.token);
    expect(await keeper.withHeldLease(async (lease) => lease.fence.token)).toBe(again!.fence.token);
    expect(logger.events.filter((e) => e.event === 'lease.acquired')).toHaveLength(2);
    await keeper.release();
  });

  it('one sender at a time: a send waits for the cycle in flight, and the next tick waits for the send', async () => {
    const keeper = createLeaseKeeper({ store, holder: makeLeaseHolder(), ttlMs: TTL, logger: memoryLogger() });
    const order: string[] = [];
    const [cycleGate, sendGate, cycleHolds, sendStarted] = [deferred(), deferred(), deferred(), deferred()];
    const cycle = keeper.exclusive(async () => {
      order.push('cycle:start');
      await keeper.hold();
      cycleHolds.resolve();
      await cycleGate.promise;
      order.push('cycle:end');
    });
    const send = keeper.withHeldLease(async (lease) => {
      order.push('send:start');
      sendStarted.resolve();
      await sendGate.promise;
      order.push('send:end');
      return lease.fence.token;
    });
    const tick = keeper.exclusive(async () => {
      order.push('tick:start');
    });
    // The cycle holds the lease and waits: the send and the tick are queued behind it.
    await cycleHolds.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['cycle:start']);
    cycleGate.resolve();
    await cycle;
    await sendStarted.promise;
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['cycle:start', 'cycle:end', 'send:start']);
    sendGate.resolve();
    expect(await send).toEqual(expect.any(Number));
    await tick;
    expect(order).toEqual(['cycle:start', 'cycle:end', 'send:start', 'send:end', 'tick:start']);
    await keeper.release();
  });
});
