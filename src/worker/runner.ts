/**
 * The worker's loop behind `specter-sync run`: a cycle per tick of SYNC_SCHEDULE, one at a time; a graceful stop.
 *
 * The alerts that must not go quiet (`sync.stale`, `vanished.reminder`, `jobs.reminder`) and the
 * database gauges are the monitor's (monitor.ts); the schedule maths is schedule.ts. It owns no
 * HTTP: it answers readiness from memory, and run.ts serves it.
 *
 * One writer (docs/architecture.md): inside this process a tick that finds a cycle still running is skipped
 * (node-cron's noOverlap for its own ticks, plus our guard, because the first cycle is started
 * by us and not by node-cron, so node-cron would not know it is busy); between processes (and
 * replicas on one PostgreSQL database) the lease decides. The worker keeps it from the tick that
 * took it until a graceful stop (keeper.ts): the holder runs every cycle, a standby's tick only
 * tries to take it (a dead holder's lease expires by the database's clock: taken within the TTL
 * plus one tick), and a person's send-now in this process waits its turn under the same lease.
 */
import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import type { WorkerMetrics } from '../observability/metrics.js';
import { readLease } from '../store/lease.js';
import { lastSuccessfulRun } from '../store/runs.js';
import { runCycle, type CycleDeps, type CycleReport } from './cycle.js';
import type { ReadinessAnswer } from './http.js';
import { createLeaseKeeper, type SharedLease } from './keeper.js';
import { createMonitor } from './monitor.js';
import { evaluateReadiness, formatSeconds, schedulePeriodMs, type HealthState } from './schedule.js';

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
  /** This process's held lease, for a person's send-now (the console's actions) to send under. */
  readonly lease: SharedLease;
}

export function createWorker(deps: WorkerDeps): Worker {
  const { config, store, logger, metrics } = deps;
  const clock = deps.now ?? (() => new Date());
  const periodMs = schedulePeriodMs(config.sync.schedule);
  // One signal for the life of the process: it fires on stop, and dispatch then finishes the
  // requests in flight and starts no new one (a job is never left half-recorded by us).
  const abort = new AbortController();
  const health: HealthState = { lastSuccessAtMs: null, lastFailure: null };
  const monitor = createMonitor({ store, logger, metrics, providers: deps.providers, clock, periodMs, health });
  let inFlight: Promise<void> | null = null;
  let lease: ReadinessAnswer['lease'];
  let stopping = false;
  let task: ScheduledTask | null = null;
  const keeper = createLeaseKeeper({ store, holder: deps.holder, ttlMs: config.sync.leaseTtlMs, logger });

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
        // A standby's tick (sync.standby): it did no cycle, so no duration.
        metrics.cycleFinished('lease_busy');
        break;
    }
  }

  async function cycle(): Promise<void> {
    const startedAt = performance.now();
    let report: CycleReport;
    try {
      report = await heldCycle();
    } catch (error) {
      // runCycle reports its own failures; this is the lease's renewal or take, or a store that broke under it.
      const reason = error instanceof Error ? error.message : String(error);
      logger.event('sync.failed', `the cycle could not complete: ${reason}`, { reason, kind: 'internal', willRetry: true, error });
      const at = clock().toISOString();
      report = { outcome: 'failed', dryRun: false, startedAt: at, finishedAt: at, reason, kind: 'internal' };
    }
    record(report, (performance.now() - startedAt) / 1000);
    if (report.outcome === 'skipped') await adoptLastSuccessFromDatabase();
    // Gauges from the database, read here, between cycles: a scrape never touches SQLite.
    await monitor.refreshGauges();
    await refreshLease();
  }

  /** The cycle under the lease this process keeps; a standby's tick (another live holder) runs none. */
  async function heldCycle(): Promise<CycleReport> {
    const lease = await keeper.hold();
    if (lease === null) {
      // Expected every tick on a healthy standby: info, not a warning (sync.lease_busy is `once`'s).
      const heldBy = await readLease(store).then(
        (row) => row.holder,
        () => null,
      );
      logger.event(
        'sync.standby',
        `another replica holds the database lease${heldBy === null ? '' : ` (${heldBy})`}; this one stands by and asks again next tick`,
        {
          holder: deps.holder.id,
          heldBy,
        },
      );
      const at = clock().toISOString();
      return { outcome: 'skipped', dryRun: false, startedAt: at, finishedAt: at, reason: 'lease_busy' };
    }
    return runCycle(
      {
        config,
        store,
        specter: deps.specter,
        providers: deps.providers,
        logger,
        holder: deps.holder,
        now: clock,
        signal: abort.signal,
        observer: metrics.observer,
      },
      { lease },
    );
  }

  /** Which replica holds the lease, and which ran the last cycle, for /readyz (read between cycles). */
  async function refreshLease(): Promise<void> {
    try {
      const [current, last] = [await readLease(store), await lastSuccessfulRun(store)];
      lease = { holder: current.holder, lastCycleBy: last?.holder ?? null, checkedAt: clock().toISOString() };
    } catch (error) {
      logger.event('sync.failed', `the lease could not be read: ${(error as Error).message}`, { phase: 'metrics', willRetry: true, error });
    }
  }

  /** Starts a cycle unless one is running; resolves when it (and the gauge refresh) ended. */
  function tick(): Promise<void> {
    if (stopping) return Promise.resolve();
    if (inFlight !== null) {
      logSkipped();
      return Promise.resolve();
    }
    // After a person's send-now in flight (keeper.ts): never two senders in this process.
    const running = keeper
      .exclusive(cycle)
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

  return {
    periodMs,

    async start() {
      const startedAtMs = clock().getTime();
      const last = await lastSuccessfulRun(store);
      // The metric tells the truth from the first scrape; readiness waits for our own first cycle.
      if (last !== null && !Number.isNaN(Date.parse(last.finished_at))) metrics.setLastSuccess(Date.parse(last.finished_at));
      await monitor.refreshGauges();

      task = cron.createTask(config.sync.schedule, () => tick(), {
        name: 'specter-sync',
        noOverlap: true,
        logger: cronLogger,
        suppressMissedWarning: true,
      });
      task.on('execution:overlap', () => logSkipped());
      await task.start();
      monitor.arm(startedAtMs, () => inFlight);

      logger.event('worker.started', `worker started: schedule "${config.sync.schedule}" (period ${formatSeconds(periodMs / 1000)} s); first cycle now`, {
        schedule: config.sync.schedule,
        periodSeconds: periodMs / 1000,
        nextRun: task.getNextRun()?.toISOString() ?? null,
        holder: deps.holder.id,
      });
      // Once at start, so a restart never hides what a person still has to deal with.
      await monitor.remind();
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
      monitor.disarm();
      abort.abort();
      // Freed only now, once the work in flight (a cycle, a person's send) has ended: a standby
      // takes it at its next tick instead of waiting out the TTL.
      const running = inFlight;
      if (running === null) {
        await keeper.release();
        return { cycleFinished: true, inFlight: null };
      }
      let graceTimer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        running.then(() => true),
        new Promise<boolean>((resolve) => {
          graceTimer = setTimeout(() => resolve(false), graceMs);
        }),
      ]);
      // The grace timer must not outlive the wait: it would hold the process for up to graceMs.
      clearTimeout(graceTimer);
      // Past the grace the cycle still runs under the lease: freed when it ends, before the store closes (run.ts).
      if (finished) await keeper.release();
      return { cycleFinished: finished, inFlight: finished ? null : running.then(() => keeper.release()) };
    },

    lease: keeper,

    readiness() {
      return { ...evaluateReadiness(health, clock().getTime(), periodMs), replica: deps.holder.id, ...(lease ? { lease } : {}) };
    },
  };
}
