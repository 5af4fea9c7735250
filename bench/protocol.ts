/**
 * Messages between the bench orchestrator (bench.ts, which hosts the sandboxes) and the measuring
 * child (child.ts, which runs the worker's code and nothing else, so its peak RSS is the worker's).
 */

export interface SizeJob {
  kind: 'size';
  size: number;
  reps: number;
  /** Environment that points specter-sync at the sandbox world the parent hosts. */
  env: Record<string, string>;
}

export interface DispatchJob {
  kind: 'dispatch';
  jobs: number;
  reps: number;
  latencyMs: number;
  env: Record<string, string>;
}

/** The steady-state cycle on PostgreSQL (a throwaway server the parent started). */
export interface PostgresJob {
  kind: 'postgres';
  size: number;
  reps: number;
  env: Record<string, string>;
  /** A fresh, empty database on that server. */
  url: string;
}

export type ChildJob = SizeJob | DispatchJob | PostgresJob;

/** child → parent: cancel `count` more orders in the sandbox Specter (rep `rep`). */
export interface CancelRequestMessage {
  type: 'cancel';
  rep: number;
  count: number;
}

/** parent → child */
export type ParentMessage = { type: 'start'; job: ChildJob } | { type: 'cancelled'; orderNos: string[] };

export interface SnapshotWriteProof {
  /** Rows of order_snapshots inserted, updated or deleted during the cycle (TEMP triggers). */
  snapshotRowWrites: number;
  /** Rows whose last_seen_at changed during the cycle. */
  lastSeenChanged: number;
  /** sqlite3_total_changes() delta on the worker's connection (every table, incl. lease and run log). */
  totalChanges: number;
  /** Rows added to sync_runs / cancellation_jobs. */
  runsAdded: number;
  jobsAdded: number;
}

export interface SizeResult {
  kind: 'size';
  size: number;
  reps: number;
  pages: number;
  bytes: number;
  baselineMs: number;
  steadyMs: number[];
  steadyProof: SnapshotWriteProof[];
  cancelMs: number[];
  cancelProof: Array<SnapshotWriteProof & { cancelled: number; cancelledInReport: number; jobsCreated: number }>;
  floorMs: number[];
  floorFetchMs: number[];
  floorParseMs: number[];
  floorWriteMs: number[];
  /** The cycle's steps called one by one with the product functions (medians of `reps`). */
  phases: Record<string, number[]>;
  /** process.resourceUsage().maxRSS (KB) after the cycles (baseline, steady, 1 %), and at the end. */
  peakRssCycleKb: number;
  peakRssEndKb: number;
  heapUsedAfterCycleMb: number;
}

export interface DispatchResult {
  kind: 'dispatch';
  jobs: number;
  reps: number;
  latencyMs: number;
  concurrency: number;
  ms: number[];
  succeeded: number[];
}

export interface PostgresResult {
  kind: 'postgres';
  size: number;
  reps: number;
  baselineMs: number;
  steadyMs: number[];
  /** process.resourceUsage().maxRSS (KB) after the cycles. */
  peakRssKb: number;
}

export type ChildMessage = CancelRequestMessage | { type: 'result'; result: SizeResult | DispatchResult | PostgresResult } | { type: 'error'; message: string };
