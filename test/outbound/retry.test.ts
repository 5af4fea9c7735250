/** The one attempt loop, on plain values: scripted attempts, a recording sleep, fixed jitter. */
import { describe, expect, it } from '@jest/globals';
import { retry, type Attempt, type RetryOptions } from '../../src/outbound/retry.js';

type Step = Attempt<string, string>;
const final = (value: string): Step => ({ kind: 'final', value });
const transient = (failure: string, retryAfterMs?: number): Step => ({ kind: 'transient', failure, retryAfterMs });

function scripted(steps: Step[], extra: Partial<RetryOptions<string, string>> = {}) {
  const numbers: number[] = [];
  const sleeps: number[] = [];
  const options: RetryOptions<string, string> = {
    maxAttempts: 4,
    bounds: { retryMinMs: 100, retryMaxMs: 1_000 },
    random: () => 1,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    attempt: (n) => {
      numbers.push(n);
      const step = steps[numbers.length - 1];
      if (step === undefined) return Promise.reject(new Error('attempted more often than scripted'));
      return Promise.resolve(step);
    },
    ...extra,
  };
  return { run: () => retry(options), numbers, sleeps };
}

describe('retry', () => {
  it('a final value on the first attempt ends the call without a wait', async () => {
    const call = scripted([final('ok')]);
    expect(await call.run()).toEqual({ kind: 'final', value: 'ok', attempts: 1 });
    expect(call.sleeps).toEqual([]);
  });

  it('transient answers are retried after the backoff (ceiling doubling, Retry-After as a floor)', async () => {
    const call = scripted([transient('a', 450), transient('b'), final('ok')]);
    expect(await call.run()).toEqual({ kind: 'final', value: 'ok', attempts: 3 });
    expect(call.numbers).toEqual([1, 2, 3]);
    // random() = 1: ceilings 100, 200; the first wait is lifted to Retry-After's 450.
    expect(call.sleeps).toEqual([450, 200]);
  });

  it('the count starts where earlier attempts left it, and maxAttempts bounds them all', async () => {
    const call = scripted([transient('a'), transient('b')], { attemptsMade: 2 });
    expect(await call.run()).toEqual({ kind: 'exhausted', failure: 'b', attempts: 4 });
    expect(call.numbers).toEqual([3, 4]);
    expect(call.sleeps).toHaveLength(1);
  });

  it('beforeWait sees every wait first; declining it defers the call without waiting', async () => {
    const seen: unknown[] = [];
    const call = scripted([transient('a'), transient('b', 5_000)], {
      beforeWait: (wait) => {
        seen.push(wait);
        return wait.delayMs < 1_000;
      },
    });
    expect(await call.run()).toEqual({ kind: 'deferred', failure: 'b', attempts: 2, delayMs: 1_000 });
    expect(seen).toEqual([
      { failure: 'a', attempt: 1, delayMs: 100 },
      { failure: 'b', attempt: 2, delayMs: 1_000 },
    ]);
    expect(call.sleeps).toEqual([100]);
  });

  it('a stop before a wait starts none; a stop during a wait starts no further attempt', async () => {
    const before = scripted([transient('a')], { stopping: () => true });
    expect(await before.run()).toEqual({ kind: 'deferred', failure: 'a', attempts: 1, delayMs: 100 });
    expect(before.sleeps).toEqual([]);

    let stopped = false;
    const during = scripted([transient('a'), final('never')], {
      stopping: () => stopped,
      sleep: () => {
        stopped = true;
        return Promise.resolve();
      },
    });
    expect(await during.run()).toEqual({ kind: 'deferred', failure: 'a', attempts: 1, delayMs: 100 });
    expect(during.numbers).toEqual([1]);
  });

  it('the stop signal is handed to the sleep so a wait ends early', async () => {
    const stop = new AbortController();
    const signals: Array<AbortSignal | undefined> = [];
    const call = scripted([transient('a'), final('ok')], {
      signal: stop.signal,
      sleep: (_ms, signal) => {
        signals.push(signal);
        return Promise.resolve();
      },
    });
    await call.run();
    expect(signals).toEqual([stop.signal]);
  });

  it('a nonsense bound (0, NaN) still makes exactly one attempt', async () => {
    for (const maxAttempts of [0, Number.NaN]) {
      const call = scripted([transient('a'), final('never')], { maxAttempts });
      expect(await call.run()).toEqual({ kind: 'exhausted', failure: 'a', attempts: 1 });
    }
  });

  it('an exception from an attempt is not an answer: it propagates', async () => {
    const call = scripted([]);
    await expect(call.run()).rejects.toThrow('attempted more often than scripted');
  });
});
