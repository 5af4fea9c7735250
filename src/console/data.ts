/** What the console's main page shows, read from the store in one place (all of it read-only). */
import type { JobState } from '../domain.js';
import type { Store } from '../store/database.js';
import { countCancellationsByDay, listRecentRuns } from '../store/history.js';
import { countJobsByState, listJobs, type CancellationJob } from '../store/jobs.js';
import { readLease } from '../store/lease.js';
import { lastSuccessfulRun } from '../store/runs.js';
import type { SyncRunRow } from '../store/schema.js';
import { listVanishedAwaiting, type VanishedOrder } from '../store/vanished.js';

/** Runs shown in the table and the duration chart. */
const RECENT_RUNS = 30;
/** Days in the cancellations chart (today included). */
const CHART_DAYS = 14;
/** Open jobs listed (the counts are always whole). */
const OPEN_JOBS_LISTED = 50;
const OPEN_STATES: readonly JobState[] = ['pending', 'sending', 'accepted'];

export interface Overview {
  vanished: VanishedOrder[];
  failedJobs: CancellationJob[];
  jobCounts: Record<JobState, number>;
  openJobs: CancellationJob[];
  runs: SyncRunRow[];
  cancellationsByDay: Array<{ day: string; count: number }>;
  lastSuccess: { finishedAt: string; ageMs: number } | null;
  lease: { holder: string; expiresAt: string } | null;
  nowIso: string;
}

export async function loadOverview(store: Store, now: Date): Promise<Overview> {
  const nowMs = now.getTime();
  const days = Array.from({ length: CHART_DAYS }, (_, i) => new Date(nowMs - (CHART_DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10));
  const byDay = await countCancellationsByDay(store, `${days[0] ?? ''}T00:00:00.000Z`);
  const last = await lastSuccessfulRun(store);
  const lease = await readLease(store);
  const open: CancellationJob[] = [];
  for (const state of OPEN_STATES) open.push(...(await listJobs(store, { state })));
  return {
    vanished: await listVanishedAwaiting(store),
    failedJobs: await listJobs(store, { state: 'failed' }),
    jobCounts: await countJobsByState(store),
    openJobs: open.sort((a, b) => a.id - b.id).slice(0, OPEN_JOBS_LISTED),
    runs: await listRecentRuns(store, RECENT_RUNS),
    cancellationsByDay: days.map((day) => ({ day, count: byDay.get(day) ?? 0 })),
    lastSuccess: last ? { finishedAt: last.finished_at, ageMs: Math.max(0, nowMs - Date.parse(last.finished_at)) } : null,
    // Expired or not by the database's clock, as the lease itself is judged.
    lease: lease.holder !== null && lease.expiresAtMs > lease.nowMs ? { holder: lease.holder, expiresAt: new Date(lease.expiresAtMs).toISOString() } : null,
    nowIso: now.toISOString(),
  };
}
