/** Kysely's view of the tables in migrations/ (keep the two in step). */
import type { Generated, Insertable, Selectable } from 'kysely';
import type { VanishStatus } from '../domain.js';

export interface OrderSnapshotsTable {
  order_no: string;
  order_date: string;
  status: 'open' | 'cancelled' | 'delivered';
  status_id: string | null;
  delivery_status: string | null;
  pay_type_identifier: string | null;
  pay_type_reference: string | null;
  route_kind: 'provider' | 'handledBySpecter' | 'unrouted';
  provider: string | null;
  provider_ref: string | null;
  route_note: string | null;
  amount: string | null;
  currency: string | null;
  content_hash: string;
  first_seen_at: string;
  last_seen_at: string;
  cancelled_at: string | null;
  vanished_at: string | null;
  vanish_status: VanishStatus | null;
  vanish_note: string | null;
  vanish_resolved_at: string | null;
  left_window_at: string | null;
}

export interface CancellationJobsTable {
  id: Generated<number>;
  order_no: string;
  provider: 'qliro' | 'klarna' | 'walley' | 'svea';
  provider_ref: string;
  amount: string | null;
  currency: string | null;
  reason: 'cancelled' | 'vanished';
  idempotency_key: string;
  state: 'pending' | 'sending' | 'accepted' | 'done' | 'failed';
  attempts: Generated<number>;
  next_attempt_at: string;
  provider_transaction_id: string | null;
  last_error_code: string | null;
  last_error_message: string | null;
  failure_reason: 'captured' | 'not_found' | 'auth' | 'rejected' | 'exhausted' | null;
  accepted_at: string | null;
  confirm_deadline_at: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface SyncRunsTable {
  id: Generated<number>;
  started_at: string;
  finished_at: string;
  outcome: 'baseline' | 'succeeded';
  holder: string;
  listed: number;
  new_orders: number;
  changed: number;
  cancelled: number;
  missing: number;
  vanished: number;
  reappeared: number;
  left_window: number;
  jobs_created: number;
  guard_tripped: number;
}

export interface WorkerLeaseTable {
  name: string;
  holder: string | null;
  hostname: string | null;
  pid: number | null;
  acquired_at: string | null;
  expires_at_ms: number;
  /** 0004: the holder's process instance (Linux boot id + start time in clock ticks); NULL = unknown. */
  boot_id: string | null;
  start_ticks: number | null;
}

export interface Database {
  order_snapshots: OrderSnapshotsTable;
  cancellation_jobs: CancellationJobsTable;
  sync_runs: SyncRunsTable;
  worker_lease: WorkerLeaseTable;
}

export type SnapshotRow = Selectable<OrderSnapshotsTable>;
export type JobRow = Selectable<CancellationJobsTable>;
export type NewJobRow = Insertable<CancellationJobsTable>;
export type SyncRunRow = Selectable<SyncRunsTable>;
