/** Kysely's view of the tables in migrations/ (keep the two in step). */
import type { Generated, Selectable } from 'kysely';
import type { CancellationReason, FailureReason, JobState, OrderStatus, PaymentState, ProviderName, RouteKind, VanishStatus } from '../domain.js';

export interface OrderSnapshotsTable {
  order_no: string;
  order_date: string;
  status: OrderStatus;
  status_id: string | null;
  delivery_status: string | null;
  pay_type_identifier: string | null;
  pay_type_reference: string | null;
  route_kind: RouteKind;
  provider: string | null;
  provider_ref: string | null;
  route_note: string | null;
  payment_key: string | null;
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
  payment_key: string;
  /** Null while no route covers the payment (state failed, failure_reason unrouted). */
  provider: ProviderName | null;
  provider_ref: string | null;
  pay_type_identifier: string | null;
  pay_type_reference: string | null;
  amount: string | null;
  currency: string | null;
  reason: CancellationReason;
  idempotency_key: string;
  state: JobState;
  attempts: Generated<number>;
  next_attempt_at: string;
  provider_transaction_id: string | null;
  last_error_code: string | null;
  last_error_message: string | null;
  failure_reason: FailureReason | null;
  void_reason: string | null;
  person_note: string | null;
  twin_override: Generated<number>;
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
  /** The window the run covered (null on runs recorded before migration 0003). */
  from_date: string | null;
  to_date: string | null;
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
  /** 0006: the fencing token, raised each time the lease changes hands. */
  token: Generated<number>;
}

/** 0005: what a vanished order's provider last said about its payment. */
export interface PaymentReadsTable {
  order_no: string;
  provider: ProviderName;
  provider_ref: string;
  state: PaymentState;
  reserved_amount: string | null;
  currency: string | null;
  expires_at: string | null;
  detail: string;
  read_at: string;
}

export interface Database {
  order_snapshots: OrderSnapshotsTable;
  cancellation_jobs: CancellationJobsTable;
  sync_runs: SyncRunsTable;
  worker_lease: WorkerLeaseTable;
  payment_reads: PaymentReadsTable;
}

export type SnapshotRow = Selectable<OrderSnapshotsTable>;
export type JobRow = Selectable<CancellationJobsTable>;
export type SyncRunRow = Selectable<SyncRunsTable>;
