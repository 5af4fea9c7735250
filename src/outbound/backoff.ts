/**
 * The one backoff of every outbound call (Specter's requests and the providers' cancellations):
 * exponential, with full jitter, bounded by the caller's min and max, and never shorter than the
 * answer's own Retry-After (up to max).
 */
import { clamp } from './clamp.js';

/** The caller's bounds: SPECTER_RETRY_MIN_MS/MAX_MS, or DISPATCH_RETRY_MIN_MS/MAX_MS. */
export interface BackoffBounds {
  retryMinMs: number;
  retryMaxMs: number;
}

/**
 * `attempts` is how many attempts have been made so far (≥ 1). The ceiling doubles with each one
 * (min, 2·min, 4·min, … up to max) and the delay is drawn uniformly between min and that ceiling
 * (full jitter): many jobs that failed together at a provider's outage do not come back together.
 *
 * Retry-After wins over a shorter backoff (sending before it is a certain 429 and burns an
 * attempt), but is itself capped at retryMaxMs: that is the operator's stated bound on how long a
 * job may sit between attempts, and a provider asking for hours must not park a cancellation
 * silently for that long (and a `once` run must end). The cap can cost an early attempt;
 * maxAttempts still bounds the total.
 */
export function backoffDelayMs(attempts: number, bounds: BackoffBounds, retryAfterMs?: number, random: () => number = Math.random): number {
  const min = Math.max(0, bounds.retryMinMs);
  const max = Math.max(min, bounds.retryMaxMs);
  const exponent = Math.max(0, attempts - 1);
  // 2 ** exponent overflows to Infinity after ~1000 attempts; Math.min keeps that harmless.
  const ceiling = Math.min(max, Math.max(min, 1) * 2 ** exponent);
  const draw = random();
  // A random source gone wrong (NaN, Infinity) draws the shortest wait, never an unbounded one.
  const jittered = Math.round(min + clamp(Number.isFinite(draw) ? draw : 0, 0, 1) * (ceiling - min));
  const honoured = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? Math.max(jittered, retryAfterMs) : jittered;
  return clamp(honoured, min, max);
}
