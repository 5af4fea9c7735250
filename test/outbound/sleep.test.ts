/** The one abortable sleep and the one clamp, on plain values. */
import { describe, expect, it } from '@jest/globals';
import { clamp } from '../../src/outbound/clamp.js';
import { sleep } from '../../src/outbound/sleep.js';

describe('sleep', () => {
  it('waits its time when nothing stops it', async () => {
    let woke = false;
    const waiting = sleep(20).then(() => {
      woke = true;
    });
    expect(woke).toBe(false);
    await waiting;
    expect(woke).toBe(true);
  });

  it('a stop wakes it at once, and a stop already given means no wait at all (resolves, never rejects)', async () => {
    const stop = new AbortController();
    const long = sleep(10 * 60_000, stop.signal);
    stop.abort();
    await expect(long).resolves.toBeUndefined();
    await expect(sleep(10 * 60_000, stop.signal)).resolves.toBeUndefined();
  });
});

describe('clamp', () => {
  it('holds a value within its bounds; NaN counts as the lower bound', () => {
    expect([clamp(-5, 0, 10), clamp(5, 0, 10), clamp(50, 0, 10)]).toEqual([0, 5, 10]);
    expect(clamp(Number.POSITIVE_INFINITY, 0, 10)).toBe(10);
    expect(clamp(Number.NaN, 3, 10)).toBe(3);
  });
});
