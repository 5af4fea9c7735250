/**
 * The Prometheus metrics of `run` (GET /metrics), on a registry of our own: prom-client's global
 * registry is shared by every copy of prom-client in the process, so a library that also uses it
 * could add or clash with our names.
 *
 * Counters and the histogram change as things happen; the gauges that come from the database are
 * set by the worker after each cycle (setDatabaseGauges), never computed during a scrape, so a
 * scrape never reads SQLite while a cycle writes and costs nothing however often it comes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { JOB_STATES, PROVIDER_NAMES, type JobState, type OrderStatus, type ProviderName } from '../domain.js';

const METRIC_PREFIX = 'specter_sync_';

/**
 * What a tick ended in. The cycle's own outcomes, plus the two ways a tick does no cycle:
 * `lease_busy` (another process holds the database lease; runCycle's 'skipped') and `overlap`
 * (this process's previous cycle was still running).
 */
export const CYCLE_OUTCOMES = ['succeeded', 'baseline', 'failed', 'lease_busy', 'overlap'] as const;
export type CycleOutcomeLabel = (typeof CYCLE_OUTCOMES)[number];

/**
 * CancelOutcome and ConfirmOutcome kinds, the provider-request outcome label. Listed here, not
 * imported: observability sits below the dispatcher and the providers (they use it, never the
 * reverse); the dispatcher handing its outcome kinds to DispatchObserver checks that they fit.
 */
const PROVIDER_OUTCOMES = ['succeeded', 'accepted', 'pending', 'transient', 'permanent'] as const;

/** Told of every provider answer by the dispatcher and the confirmation pass; the metrics count them. */
export interface DispatchObserver {
  providerAnswer?(provider: ProviderName, outcome: (typeof PROVIDER_OUTCOMES)[number]): void;
}
const ORDER_STATUSES: readonly OrderStatus[] = ['open', 'cancelled', 'delivered'];

export interface DatabaseGauges {
  trackedByStatus: Record<OrderStatus, number>;
  vanishedAwaiting: number;
  jobsByState: Record<JobState, number>;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** Counts a tick's outcome; `durationSeconds` only for ticks that ran a cycle. */
  cycleFinished(outcome: CycleOutcomeLabel, durationSeconds?: number): void;
  /** When the last cycle on this database succeeded (ours or, seen after a lease_busy, another's). */
  setLastSuccess(atMs: number): void;
  setDatabaseGauges(gauges: DatabaseGauges): void;
  /** Passed to runCycle: counts every provider answer by provider and outcome kind. */
  readonly observer: DispatchObserver;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  // Process metrics (CPU, memory, event-loop lag, GC, handles) under our prefix, so they never
  // collide with another exporter's in the same Prometheus job.
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });

  const cycles = new Counter({
    name: `${METRIC_PREFIX}cycles_total`,
    help: 'Scheduled ticks by outcome: succeeded, baseline, failed, lease_busy (another process held the lease), overlap (the previous cycle was still running).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: `${METRIC_PREFIX}cycle_duration_seconds`,
    help: 'Duration of cycles that ran (succeeded, baseline or failed).',
    // From a quiet poll (tens of ms) to a cycle that retried Specter and dispatched a backlog.
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const tracked = new Gauge({
    name: `${METRIC_PREFIX}tracked_orders`,
    help: 'Orders tracked in the lookback window, by status (refreshed after each cycle).',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const vanished = new Gauge({
    name: `${METRIC_PREFIX}vanished_awaiting`,
    help: 'Vanished (deleted) orders awaiting a person (refreshed after each cycle).',
    registers: [registry],
  });
  const jobs = new Gauge({
    name: `${METRIC_PREFIX}jobs`,
    help: 'Cancellation jobs by state (refreshed after each cycle).',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  const providerRequests = new Counter({
    name: `${METRIC_PREFIX}provider_requests_total`,
    help: 'Answers from payment providers (cancel and confirm requests) by provider and classified outcome.',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: `${METRIC_PREFIX}last_success_timestamp_seconds`,
    help: 'Unix time the last successful cycle on this database finished (0: none yet).',
    registers: [registry],
  });

  // Every label value is written from the start: a series that appears only after its first
  // event makes rate() and absent()-style alert rules miss the first occurrence.
  for (const outcome of CYCLE_OUTCOMES) cycles.inc({ outcome }, 0);
  for (const status of ORDER_STATUSES) tracked.set({ status }, 0);
  for (const state of JOB_STATES) jobs.set({ state }, 0);
  for (const provider of PROVIDER_NAMES) {
    for (const outcome of PROVIDER_OUTCOMES) providerRequests.inc({ provider, outcome }, 0);
  }
  vanished.set(0);
  lastSuccess.set(0);

  return {
    registry,
    cycleFinished(outcome, durationSeconds) {
      cycles.inc({ outcome });
      if (durationSeconds !== undefined) duration.observe(durationSeconds);
    },
    setLastSuccess(atMs) {
      lastSuccess.set(atMs / 1000);
    },
    setDatabaseGauges(gauges) {
      for (const status of ORDER_STATUSES) tracked.set({ status }, gauges.trackedByStatus[status]);
      vanished.set(gauges.vanishedAwaiting);
      for (const state of JOB_STATES) jobs.set({ state }, gauges.jobsByState[state]);
    },
    observer: {
      providerAnswer(provider, outcome) {
        providerRequests.inc({ provider, outcome });
      },
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
