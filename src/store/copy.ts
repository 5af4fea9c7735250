/**
 * Moving a deployment from SQLite to PostgreSQL (`specter-sync migrate --from-sqlite PATH`): every
 * row that carries history — snapshots (with their facts: cancelled_at, vanished_at, …), jobs
 * (with their ids, idempotency keys and states), payment reads and runs — copied as it is into an
 * EMPTY PostgreSQL database, in one transaction. So the first cycle on PostgreSQL is not a
 * baseline, and no job is ever re-keyed: a provider that saw an attempt recognises the repeat.
 *
 * It refuses a target that holds anything (two histories must not be merged), and a source whose
 * lease a live worker holds (it would keep writing to the file after the copy).
 */
import type { Kysely } from 'kysely';
import { sql } from './kysely.js';
import type { Store } from './database.js';
import { readLease } from './lease.js';
import type { Database } from './schema.js';

export interface CopyReport {
  snapshots: number;
  jobs: number;
  paymentReads: number;
  runs: number;
}

export class CopyRefused extends Error {
  override readonly name = 'CopyRefused';
}

/** Rows per INSERT: 26 columns a job row stays under PostgreSQL's 65,535 parameters. */
const BATCH = 1000;

const TABLES = ['order_snapshots', 'cancellation_jobs', 'payment_reads', 'sync_runs'] as const;
type Table = (typeof TABLES)[number];

async function countRows(db: Kysely<Database>, table: Table): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Inserts `rows` a batch at a time; how many. */
async function insertAll<R>(rows: readonly R[], insert: (batch: R[]) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < rows.length; i += BATCH) await insert(rows.slice(i, i + BATCH));
  return rows.length;
}

export async function copySqliteToPostgres(source: Store, target: Store): Promise<CopyReport> {
  if (source.engine !== 'sqlite' || target.engine !== 'postgres') throw new Error('the copy goes from a SQLite store to a PostgreSQL store');
  const lease = await readLease(source);
  if (lease.holder !== null && lease.expiresAtMs > lease.nowMs) {
    throw new CopyRefused(`a worker (${lease.holder}) holds the SQLite database's lease: stop every worker on ${source.location} first, then copy`);
  }
  return target.write(async (tx) => {
    for (const table of TABLES) {
      const n = await countRows(tx, table);
      if (n > 0) throw new CopyRefused(`the PostgreSQL database (SYNC_DATABASE_URL) is not empty: ${table} has ${n} row(s); copy only into an empty database`);
    }
    // Parents before children (snapshots before the jobs that reference them), ids kept as they are.
    const from = source.db;
    const report: CopyReport = {
      snapshots: await insertAll(await from.selectFrom('order_snapshots').selectAll().orderBy('order_no').execute(), (batch) =>
        tx.insertInto('order_snapshots').values(batch).execute(),
      ),
      jobs: await insertAll(await from.selectFrom('cancellation_jobs').selectAll().orderBy('id').execute(), (batch) =>
        tx.insertInto('cancellation_jobs').values(batch).execute(),
      ),
      paymentReads: await insertAll(await from.selectFrom('payment_reads').selectAll().orderBy('order_no').execute(), (batch) =>
        tx.insertInto('payment_reads').values(batch).execute(),
      ),
      runs: await insertAll(await from.selectFrom('sync_runs').selectAll().orderBy('id').execute(), (batch) =>
        tx.insertInto('sync_runs').values(batch).execute(),
      ),
    };
    // Ids were copied as they were: the identity sequences continue after them, so a new job
    // never takes an id an old one had (what SQLite's AUTOINCREMENT promised too).
    for (const table of ['cancellation_jobs', 'sync_runs'] as const) {
      await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), COALESCE((SELECT MAX(id) FROM ${sql.table(table)}), 0) + 1, false)`.execute(tx);
    }
    return report;
  });
}
