/** The worker's schedule maths, pure: the schedule period, readiness, and when `sync.stale` is due. */
import cron from 'node-cron';
import type { ReadinessAnswer } from './http.js';

/** Readiness and the stale alert allow this many schedule periods without a success. */
export const STALE_PERIODS = 3;
/** While stale, `sync.stale` is repeated every period, but never more often than this. */
const STALE_REPEAT_MIN_MS = 60_000;

const DAY_MS = 24 * 60 * 60 * 1000;
/** How far ahead the matching days are looked for: a monthly schedule's longest gap, with room. */
const PERIOD_HORIZON_DAYS = 400;

/**
 * The schedule period: the LONGEST gap between two consecutive runs. For a regular schedule
 * (every 5 minutes) every gap is the same; for an irregular one the longest gap is the one that
 * must not raise a false stale alert ("0 9 * * 1-5": Friday → Monday, 3 days; every 15 minutes
 * from 08:00 to 17:45: the night, 14 h 15 min).
 *
 * Why not "the gap between the next two runs" (getNextRuns(2)): that is right for regular
 * schedules only, and a fixed sample of upcoming runs misses the night of a business-hours
 * schedule. Instead, from node-cron's own parse: the times of day are hour × minute × second (the
 * longest gap inside a day, and across midnight from the last to the first); which days match is
 * asked of node-cron's matcher (task.match at the first time of each day for PERIOD_HORIZON_DAYS),
 * so day-of-month, month, day-of-week names and `L` mean exactly what they mean to the scheduler.
 * About 20 ms, once at start. Wall-clock days: a DST change can make a real gap an hour longer or
 * shorter, which 3 periods absorb.
 */
export function schedulePeriodMs(expression: string, from: Date = new Date()): number {
  const fields = cron.parse(expression);
  const ascending = (values: readonly number[]) => [...values].sort((a, b) => a - b);
  const times: number[] = [];
  for (const hour of ascending(fields.hour)) {
    for (const minute of ascending(fields.minute)) {
      for (const second of ascending(fields.second)) times.push(hour * 3600 + minute * 60 + second);
    }
  }
  const first = times[0];
  const last = times[times.length - 1];
  if (first === undefined || last === undefined) throw new Error(`the schedule "${expression}" never runs`);
  let longestMs = 0;
  for (let i = 1; i < times.length; i++) longestMs = Math.max(longestMs, (times[i]! - times[i - 1]!) * 1000);

  // The task is created but never started, so it arms no timer; destroyed at once.
  const probe = cron.createTask(expression, () => undefined);
  try {
    const acrossMidnightMs = (86_400 - last + first) * 1000;
    const [h, m, s] = [Math.floor(first / 3600), Math.floor((first % 3600) / 60), first % 60];
    let previousDay: number | null = null;
    for (let day = 0; day < PERIOD_HORIZON_DAYS; day++) {
      const at = new Date(from.getFullYear(), from.getMonth(), from.getDate() + day, h, m, s);
      if (!probe.match(at)) continue;
      if (previousDay !== null) longestMs = Math.max(longestMs, (day - previousDay - 1) * DAY_MS + acrossMidnightMs);
      previousDay = day;
    }
    // Fewer than two matching days ahead (a yearly schedule): at least the whole horizon.
    if (previousDay === null || longestMs === 0) longestMs = Math.max(longestMs, PERIOD_HORIZON_DAYS * DAY_MS);
    return longestMs;
  } finally {
    void probe.destroy();
  }
}

export interface HealthState {
  /** When the last successful cycle on this database finished (ours, or another process's seen after lease_busy). */
  lastSuccessAtMs: number | null;
  /** This process's last failed cycle. */
  lastFailure: { atMs: number; reason: string } | null;
  stopping?: boolean;
}

/** GET /readyz: ready while the last cycle succeeded and is younger than STALE_PERIODS periods. */
export function evaluateReadiness(state: HealthState, nowMs: number, periodMs: number): ReadinessAnswer {
  const lastSuccessAt = state.lastSuccessAtMs === null ? null : new Date(state.lastSuccessAtMs).toISOString();
  if (state.stopping) return { ready: false, reason: 'the worker is stopping', lastSuccessAt };
  // A failure after the last success (or with none yet) means the last cycle failed.
  if (state.lastFailure !== null && (state.lastSuccessAtMs === null || state.lastFailure.atMs >= state.lastSuccessAtMs)) {
    return { ready: false, reason: `the last cycle failed: ${state.lastFailure.reason}`, lastSuccessAt };
  }
  if (state.lastSuccessAtMs === null) return { ready: false, reason: 'no successful cycle yet', lastSuccessAt };
  const ageMs = nowMs - state.lastSuccessAtMs;
  if (ageMs > STALE_PERIODS * periodMs) {
    return {
      ready: false,
      reason: `last success ${Math.round(ageMs / 1000)} s ago, older than ${STALE_PERIODS} periods (${formatSeconds((STALE_PERIODS * periodMs) / 1000)} s)`,
      lastSuccessAt,
    };
  }
  return { ready: true, reason: `last success ${Math.round(ageMs / 1000)} s ago`, lastSuccessAt };
}

export interface StaleInput {
  lastSuccessAtMs: number | null;
  /** When this process started: a fresh start is not stale before it had STALE_PERIODS periods to succeed. */
  startedAtMs: number;
  nowMs: number;
  periodMs: number;
  /** When sync.stale was last logged in the current stale episode; null outside one. */
  lastAlertAtMs: number | null;
}

export interface StaleDecision {
  stale: boolean;
  /** Log sync.stale now. */
  alert: boolean;
  /** Milliseconds since the last success (or since start, when there is none since). */
  sinceMs: number;
}

/**
 * Stale: no success for longer than STALE_PERIODS periods, counted from the later of the last
 * success and the process start (after a weekend switched off, the first cycle gets its chance
 * before anyone is alerted). The alert is logged when an episode begins and then again every
 * period (at least STALE_REPEAT_MIN_MS apart) while it lasts, so a rule that matches recent lines
 * keeps firing instead of resolving itself while nothing works.
 */
export function decideStale(input: StaleInput): StaleDecision {
  const since = Math.max(input.lastSuccessAtMs ?? 0, input.startedAtMs);
  const sinceMs = input.nowMs - since;
  const stale = sinceMs > STALE_PERIODS * input.periodMs;
  if (!stale) return { stale, alert: false, sinceMs };
  const repeatMs = Math.max(input.periodMs, STALE_REPEAT_MIN_MS);
  const alert = input.lastAlertAtMs === null || input.nowMs - input.lastAlertAtMs >= repeatMs;
  return { stale, alert, sinceMs };
}

export function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(1);
}
