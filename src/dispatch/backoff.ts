/**
 * The wait before the next attempt of a cancellation: exponential backoff with full jitter,
 * bounded by DISPATCH_RETRY_MIN_MS … DISPATCH_RETRY_MAX_MS, and never shorter than the provider's
 * own Retry-After.
 */
import type { DispatchSettings } from '../config/types.js';

/**
 * `attempts` is how many attempts have been made so far (≥ 1). The ceiling doubles with each one
 * (min, 2·min, 4·min, … up to max) and the delay is drawn uniformly between min and that ceiling
 * (full jitter): many jobs that failed together at a provider's outage do not come back together.
 *
 * Retry-After wins over a shorter backoff (sending before it is a certain 429 and burns an
 * attempt), but is itself capped at retryMaxMs: that is the operator's stated bound on how long a
 * job may sit between attempts, and a provider asking for hours must not park a cancellation
 * silently for that long. The cap can cost an early attempt; maxAttempts still bounds the total.
 */
export function backoffDelayMs(
  attempts: number,
  bounds: Pick<DispatchSettings, 'retryMinMs' | 'retryMaxMs'>,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const min = Math.max(0, bounds.retryMinMs);
  const max = Math.max(min, bounds.retryMaxMs);
  const exponent = Math.max(0, attempts - 1);
  // 2 ** exponent overflows to Infinity after ~1000 attempts; Math.min keeps that harmless.
  const ceiling = Math.min(max, Math.max(min, 1) * 2 ** exponent);
  const jittered = Math.round(min + clampUnit(random()) * (ceiling - min));
  const honoured = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) ? Math.max(jittered, retryAfterMs) : jittered;
  return Math.min(max, Math.max(min, honoured));
}

function clampUnit(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return value > 1 ? 1 : value;
}
