/**
 * The one attempt loop of the outbound calls, a plain loop over outcomes: each attempt says what it
 * came to (a final value, or a transient failure worth another attempt), the loop waits the one
 * backoff between attempts, and returns what the whole call came to. Answers are never thrown;
 * an exception out of here is a bug or a broken database, never a provider's or Specter's answer.
 *
 * Not p-retry: it counts attempts in memory from zero and waits on its own timer, so this worker's
 * rules could only be had by switching its timing off and throwing errors through it as control
 * flow. Here the count starts where a job's database row left it (attempts survive restarts), the
 * caller sees every wait before it starts and may decline it (a Retry-After beyond what one cycle
 * waits defers the job to a later cycle, its next attempt time already recorded), and each attempt
 * checks what must hold right before its request (the lease) and may end the call without one.
 */
import { backoffDelayMs, type BackoffBounds } from './backoff.js';
import { sleep as timerSleep, type Sleep } from './sleep.js';

/** What one attempt came to. */
export type Attempt<T, F> = { kind: 'final'; value: T } | { kind: 'transient'; failure: F; retryAfterMs?: number | undefined };

/** What the call came to; `attempts` is the number of the attempt that ended it. */
export type Retried<T, F> =
  /** An attempt came to a final value: a success, an answer no retry changes, or "not sent". */
  | { kind: 'final'; value: T; attempts: number }
  /** The last attempt allowed was transient too. */
  | { kind: 'exhausted'; failure: F; attempts: number }
  /** Another attempt is due after `delayMs`, but not in this call: the wait was declined, or a stop came. */
  | { kind: 'deferred'; failure: F; attempts: number; delayMs: number };

export interface RetryOptions<T, F> {
  /** Attempts allowed in all, those made before this call included. */
  maxAttempts: number;
  bounds: BackoffBounds;
  /** Attempts made before this call (a job's row counts them across restarts); default 0. */
  attemptsMade?: number;
  /** One attempt, told its number (counting those made before this call). */
  attempt: (attempt: number) => Promise<Attempt<T, F>>;
  /**
   * Told each wait before it starts, with the failure that caused it. False declines the wait: the
   * call returns `deferred`. Default: every wait is taken.
   */
  beforeWait?: (wait: { failure: F; attempt: number; delayMs: number }) => boolean | Promise<boolean>;
  /** A stop: no wait starts, and a wait it interrupts ends the call, `deferred`. Default: never. */
  stopping?: () => boolean;
  /** Ends a wait early (the stop's signal). */
  signal?: AbortSignal;
  sleep?: Sleep;
  /** The backoff's jitter source. */
  random?: () => number;
}

export async function retry<T, F>(options: RetryOptions<T, F>): Promise<Retried<T, F>> {
  const stopping = options.stopping ?? (() => false);
  const sleep = options.sleep ?? timerSleep;
  for (let attempt = (options.attemptsMade ?? 0) + 1; ; attempt += 1) {
    const step = await options.attempt(attempt);
    if (step.kind === 'final') return { kind: 'final', value: step.value, attempts: attempt };
    const { failure } = step;
    // Written as "not below" so that a NaN bound ends the call rather than retrying for ever.
    if (!(attempt < options.maxAttempts)) return { kind: 'exhausted', failure, attempts: attempt };
    const delayMs = backoffDelayMs(attempt, options.bounds, step.retryAfterMs, options.random);
    const wait = options.beforeWait ? await options.beforeWait({ failure, attempt, delayMs }) : true;
    if (!wait || stopping()) return { kind: 'deferred', failure, attempts: attempt, delayMs };
    await sleep(delayMs, options.signal);
    if (stopping()) return { kind: 'deferred', failure, attempts: attempt, delayMs };
  }
}
