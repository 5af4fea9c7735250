/**
 * The fencing token (migration 0006): the lease's token is raised every time the lease changes
 * hands, and every write transaction of a cycle checks, first thing inside that transaction, that
 * the token it took is still the current one. A holder paused past its TTL (a GC pause, SIGSTOP, a
 * frozen node) wakes still believing it holds the lease; its renewal timer has not run yet, so
 * only this check, made in the same transaction as the write, stops it from committing after
 * another replica took over.
 */
import type { Kysely } from 'kysely';
import type { Engine } from './database.js';
import type { Database } from './schema.js';

/** The lease as taken: by whom, and which time it changed hands. */
export interface Fence {
  holder: string;
  token: number;
}

export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

export const LEASE_NAME = 'sync';

export async function checkFence(engine: Engine, tx: Kysely<Database>, fence: Fence): Promise<void> {
  const query = tx
    .selectFrom('worker_lease')
    .select('token')
    .where('name', '=', LEASE_NAME)
    .where('holder', '=', fence.holder)
    .where('token', '=', fence.token);
  // PostgreSQL: FOR SHARE holds the lease row until this transaction ends, so a takeover's UPDATE
  // waits for our commit: our writes land before the new holder's token exists, never after.
  // SQLite: BEGIN IMMEDIATE already holds the database's one write lock, takeovers included.
  const row = await (engine === 'postgres' ? query.forShare() : query).executeTakeFirst();
  if (!row)
    throw new LeaseLostError(`the sync lease (token ${fence.token}) is no longer held by ${fence.holder}: another process took it over; nothing was written`);
}
