/**
 * dispatchDueJobs' two gates, on a real SQLite file: `canSend` (the lease, asked before every
 * request; once it says no the job is left exactly as it is and nothing more starts) and
 * `onlyJobIds` (a person's command sends its own job and leaves the outbox to the worker).
 */
import { describe, expect, it } from '@jest/globals';
import { dispatchDueJobs, type DispatchDeps } from '../../src/dispatch/dispatcher.js';
import type { memoryLogger } from '../../src/observability/logger.js';
import type { ProviderRegistry } from '../../src/providers/registry.js';
import { getJob, type CancellationJob } from '../../src/store/jobs.js';
import { markSending } from '../../src/store/outbox.js';
import { type FakeClock, SETTINGS, SUCCEEDED, UNAVAILABLE, fakeClient, mustGetJob, seedJob, type TestDb, useDispatchFixture } from './helpers.js';

let db: TestDb;
let clock: FakeClock;
let logger: ReturnType<typeof memoryLogger>;
useDispatchFixture((fixture) => ({ db, clock, logger } = fixture));

function deps(providers: ProviderRegistry, extra: Partial<DispatchDeps> = {}): DispatchDeps {
  return { store: db.store, providers, settings: SETTINGS, logger, now: clock.now, sleep: clock.sleep, random: () => 1, ...extra };
}

/** The row as the outbox holds it, to compare before and after. */
async function row(id: number): Promise<CancellationJob | null> {
  return getJob(db.store, id);
}

describe('canSend', () => {
  it('false before the first request: nothing is sent and the job is untouched', async () => {
    const job = await seedJob(db.store);
    const before = await row(job.id);
    const klarna = fakeClient('klarna', [SUCCEEDED]);
    let asked = 0;
    const report = await dispatchDueJobs(deps({ klarna }, { canSend: async () => (asked++, false) }));
    expect(klarna.cancelCalls).toEqual([]);
    expect(await row(job.id)).toEqual(before);
    expect(report.actions).toEqual([]);
    expect(logger.events.map((e) => e.event)).toEqual([]);
    expect(asked).toBe(1);
  });

  it('asked right before each request: once false, the jobs not yet started stay as they are', async () => {
    const first = await seedJob(db.store);
    const second = await seedJob(db.store);
    const third = await seedJob(db.store);
    const untouched = [await row(second.id), await row(third.id)];
    const klarna = fakeClient('klarna', [SUCCEEDED], { maxConcurrency: 1 });
    const answers = [true, false];
    let asked = 0;
    const report = await dispatchDueJobs(deps({ klarna }, { canSend: async () => answers[asked++] ?? true }));
    expect(klarna.cancelCalls.map((c) => c.orderNo)).toEqual([first.orderNo]);
    expect((await mustGetJob(db.store, first.id)).state).toBe('done');
    expect([await row(second.id), await row(third.id)]).toEqual(untouched);
    expect(report.actions.map((a) => [a.jobId, a.result])).toEqual([[first.id, 'succeeded']]);
    // Nothing more was started after the "no": the third job was not even asked about.
    expect(asked).toBe(2);
  });

  it('also before an in-cycle retry: the job stays pending with the next attempt time it was given', async () => {
    const job = await seedJob(db.store);
    const klarna = fakeClient('klarna', [UNAVAILABLE, SUCCEEDED]);
    const answers = [true, false];
    let asked = 0;
    const report = await dispatchDueJobs(deps({ klarna }, { canSend: async () => answers[asked++] ?? true }));
    expect(klarna.cancelCalls).toHaveLength(1);
    const after = await mustGetJob(db.store, job.id);
    expect(after).toMatchObject({ state: 'pending', attempts: 1, lastErrorCode: 'HTTP_503' });
    expect(report.actions).toEqual([
      expect.objectContaining({ jobId: job.id, result: 'retry_scheduled', reason: 'HTTP_503', nextAttemptAt: after.nextAttemptAt }),
    ]);
  });

  it('guards the writes that take a job over without a request (exhausted, provider off)', async () => {
    const exhausted = await seedJob(db.store, { provider: 'klarna' });
    for (let i = 0; i < SETTINGS.maxAttempts; i++) await markSending(db.store, exhausted.id, clock.now().toISOString());
    const orphan = await seedJob(db.store, { provider: 'qliro' });
    await markSending(db.store, orphan.id, clock.now().toISOString());
    const before = [await row(exhausted.id), await row(orphan.id)];

    const klarna = fakeClient('klarna', [SUCCEEDED]);
    await dispatchDueJobs(deps({ klarna }, { canSend: async () => false }));
    // Without the lease, the `sending` rows may be the new holder's requests in flight.
    expect([await row(exhausted.id), await row(orphan.id)]).toEqual(before);
    expect(klarna.cancelCalls).toEqual([]);

    // With it, the same rows are taken over as usual.
    await dispatchDueJobs(deps({ klarna }, { canSend: async () => true }));
    expect(await mustGetJob(db.store, exhausted.id)).toMatchObject({ state: 'failed', failureReason: 'exhausted' });
    expect(await mustGetJob(db.store, orphan.id)).toMatchObject({ state: 'pending', lastErrorCode: 'PROVIDER_NOT_CONFIGURED' });
  });
});

describe('onlyJobIds', () => {
  it('sends only the named jobs; other due jobs stay pending for the worker', async () => {
    const mine = await seedJob(db.store, { provider: 'klarna' });
    const other = await seedJob(db.store, { provider: 'klarna' });
    const elsewhere = await seedJob(db.store, { provider: 'qliro' });
    const untouched = [await row(other.id), await row(elsewhere.id)];
    const klarna = fakeClient('klarna', [SUCCEEDED]);
    const qliro = fakeClient('qliro', [SUCCEEDED]);
    const report = await dispatchDueJobs(deps({ klarna, qliro }, { onlyJobIds: new Set([mine.id]) }));
    expect(klarna.cancelCalls.map((c) => c.orderNo)).toEqual([mine.orderNo]);
    expect(qliro.cancelCalls).toEqual([]);
    expect(report.actions.map((a) => a.jobId)).toEqual([mine.id]);
    expect([await row(other.id), await row(elsewhere.id)]).toEqual(untouched);
  });
});
