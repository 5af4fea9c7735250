/** What the console shows of the past: recent runs and cancellations per day (read-only). */
import type { Store } from './database.js';
import type { SyncRunRow } from './schema.js';

/** The latest successful runs, newest first (a failed cycle records no run). */
export async function listRecentRuns(store: Store, limit: number): Promise<SyncRunRow[]> {
  return store.db.selectFrom('sync_runs').selectAll().orderBy('id', 'desc').limit(limit).execute();
}

/**
 * Cancellations the providers confirmed (jobs `done`), by UTC day of completion, from `sinceIso`
 * on. Grouped here rather than in SQL: the day of an ISO text is its first ten characters on
 * SQLite and PostgreSQL alike, and the rows are few (one per cancelled payment).
 */
export async function countCancellationsByDay(store: Store, sinceIso: string): Promise<Map<string, number>> {
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select('completed_at')
    .where('state', '=', 'done')
    .where('completed_at', '>=', sinceIso)
    .execute();
  const byDay = new Map<string, number>();
  for (const row of rows) {
    if (row.completed_at === null) continue;
    const day = row.completed_at.slice(0, 10);
    byDay.set(day, (byDay.get(day) ?? 0) + 1);
  }
  return byDay;
}
