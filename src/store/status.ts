/** Counts for `status`, the demo and the metrics: what is tracked, what awaits a person, how fresh it is. */
import type { JobState, OrderStatus, ProviderName } from '../domain.js';
import type { Store } from './database.js';
import { countJobsByState, countOpenJobsByProvider } from './jobs.js';
import { readLease } from './lease.js';
import { lastSuccessfulRun } from './runs.js';
import { listVanishedAwaiting, type VanishedOrder } from './vanished.js';

export async function countTrackedByStatus(store: Store): Promise<Record<OrderStatus, number>> {
  const rows = await store.db
    .selectFrom('order_snapshots')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('left_window_at', 'is', null)
    .groupBy('status')
    .execute();
  const counts: Record<OrderStatus, number> = { open: 0, cancelled: 0, delivered: 0 };
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}

/** `status` lists at most this many vanished orders (`vanished list` has them all). */
const STATUS_VANISHED_LISTED = 20;

export interface StatusReport {
  trackedOrders: Record<OrderStatus, number>;
  vanishedAwaitingPerson: number;
  /** The first of them, soonest expiry first, with what their provider said about the money. */
  vanishedOrders: Array<Pick<VanishedOrder, 'orderNo' | 'provider' | 'providerRef' | 'currency' | 'paymentState' | 'reservedAmount' | 'expiresAt'>>;
  jobs: Record<JobState, number>;
  /** Open jobs whose provider is configured off: they wait, pending, until it is configured. */
  jobsWaitingForProvider: Partial<Record<ProviderName, number>>;
  providersConfigured: ProviderName[];
  lastSuccessfulRun: { finishedAt: string; ageSeconds: number; outcome: string; guardTripped: boolean; holder: string } | null;
  /** Which process (replica) holds the lease now, until when by the database's clock; null: nobody (no `run` is up, and no `once` or send-now is at work). */
  lease: { holder: string; expiresAt: string } | null;
}

/** `configured`: the providers whose credentials are set (config/types.ts configuredProviders). */
export async function buildStatusReport(store: Store, configured: readonly ProviderName[], now: Date = new Date()): Promise<StatusReport> {
  const tracked = await countTrackedByStatus(store);
  const vanished = await listVanishedAwaiting(store);
  const jobs = await countJobsByState(store);
  const openByProvider = await countOpenJobsByProvider(store);
  const last = await lastSuccessfulRun(store);
  const lease = await readLease(store);
  const waiting: Partial<Record<ProviderName, number>> = {};
  for (const [provider, count] of Object.entries(openByProvider) as Array<[ProviderName, number]>) {
    if (!configured.includes(provider)) waiting[provider] = count;
  }
  return {
    trackedOrders: tracked,
    vanishedAwaitingPerson: vanished.length,
    vanishedOrders: vanished.slice(0, STATUS_VANISHED_LISTED).map((v) => ({
      orderNo: v.orderNo,
      provider: v.provider,
      providerRef: v.providerRef,
      currency: v.currency,
      paymentState: v.paymentState,
      reservedAmount: v.reservedAmount,
      expiresAt: v.expiresAt,
    })),
    jobs,
    jobsWaitingForProvider: waiting,
    providersConfigured: [...configured],
    lastSuccessfulRun: last
      ? {
          finishedAt: last.finished_at,
          ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(last.finished_at)) / 1000)),
          outcome: last.outcome,
          guardTripped: last.guard_tripped === 1,
          holder: last.holder,
        }
      : null,
    lease: lease.holder !== null && lease.expiresAtMs > lease.nowMs ? { holder: lease.holder, expiresAt: new Date(lease.expiresAtMs).toISOString() } : null,
  };
}
