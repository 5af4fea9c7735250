/** The worker's monitor: the stale alert, the reminders of what awaits a person, and the database gauges. */
import { clamp } from '../outbound/clamp.js';
import { PROVIDER_NAMES, type ProviderName } from '../domain.js';
import type { Logger } from '../observability/logger.js';
import type { WorkerMetrics } from '../observability/metrics.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../store/database.js';
import { countJobsByState } from '../store/jobs.js';
import { countTrackedByStatus } from '../store/status.js';
import { listFailedJobsForReminder, listJobsWaitingForProvider, type Bounded, type FailedJobReminder, type WaitingJobReminder } from '../store/reminders.js';
import { listVanishedAwaiting, type VanishedOrder } from '../store/vanished.js';
import { decideStale, formatSeconds, STALE_PERIODS, type HealthState } from './schedule.js';

/** The stale check runs every period, but at least this often and at most this often. */
const STALE_CHECK_MIN_MS = 1_000;
const STALE_CHECK_MAX_MS = 60_000;
/** Also how often a vanished order still awaiting is asked about again (worker/payments.ts). */
export const REMINDER_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** A reminder lists at most this many orders (a guard against a line of megabytes); the count is always complete. */
const REMINDER_MAX_ORDERS = 200;
/** A job waiting for an unconfigured provider is reminded of once it has waited this long. */
const WAITING_FOR_PROVIDER_REMIND_AFTER_MS = 24 * 60 * 60 * 1000;

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
    advice.push(
      'for a failed job act on its reason (see specter-sync jobs list --state failed), then specter-sync jobs retry JOB_ID or specter-sync jobs dismiss JOB_ID --note TEXT',
    );
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
export function registeredProviders(registry: ProviderRegistry): ProviderName[] {
  return PROVIDER_NAMES.filter((name) => registry[name] !== undefined);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export interface MonitorDeps {
  store: Store;
  logger: Logger;
  metrics: WorkerMetrics;
  providers: ProviderRegistry;
  clock: () => Date;
  periodMs: number;
  /** The loop's record of cycles, read at each check (the loop writes it). */
  health: Readonly<HealthState>;
}

export interface Monitor {
  /** Gauges from the database, read between cycles: a scrape never touches SQLite. */
  refreshGauges(): Promise<void>;
  /** `vanished.reminder`, then `jobs.reminder`, each only when something awaits a person. */
  remind(): Promise<void>;
  /** Starts the stale check and the daily reminders; a reminder waits for `cycleInFlight()` first. */
  arm(startedAtMs: number, cycleInFlight: () => Promise<void> | null): void;
  disarm(): void;
}

export function createMonitor(deps: MonitorDeps): Monitor {
  const { store, logger, metrics, clock, periodMs, health } = deps;
  let startedAtMs = clock().getTime();
  let lastStaleAlertAtMs: number | null = null;
  const timers: NodeJS.Timeout[] = [];

  async function refreshDatabaseGauges(): Promise<void> {
    try {
      // One after the other: the queries share one synchronous connection, so Promise.all would only pretend to overlap them.
      const trackedByStatus = await countTrackedByStatus(store);
      const vanished = await listVanishedAwaiting(store);
      const jobsByState = await countJobsByState(store);
      metrics.setDatabaseGauges({ trackedByStatus, vanishedAwaiting: vanished.length, jobsByState });
    } catch (error) {
      logger.event('sync.failed', `the metrics could not be refreshed from the database: ${(error as Error).message}`, {
        phase: 'metrics',
        willRetry: true,
        error,
      });
    }
  }

  async function remindVanished(): Promise<void> {
    let orders: VanishedOrder[];
    try {
      orders = await listVanishedAwaiting(store);
    } catch (error) {
      logger.event('sync.failed', `the vanished orders could not be read for the reminder: ${(error as Error).message}`, {
        phase: 'reminder',
        willRetry: true,
        error,
      });
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
      // What the provider last said (the cycle asks again once a reminder period has passed).
      paymentState: o.paymentState,
      reservedAmount: o.reservedAmount,
      expiresAt: o.expiresAt,
    }));
    const summary = listed
      .slice(0, 10)
      .map(
        (o) =>
          `${o.orderNo} (${o.provider ?? 'no provider'} ${o.providerRef ?? '?'}, ${o.amount ?? '?'} ${o.currency ?? ''}`.trimEnd() +
          `, vanished ${o.vanishedAt}, payment ${o.paymentState ?? 'not asked'}` +
          `${o.reservedAmount ? ` ${o.reservedAmount}` : ''}${o.expiresAt ? ` until ${o.expiresAt}` : ''})`,
      )
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
   * vanished order does (docs/interface.md, "Awaiting a person"); without this line a `run` deployment
   * (which has no exit code 3) would mention them once, in the cancel.failed or
   * cancel.waiting_for_provider line of the day they happened, and never again. A line of its
   * own rather than more entries in vanished.reminder: the alert rules and runbooks written for
   * that one keep meaning "vanished orders await a person" (docs/interface.md: add, change nothing),
   * and a failed job needs different commands (jobs retry / jobs dismiss, not vanished …).
   */
  async function remindJobs(): Promise<void> {
    let reminder: JobsReminder | null;
    try {
      const createdBefore = new Date(clock().getTime() - WAITING_FOR_PROVIDER_REMIND_AFTER_MS).toISOString();
      const failed = await listFailedJobsForReminder(store, REMINDER_MAX_ORDERS);
      const waiting = await listJobsWaitingForProvider(store, { configured: registeredProviders(deps.providers), createdBefore, limit: REMINDER_MAX_ORDERS });
      reminder = describeJobsReminder(failed, waiting);
    } catch (error) {
      logger.event('sync.failed', `the jobs awaiting a person could not be read for the reminder: ${(error as Error).message}`, {
        phase: 'reminder',
        willRetry: true,
        error,
      });
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
        (health.lastFailure
          ? `the last cycle failed: ${health.lastFailure.reason}`
          : 'no cycle has completed (another process may hold the lease, or a cycle hangs)'),
      {
        lastSuccessAt,
        secondsSinceSuccess: Math.round(decision.sinceMs / 1000),
        periodSeconds: periodMs / 1000,
        lastFailure: health.lastFailure?.reason ?? null,
      },
    );
  }

  return {
    refreshGauges: refreshDatabaseGauges,
    remind,
    arm(startAt, cycleInFlight) {
      startedAtMs = startAt;
      // Our own timers are unref'd: only the cron task and the HTTP server keep the process
      // alive, and stop() ends both, so nothing is left to hold it open after a stop.
      const staleTimer = setInterval(checkStale, clamp(periodMs, STALE_CHECK_MIN_MS, STALE_CHECK_MAX_MS));
      staleTimer.unref();
      const reminderTimer = setInterval(() => {
        // After the cycle in flight, if any: the list is then up to date with what it recorded.
        void (cycleInFlight() ?? Promise.resolve()).then(remind);
      }, REMINDER_INTERVAL_MS);
      reminderTimer.unref();
      timers.push(staleTimer, reminderTimer);
    },
    disarm() {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
