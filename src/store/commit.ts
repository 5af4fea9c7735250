/**
 * The cycle's one transaction: snapshots, facts, jobs (created, re-armed, voided, re-routed,
 * released) and the run record. It runs synchronously inside one better-sqlite3 transaction:
 * nothing else (an HTTP handler, a timer) can interleave between its statements, and a crash at
 * any point leaves the database exactly as it was before the cycle.
 */
import type { ProviderName, TrackedOrder, VanishStatus } from '../domain.js';
import type { OrderWindow } from '../domain.js';
import type { Store } from './database.js';
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

export function commitCycle(store: Store, record: CycleRecord): CommitResult {
  const { sqlite } = store;
  const upsert = sqlite.prepare(`
    INSERT INTO order_snapshots (order_no, order_date, status, status_id, delivery_status,
      pay_type_identifier, pay_type_reference, route_kind, provider, provider_ref, route_note,
      payment_key, amount, currency, content_hash, first_seen_at, last_seen_at)
    VALUES (@orderNo, @orderDate, @status, @statusId, @deliveryStatus, @payTypeIdentifier,
      @payTypeReference, @routeKind, @provider, @providerRef, @routeNote, @paymentKey, @amount,
      @currency, @contentHash, @at, @at)
    ON CONFLICT (order_no) DO UPDATE SET
      order_date = excluded.order_date, status = excluded.status, status_id = excluded.status_id,
      delivery_status = excluded.delivery_status, pay_type_identifier = excluded.pay_type_identifier,
      pay_type_reference = excluded.pay_type_reference, route_kind = excluded.route_kind,
      provider = excluded.provider, provider_ref = excluded.provider_ref, route_note = excluded.route_note,
      payment_key = excluded.payment_key, amount = excluded.amount, currency = excluded.currency,
      content_hash = excluded.content_hash, last_seen_at = excluded.last_seen_at, left_window_at = NULL`);
  const markReentered = sqlite.prepare('UPDATE order_snapshots SET left_window_at = NULL WHERE order_no = ?');
  const markCancelled = sqlite.prepare('UPDATE order_snapshots SET cancelled_at = COALESCE(cancelled_at, ?) WHERE order_no = ?');
  const markVanished = sqlite.prepare(`
    UPDATE order_snapshots SET vanished_at = COALESCE(vanished_at, @at), vanish_status = @status,
      vanish_note = @note, vanish_resolved_at = CASE WHEN @status = 'resolved' THEN @at ELSE NULL END
    WHERE order_no = @orderNo`);
  const markReappeared = sqlite.prepare(`
    UPDATE order_snapshots SET vanish_status = 'reappeared', vanish_resolved_at = ? WHERE order_no = ?`);
  const markLeftWindow = sqlite.prepare('UPDATE order_snapshots SET left_window_at = ? WHERE order_no = ?');
  const insertRun = sqlite.prepare(`
    INSERT INTO sync_runs (started_at, finished_at, outcome, holder, listed, new_orders, changed,
      cancelled, missing, vanished, reappeared, left_window, jobs_created, guard_tripped, from_date, to_date)
    VALUES (@startedAt, @at, @outcome, @holder, @listed, @newOrders, @changed, @cancelled, @missing,
      @vanished, @reappeared, @leftWindow, @jobsCreated, @guardTripped, @fromDate, @toDate)`);

  const transaction = sqlite.transaction((): CommitResult => {
    const at = record.at;
    for (const order of record.upserts) {
      upsert.run({
        orderNo: order.orderNo,
        orderDate: order.orderDate,
        status: order.status,
        statusId: order.statusId,
        deliveryStatus: order.deliveryStatus,
        payTypeIdentifier: order.payTypeIdentifier,
        payTypeReference: order.payTypeReference,
        routeKind: order.route.kind,
        provider: order.route.kind === 'provider' ? order.route.provider : null,
        providerRef: order.route.kind === 'provider' ? order.route.providerRef : null,
        routeNote: order.route.kind === 'unrouted' ? order.route.reason : null,
        paymentKey: order.paymentKey,
        amount: order.amount,
        currency: order.currency,
        contentHash: order.contentHash,
        at,
      });
    }
    for (const orderNo of record.reentered) markReentered.run(orderNo);
    for (const orderNo of record.cancelledFacts) markCancelled.run(at, orderNo);
    for (const v of record.vanished) markVanished.run({ at, status: v.status, note: v.note, orderNo: v.orderNo });
    for (const orderNo of record.reappeared) markReappeared.run(at, orderNo);
    for (const orderNo of record.leftWindow) markLeftWindow.run(at, orderNo);
    // Voids before jobs: a payment whose old job this cycle voids (its order re-opened) and whose
    // new cause this same cycle sees (another order of it cancelled) is re-armed, not left voided.
    const voided = record.voids.filter((v) => voidJob(store, v.jobId, v.reason, at));
    const reroutes = record.reroutes.flatMap((r) => {
      const result = rerouteJob(store, r.jobId, r, at);
      return result === 'moved' ? [] : [{ ...r, result }];
    });
    const released = record.releases.filter((id) => releaseHold(store, id, at));
    const unsettled = record.unsettles.filter((id) => unsettleJob(store, id, 'routing no longer settles this payment elsewhere: it awaits a person', at));
    const createdJobs = record.jobs.flatMap((job) => {
      const ensured = ensureJob(store, job, at);
      return ensured ? [ensured] : [];
    });
    const run = insertRun.run({
      startedAt: record.startedAt,
      at,
      outcome: record.baseline ? 'baseline' : 'succeeded',
      holder: record.holder,
      listed: record.counts.listed,
      newOrders: record.counts.newOrders,
      changed: record.counts.changed,
      cancelled: record.counts.cancelled,
      missing: record.counts.missing,
      vanished: record.vanished.length,
      reappeared: record.reappeared.length,
      leftWindow: record.leftWindow.length,
      jobsCreated: createdJobs.length,
      guardTripped: record.counts.guardTripped ? 1 : 0,
      fromDate: record.window.fromDate,
      toDate: record.window.toDate,
    });
    return { runId: Number(run.lastInsertRowid), createdJobs, voided, reroutes, released, unsettled };
  });
  // IMMEDIATE: take the write lock at BEGIN, so a reader holding a snapshot cannot make the
  // commit fail half-way with SQLITE_BUSY_SNAPSHOT.
  return transaction.immediate();
}
