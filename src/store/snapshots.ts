/**
 * Snapshots and the cycle's one transaction. The commit runs synchronously inside one
 * better-sqlite3 transaction: nothing else (an HTTP handler, a timer) can interleave between its
 * statements, and a crash at any point leaves the database exactly as it was before the cycle.
 */
import { randomUUID } from 'node:crypto';
import type { OrderSnapshot, ProviderName, Route, SnapshotSummary, TrackedOrder, VanishStatus } from '../domain.js';
import type { Store } from './database.js';
import type { SnapshotRow } from './schema.js';

function routeFromRow(row: Pick<SnapshotRow, 'route_kind' | 'provider' | 'provider_ref' | 'route_note'>): Route {
  if (row.route_kind === 'provider' && row.provider && row.provider_ref) {
    return { kind: 'provider', provider: row.provider as ProviderName, providerRef: row.provider_ref };
  }
  if (row.route_kind === 'handledBySpecter') return { kind: 'handledBySpecter' };
  return { kind: 'unrouted', reason: row.route_note ?? 'unrouted' };
}

export function snapshotFromRow(row: SnapshotRow): OrderSnapshot {
  return {
    orderNo: row.order_no,
    orderDate: row.order_date,
    status: row.status,
    statusId: row.status_id,
    deliveryStatus: row.delivery_status,
    payTypeIdentifier: row.pay_type_identifier,
    payTypeReference: row.pay_type_reference,
    route: routeFromRow(row),
    amount: row.amount,
    currency: row.currency,
    contentHash: row.content_hash,
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    cancelledAt: row.cancelled_at,
    vanishedAt: row.vanished_at,
    vanishStatus: row.vanish_status,
  };
}

/** Every order still tracked (it has not left the window). */
export function loadTrackedSnapshots(store: Store): Map<string, OrderSnapshot> {
  // iterate(), not all(): one row object at a time instead of every row at once beside the map.
  // At 100,000 orders all() held ~100k 22-column row objects next to the snapshots and raised the
  // worker's peak RSS by ~250 MB for this one step; iterate() adds ~80 MB (bench/RESULTS.md).
  const rows = store.sqlite.prepare('SELECT * FROM order_snapshots WHERE left_window_at IS NULL').iterate() as IterableIterator<SnapshotRow>;
  const map = new Map<string, OrderSnapshot>();
  for (const row of rows) map.set(row.order_no, snapshotFromRow(row));
  return map;
}

/**
 * The compact index the diff works on (SnapshotSummary), for every tracked order. Raw rows
 * (arrays) read one at a time: no 22-column row objects, no full snapshots for 100,000 orders.
 */
export function loadSnapshotIndex(store: Store): Map<string, SnapshotSummary> {
  const rows = store.sqlite
    .prepare(
      'SELECT order_no, order_date, content_hash, cancelled_at, vanished_at, vanish_status FROM order_snapshots WHERE left_window_at IS NULL',
    )
    .raw(true)
    .iterate() as IterableIterator<[string, string, string, string | null, string | null, VanishStatus | null]>;
  const index = new Map<string, SnapshotSummary>();
  for (const [orderNo, orderDate, contentHash, cancelledAt, vanishedAt, vanishStatus] of rows) {
    index.set(orderNo, { orderNo, orderDate, contentHash, cancelledAt, vanishedAt, vanishStatus });
  }
  return index;
}

/** Full snapshots of the given orders (the few a cycle acts on), in the order asked. */
export function loadSnapshots(store: Store, orderNos: readonly string[]): OrderSnapshot[] {
  const select = store.sqlite.prepare('SELECT * FROM order_snapshots WHERE order_no = ?');
  return orderNos.flatMap((orderNo) => {
    const row = select.get(orderNo) as SnapshotRow | undefined;
    return row ? [snapshotFromRow(row)] : [];
  });
}

export async function getSnapshot(store: Store, orderNo: string): Promise<OrderSnapshot | null> {
  const row = await store.db.selectFrom('order_snapshots').selectAll().where('order_no', '=', orderNo).executeTakeFirst();
  return row ? snapshotFromRow(row) : null;
}

export interface NewCancellationJob {
  orderNo: string;
  provider: ProviderName;
  providerRef: string;
  amount: string | null;
  currency: string | null;
  reason: 'cancelled' | 'vanished';
  /**
   * Not to be sent without a person: the job is created `failed` (reason `rejected`) with this
   * code and message, so it alerts, keeps `once` at exit 3, and `jobs retry` sends it if a person
   * decides it must go. Used when a live order shares the payment (design: never cancel a live
   * order's payment).
   */
  hold?: { code: string; message: string };
}

export interface CreatedJob extends NewCancellationJob {
  id: number;
  idempotencyKey: string;
}

export interface VanishRecord {
  orderNo: string;
  status: VanishStatus;
  note: string | null;
}

export interface CycleRecord {
  holder: string;
  startedAt: string;
  /** When the facts were observed: the commit time. */
  at: string;
  baseline: boolean;
  /** New and changed orders: written in full (facts untouched). */
  upserts: readonly TrackedOrder[];
  /** cancelled_at = COALESCE(cancelled_at, at). */
  cancelledFacts: readonly string[];
  vanished: readonly VanishRecord[];
  reappeared: readonly string[];
  leftWindow: readonly string[];
  jobs: readonly NewCancellationJob[];
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
  /** Only the jobs this commit created; an existing job for the same order is never doubled. */
  createdJobs: CreatedJob[];
}

export function commitCycle(store: Store, record: CycleRecord): CommitResult {
  const { sqlite } = store;
  const upsert = sqlite.prepare(`
    INSERT INTO order_snapshots (order_no, order_date, status, status_id, delivery_status,
      pay_type_identifier, pay_type_reference, route_kind, provider, provider_ref, route_note,
      amount, currency, content_hash, first_seen_at, last_seen_at)
    VALUES (@orderNo, @orderDate, @status, @statusId, @deliveryStatus, @payTypeIdentifier,
      @payTypeReference, @routeKind, @provider, @providerRef, @routeNote, @amount, @currency,
      @contentHash, @at, @at)
    ON CONFLICT (order_no) DO UPDATE SET
      order_date = excluded.order_date, status = excluded.status, status_id = excluded.status_id,
      delivery_status = excluded.delivery_status, pay_type_identifier = excluded.pay_type_identifier,
      pay_type_reference = excluded.pay_type_reference, route_kind = excluded.route_kind,
      provider = excluded.provider, provider_ref = excluded.provider_ref, route_note = excluded.route_note,
      amount = excluded.amount, currency = excluded.currency, content_hash = excluded.content_hash,
      last_seen_at = excluded.last_seen_at, left_window_at = NULL`);
  const markCancelled = sqlite.prepare(
    'UPDATE order_snapshots SET cancelled_at = COALESCE(cancelled_at, ?) WHERE order_no = ?',
  );
  const markVanished = sqlite.prepare(`
    UPDATE order_snapshots SET vanished_at = COALESCE(vanished_at, @at), vanish_status = @status,
      vanish_note = @note, vanish_resolved_at = NULL
    WHERE order_no = @orderNo`);
  const markReappeared = sqlite.prepare(`
    UPDATE order_snapshots SET vanish_status = 'reappeared', vanish_resolved_at = ? WHERE order_no = ?`);
  const markLeftWindow = sqlite.prepare('UPDATE order_snapshots SET left_window_at = ? WHERE order_no = ?');
  const insertRun = sqlite.prepare(`
    INSERT INTO sync_runs (started_at, finished_at, outcome, holder, listed, new_orders, changed,
      cancelled, missing, vanished, reappeared, left_window, jobs_created, guard_tripped)
    VALUES (@startedAt, @at, @outcome, @holder, @listed, @newOrders, @changed, @cancelled, @missing,
      @vanished, @reappeared, @leftWindow, @jobsCreated, @guardTripped)`);

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
        amount: order.amount,
        currency: order.currency,
        contentHash: order.contentHash,
        at,
      });
    }
    for (const orderNo of record.cancelledFacts) markCancelled.run(at, orderNo);
    for (const v of record.vanished) markVanished.run({ at, status: v.status, note: v.note, orderNo: v.orderNo });
    for (const orderNo of record.reappeared) markReappeared.run(at, orderNo);
    for (const orderNo of record.leftWindow) markLeftWindow.run(at, orderNo);
    const createdJobs = record.jobs.flatMap((job) => {
      const created = insertJob(store, job, at);
      return created ? [created] : [];
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
    });
    return { runId: Number(run.lastInsertRowid), createdJobs };
  });
  // IMMEDIATE: take the write lock at BEGIN, so a reader holding a snapshot cannot make the
  // commit fail half-way with SQLITE_BUSY_SNAPSHOT.
  return transaction.immediate();
}

/**
 * Adds a job unless one exists for the same order and provider reference. The idempotency key is
 * made here, once; every attempt after this reuses it. Must run inside a transaction.
 */
export function insertJob(store: Store, job: NewCancellationJob, at: string): CreatedJob | null {
  const idempotencyKey = randomUUID();
  const row = store.sqlite
    .prepare(
      `INSERT INTO cancellation_jobs (order_no, provider, provider_ref, amount, currency, reason,
         idempotency_key, state, attempts, next_attempt_at, failure_reason, last_error_code,
         last_error_message, created_at, updated_at, completed_at)
       VALUES (@orderNo, @provider, @providerRef, @amount, @currency, @reason, @idempotencyKey,
         @state, 0, @at, @failureReason, @code, @message, @at, @at, @completedAt)
       ON CONFLICT (order_no, provider, provider_ref) DO NOTHING
       RETURNING id`,
    )
    .get({
      orderNo: job.orderNo,
      provider: job.provider,
      providerRef: job.providerRef,
      amount: job.amount,
      currency: job.currency,
      reason: job.reason,
      idempotencyKey,
      state: job.hold ? 'failed' : 'pending',
      failureReason: job.hold ? 'rejected' : null,
      code: job.hold?.code ?? null,
      message: job.hold?.message ?? null,
      completedAt: job.hold ? at : null,
      at,
    }) as { id: number } | undefined;
  return row ? { ...job, id: row.id, idempotencyKey } : null;
}
