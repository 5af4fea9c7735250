/** The backoff formula and the per-provider pool, on plain values. */
import { describe, expect, it } from '@jest/globals';
import { backoffDelayMs } from '../../src/outbound/backoff.js';
import { runWithLimit } from '../../src/dispatch/limit.js';

const bounds = { retryMinMs: 1_000, retryMaxMs: 30_000 };

describe('backoffDelayMs', () => {
  it('the ceiling doubles per attempt from min and stops at max', () => {
    const top = (attempts: number) => backoffDelayMs(attempts, bounds, undefined, () => 1);
    expect([1, 2, 3, 4, 5, 6, 7, 50, 5_000].map(top)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('full jitter: never below min, never above the ceiling', () => {
    expect(backoffDelayMs(4, bounds, undefined, () => 0)).toBe(1_000);
    expect(backoffDelayMs(4, bounds, undefined, () => 0.5)).toBe(4_500);
    for (let i = 0; i < 500; i += 1) {
      const attempts = 1 + (i % 8);
      const delay = backoffDelayMs(attempts, bounds);
      expect(delay).toBeGreaterThanOrEqual(1_000);
      expect(delay).toBeLessThanOrEqual(Math.min(30_000, 1_000 * 2 ** (attempts - 1)));
    }
  });

  it('Retry-After lifts a shorter wait, a longer backoff stays, and max caps both', () => {
    expect(backoffDelayMs(1, bounds, 7_000, () => 1)).toBe(7_000);
    expect(backoffDelayMs(5, bounds, 7_000, () => 1)).toBe(16_000);
    expect(backoffDelayMs(1, bounds, 90_000, () => 1)).toBe(30_000);
    expect(backoffDelayMs(1, bounds, Number.NaN, () => 1)).toBe(1_000);
  });
});

describe('runWithLimit', () => {
  it('keeps at most `limit` in flight and runs every item', async () => {
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    await runWithLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      done.push(n);
    });
    expect(peak).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts nothing new once asked to stop; items in flight finish', async () => {
    const started: number[] = [];
    let stop = false;
    await runWithLimit(
      [1, 2, 3, 4],
      2,
      async (n) => {
        started.push(n);
        stop = true;
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
      () => stop,
    );
    expect(started).toEqual([1]);
  });

  it('an error starts nothing more, waits for the rest in flight, then rejects with it', async () => {
    const finished: number[] = [];
    const run = runWithLimit([1, 2, 3, 4, 5], 2, async (n) => {
      if (n === 1) throw new Error('first');
      await new Promise((resolve) => setTimeout(resolve, 10));
      finished.push(n);
    });
    await expect(run).rejects.toThrow('first');
    expect(finished).toEqual([2]);
  });

  it('an empty list and a nonsense limit are harmless', async () => {
    await runWithLimit([], 4, async () => undefined);
    const seen: number[] = [];
    await runWithLimit([1, 2], 0, async (n) => {
      seen.push(n);
    });
    expect(seen).toEqual([1, 2]);
  });
});

describe('backoffDelayMs with a broken random source', () => {
  it('NaN or Infinity from random() draws the shortest wait, never an unbounded one', () => {
    expect(backoffDelayMs(4, bounds, undefined, () => Number.NaN)).toBe(1_000);
    expect(backoffDelayMs(4, bounds, undefined, () => Number.POSITIVE_INFINITY)).toBe(1_000);
    expect(backoffDelayMs(4, bounds, undefined, () => -3)).toBe(1_000);
  });
});
