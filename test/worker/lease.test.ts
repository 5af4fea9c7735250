/**
 * The lease helper (worker/lease.ts) over the lease SQL (store/lease.ts), on both engines (a real
 * SQLite file, a real PostgreSQL database), judged by the database's clock:
 * one holder at a time, renewal keeps it, expiry frees it, a lost lease says so once and stops
 * sending, and a dead holder on this host is recognised by its process instance, not its pid —
 * with real processes (pid 1, a live child, our own pid).
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dispatchDueJobs } from '../../src/dispatch/dispatcher.js';
import { memoryLogger } from '../../src/observability/logger.js';
import { withFence, type Store } from '../../src/store/database.js';
import { acquireLease, makeLeaseHolder, procProbe, readLease, type LeaseHolder, type ProcessStart } from '../../src/store/lease.js';
import { takeLease } from '../../src/worker/lease.js';
import { SETTINGS, SUCCEEDED, fakeClient, mustGetJob, seedJob } from '../dispatch/helpers.js';
import { ENGINES, openTestStore } from '../support/postgres.js';

const HOST = os.hostname();
const DAY_MS = 86_400_000;
/** Long enough that the real renewal timer (a quarter of it) never fires during a test. */
const TTL = 60_000;

let dir: string;
let store: Store;
const children: ChildProcess[] = [];

/** A holder of another (imaginary) host: never judged dead, only expired. */
function elsewhere(name: string): LeaseHolder {
  return { id: `other-host:4242:${name}`, hostname: 'other-host', pid: 4242, start: null };
}

/** Writes a lease row as if `holder` had taken it, expiring far in the future. */
async function rowHeldBy(holder: LeaseHolder): Promise<void> {
  await store.db.updateTable('worker_lease').set({ holder: null, expires_at_ms: 0 }).execute();
  expect(await acquireLease(store, holder, DAY_MS)).not.toBeNull();
}

/** The TTL ran out by the database's clock (the holder froze and did not renew). */
async function expire(): Promise<void> {
  await store.db.updateTable('worker_lease').set({ expires_at_ms: 1 }).execute();
}

async function liveChild(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child as ChildProcess & { pid: number };
}

const onLinux = procProbe().start(process.pid) !== null;
const linuxIt = onLinux ? it : it.skip;

describe.each(ENGINES)('on %s', (engine) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-lease-'));
    store = await openTestStore(engine, dir);
  });
  afterEach(async () => {
    jest.useRealTimers();
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('takeLease', () => {
    it('takes, refuses a second taker, keeps it through renewal, frees it at expiry, and releases', async () => {
      const logger = memoryLogger();
      const a = await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger });
      expect(a).not.toBeNull();
      expect(logger.events).toEqual([
        expect.objectContaining({ event: 'lease.acquired', level: 'info', fields: expect.objectContaining({ holder: a!.holder.id, token: 1, ttlMs: TTL }) }),
      ]);
      const held = await readLease(store);
      expect(held).toMatchObject({ holder: a!.holder.id, token: 1 });
      // By the database's clock: expiry is its now plus the TTL.
      expect(held.expiresAtMs - held.nowMs).toBeGreaterThan(TTL - 10_000);
      expect(held.expiresAtMs - held.nowMs).toBeLessThanOrEqual(TTL);

      const b = elsewhere('b');
      const bLogger = memoryLogger();
      expect(await takeLease(store, b, { ttlMs: TTL, logger: bLogger })).toBeNull();
      expect(bLogger.events).toEqual([]);

      // Renewed after it ran out but before anyone took it: still a's, the same token.
      await expire();
      expect(await a!.check()).toBe(true);
      expect(await takeLease(store, b, { ttlMs: TTL, logger: bLogger })).toBeNull();
      expect(a!.lost).toBe(false);

      await a!.release();
      expect((await readLease(store)).holder).toBeNull();
      expect(await a!.check()).toBe(false); // released: not ours any more, and not "lost" either
      const bLease = await takeLease(store, b, { ttlMs: TTL, logger: bLogger });
      expect(bLease?.fence.token).toBe(2);
      await bLease!.release();
    });

    it('check() is false once another process took the expired lease; lease.lost is logged once; release leaves theirs alone', async () => {
      const logger = memoryLogger();
      const a = (await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger }))!;
      await expire(); // a froze and did not renew
      const b = await takeLease(store, elsewhere('b'), { ttlMs: TTL, logger: memoryLogger() });
      expect(b).not.toBeNull();

      expect(await a.check()).toBe(false);
      expect(a.lost).toBe(true);
      expect(await a.check()).toBe(false);
      const lost = logger.events.filter((e) => e.event === 'lease.lost');
      expect(lost).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ holder: a.holder.id, heldBy: b!.holder.id }) })]);

      await a.release();
      expect((await readLease(store)).holder).toBe(b!.holder.id);
      await b!.release();
      expect((await readLease(store)).holder).toBeNull();
    });

    it('check() is false when our row is gone (cleared under us)', async () => {
      const logger = memoryLogger();
      const a = (await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger }))!;
      await store.db.updateTable('worker_lease').set({ holder: null, expires_at_ms: 0 }).execute();
      expect(await a.check()).toBe(false);
      expect(logger.events.filter((e) => e.event === 'lease.lost')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ heldBy: null }) })]);
      await a.release();
    });

    it('renews on its own timer every quarter of the TTL while the work waits', async () => {
      const logger = memoryLogger();
      // Only the timers are faked (the database's clock is real): the timer's renewal is seen in
      // the expiry moving on from a value set far in the past.
      jest.useFakeTimers({ doNotFake: ['Date', 'nextTick', 'setImmediate', 'queueMicrotask'] });
      const a = (await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger }))!;
      try {
        await expire();
        await jest.advanceTimersByTimeAsync(TTL / 4 + 1);
        // The timer's renewal is on its way (on PostgreSQL over another pooled connection): read
        // until it lands, each read a round trip of its own.
        let renewed = await readLease(store);
        for (let i = 0; i < 200 && renewed.expiresAtMs <= renewed.nowMs; i++) renewed = await readLease(store);
        expect(renewed).toMatchObject({ holder: a.holder.id });
        expect(renewed.expiresAtMs).toBeGreaterThan(renewed.nowMs);

        // Lost while waiting: the timer notices, says so once, and stops.
        await store.db.updateTable('worker_lease').set({ holder: 'someone-else', token: 99 }).execute();
        await jest.advanceTimersByTimeAsync(TTL);
        const lostLogged = () => logger.events.some((e) => e.event === 'lease.lost');
        for (let i = 0; i < 200 && !lostLogged(); i++) await readLease(store);
        expect(a.lost).toBe(true);
        expect(logger.events.filter((e) => e.event === 'lease.lost')).toHaveLength(1);
      } finally {
        jest.useRealTimers();
      }
      await a.release();
      expect((await readLease(store)).holder).toBe('someone-else');
    });

    it('a lost lease stops dispatch before the next request; the job not sent is left as it was', async () => {
      const logger = memoryLogger();
      const lease = (await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger }))!;
      const first = await seedJob(store, { provider: 'klarna' });
      const second = await seedJob(store, { provider: 'klarna' });
      // The first request outlasts the lease and another process takes it meanwhile.
      const klarna = fakeClient(
        'klarna',
        async () => {
          await expire();
          expect(await acquireLease(store, elsewhere('b'), TTL)).not.toBeNull();
          return SUCCEEDED;
        },
        { maxConcurrency: 1 },
      );
      const report = await dispatchDueJobs({
        store: withFence(store, lease.fence),
        providers: { klarna },
        settings: SETTINGS,
        logger,
        canSend: () => lease.check(),
      });

      expect(klarna.cancelCalls.map((c) => c.orderNo)).toEqual([first.orderNo]);
      // Fenced: the answer that came after the takeover is NOT recorded by us (the job stays in
      // flight, for the new holder to repeat with the same key); the other job is untouched.
      expect(await mustGetJob(store, first.id)).toMatchObject({ state: 'sending', attempts: 1 });
      expect(await mustGetJob(store, second.id)).toMatchObject({ state: 'pending', attempts: 0 });
      expect(report.actions).toEqual([]);
      expect(logger.events.filter((e) => e.event === 'lease.lost')).toHaveLength(1);
      await lease.release();
    });
  });

  describe('a dead holder on this host is taken over at once', () => {
    linuxIt('pid 1 with a start identity other than its own (the pid-1-under-tini restart)', async () => {
      const pid1 = procProbe().start(1)!;
      expect(pid1).not.toBeNull();
      const previous: LeaseHolder = { id: `${HOST}:1:before-restart`, hostname: HOST, pid: 1, start: { bootId: pid1.bootId, startTicks: pid1.startTicks + 1 } };
      await rowHeldBy(previous);
      const lease = await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() });
      expect(lease).not.toBeNull();
      await lease!.release();
    });

    linuxIt('a holder recorded in another boot of this host', async () => {
      const pid1 = procProbe().start(1)!;
      await rowHeldBy({
        id: `${HOST}:1:last-boot`,
        hostname: HOST,
        pid: 1,
        start: { bootId: '00000000-0000-0000-0000-000000000000', startTicks: pid1.startTicks },
      });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).not.toBeNull();
    });

    linuxIt('but pid 1 with its own start identity is alive, and waited for', async () => {
      await rowHeldBy({ id: `${HOST}:1:alive`, hostname: HOST, pid: 1, start: procProbe().start(1) });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
    });

    it('our own pid under another holder id (a process before us had our pid)', async () => {
      for (const start of [null, procProbe().start(process.pid)]) {
        await rowHeldBy({ id: `${HOST}:${process.pid}:previous-process`, hostname: HOST, pid: process.pid, start });
        const lease = await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() });
        expect(lease).not.toBeNull();
        await lease!.release();
      }
    });

    it('but another holder of this very process is alive, and waited for', async () => {
      const sibling = (await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() }))!;
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
      await sibling.release();
    });

    it('a pid that no longer exists', async () => {
      const child = await liveChild();
      const start = procProbe().start(child.pid);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      await rowHeldBy({ id: `${HOST}:${child.pid}:crashed`, hostname: HOST, pid: child.pid, start });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).not.toBeNull();
    });
  });

  describe('a live holder on this host keeps its lease until it expires', () => {
    linuxIt('another live process, with its real identity', async () => {
      const child = await liveChild();
      const start = procProbe().start(child.pid);
      expect(start).not.toBeNull();
      await rowHeldBy({ id: `${HOST}:${child.pid}:live`, hostname: HOST, pid: child.pid, start });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
      expect((await readLease(store)).holder).toBe(`${HOST}:${child.pid}:live`);
    });

    it('a row written before the identity existed (old version): judged by pid alone, as before', async () => {
      const child = await liveChild();
      await rowHeldBy({ id: `${HOST}:${child.pid}:old-version`, hostname: HOST, pid: child.pid, start: null });
      expect(await readLease(store)).toMatchObject({ bootId: null, startTicks: null });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
    });

    it('where /proc cannot be read, a live pid is alive whatever identity the row records', async () => {
      const child = await liveChild();
      const notItsStart: ProcessStart = { bootId: 'another-boot', startTicks: 1 };
      await rowHeldBy({ id: `${HOST}:${child.pid}:live`, hostname: HOST, pid: child.pid, start: notItsStart });
      expect(await acquireLease(store, makeLeaseHolder(), TTL, procProbe(path.join(dir, 'no-proc-here')))).toBeNull();
      // With /proc readable the same row is a reused pid: taken.
      if (onLinux) expect(await acquireLease(store, makeLeaseHolder(), TTL)).not.toBeNull();
    });

    it('a holder on another host is never judged, only expired', async () => {
      await rowHeldBy({ id: 'other-host:1:x', hostname: 'other-host', pid: 1, start: { bootId: 'x', startTicks: 1 } });
      expect(await takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
    });
  });
});
