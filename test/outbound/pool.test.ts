/** The one bounded pool, on plain values. */
import { describe, expect, it } from '@jest/globals';
import { runWithLimit } from '../../src/outbound/pool.js';

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
    await runWithLimit([], 4, () => Promise.resolve());
    const seen: number[] = [];
    await runWithLimit([1, 2], 0, (n) => {
      seen.push(n);
      return Promise.resolve();
    });
    expect(seen).toEqual([1, 2]);
  });
});
