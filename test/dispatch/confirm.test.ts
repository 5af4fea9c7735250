/**
 * confirmAcceptedJobs: accepted is not done. Jobs reach `accepted` through the real dispatcher on
 * a real SQLite file, then each confirmation pass asks the provider once.
 */
import { describe, expect, it } from '@jest/globals';
import { CONFIRM_DEADLINE_CODE, confirmAcceptedJobs } from '../../src/dispatch/confirm.js';
import { dispatchDueJobs, type DispatchDeps } from '../../src/dispatch/dispatcher.js';
import type { memoryLogger, RecordedEvent } from '../../src/observability/logger.js';
import type { ProviderRegistry } from '../../src/providers/registry.js';
import type { CancelOutcome, ConfirmOutcome } from '../../src/providers/types.js';
import { type FakeClock, SETTINGS, fakeClient, mustGetJob, seedJob, type TestDb, useDispatchFixture } from './helpers.js';

let db: TestDb;
let clock: FakeClock;
let logger: ReturnType<typeof memoryLogger>;
useDispatchFixture((fixture) => ({ db, clock, logger } = fixture));

function deps(providers: ProviderRegistry): DispatchDeps {
  return { store: db.store, providers, settings: SETTINGS, logger, now: clock.now, sleep: clock.sleep, random: () => 1 };
}

function events(name: RecordedEvent['event']): RecordedEvent[] {
  return logger.events.filter((e) => e.event === name);
}

const ACCEPTED: CancelOutcome = { kind: 'accepted', transactionId: '9001' };
const PENDING: ConfirmOutcome = { kind: 'pending', status: 'InProcess' };
const CONFIRMED: ConfirmOutcome = { kind: 'succeeded' };

/** A Qliro job accepted by the real dispatcher. */
async function acceptedJob(confirm: ConfirmOutcome[] | (() => Promise<ConfirmOutcome>)) {
  const job = await seedJob(db.store, { provider: 'qliro', providerRef: '4711' });
  const qliro = fakeClient('qliro', [ACCEPTED], { confirm });
  await dispatchDueJobs(deps({ qliro }));
  expect((await mustGetJob(db.store, job.id)).state).toBe('accepted');
  logger.events.length = 0;
  return { job, qliro };
}

describe('confirmAcceptedJobs', () => {
  it('accepted → pending (still accepted) → succeeded (done), asking with the transaction id', async () => {
    const { job, qliro } = await acceptedJob([PENDING, CONFIRMED]);
    const answers: string[] = [];

    clock.advance(60_000);
    const first = await confirmAcceptedJobs({ ...deps({ qliro }), observer: { providerAnswer: (p, k) => answers.push(`${p}:${k}`) } });

    expect(qliro.confirmCalls).toEqual([{ orderNo: job.orderNo, providerRef: '4711', transactionId: '9001' }]);
    expect(first.actions).toEqual([{ jobId: job.id, orderNo: job.orderNo, provider: 'qliro', providerRef: '4711', result: 'pending', reason: 'InProcess' }]);
    let row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'accepted', lastErrorCode: 'PENDING', lastErrorMessage: 'status InProcess' });
    const pending = events('cancel.confirm_pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ level: 'info', alert: false });
    expect(pending[0]?.fields).toMatchObject({
      orderNo: job.orderNo,
      provider: 'qliro',
      providerRef: '4711',
      amount: '1249.00',
      currency: 'SEK',
      jobId: job.id,
    });
    expect(answers).toEqual(['qliro:pending']);

    clock.advance(300_000);
    const second = await confirmAcceptedJobs(deps({ qliro }));

    expect(second.actions[0]?.result).toBe('confirmed');
    row = await mustGetJob(db.store, job.id);
    expect(row.state).toBe('done');
    expect(row.completedAt).toBe(clock.now().toISOString());
    expect(events('cancel.succeeded')).toHaveLength(1);

    // Done is final: nothing is asked again, and the cancel is never re-sent.
    await confirmAcceptedJobs(deps({ qliro }));
    await dispatchDueJobs(deps({ qliro }));
    expect(qliro.confirmCalls).toHaveLength(2);
    expect(qliro.cancelCalls).toHaveLength(1);
  });

  it('once per cycle: each accepted job is asked exactly once per pass', async () => {
    const { qliro } = await acceptedJob([PENDING]);
    await confirmAcceptedJobs(deps({ qliro }));
    expect(qliro.confirmCalls).toHaveLength(1);
  });

  it('still pending after the deadline → failed (exhausted, CONFIRM_DEADLINE) with an alert', async () => {
    const { job, qliro } = await acceptedJob([PENDING]);

    clock.advance(SETTINGS.confirmDeadlineMs); // exactly at the deadline: not past it yet
    await confirmAcceptedJobs(deps({ qliro }));
    expect((await mustGetJob(db.store, job.id)).state).toBe('accepted');
    expect(events('cancel.failed')).toHaveLength(0);

    clock.advance(1);
    const { actions } = await confirmAcceptedJobs(deps({ qliro }));

    expect(actions[0]).toMatchObject({ result: 'failed', reason: 'exhausted' });
    const row = await mustGetJob(db.store, job.id);
    expect(row).toMatchObject({ state: 'failed', failureReason: 'exhausted', lastErrorCode: CONFIRM_DEADLINE_CODE });
    expect(row.lastErrorMessage).toMatch(/never confirmed/);
    const failed = events('cancel.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'error', alert: true, fields: { reason: 'exhausted', code: CONFIRM_DEADLINE_CODE, orderNo: job.orderNo } });

    await confirmAcceptedJobs(deps({ qliro }));
    expect(qliro.confirmCalls).toHaveLength(2);
  });

  it('a final answer that arrives after the deadline still counts', async () => {
    const { job, qliro } = await acceptedJob([CONFIRMED]);
    clock.advance(SETTINGS.confirmDeadlineMs + 60_000);
    await confirmAcceptedJobs(deps({ qliro }));
    expect((await mustGetJob(db.store, job.id)).state).toBe('done');
  });

  it('a transient answer keeps the job accepted for the next cycle, until the deadline', async () => {
    const { job, qliro } = await acceptedJob([{ kind: 'transient', code: 'HTTP_503', message: 'unavailable' }]);

    const { actions } = await confirmAcceptedJobs(deps({ qliro }));
    expect(actions[0]).toMatchObject({ result: 'pending', reason: 'HTTP_503' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'accepted', lastErrorCode: 'HTTP_503' });
    expect(clock.sleeps).toEqual([]); // no in-cycle retry: the next cycle is the retry

    clock.advance(SETTINGS.confirmDeadlineMs + 1);
    await confirmAcceptedJobs(deps({ qliro }));
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'failed', lastErrorCode: CONFIRM_DEADLINE_CODE });
  });

  it('a permanent answer fails the job with its reason', async () => {
    const { job, qliro } = await acceptedJob([{ kind: 'permanent', reason: 'rejected', code: 'REVERSAL_ERROR', message: 'Status Error' }]);

    const { actions } = await confirmAcceptedJobs(deps({ qliro }));

    expect(actions[0]).toMatchObject({ result: 'failed', reason: 'rejected' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'failed', failureReason: 'rejected', lastErrorCode: 'REVERSAL_ERROR' });
    expect(events('cancel.failed')[0]).toMatchObject({ alert: true, fields: { reason: 'rejected' } });
  });

  it('a confirm that throws is transient: the job stays accepted', async () => {
    const { job, qliro } = await acceptedJob(() => Promise.reject(new Error('socket hang up')));
    const { actions } = await confirmAcceptedJobs(deps({ qliro }));
    expect(actions[0]).toMatchObject({ result: 'pending', reason: 'CLIENT_ERROR' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'accepted', lastErrorCode: 'CLIENT_ERROR' });
  });

  it('a confirm answering what is no confirm outcome (a cancel kind, an odd kind, null) is transient too', async () => {
    const answers = [{ kind: 'accepted', transactionId: '1' }, { kind: 'constructor' }, null] as unknown as ConfirmOutcome[];
    const { job, qliro } = await acceptedJob(answers);
    for (let i = 0; i < answers.length; i += 1) {
      clock.advance(60_000);
      const { actions } = await confirmAcceptedJobs(deps({ qliro }));
      expect(actions[0]).toMatchObject({ result: 'pending', reason: 'CLIENT_ERROR' });
      expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'accepted', lastErrorCode: 'CLIENT_ERROR' });
    }
    expect(qliro.confirmCalls).toHaveLength(3);
  });

  it('a provider configured off since it accepted: the job waits, not failed at the deadline', async () => {
    const { job } = await acceptedJob([PENDING]);
    clock.advance(SETTINGS.confirmDeadlineMs + 1);

    const { actions } = await confirmAcceptedJobs(deps({}));

    expect(actions[0]).toMatchObject({ result: 'pending', reason: 'provider_not_configured' });
    expect((await mustGetJob(db.store, job.id)).state).toBe('accepted');
    expect(events('cancel.waiting_for_provider')).toHaveLength(1);
  });

  it('a client without confirm(): accepted is all it can say, so the job is done', async () => {
    const job = await seedJob(db.store, { provider: 'walley' });
    const walley = fakeClient('walley', [ACCEPTED]);
    await dispatchDueJobs(deps({ walley }));

    const { actions } = await confirmAcceptedJobs(deps({ walley }));

    expect(actions[0]).toMatchObject({ result: 'confirmed', reason: 'no_confirm_api' });
    expect(await mustGetJob(db.store, job.id)).toMatchObject({ state: 'done', lastErrorCode: 'NO_CONFIRM_API' });
  });

  it('a stop requested before the pass asks nothing', async () => {
    const { job, qliro } = await acceptedJob([CONFIRMED]);
    const stop = new AbortController();
    stop.abort();
    const { actions } = await confirmAcceptedJobs({ ...deps({ qliro }), signal: stop.signal });
    expect(actions).toEqual([]);
    expect(qliro.confirmCalls).toHaveLength(0);
    expect((await mustGetJob(db.store, job.id)).state).toBe('accepted');
  });
});
