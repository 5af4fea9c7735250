/**
 * One cycle (design.md, "The flow"): list → diff → confirm missing → guard → ONE transaction →
 * dispatch → confirm accepted. Every step is a plain call with a plain value. The cycle never
 * acts on an incomplete view: a listing or a confirmation that failed ends the cycle before the
 * transaction, so a failed cycle leaves the database exactly as it was.
 */
import type { AppConfig } from '../config/types.js';
import type { OrderSnapshot, ProviderName, TrackedOrder } from '../domain.js';
import { crashPoint } from '../crashpoint.js';
import { diffOrders, type OrderDiff } from '../diff/diff.js';
import { compileStatusMap, trackOrder } from '../diff/track.js';
import { windowFor, type OrderWindow } from '../diff/window.js';
import { confirmAcceptedJobs, type ConfirmAction } from '../dispatch/confirm.js';
import { dispatchDueJobs, type DispatchAction, type DispatchObserver } from '../dispatch/dispatcher.js';
import type { Logger, LogFields } from '../observability/logger.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { compileRoutingRules } from '../routing/route.js';
import type { SpecterClient } from '../specter/client.js';
import { SpecterError } from '../specter/errors.js';
import type { Store } from '../store/database.js';
import { countJobsByState, countOpenJobsByProvider } from '../store/jobs.js';
import type { LeaseHolder } from '../store/lease.js';
import { finishRun, hasSuccessfulRun } from '../store/runs.js';
import { commitCycle, loadSnapshotIndex, loadSnapshots, type CreatedJob, type NewCancellationJob, type VanishRecord } from '../store/snapshots.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import { takeLease } from './lease.js';

/** getOrder confirmations in flight at once: Specter is shared with other integrations. */
const CONFIRM_CONCURRENCY = 4;

export interface CycleDeps {
  config: AppConfig;
  store: Store;
  specter: SpecterClient;
  providers: ProviderRegistry;
  logger: Logger;
  holder: LeaseHolder;
  now?: () => Date;
  /** Fires on a stop request: dispatch finishes what is in flight and starts nothing new. */
  signal?: AbortSignal;
  observer?: DispatchObserver;
}

export interface CycleOptions {
  /** Poll and diff, but write nothing and send nothing; report what would be done. */
  dryRun?: boolean;
  /** Send due jobs and confirm accepted ones after the commit (default true). */
  dispatch?: boolean;
}

/** One thing the cycle did (or, in a dry run, would do), for `once` output and the demo. */
export type CycleAction =
  | { action: 'cancel_job_created'; orderNo: string; provider: ProviderName; providerRef: string; reason: 'cancelled' | 'vanished'; jobId?: number; heldBecause?: string }
  | { action: 'vanished_flagged'; orderNo: string; provider: string | null; providerRef: string | null; amount: string | null; currency: string | null; note: string | null }
  | { action: 'reappeared'; orderNo: string }
  | { action: 'unrouted'; orderNo: string; reason: string }
  | { action: 'handled_by_specter'; orderNo: string; what: 'cancelled' | 'vanished' }
  | { action: 'vanish_guard_tripped'; vanished: number; limit: number }
  | ({ action: 'dispatch' } & DispatchAction)
  | ({ action: 'confirm' } & ConfirmAction);

export interface CycleCounts {
  listed: number;
  newOrders: number;
  changed: number;
  unchanged: number;
  cancelled: number;
  missing: number;
  listingGaps: number;
  vanished: number;
  reappeared: number;
  leftWindow: number;
  jobsCreated: number;
}

/** What, at the end of the cycle, waits for a person (`once` exits 3 while any is non-zero). */
export interface AwaitingPerson {
  vanishedOrders: number;
  failedJobs: number;
  jobsWithoutProvider: number;
  guardTripped: boolean;
}

export type CycleReport =
  | {
      outcome: 'succeeded' | 'baseline';
      dryRun: boolean;
      startedAt: string;
      finishedAt: string;
      window: OrderWindow;
      counts: CycleCounts;
      actions: CycleAction[];
      awaitingPerson: AwaitingPerson;
    }
  | { outcome: 'failed'; dryRun: boolean; startedAt: string; finishedAt: string; reason: string; kind: string }
  | { outcome: 'skipped'; dryRun: boolean; startedAt: string; finishedAt: string; reason: string };

export function needsPerson(awaiting: AwaitingPerson): boolean {
  return awaiting.vanishedOrders > 0 || awaiting.failedJobs > 0 || awaiting.jobsWithoutProvider > 0 || awaiting.guardTripped;
}

function orderFields(order: Pick<TrackedOrder, 'orderNo' | 'route' | 'amount' | 'currency'>): LogFields {
  const route = order.route;
  return {
    orderNo: order.orderNo,
    ...(route.kind === 'provider' ? { provider: route.provider, providerRef: route.providerRef } : {}),
    amount: order.amount,
    currency: order.currency,
  };
}

async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

export async function runCycle(deps: CycleDeps, options: CycleOptions = {}): Promise<CycleReport> {
  const { store, logger, holder } = deps;
  const clock = deps.now ?? (() => new Date());
  const dryRun = options.dryRun ?? false;
  const startedAt = clock().toISOString();

  // The lease: a second process on this database does not start its cycle while we hold it.
  // A dry run writes nothing, so it needs no lease and never blocks the worker.
  const lease = dryRun ? null : takeLease(store, holder, { ttlMs: deps.config.sync.leaseTtlMs, logger, now: clock });
  if (!dryRun && lease === null) {
    logger.event('sync.lease_busy', 'another process holds the sync lease; this cycle is skipped', {});
    return { outcome: 'skipped', dryRun, startedAt, finishedAt: clock().toISOString(), reason: 'lease_busy' };
  }

  try {
    return await cycleBody(deps, dryRun, options.dispatch ?? true, startedAt, () => lease !== null && lease.check());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const kind = error instanceof SpecterError ? error.kind : 'internal';
    const retriable = !(error instanceof SpecterError) || error.kind !== 'auth';
    logger.event('sync.failed', `the cycle could not complete: ${reason}`, {
      reason,
      kind,
      willRetry: retriable,
      error,
    });
    return { outcome: 'failed', dryRun, startedAt, finishedAt: clock().toISOString(), reason, kind };
  } finally {
    lease?.release();
  }
}

async function cycleBody(
  deps: CycleDeps,
  dryRun: boolean,
  dispatch: boolean,
  startedAt: string,
  /** Renews the lease and says whether we still hold it (worker/lease.ts check()). */
  holdsLease: () => boolean,
): Promise<CycleReport> {
  const { config, store, specter, logger } = deps;
  const clock = deps.now ?? (() => new Date());
  const now = clock();
  const window = windowFor(now, config.sync.lookbackDays);
  logger.event('sync.started', `cycle started for orders dated ${window.fromDate}..${window.toDate}`, { ...window, dryRun });

  const statusMap = compileStatusMap(config.specter.statusMap);
  const rules = compileRoutingRules(config.routing);
  const track = (order: Parameters<typeof trackOrder>[0]) => trackOrder(order, statusMap, rules);

  // Tracked as each page is checked: the listing is never held twice (Specter's and ours).
  const listing = await specter.listOrdersInWindow(window, track);
  crashPoint('cycle.listing');

  const baseline = !(await hasSuccessfulRun(store));
  const snapshots = loadSnapshotIndex(store);
  let diff = diffOrders({ snapshots, listing, window, baseline });

  // Missing from a listing is a question; only getOrder answers it. A confirmation that fails
  // throws, and the cycle ends here: an unanswered question is never taken as "gone".
  const answers = await mapBounded(diff.missing, CONFIRM_CONCURRENCY, async (snapshot) => ({
    snapshot,
    order: await specter.getOrder(snapshot.orderNo),
  }));
  const found = answers.flatMap((a) => (a.order ? [track(a.order)] : []));
  for (const order of found) {
    logger.event('order.listing_gap', `order ${order.orderNo} was missing from the listing but Specter still has it`, orderFields(order));
  }
  const missingCount = diff.missing.length;
  if (found.length > 0) diff = diffOrders({ snapshots, listing: [...listing, ...found], window, baseline });
  // After the second diff, what is still missing is exactly what getOrder said is gone; read
  // their full snapshots (route, amount) to act on them.
  const gone = loadSnapshots(store, diff.missing.map((s) => s.orderNo));

  const actions: CycleAction[] = [];
  const plan = planFacts(diff, gone, listing.concat(found), deps, actions);

  const counts: CycleCounts = {
    listed: listing.length,
    newOrders: diff.newOrders.length,
    changed: diff.changed.length,
    unchanged: diff.unchanged,
    cancelled: diff.cancellations.length,
    missing: missingCount,
    listingGaps: found.length,
    vanished: plan.vanished.length,
    reappeared: diff.reappeared.length,
    leftWindow: diff.leftWindow.length,
    jobsCreated: plan.jobs.length,
  };

  if (dryRun) {
    for (const action of actions) logger.event('dryrun.action', `would: ${describeAction(action)}`, actionFields(action));
    const awaiting = await awaitingPerson(deps, plan.guardTripped);
    const finishedAt = clock().toISOString();
    logger.event('sync.completed', 'dry run completed: nothing was written or sent', { ...counts, dryRun: true });
    return { outcome: baseline ? 'baseline' : 'succeeded', dryRun, startedAt, finishedAt, window, counts, actions, awaitingPerson: awaiting };
  }

  crashPoint('cycle.before_commit');
  // The lease may have expired while we listed (a very slow Specter) and another process may
  // hold it now: committing would make two writers. Check, and renew, under our own hand.
  if (!holdsLease()) {
    throw new Error('the sync lease was lost during the cycle; nothing was committed');
  }
  const at = clock().toISOString();
  const committed = commitCycle(store, {
    holder: deps.holder.id,
    startedAt,
    at,
    baseline,
    upserts: [...diff.newOrders, ...diff.changed.map((c) => c.after)],
    cancelledFacts: diff.cancelledFacts.map((o) => o.orderNo),
    vanished: plan.vanished,
    reappeared: diff.reappeared.map((r) => r.after.orderNo),
    leftWindow: diff.leftWindow.map((s) => s.orderNo),
    jobs: plan.jobs,
    counts: {
      listed: counts.listed,
      newOrders: counts.newOrders,
      changed: counts.changed,
      cancelled: counts.cancelled,
      missing: counts.missing,
      guardTripped: plan.guardTripped,
    },
  });
  crashPoint('cycle.after_commit');
  counts.jobsCreated = committed.createdJobs.length;

  // Logged after the commit, so an alert never announces something the database does not hold.
  logCommittedFacts(deps, diff, gone, plan, committed.createdJobs);
  for (const action of actions) {
    if (action.action === 'cancel_job_created') {
      action.jobId = committed.createdJobs.find((j) => j.orderNo === action.orderNo && j.provider === action.provider)?.id;
    }
  }
  if (baseline) {
    logger.event('sync.baseline', `baseline recorded: ${listing.length} orders tracked, nothing forwarded`, { listed: listing.length });
  }

  if (dispatch) {
    // One failing phase never blocks the others, and never undoes the committed facts: a dispatch
    // error is logged and the jobs wait in the outbox for the next cycle.
    const dispatchDeps = {
      store,
      providers: deps.providers,
      settings: config.dispatch,
      logger,
      now: clock,
      signal: deps.signal,
      observer: deps.observer,
      // A lost lease stops sending before the next request: the new holder sends what is left.
      canSend: holdsLease,
    };
    try {
      const report = await dispatchDueJobs(dispatchDeps);
      for (const a of report.actions) actions.push({ action: 'dispatch', ...a });
    } catch (error) {
      logger.event('sync.failed', `dispatch could not complete; jobs stay queued: ${(error as Error).message}`, { phase: 'dispatch', willRetry: true, error });
    }
    try {
      const report = await confirmAcceptedJobs(dispatchDeps);
      for (const a of report.actions) actions.push({ action: 'confirm', ...a });
    } catch (error) {
      logger.event('sync.failed', `confirmation could not complete; jobs stay accepted: ${(error as Error).message}`, { phase: 'confirm', willRetry: true, error });
    }
  }

  const awaiting = await awaitingPerson(deps, plan.guardTripped);
  const finishedAt = clock().toISOString();
  finishRun(store, committed.runId, finishedAt);
  logger.event('sync.completed', `cycle completed: ${counts.listed} listed, ${counts.cancelled} cancelled, ${counts.vanished} vanished, ${counts.jobsCreated} jobs created`, {
    ...counts,
    awaitingPerson: awaiting,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
  });
  return { outcome: baseline ? 'baseline' : 'succeeded', dryRun, startedAt, finishedAt, window, counts, actions, awaitingPerson: awaiting };
}

interface FactPlan {
  jobs: NewCancellationJob[];
  vanished: VanishRecord[];
  guardTripped: boolean;
  unroutedNotes: Map<string, string>;
}

/** Decides, from the diff and the confirmed-gone orders, which facts and jobs to commit. */
function planFacts(diff: OrderDiff, gone: readonly OrderSnapshot[], present: readonly TrackedOrder[], deps: CycleDeps, actions: CycleAction[]): FactPlan {
  const { config } = deps;
  const jobs: NewCancellationJob[] = [];
  const vanished: VanishRecord[] = [];
  const unroutedNotes = new Map<string, string>();

  // Orders still in Specter, by provider reference: a deleted or cancelled duplicate must never
  // cancel the payment its live twin still depends on.
  const liveRefs = new Map<string, string>();
  const openRefs = new Map<string, string>();
  for (const order of present) {
    if (order.route.kind !== 'provider') continue;
    const key = `${order.route.provider}:${order.route.providerRef}`;
    liveRefs.set(key, order.orderNo);
    if (order.status !== 'cancelled') openRefs.set(key, order.orderNo);
  }

  for (const { order } of diff.cancellations) {
    const route = order.route;
    if (route.kind === 'provider') {
      const twin = openRefs.get(`${route.provider}:${route.providerRef}`);
      const hold =
        twin !== undefined && twin !== order.orderNo
          ? {
              code: 'LIVE_TWIN',
              message: `not sent: order ${twin}, not cancelled in Specter, carries the same ${route.provider} reference ${route.providerRef}; if this payment must be cancelled anyway, re-queue the job`,
            }
          : undefined;
      jobs.push({ orderNo: order.orderNo, provider: route.provider, providerRef: route.providerRef, amount: order.amount, currency: order.currency, reason: 'cancelled', hold });
      actions.push({
        action: 'cancel_job_created',
        orderNo: order.orderNo,
        provider: route.provider,
        providerRef: route.providerRef,
        reason: 'cancelled',
        ...(hold ? { heldBecause: hold.message } : {}),
      });
    } else if (route.kind === 'handledBySpecter') {
      actions.push({ action: 'handled_by_specter', orderNo: order.orderNo, what: 'cancelled' });
    } else {
      unroutedNotes.set(order.orderNo, route.reason);
      actions.push({ action: 'unrouted', orderNo: order.orderNo, reason: route.reason });
    }
  }

  const limit = config.sync.vanishGuardMaxPerRun;
  const guardTripped = gone.length > limit;
  if (guardTripped) {
    actions.push({ action: 'vanish_guard_tripped', vanished: gone.length, limit });
    return { jobs, vanished, guardTripped, unroutedNotes };
  }

  for (const snapshot of gone) {
    const route = snapshot.route;
    if (route.kind === 'handledBySpecter') {
      vanished.push({ orderNo: snapshot.orderNo, status: 'handled_by_specter', note: 'Specter cancels this payment itself when an order is deleted' });
      actions.push({ action: 'handled_by_specter', orderNo: snapshot.orderNo, what: 'vanished' });
      continue;
    }
    if (route.kind === 'unrouted') {
      vanished.push({ orderNo: snapshot.orderNo, status: 'unrouted', note: route.reason });
      unroutedNotes.set(snapshot.orderNo, route.reason);
      actions.push({ action: 'unrouted', orderNo: snapshot.orderNo, reason: route.reason });
      continue;
    }
    if (snapshot.cancelledAt !== null) {
      // Cancelled before it was deleted: the cancellation already went (or, before the baseline,
      // was history). Nothing more to ask of a person.
      vanished.push({ orderNo: snapshot.orderNo, status: 'cancel_requested', note: 'cancelled in Specter before it was deleted' });
      continue;
    }
    const twin = liveRefs.get(`${route.provider}:${route.providerRef}`);
    const note =
      twin !== undefined
        ? `not cancelled automatically: order ${twin}, still in Specter, carries the same ${route.provider} reference ${route.providerRef}`
        : null;
    if (config.sync.vanishedAction === 'cancel' && twin === undefined) {
      jobs.push({ orderNo: snapshot.orderNo, provider: route.provider, providerRef: route.providerRef, amount: snapshot.amount, currency: snapshot.currency, reason: 'vanished' });
      vanished.push({ orderNo: snapshot.orderNo, status: 'cancel_requested', note: 'VANISHED_ACTION=cancel queued the cancellation' });
      actions.push({ action: 'cancel_job_created', orderNo: snapshot.orderNo, provider: route.provider, providerRef: route.providerRef, reason: 'vanished' });
    } else {
      vanished.push({ orderNo: snapshot.orderNo, status: 'awaiting', note });
    }
    actions.push({ action: 'vanished_flagged', orderNo: snapshot.orderNo, provider: route.provider, providerRef: route.providerRef, amount: snapshot.amount, currency: snapshot.currency, note });
  }
  for (const { after } of diff.reappeared) actions.push({ action: 'reappeared', orderNo: after.orderNo });
  return { jobs, vanished, guardTripped, unroutedNotes };
}

function logCommittedFacts(
  deps: CycleDeps,
  diff: OrderDiff,
  gone: readonly OrderSnapshot[],
  plan: FactPlan,
  createdJobs: readonly CreatedJob[],
): void {
  const { logger, config } = deps;
  const created = new Map(createdJobs.map((j) => [`${j.orderNo}:${j.reason}`, j]));

  for (const { order, firstSeenCancelled } of diff.cancellations) {
    const job = created.get(`${order.orderNo}:cancelled`);
    if (order.route.kind === 'provider' && job !== undefined) {
      const jobId = job.id;
      logger.event(
        'order.cancel_detected',
        `order ${order.orderNo} was cancelled in Specter; cancellation job ${jobId} ${job.hold ? 'held for a person' : 'queued'}`,
        { ...orderFields(order), jobId, firstSeenCancelled },
      );
      if (job.hold) {
        logger.event('cancel.failed', `rejected: ${job.hold.message} (specter-sync jobs retry ${jobId})`, {
          ...orderFields(order),
          jobId,
          reason: 'rejected',
          code: job.hold.code,
          detail: job.hold.message,
        });
      }
    } else if (order.route.kind === 'handledBySpecter') {
      logger.event('order.cancel_detected', `order ${order.orderNo} was cancelled in Specter; Specter cancels this payment itself, nothing is sent`, {
        ...orderFields(order),
        handledBySpecter: true,
        firstSeenCancelled,
      });
    }
  }
  for (const [orderNo, reason] of plan.unroutedNotes) {
    logger.event('order.unrouted', `order ${orderNo} has no provider to cancel at: ${reason}`, { orderNo, reason });
  }
  if (plan.guardTripped) {
    logger.event(
      'vanish_guard.tripped',
      `more orders vanished in one run than VANISH_GUARD_MAX_PER_RUN=${config.sync.vanishGuardMaxPerRun} allows; none flagged. Check Specter (a wrong account, a data problem?); if the deletions are real, run once with a higher VANISH_GUARD_MAX_PER_RUN`,
      { count: gone.length, limit: config.sync.vanishGuardMaxPerRun, orderNos: gone.slice(0, 50).map((s) => s.orderNo) },
    );
  }
  const snapshotsByNo = new Map(gone.map((s) => [s.orderNo, s]));
  for (const v of plan.vanished) {
    const snapshot = snapshotsByNo.get(v.orderNo);
    if (!snapshot || snapshot.route.kind !== 'provider' || snapshot.cancelledAt !== null) continue;
    const { provider, providerRef } = snapshot.route;
    const amount = snapshot.amount ? `${snapshot.amount} ${snapshot.currency ?? ''}`.trim() : 'unknown amount';
    const todo =
      v.status === 'cancel_requested'
        ? `the cancellation at ${provider} was queued (VANISHED_ACTION=cancel)`
        : `a person must check it and cancel the reservation at ${provider} (specter-sync vanished cancel ${v.orderNo}) or mark it dealt with (specter-sync vanished resolve ${v.orderNo})`;
    logger.event(
      'order.vanished',
      `order ${v.orderNo} was deleted from Specter; its ${provider} payment ${providerRef} (${amount}) may still be reserved: ${todo}${v.note ? `. Note: ${v.note}` : ''}`,
      { ...orderFields(snapshot), orderDate: snapshot.orderDate, action: v.status === 'cancel_requested' ? 'cancel_queued' : 'person_must_act', note: v.note },
    );
  }
  for (const { after } of diff.reappeared) {
    logger.event('order.reappeared', `order ${after.orderNo}, recorded as vanished, is back in Specter`, orderFields(after));
  }
  for (const snapshot of diff.leftWindow) {
    logger.event('order.left_window', `order ${snapshot.orderNo} is older than the lookback window and is no longer tracked`, { orderNo: snapshot.orderNo });
  }
}

async function awaitingPerson(deps: CycleDeps, guardTripped: boolean): Promise<AwaitingPerson> {
  const { store, providers } = deps;
  const [vanished, jobStates, openByProvider] = await Promise.all([
    listVanishedAwaiting(store),
    countJobsByState(store),
    countOpenJobsByProvider(store),
  ]);
  let jobsWithoutProvider = 0;
  for (const [provider, count] of Object.entries(openByProvider) as Array<[ProviderName, number]>) {
    if (!providers[provider]) jobsWithoutProvider += count;
  }
  return { vanishedOrders: vanished.length, failedJobs: jobStates.failed, jobsWithoutProvider, guardTripped };
}

/** An action as flat log fields: orderNo/provider/providerRef where it has them. */
function actionFields(action: CycleAction): LogFields {
  const fields: LogFields = { action: action.action };
  if ('orderNo' in action) fields.orderNo = action.orderNo;
  if ('provider' in action && action.provider) fields.provider = action.provider;
  if ('providerRef' in action && action.providerRef) fields.providerRef = action.providerRef;
  if ('reason' in action && action.reason) fields.reason = action.reason;
  return fields;
}

export function describeAction(action: CycleAction): string {
  switch (action.action) {
    case 'cancel_job_created':
      return action.heldBecause
        ? `hold the cancellation of order ${action.orderNo} at ${action.provider} (${action.providerRef}) for a person: ${action.heldBecause}`
        : `cancel order ${action.orderNo} at ${action.provider} (${action.providerRef}), reason ${action.reason}`;
    case 'vanished_flagged':
      return `flag vanished order ${action.orderNo} (${action.provider ?? 'no provider'} ${action.providerRef ?? ''}, ${action.amount ?? '?'} ${action.currency ?? ''})${action.note ? `: ${action.note}` : ''}`;
    case 'reappeared':
      return `order ${action.orderNo} reappeared`;
    case 'unrouted':
      return `order ${action.orderNo} has no provider: ${action.reason}`;
    case 'handled_by_specter':
      return `order ${action.orderNo} ${action.what}: Specter handles the payment`;
    case 'vanish_guard_tripped':
      return `vanish guard tripped: ${action.vanished} vanished > limit ${action.limit}; none flagged`;
    case 'dispatch':
      return `job ${action.jobId} order ${action.orderNo} at ${action.provider}: ${action.result}${action.reason ? ` (${action.reason})` : ''}`;
    case 'confirm':
      return `job ${action.jobId} order ${action.orderNo} at ${action.provider}: confirmation ${action.result}${action.reason ? ` (${action.reason})` : ''}`;
  }
}
