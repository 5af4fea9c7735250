/**
 * "Never act on an incomplete view", end to end: a listing that fails in any way changes nothing
 * in the database (snapshots, jobs and runs compared row by row) and the run exits 1 with a
 * `sync.failed` alert. Each case first makes sure a successful run WOULD change things (a baseline,
 * then a cancellation and a new order waiting in the sandbox), and ends by showing that the next
 * healthy run does make those changes.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { type CliResult, expectExit } from '../support/cli.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { clearFaults } from '../support/sandbox.js';
import { useSandboxWorld } from '../support/world.js';

jest.setTimeout(60_000);

let world!: SandboxWorld;
// Eight orders: with SPECTER_PAGE_SIZE=2 the listing has four pages.
const workspace = useSandboxWorld((w) => (world = w), { orders: Array.from({ length: 8 }, (_, i) => makeOrder({ method: i % 2 === 0 ? 'K' : 'QL' })) });

interface Case {
  name: string;
  env?: Record<string, string>;
  inject(world: SandboxWorld): void;
  /** Checks on the failing run (request counts and the like). */
  check?(run: CliResult, specterRequests: number): void;
}

const cases: Case[] = [
  {
    name: 'HTTP 500 on every request',
    env: { SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.faults.add({ kind: 'status', status: 500, body: 'Internal Server Error' }, { times: Infinity }),
    check: (run, requests) => {
      expect(requests).toBe(2);
      expect(run.events('sync.failed')[0]).toMatchObject({ willRetry: true });
    },
  },
  {
    name: 'an HTML page instead of XML',
    env: { SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.serveHtmlPage({ status: 200, times: 100 }),
  },
  {
    name: 'truncated XML',
    env: { SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.tamperListing('truncate', { times: 100 }),
  },
  {
    name: 'code 10 (authentication), never retried',
    env: { SPECTER_MAX_ATTEMPTS: '4' },
    inject: (w) => w.specter.failWithCode(10, { times: 100 }),
    check: (run, requests) => {
      expect(requests).toBe(1);
      expect(run.events('specter.retry')).toHaveLength(0);
      expect(run.events('sync.failed')[0]).toMatchObject({ kind: 'auth', willRetry: false });
    },
  },
  {
    name: 'code 30 (too many requests) until the retries run out',
    env: { SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.failWithCode(30, { times: 2, action: 'getOrders' }),
    check: (run, requests) => {
      expect(requests).toBe(2);
      expect(run.events('specter.retry')).toHaveLength(1);
    },
  },
  {
    name: 'a missing page (page 2 of 4 comes back empty)',
    env: { SPECTER_PAGE_SIZE: '2', SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.tamperListing('emptyPage', { page: 2, times: 100 }),
    check: (_run, requests) => {
      expect(requests).toBeGreaterThanOrEqual(2);
    },
  },
  {
    name: 'a request that never answers (the timeout fires)',
    env: { SPECTER_TIMEOUT_MS: '300', SPECTER_MAX_ATTEMPTS: '2' },
    inject: (w) => w.specter.faults.add({ kind: 'hang' }, { times: Infinity }),
  },
];

describe('a failing listing changes nothing and exits 1', () => {
  it.each(cases)('$name', async (c) => {
    const ws = workspace(c.env ?? {});
    const victim = makeOrder({ method: 'K' });
    world.specter.add(victim);
    const base = await ws.run(['once']);
    expectExit(base, 0);

    // A pending change a successful run would record and act on.
    world.specter.cancel(victim.orderNo);
    const newcomer = makeOrder({ method: 'QL' });
    world.specter.add(newcomer);
    const before = ws.dump();
    const klarnaBefore = world.klarna.requests.length;

    c.inject(world);
    const requestsBefore = world.specter.requests.length;
    const failed = await ws.run(['once']);
    const specterRequests = world.specter.requests.length - requestsBefore;
    expectExit(failed, 1);
    const syncFailed = failed.events('sync.failed');
    expect(syncFailed).toHaveLength(1);
    expect(syncFailed[0]).toMatchObject({ level: 'error', alert: true });
    expect(failed.events('sync.completed')).toHaveLength(0);
    expect(failed.events('order.cancel_detected')).toHaveLength(0);
    expect(failed.events('order.vanished')).toHaveLength(0);
    expect(ws.dump()).toEqual(before);
    expect(world.klarna.requests.length).toBe(klarnaBefore);
    c.check?.(failed, specterRequests);

    // The premise: once Specter answers properly, the same run does change things.
    clearFaults(world);
    const healthy = await ws.run(['once']);
    expectExit(healthy, 0);
    expect(ws.dump()).not.toEqual(before);
    expect(ws.jobs(victim.orderNo)).toEqual([expect.objectContaining({ reason: 'cancelled', state: 'done' })]);
    expect(ws.snapshot(newcomer.orderNo)).toBeDefined();
    expect(world.klarna.cancelRequests(providerRefOf(victim))).toBe(1);
    // Nothing of the failed run lingers as a vanished order.
    expect(healthy.events('order.vanished')).toHaveLength(0);
  });
});
