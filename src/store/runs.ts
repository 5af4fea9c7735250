/** The record of successful cycles (a failed cycle changes nothing in the database). */
import type { Store } from './database.js';
import type { SyncRunRow } from './schema.js';

export async function hasSuccessfulRun(store: Store): Promise<boolean> {
  const row = await store.db.selectFrom('sync_runs').select('id').limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function lastSuccessfulRun(store: Store): Promise<SyncRunRow | null> {
  const row = await store.db.selectFrom('sync_runs').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row ?? null;
}

/**
 * The run's end, once dispatch and confirmation are done too: the commit wrote the commit time,
 * but the cycle (and the lease) lasts until its last provider answer.
 */
export async function finishRun(store: Store, runId: number, finishedAt: string): Promise<void> {
  await store.write((tx) => tx.updateTable('sync_runs').set({ finished_at: finishedAt }).where('id', '=', runId).execute());
}
