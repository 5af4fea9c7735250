/**
 * The lease helper (worker/lease.ts) over the lease SQL (store/lease.ts), on a real SQLite file:
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
import { openStore, type Store } from '../../src/store/database.js';
import { acquireLease, makeLeaseHolder, procProbe, readLease, type LeaseHolder, type ProcessStart } from '../../src/store/lease.js';
import { takeLease } from '../../src/worker/lease.js';
import { FakeClock, SETTINGS, SUCCEEDED, fakeClient, mustGetJob, seedJob } from '../dispatch/helpers.js';

const HOST = os.hostname();
const DAY_MS = 86_400_000;
/** Long enough that the real renewal timer (a quarter of it) never fires during a test. */
const TTL = 60_000;

let dir: string;
let store: Store;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-lease-'));
  store = await openStore(path.join(dir, 'sync.db'));
});
afterEach(async () => {
  jest.useRealTimers();
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A holder of another (imaginary) host: never judged dead, only expired. */
function elsewhere(name: string): LeaseHolder {
  return { id: `other-host:4242:${name}`, hostname: 'other-host', pid: 4242, start: null };
}

/** Writes a lease row as if `holder` had taken it, expiring far in the future. */
function rowHeldBy(holder: LeaseHolder): void {
  store.sqlite.prepare("UPDATE worker_lease SET holder = NULL, expires_at_ms = 0 WHERE name = 'sync'").run();
  expect(acquireLease(store, holder, DAY_MS)).toBe(true);
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

describe('takeLease', () => {
  it('takes, refuses a second taker, keeps it through renewal, frees it at expiry, and releases', () => {
    const clock = new FakeClock();
    const logger = memoryLogger();
    const a = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger, now: clock.now });
    expect(a).not.toBeNull();
    expect(logger.events).toEqual([
      expect.objectContaining({ event: 'lease.acquired', level: 'info', fields: expect.objectContaining({ holder: a!.holder.id, ttlMs: TTL }) }),
    ]);
    expect(readLease(store)).toMatchObject({ holder: a!.holder.id, expiresAtMs: clock.now().getTime() + TTL });

    const b = elsewhere('b');
    const bLogger = memoryLogger();
    expect(takeLease(store, b, { ttlMs: TTL, logger: bLogger, now: clock.now })).toBeNull();
    expect(bLogger.events).toEqual([]);

    // Renewed before it runs out: still a's at a time it would otherwise have expired.
    clock.advance(TTL - 1);
    expect(a!.check()).toBe(true);
    clock.advance(TTL - 1);
    expect(takeLease(store, b, { ttlMs: TTL, logger: bLogger, now: clock.now })).toBeNull();
    expect(a!.lost).toBe(false);

    a!.release();
    expect(readLease(store).holder).toBeNull();
    expect(a!.check()).toBe(false); // released: not ours any more, and not "lost" either
    const bLease = takeLease(store, b, { ttlMs: TTL, logger: bLogger, now: clock.now });
    expect(bLease).not.toBeNull();
    bLease!.release();
  });

  it('check() is false once another process took the expired lease; lease.lost is logged once; release leaves theirs alone', () => {
    const clock = new FakeClock();
    const logger = memoryLogger();
    const a = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger, now: clock.now })!;
    clock.advance(TTL + 1); // a froze and did not renew
    const b = takeLease(store, elsewhere('b'), { ttlMs: TTL, logger: memoryLogger(), now: clock.now });
    expect(b).not.toBeNull();

    expect(a.check()).toBe(false);
    expect(a.lost).toBe(true);
    expect(a.check()).toBe(false);
    const lost = logger.events.filter((e) => e.event === 'lease.lost');
    expect(lost).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ holder: a.holder.id, heldBy: b!.holder.id }) })]);

    a.release();
    expect(readLease(store).holder).toBe(b!.holder.id);
    b!.release();
    expect(readLease(store).holder).toBeNull();
  });

  it('check() is false when our row is gone (cleared under us)', () => {
    const logger = memoryLogger();
    const a = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger })!;
    store.sqlite.prepare("UPDATE worker_lease SET holder = NULL, expires_at_ms = 0 WHERE name = 'sync'").run();
    expect(a.check()).toBe(false);
    expect(logger.events.filter((e) => e.event === 'lease.lost')).toEqual([expect.objectContaining({ fields: expect.objectContaining({ heldBy: null }) })]);
    a.release();
  });

  it('renews on its own timer every quarter of the TTL while the work waits', () => {
    jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00.000Z') });
    const logger = memoryLogger();
    const a = takeLease(store, makeLeaseHolder(), { ttlMs: 1_000, logger })!;
    // Ten TTLs later with no call from the work: the timer kept it.
    jest.advanceTimersByTime(10_000);
    expect(readLease(store)).toMatchObject({ holder: a.holder.id });
    expect(readLease(store).expiresAtMs).toBeGreaterThan(Date.now());
    expect(takeLease(store, elsewhere('b'), { ttlMs: 1_000, logger: memoryLogger() })).toBeNull();

    // Lost while waiting: the timer notices, says so once, and stops.
    store.sqlite.prepare("UPDATE worker_lease SET holder = 'someone-else', expires_at_ms = ? WHERE name = 'sync'").run(Date.now() + DAY_MS);
    jest.advanceTimersByTime(10_000);
    expect(a.lost).toBe(true);
    expect(logger.events.filter((e) => e.event === 'lease.lost')).toHaveLength(1);
    expect(jest.getTimerCount()).toBe(0);
    a.release();
    expect(readLease(store).holder).toBe('someone-else');
  });

  it('a lost lease stops dispatch before the next request; the job not sent is left as it was', async () => {
    const clock = new FakeClock();
    const logger = memoryLogger();
    const lease = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger, now: clock.now })!;
    const first = await seedJob(store, { provider: 'klarna' });
    const second = await seedJob(store, { provider: 'klarna' });
    // The first request outlasts the lease and another process takes it meanwhile.
    const klarna = fakeClient(
      'klarna',
      () => {
        clock.advance(TTL + 1);
        expect(acquireLease(store, elsewhere('b'), TTL, clock.now().getTime())).toBe(true);
        return SUCCEEDED;
      },
      { maxConcurrency: 1 },
    );
    const report = await dispatchDueJobs({ store, providers: { klarna }, settings: SETTINGS, logger, now: clock.now, canSend: () => lease.check() });

    expect(klarna.cancelCalls.map((c) => c.orderNo)).toEqual([first.orderNo]);
    // The answer that did come is recorded; the other job is untouched for the new holder.
    expect((await mustGetJob(store, first.id)).state).toBe('done');
    expect(await mustGetJob(store, second.id)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(report.actions.map((a) => a.jobId)).toEqual([first.id]);
    expect(logger.events.filter((e) => e.event === 'lease.lost')).toHaveLength(1);
    lease.release();
  });
});

describe('a dead holder on this host is taken over at once', () => {
  linuxIt('pid 1 with a start identity other than its own (the pid-1-under-tini restart)', () => {
    const pid1 = procProbe().start(1)!;
    expect(pid1).not.toBeNull();
    const previous: LeaseHolder = { id: `${HOST}:1:before-restart`, hostname: HOST, pid: 1, start: { bootId: pid1.bootId, startTicks: pid1.startTicks + 1 } };
    rowHeldBy(previous);
    const lease = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() });
    expect(lease).not.toBeNull();
    lease!.release();
  });

  linuxIt('a holder recorded in another boot of this host', () => {
    const pid1 = procProbe().start(1)!;
    rowHeldBy({ id: `${HOST}:1:last-boot`, hostname: HOST, pid: 1, start: { bootId: '00000000-0000-0000-0000-000000000000', startTicks: pid1.startTicks } });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).not.toBeNull();
  });

  linuxIt('but pid 1 with its own start identity is alive, and waited for', () => {
    rowHeldBy({ id: `${HOST}:1:alive`, hostname: HOST, pid: 1, start: procProbe().start(1) });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
  });

  it('our own pid under another holder id (a process before us had our pid)', () => {
    for (const start of [null, procProbe().start(process.pid)]) {
      rowHeldBy({ id: `${HOST}:${process.pid}:previous-process`, hostname: HOST, pid: process.pid, start });
      const lease = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() });
      expect(lease).not.toBeNull();
      lease!.release();
    }
  });

  it('but another holder of this very process is alive, and waited for', () => {
    const sibling = takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })!;
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
    sibling.release();
  });

  it('a pid that no longer exists', async () => {
    const child = await liveChild();
    const start = procProbe().start(child.pid);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    rowHeldBy({ id: `${HOST}:${child.pid}:crashed`, hostname: HOST, pid: child.pid, start });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).not.toBeNull();
  });
});

describe('a live holder on this host keeps its lease until it expires', () => {
  linuxIt('another live process, with its real identity', async () => {
    const child = await liveChild();
    const start = procProbe().start(child.pid);
    expect(start).not.toBeNull();
    rowHeldBy({ id: `${HOST}:${child.pid}:live`, hostname: HOST, pid: child.pid, start });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
    expect(readLease(store).holder).toBe(`${HOST}:${child.pid}:live`);
  });

  it('a row written before the identity existed (old version): judged by pid alone, as before', async () => {
    const child = await liveChild();
    rowHeldBy({ id: `${HOST}:${child.pid}:old-version`, hostname: HOST, pid: child.pid, start: null });
    expect(readLease(store)).toMatchObject({ bootId: null, startTicks: null });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
  });

  it('where /proc cannot be read, a live pid is alive whatever identity the row records', async () => {
    const child = await liveChild();
    const notItsStart: ProcessStart = { bootId: 'another-boot', startTicks: 1 };
    rowHeldBy({ id: `${HOST}:${child.pid}:live`, hostname: HOST, pid: child.pid, start: notItsStart });
    const now = Date.now();
    expect(acquireLease(store, makeLeaseHolder(), TTL, now, procProbe(path.join(dir, 'no-proc-here')))).toBe(false);
    // With /proc readable the same row is a reused pid: taken.
    if (onLinux) expect(acquireLease(store, makeLeaseHolder(), TTL, now)).toBe(true);
  });

  it('a holder on another host is never judged, only expired', () => {
    rowHeldBy({ id: 'other-host:1:x', hostname: 'other-host', pid: 1, start: { bootId: 'x', startTicks: 1 } });
    expect(takeLease(store, makeLeaseHolder(), { ttlMs: TTL, logger: memoryLogger() })).toBeNull();
  });
});
