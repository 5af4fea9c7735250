/**
 * dispatchDueJobs against a real SQLite file: jobs created by commitCycle, fake provider clients
 * that record every request, and a fake clock whose sleep moves time forward.
 */
import { describe, expect, it } from '@jest/globals';
import { dispatchDueJobs, IN_CYCLE_RETRY_MAX_MS, type DispatchDeps } from '../../src/dispatch/dispatcher.js';
import type { memoryLogger, RecordedEvent } from '../../src/observability/logger.js';
import type { ProviderRegistry } from '../../src/providers/registry.js';
import type { CancelOutcome, ProviderClient } from '../../src/providers/types.js';
import { openStore } from '../../src/store/database.js';
import { listJobs } from '../../src/store/jobs.js';
import { markSending } from '../../src/store/outbox.js';
import {
  ALREADY,
  CAPTURED,
  type FakeClock,
  SETTINGS,
  SUCCEEDED,
  TOO_MANY,
  UNAVAILABLE,
  fakeClient,
  mustGetJob,
  seedJob,
  type TestDb,
  useDispatchFixture,
} from './helpers.js';

let db: TestDb;
let clock: FakeClock;
let logger: ReturnType<typeof memoryLogger>;
useDispatchFixture((fixture) => ({ db, clock, logger } = fixture));

function deps(providers: ProviderRegistry, extra: Partial<DispatchDeps> = {}): DispatchDeps {
  return {
    store: db.store,
    providers,
    settings: SETTINGS,
    logger,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 1,
    ...extra,
  };
}

function events(name: RecordedEvent['event']): RecordedEvent[] {
  return logger.events.filter((e) => e.event === name);
}

describe('outcomes', () => {
  it('succeeded → done, with the request built from the job and the stored key', async () => {
    const job = await seedJob(db.store, { provider: 'klarna', providerRef: 'kl-1', amount: '1249.00', currency: 'SEK' });
    const klarna = fakeClient('klarna', [SUCCEEDED]);
    const answers: string[] = [];

    const report = await dispatchDueJobs(deps({ klarna }, { observer: { providerAnswer: (p, kind) => answers.push(`${p}:${kind}`) } }));

    expect(klarna.cancelCalls).toEqual([{ orderNo: job.orderNo, providerRef: 'kl-1', idempotencyKey: job.idempotencyKey, amount: '1249.00', currency: 'SEK' }]);
    const row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('done');
    expect(row.attempts).toBe(1);
    expect(row.completedAt).toBe(clock.now().toISOString());
    expect(report.actions).toEqual([{ jobId: job.id, orderNo: job.orderNo, provider: 'klarna', providerRef: 'kl-1', result: 'succeeded' }]);
    expect(report.counts.succeeded).toBe(1);
    expect(answers).toEqual(['klarna:succeeded']);
    expect(logger.events.map((e) => e.event)).toEqual(['cancel.sent', 'cancel.succeeded']);
    // Every line about a job carries what a person needs to find it.
    for (const line of logger.events) {
      expect(line.fields).toMatchObject({
        orderNo: job.orderNo,
        provider: 'klarna',
        providerRef: 'kl-1',
        amount: '1249.00',
        currency: 'SEK',
        jobId: job.id,
        attempt: 1,
      });
    }
  });

  it('the row says `sending` with the attempt counted before the request leaves', async () => {
    const job = await seedJob(db.store);
    const seen: Array<{ state: string; attempts: number }> = [];
    const klarna = fakeClient('klarna', async (_request, call) => {
      const row = await mustGetJob(db.store, job.id);
      seen.push({ state: row.state, attempts: row.attempts });
      return call === 0 ? TOO_MANY() : SUCCEEDED;
    });

    await dispatchDueJobs(deps({ klarna }));

    expect(seen).toEqual([
      { state: 'sending', attempts: 1 },
      { state: 'sending', attempts: 2 },
    ]);
  });

  it('already cancelled → done, noted as such', async () => {
    const job = await seedJob(db.store);
    const report = await dispatchDueJobs(deps({ klarna: fakeClient('klarna', [ALREADY]) }));

    const row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('done');
    expect(row.lastErrorCode).toBe('ALREADY_CANCELLED');
    expect(report.actions[0]?.result).toBe('already_cancelled');
    expect(events('cancel.succeeded')[0]?.fields.alreadyCancelled).toBe(true);
  });

  it('accepted → accepted with the transaction id and a confirmation deadline', async () => {
    const job = await seedJob(db.store, { provider: 'qliro', providerRef: '4711' });
    const qliro = fakeClient('qliro', [{ kind: 'accepted', transactionId: '9001' }], { confirm: [{ kind: 'pending', status: 'Created' }] });

    const report = await dispatchDueJobs(deps({ qliro }));

    const row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('accepted');
    expect(row.providerTransactionId).toBe('9001');
    expect(row.acceptedAt).toBe('2026-01-01T00:00:00.000Z');
    expect(row.confirmDeadlineAt).toBe(new Date(Date.parse('2026-01-01T00:00:00.000Z') + SETTINGS.confirmDeadlineMs).toISOString());
    expect(report.actions[0]?.result).toBe('accepted');
    expect(events('cancel.accepted')).toHaveLength(1);
    // Accepted is not due again: the confirmation pass owns it now.
    clock.advance(24 * 3_600_000);
    await dispatchDueJobs(deps({ qliro }));
    expect(qliro.cancelCalls).toHaveLength(1);
  });

  it('captured → failed with reason captured and an alert, and never sent again', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [CAPTURED]);

    const report = await dispatchDueJobs(deps({ klarna }));

    const row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('failed');
    expect(row.failureReason).toBe('captured');
    expect(row.lastErrorCode).toBe('CANCEL_NOT_ALLOWED');
    expect(report.actions[0]).toMatchObject({ result: 'failed', reason: 'captured' });
    const failed = events('cancel.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'error', alert: true });
    expect(failed[0]?.fields).toMatchObject({ reason: 'captured', code: 'CANCEL_NOT_ALLOWED', orderNo: job.orderNo });
    expect(failed[0]?.message).toMatch(/refund/);
    // No in-cycle retry, and no retry on later cycles either.
    expect(klarna.cancelCalls).toHaveLength(1);
    clock.advance(7 * 24 * 3_600_000);
    await dispatchDueJobs(deps({ klarna }));
    expect(klarna.cancelCalls).toHaveLength(1);
  });
});

describe('retries', () => {
  it('429 with Retry-After: waits grow, honour Retry-After, same key every attempt, then success', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [TOO_MANY(1_500), TOO_MANY(1_500), TOO_MANY(), SUCCEEDED]);

    const report = await dispatchDueJobs(deps({ klarna }));

    // random() = 1: ceilings 1000, 2000, 4000; the first wait is lifted to Retry-After's 1500.
    expect(clock.sleeps).toEqual([1_500, 2_000, 4_000]);
    expect(klarna.cancelCalls.map((c) => c.idempotencyKey)).toEqual(Array(4).fill(job.idempotencyKey));
    const row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('done');
    expect(row.attempts).toBe(4);
    expect(report.actions).toHaveLength(1);
    expect(report.actions[0]?.result).toBe('succeeded');
    const scheduled = events('cancel.retry_scheduled');
    expect(scheduled.map((e) => e.fields.attempt)).toEqual([1, 2, 3]);
    expect(scheduled[0]?.fields).toMatchObject({ code: 'HTTP_429', inCycle: true, nextAttemptAt: '2026-01-01T00:00:01.500Z' });
    expect(events('cancel.sent').map((e) => e.fields.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('with real jitter every wait stays within its bounds and never below Retry-After', async () => {
    await seedJob(db.store);
    const klarna = fakeClient('klarna', [TOO_MANY(1_200), TOO_MANY(), TOO_MANY(), SUCCEEDED]);
    await dispatchDueJobs(deps({ klarna }, { random: Math.random }));

    const [first, second, third] = clock.sleeps;
    expect(clock.sleeps).toHaveLength(3);
    // The first ceiling is retryMinMs itself, so Retry-After decides the first wait exactly.
    expect(first).toBe(1_200);
    expect(second).toBeGreaterThanOrEqual(SETTINGS.retryMinMs);
    expect(second).toBeLessThanOrEqual(2_000);
    expect(third).toBeGreaterThanOrEqual(SETTINGS.retryMinMs);
    expect(third).toBeLessThanOrEqual(4_000);
  });

  it('a wait longer than the in-cycle limit goes back to the queue and is sent when due', async () => {
    const job = await seedJob(db.store);
    const retryAfter = IN_CYCLE_RETRY_MAX_MS + 25_000;
    const klarna = fakeClient('klarna', [TOO_MANY(retryAfter), SUCCEEDED]);

    const report = await dispatchDueJobs(deps({ klarna }));

    const next = new Date(clock.now().getTime() + retryAfter).toISOString();
    expect(report.actions[0]).toMatchObject({ result: 'retry_scheduled', reason: 'HTTP_429', nextAttemptAt: next });
    expect(clock.sleeps).toEqual([]);
    let row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: next, lastErrorCode: 'HTTP_429' });
    expect(events('cancel.retry_scheduled')[0]).toMatchObject({ level: 'warn', fields: { nextAttemptAt: next, inCycle: false } });

    clock.advance(retryAfter - 1);
    await dispatchDueJobs(deps({ klarna }));
    expect(klarna.cancelCalls).toHaveLength(1);

    clock.advance(1);
    await dispatchDueJobs(deps({ klarna }));
    expect(klarna.cancelCalls).toHaveLength(2);
    row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'done', attempts: 2 });
  });

  it('Retry-After beyond DISPATCH_RETRY_MAX_MS is capped at the maximum', async () => {
    await seedJob(db.store);
    const report = await dispatchDueJobs(deps({ klarna: fakeClient('klarna', [TOO_MANY(10 * SETTINGS.retryMaxMs)]) }));
    expect(report.actions[0]?.nextAttemptAt).toBe(new Date(clock.now().getTime() + SETTINGS.retryMaxMs).toISOString());
  });

  it('transient forever → exhausted after maxAttempts, across several cycles', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [UNAVAILABLE]);
    const settings = { ...SETTINGS, retryMinMs: 10_000 }; // every wait is longer than the in-cycle limit

    const waits: number[] = [];
    for (let cycle = 1; cycle < settings.maxAttempts; cycle += 1) {
      const report = await dispatchDueJobs(deps({ klarna }, { settings }));
      expect(report.actions[0]?.result).toBe('retry_scheduled');
      const row = await mustGetJob(db.store, job.id);
      expect(row).toMatchObject({ state: 'pending', attempts: cycle });
      const wait = Date.parse(row.nextAttemptAt) - clock.now().getTime();
      waits.push(wait);

      // Not due before its time: a cycle in between sends nothing.
      clock.advance(wait - 1);
      await dispatchDueJobs(deps({ klarna }, { settings }));
      expect(klarna.cancelCalls).toHaveLength(cycle);
      clock.advance(1);
    }
    expect(waits).toEqual([10_000, 20_000, 40_000]);

    const report = await dispatchDueJobs(deps({ klarna }, { settings }));
    expect(report.actions[0]).toMatchObject({ result: 'failed', reason: 'exhausted' });
    const row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'failed', failureReason: 'exhausted', attempts: settings.maxAttempts, lastErrorCode: 'HTTP_503' });
    expect(klarna.cancelCalls).toHaveLength(settings.maxAttempts);
    expect(new Set(klarna.cancelCalls.map((c) => c.idempotencyKey))).toEqual(new Set([job.idempotencyKey]));
    const failed = events('cancel.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ alert: true, fields: { reason: 'exhausted' } });

    clock.advance(24 * 3_600_000);
    await dispatchDueJobs(deps({ klarna }, { settings }));
    expect(klarna.cancelCalls).toHaveLength(settings.maxAttempts);
  });

  it('within one cycle, attempts stop at maxAttempts too', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [UNAVAILABLE]);
    const settings = { ...SETTINGS, retryMinMs: 10, retryMaxMs: 100 };

    const report = await dispatchDueJobs(deps({ klarna }, { settings }));

    expect(klarna.cancelCalls).toHaveLength(settings.maxAttempts);
    expect(clock.sleeps).toHaveLength(settings.maxAttempts - 1);
    expect(report.actions).toEqual([expect.objectContaining({ result: 'failed', reason: 'exhausted' })]);
    expect((await mustGetJob(db.store, job.id)).attempts).toBe(settings.maxAttempts);
  });
});

describe('crash recovery and the idempotency key', () => {
  it('a job left `sending` is sent again after a restart with the same key, and job.recovered is logged', async () => {
    const job = await seedJob(db.store);
    // The process marked the job sending (committed), the request left, and then it died.
    expect(await markSending(db.store, job.id, clock.now().toISOString())).toBe(true);
    await db.store.close();

    // The restart: the same file opened anew, a fresh registry.
    db.store = await openStore(db.store.location);
    const klarna = fakeClient('klarna', [ALREADY]);
    clock.advance(60_000);
    const report = await dispatchDueJobs(deps({ klarna }));

    expect(klarna.cancelCalls.map((c) => c.idempotencyKey)).toEqual([job.idempotencyKey]);
    const recovered = events('job.recovered');
    expect(recovered).toHaveLength(1);
    expect(recovered[0]?.fields).toMatchObject({ jobId: job.id, orderNo: job.orderNo, attempt: 1 });
    const row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'done', attempts: 2, idempotencyKey: job.idempotencyKey });
    expect(report.actions[0]?.result).toBe('already_cancelled');
  });

  it('a job that was in flight at every one of maxAttempts stops is failed, not sent an (n+1)th time', async () => {
    const job = await seedJob(db.store);
    for (let i = 0; i < SETTINGS.maxAttempts; i += 1) await markSending(db.store, job.id, clock.now().toISOString());
    const klarna = fakeClient('klarna', [SUCCEEDED]);

    const report = await dispatchDueJobs(deps({ klarna }));

    expect(klarna.cancelCalls).toHaveLength(0);
    expect(report.actions[0]).toMatchObject({ result: 'failed', reason: 'exhausted' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'failed', lastErrorCode: 'IN_FLIGHT_AT_STOP' });
    expect(events('cancel.failed')[0]?.alert).toBe(true);
  });
});

describe('providers', () => {
  it('a provider that is not configured: the job stays pending, untouched, logged once per cycle', async () => {
    const job = await seedJob(db.store, { provider: 'walley' });
    const other = await seedJob(db.store, { provider: 'klarna' });
    const klarna = fakeClient('klarna', [SUCCEEDED]);

    const report = await dispatchDueJobs(deps({ klarna }));

    const row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 0, lastErrorCode: null });
    expect(report.counts).toMatchObject({ waiting_for_provider: 1, succeeded: 1 });
    expect(report.actions.find((a) => a.jobId === job.id)).toMatchObject({ result: 'waiting_for_provider', provider: 'walley' });
    expect(events('cancel.waiting_for_provider')).toHaveLength(1);
    expect(events('cancel.waiting_for_provider')[0]?.fields).toMatchObject({ jobId: job.id, provider: 'walley' });
    expect((await mustGetJob(db.store, other.id)).state).toBe('done');

    await dispatchDueJobs(deps({ klarna }));
    expect(events('cancel.waiting_for_provider')).toHaveLength(2);

    // Configured later: sent with the key made when the job was created.
    const walley = fakeClient('walley', [SUCCEEDED]);
    await dispatchDueJobs(deps({ klarna, walley }));
    expect(walley.cancelCalls.map((c) => c.idempotencyKey)).toEqual([job.idempotencyKey]);
    expect((await mustGetJob(db.store, job.id)).state).toBe('done');
  });

  it('an orphaned `sending` job whose provider is now off goes back to pending', async () => {
    const job = await seedJob(db.store, { provider: 'walley' });
    await markSending(db.store, job.id, clock.now().toISOString());

    await dispatchDueJobs(deps({}));

    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', lastErrorCode: 'PROVIDER_NOT_CONFIGURED' });
    expect(events('job.recovered')).toHaveLength(1);
    expect(events('cancel.waiting_for_provider')).toHaveLength(1);
  });

  it('a client that throws is a transient CLIENT_ERROR: the job is kept and sent later', async () => {
    const job = await seedJob(db.store);
    const settings = { ...SETTINGS, retryMinMs: 10_000 };
    const broken: ProviderClient = {
      name: 'klarna',
      maxConcurrency: 1,
      readPayment: () => Promise.reject(new Error('unused')),
      // Synchronous throw of a TypeError: the kind p-retry would refuse to retry if it saw it.
      cancel: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'status')");
      },
    };

    const report = await dispatchDueJobs(deps({ klarna: broken }, { settings }));

    expect(report.actions[0]).toMatchObject({ result: 'retry_scheduled', reason: 'CLIENT_ERROR' });
    const row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'pending', attempts: 1, lastErrorCode: 'CLIENT_ERROR' });
    expect(row.lastErrorMessage).toMatch(/TypeError/);

    // A rejected promise, and an answer that is not an outcome, are handled the same way.
    clock.advance(3_600_000);
    const rejecting = fakeClient('klarna', () => Promise.reject(new Error('boom')));
    await dispatchDueJobs(deps({ klarna: rejecting }, { settings }));
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', attempts: 2, lastErrorCode: 'CLIENT_ERROR' });

    clock.advance(3_600_000);
    const garbage = fakeClient('klarna', () => ({ kind: 'weird' }) as unknown as CancelOutcome);
    await dispatchDueJobs(deps({ klarna: garbage }, { settings }));
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', attempts: 3, lastErrorCode: 'CLIENT_ERROR' });

    clock.advance(3_600_000);
    await dispatchDueJobs(deps({ klarna: fakeClient('klarna', [SUCCEEDED]) }, { settings }));
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'done', attempts: 4 });
  });

  it('per-provider concurrency holds, and providers run side by side', async () => {
    for (let i = 0; i < 6; i += 1) await seedJob(db.store, { provider: 'klarna' });
    for (let i = 0; i < 3; i += 1) await seedJob(db.store, { provider: 'qliro' });
    const inFlight = { klarna: 0, qliro: 0, total: 0 };
    const peak = { klarna: 0, qliro: 0, total: 0 };
    const slow = (name: 'klarna' | 'qliro', outcome: CancelOutcome) => async (): Promise<CancelOutcome> => {
      inFlight[name] += 1;
      inFlight.total += 1;
      peak[name] = Math.max(peak[name], inFlight[name]);
      peak.total = Math.max(peak.total, inFlight.total);
      await new Promise((resolve) => setTimeout(resolve, 15));
      inFlight[name] -= 1;
      inFlight.total -= 1;
      return outcome;
    };
    const klarna = fakeClient('klarna', slow('klarna', SUCCEEDED), { maxConcurrency: 2 });
    // Qliro is down: its failures must not hold Klarna's jobs back.
    const qliro = fakeClient('qliro', slow('qliro', CAPTURED), { maxConcurrency: 1 });

    const report = await dispatchDueJobs(deps({ klarna, qliro }));

    expect(peak.klarna).toBe(2);
    expect(peak.qliro).toBe(1);
    expect(peak.total).toBe(3);
    expect(report.counts).toMatchObject({ succeeded: 6, failed: 3 });
    expect(klarna.cancelCalls).toHaveLength(6);
    expect(qliro.cancelCalls).toHaveLength(3);
  });
});

describe('stopping', () => {
  it('a stop requested before the cycle dispatches starts nothing', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [SUCCEEDED]);
    const stop = new AbortController();
    stop.abort();

    const report = await dispatchDueJobs(deps({ klarna }, { signal: stop.signal }));

    expect(klarna.cancelCalls).toHaveLength(0);
    expect(report.actions).toEqual([]);
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', attempts: 0 });
  });

  it('a stop during the wait between attempts starts no new attempt; the job is due later', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [UNAVAILABLE, SUCCEEDED]);
    const stop = new AbortController();

    const report = await dispatchDueJobs(
      deps(
        { klarna },
        {
          signal: stop.signal,
          sleep: async (ms) => {
            clock.sleeps.push(ms);
            stop.abort();
          },
        },
      ),
    );

    expect(klarna.cancelCalls).toHaveLength(1);
    expect(report.actions[0]).toMatchObject({ result: 'retry_scheduled', reason: 'HTTP_503' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', attempts: 1 });
  });

  it('a transient answer to a request in flight when the stop came is queued at once, without waiting', async () => {
    const job = await seedJob(db.store);
    const stop = new AbortController();
    const klarna = fakeClient('klarna', async () => {
      stop.abort();
      return UNAVAILABLE;
    });

    const report = await dispatchDueJobs(deps({ klarna }, { signal: stop.signal }));

    expect(clock.sleeps).toEqual([]);
    expect(klarna.cancelCalls).toHaveLength(1);
    expect(report.actions[0]).toMatchObject({ result: 'retry_scheduled', nextAttemptAt: '2026-01-01T00:00:01.000Z' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'pending', attempts: 1 });
  });

  it('a request in flight when the stop comes is finished and recorded', async () => {
    const first = await seedJob(db.store);
    const second = await seedJob(db.store);
    const stop = new AbortController();
    const klarna = fakeClient(
      'klarna',
      async () => {
        stop.abort();
        return SUCCEEDED;
      },
      { maxConcurrency: 1 },
    );

    await dispatchDueJobs(deps({ klarna }, { signal: stop.signal }));

    expect(klarna.cancelCalls).toHaveLength(1);
    expect((await mustGetJob(db.store, first.id)).state).toBe('done');
    expect(await mustGetJob(db.store, second.id)).toMatchObject({ state: 'pending', attempts: 0 });
  });
});

it('the database says the same as the report', async () => {
  await seedJob(db.store);
  await seedJob(db.store);
  await dispatchDueJobs(deps({ klarna: fakeClient('klarna', [SUCCEEDED, CAPTURED]) }));
  const states = (await listJobs(db.store)).map((j) => j.state).sort();
  expect(states).toEqual(['done', 'failed']);
});
