/** The one backoff formula, on plain values. */
import { describe, expect, it } from '@jest/globals';
import { backoffDelayMs } from '../../src/outbound/backoff.js';

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

describe('backoffDelayMs with a broken random source', () => {
  it('NaN or Infinity from random() draws the shortest wait, never an unbounded one', () => {
    expect(backoffDelayMs(4, bounds, undefined, () => Number.NaN)).toBe(1_000);
    expect(backoffDelayMs(4, bounds, undefined, () => Number.POSITIVE_INFINITY)).toBe(1_000);
    expect(backoffDelayMs(4, bounds, undefined, () => -3)).toBe(1_000);
  });
});
