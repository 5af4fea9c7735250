/**
 * The worker's pure decisions on plain values: the schedule period, readiness, when `sync.stale`
 * is logged, and the SHUTDOWN_GRACE_MS override.
 */
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { decideStale, evaluateReadiness, schedulePeriodMs, type HealthState } from '../../src/worker/schedule.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

describe('the schedule period', () => {
  // A fixed Monday, so the day-of-week cases do not depend on when the test runs.
  const from = new Date(2026, 0, 5);
  const period = (expression: string) => schedulePeriodMs(expression, from);

  it('is the gap between runs for regular schedules, with or without a seconds field', () => {
    expect(period('* * * * * *')).toBe(S);
    expect(period('*/10 * * * * *')).toBe(10 * S);
    expect(period('*/5 * * * *')).toBe(5 * MIN);
    expect(period('* * * * *')).toBe(MIN);
    expect(period('0 * * * *')).toBe(H);
    expect(period('@daily')).toBe(DAY);
  });

  it('is the longest gap for irregular schedules', () => {
    // Every 15 minutes from 08:00 to 17:45: the night, 17:45 → 08:00.
    expect(period('*/15 8-17 * * *')).toBe(14 * H + 15 * MIN);
    // Weekdays at 09:00 (also by name): Friday → Monday.
    expect(period('0 9 * * 1-5')).toBe(3 * DAY);
    expect(period('0 9 * * MON-FRI')).toBe(3 * DAY);
    // Business hours on weekdays, every minute: the weekend, Friday 17:59 → Monday 08:00.
    expect(period('* 8-17 * * 1-5')).toBe(2 * DAY + 14 * H + MIN);
    // Two uneven runs a day: 06:00 and 09:00 → the 21 h from 09:00 to 06:00.
    expect(period('0 6,9 * * *')).toBe(21 * H);
    // The last day of each month: the longest month.
    expect(period('0 0 L * *')).toBe(31 * DAY);
  });

  it('refuses what node-cron refuses', () => {
    expect(() => period('not a schedule')).toThrow();
  });
});

describe('readiness', () => {
  const period = 60 * S;
  const now = Date.UTC(2026, 10, 26, 12, 0, 0);
  const ready = (state: HealthState) => evaluateReadiness(state, now, period);

  it('is not ready before the first successful cycle', () => {
    expect(ready({ lastSuccessAtMs: null, lastFailure: null })).toEqual({ ready: false, reason: 'no successful cycle yet', lastSuccessAt: null });
  });

  it('is ready while the last success is younger than 3 periods', () => {
    const answer = ready({ lastSuccessAtMs: now - 10 * S, lastFailure: null });
    expect(answer.ready).toBe(true);
    expect(answer.lastSuccessAt).toBe(new Date(now - 10 * S).toISOString());
    expect(ready({ lastSuccessAtMs: now - 3 * period, lastFailure: null }).ready).toBe(true);
  });

  it('is not ready when the last success is older than 3 periods, and says how old', () => {
    const answer = ready({ lastSuccessAtMs: now - 3 * period - S, lastFailure: null });
    expect(answer).toEqual({
      ready: false,
      reason: 'last success 181 s ago, older than 3 periods (180 s)',
      lastSuccessAt: new Date(now - 181 * S).toISOString(),
    });
  });

  it('is not ready when the last cycle failed, with the reason, until a later success', () => {
    const failure = { atMs: now - 5 * S, reason: 'Specter answered HTTP 503' };
    expect(ready({ lastSuccessAtMs: now - 20 * S, lastFailure: failure })).toMatchObject({
      ready: false,
      reason: 'the last cycle failed: Specter answered HTTP 503',
    });
    expect(ready({ lastSuccessAtMs: null, lastFailure: failure }).reason).toBe('the last cycle failed: Specter answered HTTP 503');
    expect(ready({ lastSuccessAtMs: now - 1 * S, lastFailure: failure }).ready).toBe(true);
  });

  it('is not ready while stopping', () => {
    expect(ready({ lastSuccessAtMs: now, lastFailure: null, stopping: true })).toMatchObject({ ready: false, reason: 'the worker is stopping' });
  });
});

describe('the stale alert', () => {
  const period = 5 * MIN;
  const start = Date.UTC(2026, 10, 26, 0, 0, 0);

  it('is not stale within 3 periods of the last success, or of the start when the last success is older', () => {
    expect(
      decideStale({ lastSuccessAtMs: start + MIN, startedAtMs: start, nowMs: start + MIN + 3 * period, periodMs: period, lastAlertAtMs: null }),
    ).toMatchObject({ stale: false, alert: false });
    // A database whose last success is days old: the fresh process gets its 3 periods first.
    expect(decideStale({ lastSuccessAtMs: start - 3 * DAY, startedAtMs: start, nowMs: start + 2 * period, periodMs: period, lastAlertAtMs: null }).stale).toBe(
      false,
    );
    expect(decideStale({ lastSuccessAtMs: null, startedAtMs: start, nowMs: start + 3 * period + S, periodMs: period, lastAlertAtMs: null })).toMatchObject({
      stale: true,
      alert: true,
    });
  });

  it('alerts when an episode begins, then again every period while it lasts', () => {
    const base = { lastSuccessAtMs: start, startedAtMs: start, periodMs: period };
    const first = start + 3 * period + S;
    expect(decideStale({ ...base, nowMs: first, lastAlertAtMs: null })).toEqual({ stale: true, alert: true, sinceMs: 3 * period + S });
    expect(decideStale({ ...base, nowMs: first + MIN, lastAlertAtMs: first }).alert).toBe(false);
    expect(decideStale({ ...base, nowMs: first + period, lastAlertAtMs: first }).alert).toBe(true);
  });

  it('repeats at most once a minute for a schedule shorter than a minute', () => {
    const base = { lastSuccessAtMs: start, startedAtMs: start, periodMs: S };
    expect(decideStale({ ...base, nowMs: start + 10 * S, lastAlertAtMs: start + 5 * S })).toMatchObject({ stale: true, alert: false });
    expect(decideStale({ ...base, nowMs: start + 65 * S, lastAlertAtMs: start + 5 * S })).toMatchObject({ stale: true, alert: true });
  });
});

describe('SHUTDOWN_GRACE_MS', () => {
  const required = { SPECTER_SBM_ID: '1', SPECTER_API_USER_ID: 'u', SPECTER_API_USER_KEY: 'k' };
  const grace = (value?: string) => loadConfig({ env: { ...required, ...(value === undefined ? {} : { SHUTDOWN_GRACE_MS: value }) } }).sync.shutdownGraceMs;

  it('defaults to 25 s and accepts whole milliseconds', () => {
    expect(grace()).toBe(25_000);
    expect(grace('')).toBe(25_000);
    expect(grace('0')).toBe(0);
    expect(grace('10000')).toBe(10_000);
  });

  it.each(['-1', '2.5', '25s', 'abc', '3600001'])('refuses %s with an error naming the setting', (value) => {
    expect(() => grace(value)).toThrow(ConfigError);
    expect(() => grace(value)).toThrow(/SHUTDOWN_GRACE_MS/);
  });
});
