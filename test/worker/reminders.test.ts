/**
 * What `jobs.reminder` lists, on a real SQLite file with rows written the way the worker writes
 * them (commitCycle for orders and jobs, the outbox's transitions for failures): failed jobs of
 * every reason, jobs waiting more than a day for an unconfigured provider, and nothing else.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FailureReason, ProviderName, TrackedOrder } from '../../src/domain.js';
import { openStore, type Store } from '../../src/store/database.js';
import { type NewCancellationJob } from '../../src/store/jobs.js';
import { markAccepted, markDone, markFailed, markSending } from '../../src/store/outbox.js';
import { listFailedJobsForReminder, listJobsWaitingForProvider, REMINDER_MESSAGE_MAX_CHARS } from '../../src/store/reminders.js';
import { commitCycle, type CycleRecord } from '../../src/store/commit.js';
import { cycleRecord } from '../support/records.js';
import { registeredProviders, describeJobsReminder } from '../../src/worker/monitor.js';

const NOW = Date.parse('2026-11-26T12:00:00.000Z');
const HOUR = 3_600_000;
const at = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const DAY_AGO = at(24 * HOUR);

let dir: string;
let store: Store;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-reminders-'));
  store = await openStore(path.join(dir, 'sync.db'));
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function order(orderNo: string, provider: ProviderName): TrackedOrder {
  return {
    orderNo,
    orderDate: '2026-11-20 10:15:00',
    status: 'cancelled',
    statusId: '5',
    deliveryStatus: 'N',
    payTypeIdentifier: 'K',
    payTypeReference: `ref-${orderNo}`,
    route: { kind: 'provider', provider, providerRef: `ref-${orderNo}` },
    paymentKey: `${provider}:ref-${orderNo}`,
    amount: '100.00',
    currency: 'SEK',
    contentHash: `h-${orderNo}`,
  };
}

function cycle(when: string, over: Partial<CycleRecord>): CycleRecord {
  return cycleRecord({ startedAt: when, at: when, counts: { listed: 1, newOrders: 1, changed: 0, cancelled: 1, missing: 0, guardTripped: false }, ...over });
}

/** One cancelled order and its job, committed as a cycle does it, `msAgo` before NOW; the job's id. */
async function cancelledJob(orderNo: string, provider: ProviderName, msAgo: number, hold?: NewCancellationJob['hold']): Promise<number> {
  const when = at(msAgo);
  const o = order(orderNo, provider);
  const { createdJobs } = await commitCycle(
    store,
    cycle(when, {
      upserts: [o],
      cancelledFacts: [orderNo],
      jobs: [
        {
          orderNo,
          paymentKey: `${provider}:ref-${orderNo}`,
          provider,
          providerRef: `ref-${orderNo}`,
          payTypeIdentifier: o.payTypeIdentifier,
          payTypeReference: o.payTypeReference,
          amount: o.amount,
          currency: o.currency,
          reason: 'cancelled',
          ...(hold ? { hold } : {}),
        },
      ],
    }),
  );
  expect(createdJobs).toHaveLength(1);
  return createdJobs[0]!.id;
}

async function failedJob(orderNo: string, provider: ProviderName, reason: FailureReason, message = `${reason} detail`): Promise<number> {
  const id = await cancelledJob(orderNo, provider, 2 * HOUR);
  expect(await markSending(store, id, at(HOUR))).toBe(true);
  await markFailed(store, id, { reason, code: `CODE_${reason.toUpperCase()}`, message, now: at(HOUR) });
  return id;
}

const waitingFor = (configured: ProviderName[], limit = 200) => listJobsWaitingForProvider(store, { configured, createdBefore: DAY_AGO, limit });

describe('failed jobs', () => {
  it('lists every failed job, whatever its reason (held ones included), with its reason and last error, and nothing else', async () => {
    const captured = await failedJob('1001', 'klarna', 'captured');
    const exhausted = await failedJob('1002', 'walley', 'exhausted');
    const auth = await failedJob('1003', 'qliro', 'auth');
    const held = await cancelledJob('1004', 'klarna', HOUR, { reason: 'rejected', code: 'LIVE_TWIN', message: 'order 999 is open with the same payment' });
    // Not failed: pending, accepted, done.
    await cancelledJob('1005', 'klarna', HOUR);
    const accepted = await cancelledJob('1006', 'walley', HOUR);
    await markSending(store, accepted, at(HOUR));
    await markAccepted(store, accepted, { transactionId: null, now: at(HOUR), confirmDeadlineAt: at(-HOUR) });
    const done = await cancelledJob('1007', 'klarna', HOUR);
    await markSending(store, done, at(HOUR));
    await markDone(store, done, at(HOUR));

    const failed = await listFailedJobsForReminder(store, 200);
    expect(failed.count).toBe(4);
    expect(failed.jobs).toEqual([
      {
        jobId: captured,
        orderNo: '1001',
        provider: 'klarna',
        providerRef: 'ref-1001',
        amount: '100.00',
        currency: 'SEK',
        failureReason: 'captured',
        code: 'CODE_CAPTURED',
        message: 'captured detail',
      },
      expect.objectContaining({ jobId: exhausted, orderNo: '1002', provider: 'walley', failureReason: 'exhausted' }),
      expect.objectContaining({ jobId: auth, orderNo: '1003', provider: 'qliro', failureReason: 'auth' }),
      expect.objectContaining({ jobId: held, orderNo: '1004', failureReason: 'rejected', code: 'LIVE_TWIN' }),
    ]);
  });

  it('is bounded, with the full count; a long stored message is cut', async () => {
    for (let i = 0; i < 5; i += 1) await failedJob(String(2000 + i), 'klarna', 'not_found', 'x'.repeat(5000));
    const failed = await listFailedJobsForReminder(store, 3);
    expect(failed.count).toBe(5);
    expect(failed.jobs.map((j) => j.orderNo)).toEqual(['2000', '2001', '2002']);
    expect(failed.jobs[0]!.message).toHaveLength(REMINDER_MESSAGE_MAX_CHARS);
  });

  it('is empty on an empty database', async () => {
    expect(await listFailedJobsForReminder(store, 200)).toEqual({ count: 0, jobs: [] });
  });
});

describe('failed jobs: unrouted', () => {
  it('a failed job with reason unrouted (no provider, no reference) is listed', async () => {
    const o = {
      ...order('3001', 'klarna'),
      payTypeIdentifier: 'SWISH',
      route: { kind: 'unrouted', reason: 'no routing rule matches SWISH' } as const,
      paymentKey: 'unrouted:SWISH:ref-3001',
    };
    await commitCycle(
      store,
      cycle(at(HOUR), {
        upserts: [o],
        cancelledFacts: ['3001'],
        jobs: [
          {
            orderNo: '3001',
            paymentKey: o.paymentKey,
            provider: null,
            providerRef: null,
            payTypeIdentifier: 'SWISH',
            payTypeReference: o.payTypeReference,
            amount: o.amount,
            currency: o.currency,
            reason: 'cancelled',
            hold: { reason: 'unrouted', code: 'UNROUTED', message: 'no routing rule matches SWISH' },
          },
        ],
      }),
    );

    const failed = await listFailedJobsForReminder(store, 200);
    expect(failed).toEqual({
      count: 1,
      jobs: [expect.objectContaining({ orderNo: '3001', provider: null, providerRef: null, failureReason: 'unrouted', code: 'UNROUTED' })],
    });
    // Never "waiting for a provider": it has none.
    expect((await waitingFor([])).count).toBe(0);
    const reminder = describeJobsReminder(failed, await waitingFor([]));
    expect(reminder?.message).toContain('1 failed (1 unrouted)');
    expect(reminder?.message).toContain('order 3001 (no route, unrouted)');
    expect(reminder?.message).toContain('queued by itself once a routing rule covers it');
  });
});

describe('jobs waiting for a provider that is not configured', () => {
  it('lists open jobs of unconfigured providers created more than a day ago, oldest first, and nothing else', async () => {
    const oldKlarna = await cancelledJob('4001', 'klarna', 3 * 24 * HOUR);
    const oldSvea = await cancelledJob('4002', 'svea', 25 * HOUR);
    // A row left in flight by a crash waits just the same.
    const inFlight = await cancelledJob('4003', 'svea', 26 * HOUR);
    await markSending(store, inFlight, at(25 * HOUR));
    // Younger than a day: not yet worth a reminder.
    await cancelledJob('4004', 'klarna', 23 * HOUR);
    // Its provider is configured: the dispatcher sends it.
    await cancelledJob('4005', 'walley', 3 * 24 * HOUR);
    // Not open any more.
    await failedJob('4006', 'klarna', 'captured');

    const waiting = await waitingFor(['walley', 'qliro']);
    expect(waiting.count).toBe(3);
    expect(waiting.jobs).toEqual([
      { jobId: oldKlarna, orderNo: '4001', provider: 'klarna', providerRef: 'ref-4001', amount: '100.00', currency: 'SEK', waitingSince: at(3 * 24 * HOUR) },
      expect.objectContaining({ jobId: inFlight, orderNo: '4003', provider: 'svea' }),
      expect.objectContaining({ jobId: oldSvea, orderNo: '4002', provider: 'svea' }),
    ]);
  });

  it('with no provider configured, every provider is unconfigured; with all configured, nothing waits', async () => {
    await cancelledJob('5001', 'klarna', 2 * 24 * HOUR);
    await cancelledJob('5002', 'walley', 2 * 24 * HOUR);
    expect((await waitingFor([])).count).toBe(2);
    expect((await waitingFor(['qliro', 'klarna', 'walley', 'svea'])).count).toBe(0);
  });

  it('is bounded, with the full count', async () => {
    for (let i = 0; i < 4; i += 1) await cancelledJob(String(6000 + i), 'klarna', (30 + i) * HOUR);
    const waiting = await waitingFor([], 2);
    expect(waiting.count).toBe(4);
    expect(waiting.jobs).toHaveLength(2);
  });
});

describe('the jobs.reminder line', () => {
  it('is null when nothing awaits a person', async () => {
    await cancelledJob('7001', 'klarna', HOUR);
    expect(describeJobsReminder(await listFailedJobsForReminder(store, 200), await waitingFor([]))).toBeNull();
  });

  it('names the counts by reason, the first jobs and what to do; lists failed first, then waiting; bounded with the full count', async () => {
    const captured = await failedJob('8001', 'klarna', 'captured');
    await failedJob('8002', 'walley', 'exhausted');
    const waitingId = await cancelledJob('8003', 'svea', 2 * 24 * HOUR);
    const reminder = describeJobsReminder(await listFailedJobsForReminder(store, 200), await waitingFor(['klarna', 'walley']));
    expect(reminder).not.toBeNull();
    const { message, fields } = reminder!;
    expect(message).toMatch(
      /^3 cancellation job\(s\) still await a person: 2 failed \(1 captured, 1 exhausted\), 1 waiting more than a day for a provider that is not configured \(svea\)\. /,
    );
    expect(message).toContain(`job ${captured} order 8001 (klarna ref-8001, captured)`);
    expect(message).toContain(`job ${waitingId} order 8003 (svea ref-8003, waiting since ${at(2 * 24 * HOUR)})`);
    expect(message).toContain('specter-sync jobs retry JOB_ID');
    expect(message).toContain('specter-sync jobs dismiss JOB_ID --note TEXT');
    expect(message).toContain("set its provider's credentials");
    expect(message).not.toContain('routing rule');
    expect(fields).toMatchObject({ count: 3, failed: 2, waitingForProvider: 1, truncated: false });
    expect(fields.jobs.map((j) => [j.kind, j.orderNo])).toEqual([
      ['failed', '8001'],
      ['failed', '8002'],
      ['waiting_for_provider', '8003'],
    ]);

    const bounded = describeJobsReminder(await listFailedJobsForReminder(store, 200), await waitingFor(['klarna', 'walley']), 2);
    expect(bounded!.fields).toMatchObject({ count: 3, truncated: true });
    expect(bounded!.fields.jobs).toHaveLength(2);
  });

  it('leaves out the tally by reason when the failed list is cut (a partial tally would mislead)', async () => {
    await failedJob('9001', 'klarna', 'captured');
    await failedJob('9002', 'klarna', 'auth');
    const reminder = describeJobsReminder(await listFailedJobsForReminder(store, 1), { count: 0, jobs: [] });
    expect(reminder!.message).toMatch(/^2 cancellation job\(s\) still await a person: 2 failed\. /);
  });

  it('registeredProviders reads the registry createProviderRegistry made', () => {
    const client = {
      name: 'walley' as const,
      maxConcurrency: 1,
      cancel: () => Promise.reject(new Error('unused')),
      readPayment: () => Promise.reject(new Error('unused')),
    };
    expect(registeredProviders({})).toEqual([]);
    expect(registeredProviders({ walley: client })).toEqual(['walley']);
  });
});
