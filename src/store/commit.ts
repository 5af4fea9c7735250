/**
 * The cycle's one transaction: snapshots, facts, jobs (created, re-armed, voided, re-routed,
 * released) and the run record, in one store.write() (SQLite BEGIN IMMEDIATE, or one PostgreSQL
 * transaction; checked against the lease's fencing token first when the cycle passes a fenced
 * store). A crash at any point leaves the database exactly as it was before the cycle.
 */
import type { ProviderName, TrackedOrder, VanishStatus } from '../domain.js';
import type { OrderWindow } from '../domain.js';
import type { Insertable, Kysely } from 'kysely';
import type { Store } from './database.js';
import type { Database, OrderSnapshotsTable } from './schema.js';
import { type NewCancellationJob } from './jobs.js';
import { ensureJob, releaseHold, rerouteJob, unsettleJob, voidJob, type EnsuredJob } from './jobWrites.js';

export interface VanishRecord {
  orderNo: string;
  status: VanishStatus;
  note: string | null;
  /**
   * What is told (not stored): a person must act, VANISHED_ACTION=cancel queued it (both
   * `order.vanished`), or its provider says the money is already released (`vanished.auto_resolved`).
   */
  announce?: 'person_must_act' | 'cancel_queued' | 'auto_resolved';
}

export interface JobVoid {
  jobId: number;
  reason: string;
}

export interface JobReroute {
  jobId: number;
  provider: ProviderName;
  providerRef: string;
  paymentKey: string;
}

export interface CycleRecord {
  holder: string;
  startedAt: string;
  /** When the facts were observed: the commit time. */
  at: string;
  baseline: boolean;
  /** The window this run covered: the next run's coverage (diff.ts). */
  window: OrderWindow;
  /** New and changed orders: written in full (facts untouched). */
  upserts: readonly TrackedOrder[];
  /** Kept snapshots of orders listed again after leaving the window: tracked again. */
  reentered: readonly string[];
  /** cancelled_at = COALESCE(cancelled_at, at). */
  cancelledFacts: readonly string[];
  vanished: readonly VanishRecord[];
  reappeared: readonly string[];
  leftWindow: readonly string[];
  jobs: readonly NewCancellationJob[];
  voids: readonly JobVoid[];
  reroutes: readonly JobReroute[];
  releases: readonly number[];
  /** Jobs voided as settled elsewhere that routing no longer settles: back to awaiting a person. */
  unsettles: readonly number[];
  counts: {
    listed: number;
    newOrders: number;
    changed: number;
    cancelled: number;
    missing: number;
    guardTripped: boolean;
  };
}

export interface CommitResult {
  runId: number;
  /** The jobs this commit created or re-armed; a payment that already had a live job gets none. */
  createdJobs: EnsuredJob[];
  /** The voids that took effect (a job that had moved on is left alone). */
  voided: JobVoid[];
  reroutes: Array<JobReroute & { result: 'rerouted' | 'duplicate' }>;
  released: number[];
  unsettled: number[];
}

/** Rows per statement: 17 parameters a row stays far below SQLite's 32,766 and PostgreSQL's 65,535. */
const BATCH = 500;

function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += BATCH) yield items.slice(i, i + BATCH);
}

function snapshotRow(order: TrackedOrder, at: string): Insertable<OrderSnapshotsTable> {
  return {
    order_no: order.orderNo,
    order_date: order.orderDate,
    status: order.status,
    status_id: order.statusId,
    delivery_status: order.deliveryStatus,
    pay_type_identifier: order.payTypeIdentifier,
    pay_type_reference: order.payTypeReference,
    route_kind: order.route.kind,
    provider: order.route.kind === 'provider' ? order.route.provider : null,
    provider_ref: order.route.kind === 'provider' ? order.route.providerRef : null,
    route_note: order.route.kind === 'unrouted' ? order.route.reason : null,
    payment_key: order.paymentKey,
    amount: order.amount,
    currency: order.currency,
    content_hash: order.contentHash,
    first_seen_at: at,
    last_seen_at: at,
  };
}

/** Columns a listed order overwrites; first_seen_at and the facts (cancelled_at, vanished_at, …) stay. */
const OVERWRITTEN = [
  'order_date',
  'status',
  'status_id',
  'delivery_status',
  'pay_type_identifier',
  'pay_type_reference',
  'route_kind',
  'provider',
  'provider_ref',
  'route_note',
  'payment_key',
  'amount',
  'currency',
  'content_hash',
  'last_seen_at',
] as const;

async function writeSnapshots(tx: Kysely<Database>, record: CycleRecord): Promise<void> {
  const at = record.at;
  for (const batch of chunks(record.upserts)) {
    await tx
      .insertInto('order_snapshots')
      .values(batch.map((order) => snapshotRow(order, at)))
      .onConflict((oc) =>
        oc.column('order_no').doUpdateSet((eb) => ({
          ...Object.fromEntries(OVERWRITTEN.map((column) => [column, eb.ref(`excluded.${column}`)])),
          left_window_at: null,
        })),
      )
      .execute();
  }
  const snapshots = () => tx.updateTable('order_snapshots');
  for (const batch of chunks(record.reentered)) await snapshots().set({ left_window_at: null }).where('order_no', 'in', batch).execute();
  for (const batch of chunks(record.cancelledFacts)) {
    // A fact is written once: the first cycle that saw the cancellation keeps its time.
    await snapshots()
      .set((eb) => ({ cancelled_at: eb.fn.coalesce('cancelled_at', eb.val(at)) }))
      .where('order_no', 'in', batch)
      .execute();
  }
  for (const v of record.vanished) {
    await snapshots()
      .set((eb) => ({
        vanished_at: eb.fn.coalesce('vanished_at', eb.val(at)),
        vanish_status: v.status,
        vanish_note: v.note,
        vanish_resolved_at: v.status === 'resolved' ? at : null,
      }))
      .where('order_no', '=', v.orderNo)
      .execute();
  }
  for (const batch of chunks(record.reappeared))
    await snapshots().set({ vanish_status: 'reappeared', vanish_resolved_at: at }).where('order_no', 'in', batch).execute();
  for (const batch of chunks(record.leftWindow)) await snapshots().set({ left_window_at: at }).where('order_no', 'in', batch).execute();
}

/** Filters, one awaited write at a time (the writes share one transaction's connection). */
async function each<T>(items: readonly T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const kept: T[] = [];
  for (const item of items) if (await keep(item)) kept.push(item);
  return kept;
}

export function commitCycle(store: Store, record: CycleRecord): Promise<CommitResult> {
  return store.write(async (tx): Promise<CommitResult> => {
    const at = record.at;
    await writeSnapshots(tx, record);
    // Voids before jobs: a payment whose old job this cycle voids (its order re-opened) and whose
    // new cause this same cycle sees (another order of it cancelled) is re-armed, not left voided.
    const voided = await each(record.voids, (v) => voidJob(tx, v.jobId, v.reason, at));
    const reroutes: CommitResult['reroutes'] = [];
    for (const r of record.reroutes) {
      const result = await rerouteJob(tx, r.jobId, r, at);
      if (result !== 'moved') reroutes.push({ ...r, result });
    }
    const released = await each(record.releases, (id) => releaseHold(tx, id, at));
    const unsettled = await each(record.unsettles, (id) => unsettleJob(tx, id, 'routing no longer settles this payment elsewhere: it awaits a person', at));
    const createdJobs: EnsuredJob[] = [];
    for (const job of record.jobs) {
      const ensured = await ensureJob(tx, job, at);
      if (ensured) createdJobs.push(ensured);
    }
    const run = await tx
      .insertInto('sync_runs')
      .values({
        started_at: record.startedAt,
        finished_at: at,
        outcome: record.baseline ? 'baseline' : 'succeeded',
        holder: record.holder,
        listed: record.counts.listed,
        new_orders: record.counts.newOrders,
        changed: record.counts.changed,
        cancelled: record.counts.cancelled,
        missing: record.counts.missing,
        vanished: record.vanished.length,
        reappeared: record.reappeared.length,
        left_window: record.leftWindow.length,
        jobs_created: createdJobs.length,
        guard_tripped: record.counts.guardTripped ? 1 : 0,
        from_date: record.window.fromDate,
        to_date: record.window.toDate,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { runId: run.id, createdJobs, voided, reroutes, released, unsettled };
  });
}
