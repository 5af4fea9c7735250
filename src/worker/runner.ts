/**
 * The long-running worker behind `specter-sync run`: a cycle on every tick of SYNC_SCHEDULE, one
 * at a time, a graceful stop, and the alerts that must not go quiet (`sync.stale`, and the
 * reminders `vanished.reminder` and `jobs.reminder`). It owns no HTTP: it answers readiness from
 * memory, and run.ts serves it.
 *
 * One writer (design.md): inside this process a tick that finds a cycle still running is skipped
 * (node-cron's noOverlap for its own ticks, plus our guard, because the first cycle is started
 * by us and not by node-cron, so node-cron would not know it is busy); between processes the
 * SQLite lease, taken inside runCycle, decides.
 */
import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { PROVIDER_NAMES, type ProviderName } from '../domain.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { countJobsByState } from '../store/jobs.js';
import { lastSuccessfulRun } from '../store/runs.js';
import { countTrackedByStatus } from '../store/status.js';
import { listFailedJobsForReminder, listJobsWaitingForProvider, type Bounded, type FailedJobReminder, type WaitingJobReminder } from '../store/reminders.js';
import { listVanishedAwaiting, type VanishedOrder } from '../store/vanished.js';
import { runCycle, type CycleDeps, type CycleReport } from './cycle.js';
import type { ReadinessAnswer } from './http.js';

/** Readiness and the stale alert allow this many schedule periods without a success. */
export const STALE_PERIODS = 3;
/** The stale check runs every period, but at least this often and at most this often. */
const STALE_CHECK_MIN_MS = 1_000;
const STALE_CHECK_MAX_MS = 60_000;
/** While stale, `sync.stale` is repeated every period, but never more often than this. */
const STALE_REPEAT_MIN_MS = 60_000;
export const REMINDER_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** A reminder lists at most this many orders (a guard against a line of megabytes); the count is always complete. */
const REMINDER_MAX_ORDERS = 200;
/** A job waiting for an unconfigured provider is reminded of once it has waited this long. */
export const WAITING_FOR_PROVIDER_REMIND_AFTER_MS = 24 * 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------------
// Pure parts, tested on plain values.

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

export interface JobsReminder {
  message: string;
  fields: {
    count: number;
    failed: number;
    waitingForProvider: number;
    /** Failed jobs first, then waiting ones; at most REMINDER_MAX_ORDERS in all. */
    jobs: Array<({ kind: 'failed' } & FailedJobReminder) | ({ kind: 'waiting_for_provider' } & WaitingJobReminder)>;
    truncated: boolean;
  };
}

/**
 * The `jobs.reminder` line for what the store found, or null when nothing awaits a person. The
 * message names the counts by reason and the first few jobs, and says what to do for each kind;
 * the fields carry the bounded list and the full counts.
 */
export function describeJobsReminder(
  failed: Bounded<FailedJobReminder>,
  waiting: Bounded<WaitingJobReminder>,
  maxListed: number = REMINDER_MAX_ORDERS,
): JobsReminder | null {
  const count = failed.count + waiting.count;
  if (count === 0) return null;
  const jobs: JobsReminder['fields']['jobs'] = [
    ...failed.jobs.map((j) => ({ kind: 'failed' as const, ...j })),
    ...waiting.jobs.map((j) => ({ kind: 'waiting_for_provider' as const, ...j })),
  ].slice(0, maxListed);
  const parts: string[] = [];
  if (failed.count > 0) {
    // By reason over the listed ones only when the list is complete: a partial tally would lie.
    const reasons = new Map<string, number>();
    for (const j of failed.jobs) reasons.set(j.failureReason ?? 'unknown', (reasons.get(j.failureReason ?? 'unknown') ?? 0) + 1);
    const tally = failed.jobs.length === failed.count ? ` (${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ')})` : '';
    parts.push(`${failed.count} failed${tally}`);
  }
  if (waiting.count > 0) {
    const providers = [...new Set(waiting.jobs.map((j) => j.provider))].join(', ');
    parts.push(`${waiting.count} waiting more than a day for a provider that is not configured (${providers})`);
  }
  const shown = jobs
    .slice(0, 10)
    .map((j) =>
      j.kind === 'failed'
        ? `job ${j.jobId} order ${j.orderNo} (${j.provider === null ? 'no route' : `${j.provider} ${j.providerRef ?? '?'}`}, ${j.failureReason ?? 'failed'})`
        : `job ${j.jobId} order ${j.orderNo} (${j.provider} ${j.providerRef ?? '?'}, waiting since ${j.waitingSince})`,
    )
    .join('; ');
  const advice: string[] = [];
  if (failed.count > 0) {
    advice.push('for a failed job act on its reason (see specter-sync jobs list --state failed), then specter-sync jobs retry JOB_ID or specter-sync jobs dismiss JOB_ID --note TEXT');
    // An unrouted payment has nowhere to be retried: a route (or settling it by hand) is the way.
    if (failed.jobs.some((j) => j.failureReason === 'unrouted')) {
      advice.push('an unrouted payment is queued by itself once a routing rule covers it, or dismiss it once settled by hand');
    }
  }
  if (waiting.count > 0) advice.push("for a waiting job set its provider's credentials");
  return {
    message: `${count} cancellation job(s) still await a person: ${parts.join(', ')}. ${shown}${count > 10 ? `; and ${count - 10} more` : ''}. ${capitalize(advice.join('; '))}`,
    fields: { count, failed: failed.count, waitingForProvider: waiting.count, jobs, truncated: count > jobs.length },
  };
}

/** The providers this process can send to (createProviderRegistry leaves the others out). */
export function configuredProviders(registry: ProviderRegistry): ProviderName[] {
  return PROVIDER_NAMES.filter((name) => registry[name] !== undefined);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function formatSeconds(seconds: number): string {
  return Number.isInteger(seconds) ? String(seconds) : seconds.toFixed(1);
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

// ---------------------------------------------------------------------------------------------
// The worker.

/** A cycle's collaborators (the worker makes the stop signal and the metrics observer itself). */
export interface WorkerDeps extends Omit<CycleDeps, 'signal' | 'observer'> {
  metrics: WorkerMetrics;
}

export interface StopResult {
  /** False when the grace period ran out with a cycle still in flight. */
  cycleFinished: boolean;
  /** The cycle still running after the grace, if any; the store must stay open until it ends. */
  inFlight: Promise<void> | null;
}

export interface Worker {
  readonly periodMs: number;
  /** Schedules the ticks and starts the first cycle at once (not awaited). */
  start(): Promise<void>;
  /** No new tick; dispatch is told to stop; waits up to `graceMs` for the cycle in flight. */
  stop(graceMs: number): Promise<StopResult>;
  readiness(): ReadinessAnswer;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { config, store, logger, metrics } = deps;
  const clock = deps.now ?? (() => new Date());
  const periodMs = schedulePeriodMs(config.sync.schedule);
  // One signal for the life of the process: it fires on stop, and dispatch then finishes the
  // requests in flight and starts no new one (a job is never left half-recorded by us).
  const abort = new AbortController();
  const health: HealthState = { lastSuccessAtMs: null, lastFailure: null };
  let startedAtMs = clock().getTime();
  let lastStaleAlertAtMs: number | null = null;
  let inFlight: Promise<void> | null = null;
  let stopping = false;
  let task: ScheduledTask | null = null;
  const timers: NodeJS.Timeout[] = [];

  // node-cron writes its own warnings with console.* (plain text on stdout would break the
  // one-JSON-object-per-line contract). Its warnings are the overlap (we log sync.skipped from
  // the event) and missed ticks (suppressed); a scheduler error is the only thing worth a line.
  const cronLogger: CronLogger = {
    info: () => undefined,
    warn: () => undefined,
    debug: () => undefined,
    error: (message, error) =>
      logger.event('sync.failed', `the scheduler reported an error: ${message instanceof Error ? message.message : message}`, {
        phase: 'scheduler',
        willRetry: true,
        error: error ?? message,
      }),
  };

  function logSkipped(): void {
    logger.event('sync.skipped', 'a scheduled tick found the previous cycle still running; this tick does nothing', {});
    metrics.cycleFinished('overlap');
  }

  async function refreshDatabaseGauges(): Promise<void> {
    try {
      const [trackedByStatus, vanished, jobsByState] = await Promise.all([countTrackedByStatus(store), listVanishedAwaiting(store), countJobsByState(store)]);
      metrics.setDatabaseGauges({ trackedByStatus, vanishedAwaiting: vanished.length, jobsByState });
    } catch (error) {
      logger.event('sync.failed', `the metrics could not be refreshed from the database: ${(error as Error).message}`, { phase: 'metrics', willRetry: true, error });
    }
  }

  /** After lease_busy, another process ran (or runs) the cycles: its successes count for readiness. */
  async function adoptLastSuccessFromDatabase(): Promise<void> {
    try {
      const run = await lastSuccessfulRun(store);
      const atMs = run === null ? NaN : Date.parse(run.finished_at);
      if (!Number.isNaN(atMs) && (health.lastSuccessAtMs === null || atMs > health.lastSuccessAtMs)) {
        health.lastSuccessAtMs = atMs;
        metrics.setLastSuccess(atMs);
      }
    } catch (error) {
      logger.event('sync.failed', `the last successful run could not be read: ${(error as Error).message}`, { phase: 'metrics', willRetry: true, error });
    }
  }

  function record(report: CycleReport, seconds: number): void {
    switch (report.outcome) {
      case 'succeeded':
      case 'baseline': {
        const atMs = Date.parse(report.finishedAt);
        health.lastSuccessAtMs = atMs;
        metrics.setLastSuccess(atMs);
        metrics.cycleFinished(report.outcome, seconds);
        break;
      }
      case 'failed':
        health.lastFailure = { atMs: Date.parse(report.finishedAt), reason: report.reason };
        metrics.cycleFinished('failed', seconds);
        break;
      case 'skipped':
        // runCycle logged sync.lease_busy; it did no cycle, so no duration.
        metrics.cycleFinished('lease_busy');
        break;
    }
  }

  async function cycle(): Promise<void> {
    const startedAt = performance.now();
    let report: CycleReport;
    try {
      report = await runCycle({
        config,
        store,
        specter: deps.specter,
        providers: deps.providers,
        logger,
        holder: deps.holder,
        now: clock,
        signal: abort.signal,
        observer: metrics.observer,
      });
    } catch (error) {
      // runCycle reports its own failures; this is the lease release or a store that broke under it.
      const reason = error instanceof Error ? error.message : String(error);
      logger.event('sync.failed', `the cycle could not complete: ${reason}`, { reason, kind: 'internal', willRetry: true, error });
      const at = clock().toISOString();
      report = { outcome: 'failed', dryRun: false, startedAt: at, finishedAt: at, reason, kind: 'internal' };
    }
    record(report, (performance.now() - startedAt) / 1000);
    if (report.outcome === 'skipped') await adoptLastSuccessFromDatabase();
    // Gauges from the database, read here, between cycles: a scrape never touches SQLite.
    await refreshDatabaseGauges();
  }

  /** Starts a cycle unless one is running; resolves when it (and the gauge refresh) ended. */
  function tick(): Promise<void> {
    if (stopping) return Promise.resolve();
    if (inFlight !== null) {
      logSkipped();
      return Promise.resolve();
    }
    const running = cycle()
      .catch((error: unknown) => {
        // Never out of a timer: an unhandled rejection would end the worker.
        logger.event('sync.failed', `the cycle could not complete: ${(error as Error).message}`, { kind: 'internal', willRetry: true, error });
      })
      .finally(() => {
        if (inFlight === running) inFlight = null;
      });
    inFlight = running;
    return running;
  }

  async function remindVanished(): Promise<void> {
    let orders: VanishedOrder[];
    try {
      orders = await listVanishedAwaiting(store);
    } catch (error) {
      logger.event('sync.failed', `the vanished orders could not be read for the reminder: ${(error as Error).message}`, { phase: 'reminder', willRetry: true, error });
      return;
    }
    if (orders.length === 0) return;
    const listed = orders.slice(0, REMINDER_MAX_ORDERS).map((o) => ({
      orderNo: o.orderNo,
      provider: o.provider,
      providerRef: o.providerRef,
      amount: o.amount,
      currency: o.currency,
      vanishedAt: o.vanishedAt,
    }));
    const summary = listed
      .slice(0, 10)
      .map((o) => `${o.orderNo} (${o.provider ?? 'no provider'} ${o.providerRef ?? '?'}, ${o.amount ?? '?'} ${o.currency ?? ''}`.trimEnd() + `, vanished ${o.vanishedAt})`)
      .join('; ');
    logger.event(
      'vanished.reminder',
      `${orders.length} vanished order(s) still await a person: ${summary}${orders.length > 10 ? `; and ${orders.length - 10} more` : ''}. ` +
        'For each: cancel the reservation (specter-sync vanished cancel ORDER_NO) or mark it dealt with (specter-sync vanished resolve ORDER_NO); see specter-sync vanished list',
      { count: orders.length, orders: listed, truncated: orders.length > listed.length },
    );
  }

  /**
   * Failed jobs and jobs long waiting for an unconfigured provider await a person as much as a
   * vanished order does (interface.md, "Awaiting a person"); without this line a `run` deployment
   * (which has no exit code 3) would mention them once, in the cancel.failed or
   * cancel.waiting_for_provider line of the day they happened, and never again. A line of its
   * own rather than more entries in vanished.reminder: the alert rules and runbooks written for
   * that one keep meaning "vanished orders await a person" (interface.md: add, change nothing),
   * and a failed job needs different commands (jobs retry / jobs dismiss, not vanished …).
   */
  async function remindJobs(): Promise<void> {
    let reminder: JobsReminder | null;
    try {
      const createdBefore = new Date(clock().getTime() - WAITING_FOR_PROVIDER_REMIND_AFTER_MS).toISOString();
      const [failed, waiting] = await Promise.all([
        listFailedJobsForReminder(store, REMINDER_MAX_ORDERS),
        listJobsWaitingForProvider(store, { configured: configuredProviders(deps.providers), createdBefore, limit: REMINDER_MAX_ORDERS }),
      ]);
      reminder = describeJobsReminder(failed, waiting);
    } catch (error) {
      logger.event('sync.failed', `the jobs awaiting a person could not be read for the reminder: ${(error as Error).message}`, { phase: 'reminder', willRetry: true, error });
      return;
    }
    if (reminder !== null) logger.event('jobs.reminder', reminder.message, reminder.fields);
  }

  async function remind(): Promise<void> {
    await remindVanished();
    await remindJobs();
  }

  function checkStale(): void {
    const nowMs = clock().getTime();
    const decision = decideStale({ lastSuccessAtMs: health.lastSuccessAtMs, startedAtMs, nowMs, periodMs, lastAlertAtMs: lastStaleAlertAtMs });
    if (!decision.stale) {
      lastStaleAlertAtMs = null; // the episode is over; the next one alerts at once
      return;
    }
    if (!decision.alert) return;
    lastStaleAlertAtMs = nowMs;
    const lastSuccessAt = health.lastSuccessAtMs === null ? null : new Date(health.lastSuccessAtMs).toISOString();
    logger.event(
      'sync.stale',
      `no cycle has succeeded for ${Math.round(decision.sinceMs / 1000)} s, longer than ${STALE_PERIODS} schedule periods (${formatSeconds((STALE_PERIODS * periodMs) / 1000)} s): ` +
        (health.lastFailure ? `the last cycle failed: ${health.lastFailure.reason}` : 'no cycle has completed (another process may hold the lease, or a cycle hangs)'),
      {
        lastSuccessAt,
        secondsSinceSuccess: Math.round(decision.sinceMs / 1000),
        periodSeconds: periodMs / 1000,
        lastFailure: health.lastFailure?.reason ?? null,
      },
    );
  }

  return {
    periodMs,

    async start() {
      startedAtMs = clock().getTime();
      const last = await lastSuccessfulRun(store);
      // The metric tells the truth from the first scrape; readiness waits for our own first cycle.
      if (last !== null && !Number.isNaN(Date.parse(last.finished_at))) metrics.setLastSuccess(Date.parse(last.finished_at));
      await refreshDatabaseGauges();

      task = cron.createTask(config.sync.schedule, () => tick(), {
        name: 'specter-sync',
        noOverlap: true,
        logger: cronLogger,
        suppressMissedWarning: true,
      });
      task.on('execution:overlap', () => logSkipped());
      await task.start();

      // Our own timers are unref'd: only the cron task and the HTTP server keep the process
      // alive, and stop() ends both, so nothing is left to hold it open after a stop.
      const staleTimer = setInterval(checkStale, clamp(periodMs, STALE_CHECK_MIN_MS, STALE_CHECK_MAX_MS));
      staleTimer.unref();
      const reminderTimer = setInterval(() => {
        // After the cycle in flight, if any: the list is then up to date with what it recorded.
        void (inFlight ?? Promise.resolve()).then(remind);
      }, REMINDER_INTERVAL_MS);
      reminderTimer.unref();
      timers.push(staleTimer, reminderTimer);

      logger.event('worker.started', `worker started: schedule "${config.sync.schedule}" (period ${formatSeconds(periodMs / 1000)} s); first cycle now`, {
        schedule: config.sync.schedule,
        periodSeconds: periodMs / 1000,
        nextRun: task.getNextRun()?.toISOString() ?? null,
        holder: deps.holder.id,
      });
      // Once at start, so a restart never hides what a person still has to deal with.
      await remind();
      void tick();
    },

    async stop(graceMs) {
      stopping = true;
      health.stopping = true;
      // No new tick first: a tick that fires while we wait would start a cycle we then abandon.
      if (task !== null) {
        await task.stop();
        await task.destroy();
      }
      for (const timer of timers) clearInterval(timer);
      abort.abort();
      const running = inFlight;
      if (running === null) return { cycleFinished: true, inFlight: null };
      let graceTimer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        running.then(() => true),
        new Promise<boolean>((resolve) => {
          graceTimer = setTimeout(() => resolve(false), graceMs);
        }),
      ]);
      // The grace timer must not outlive the wait: it would hold the process for up to graceMs.
      clearTimeout(graceTimer);
      return { cycleFinished: finished, inFlight: finished ? null : running };
    },

    readiness() {
      return evaluateReadiness(health, clock().getTime(), periodMs);
    },
  };
}
