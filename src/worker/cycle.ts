/**
 * One cycle (docs/architecture.md, "The flow"): list → diff → confirm missing → guard → ONE transaction →
 * dispatch → confirm accepted. Every step is a plain call with a plain value. The cycle never
 * acts on an incomplete view: a listing or a confirmation that failed ends the cycle before the
 * transaction, so a failed cycle leaves the database exactly as it was.
 */
import type { AppConfig } from '../config/types.js';
import type { ProviderName, SpecterOrder } from '../domain.js';
import { crashPoint } from '../crashpoint.js';
import { diffOrders, ordersNeedingPayment } from '../diff/diff.js';
import { compileStatusMap, trackOrder } from '../diff/track.js';
import { windowFor, type OrderWindow } from '../diff/window.js';
import { confirmAcceptedJobs, type ConfirmAction } from '../dispatch/confirm.js';
import { dispatchDueJobs, type DispatchAction } from '../dispatch/dispatcher.js';
import type { DispatchObserver } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { paymentKeyOf } from '../routing/payment.js';
import { compileRoutingRules, routeStoredPayment } from '../routing/route.js';
import type { SpecterClient } from '../specter/client.js';
import { SpecterError } from '../specter/errors.js';
import { commitCycle } from '../store/commit.js';
import { withFence, type Store } from '../store/database.js';
import { LeaseLostError } from '../store/fence.js';
import { countJobsByState, countOpenJobsByProvider, listRevisitableJobs } from '../store/jobs.js';
import type { LeaseHolder } from '../store/lease.js';
import { finishRun, lastSuccessfulRun } from '../store/runs.js';
import { loadSnapshotIndex, loadSnapshotPayments, loadSnapshots } from '../store/snapshots.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import { takeLease, type HeldLease } from './lease.js';
import { planCycle, type PlannedAction } from './plan.js';
import { recordPaymentReads, type StoredPaymentRead } from '../store/paymentReads.js';
import { applyPaymentReads, asksFor, cachedPaymentCheck, readPayments, rereadAwaiting, type PaymentCheck, type PaymentReads } from './payments.js';
import { actionFields, reportCommitted } from './report.js';
import { trackedGetOrder, verifyByCycleView } from './truth.js';
import { confirmMissing, jobsInvolved, recordedAsGone } from './view.js';

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
  /** `run`'s lease, kept across cycles (worker/keeper.ts), is used and not freed; absent, the cycle takes and frees its own (`once`). */
  lease?: HeldLease;
}

/** One thing the cycle did (or, in a dry run, would do), for `once` output and the demo. */
export type CycleAction = PlannedAction | ({ action: 'dispatch' } & DispatchAction) | ({ action: 'confirm' } & ConfirmAction);

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

export async function runCycle(deps: CycleDeps, options: CycleOptions = {}): Promise<CycleReport> {
  const { store, logger, holder } = deps;
  const clock = deps.now ?? (() => new Date());
  const dryRun = options.dryRun ?? false;
  const startedAt = clock().toISOString();

  // The lease: a second process on this database does not start its cycle while we hold it. A dry run writes nothing, so it needs none.
  const ownLease = !dryRun && options.lease === undefined;
  const lease = dryRun ? null : (options.lease ?? (await takeLease(store, holder, { ttlMs: deps.config.sync.leaseTtlMs, logger })));
  if (!dryRun && lease === null) {
    logger.event('sync.lease_busy', 'another process holds the sync lease; this cycle is skipped', {});
    return { outcome: 'skipped', dryRun, startedAt, finishedAt: clock().toISOString(), reason: 'lease_busy' };
  }

  try {
    // Every write of the cycle is fenced by the lease's token (store/fence.ts): one paused past the TTL writes nothing.
    const fencedDeps = lease === null ? deps : { ...deps, store: withFence(store, lease.fence) };
    return await cycleBody(fencedDeps, dryRun, options.dispatch ?? true, startedAt, async () => lease !== null && (await lease.check()));
  } catch (error) {
    if (error instanceof LeaseLostError) await lease?.noteLost();
    const reason = error instanceof Error ? error.message : String(error);
    const kind = error instanceof SpecterError ? error.kind : 'internal';
    const retriable = !(error instanceof SpecterError) || error.kind !== 'auth';
    logger.event('sync.failed', `the cycle could not complete: ${reason}`, { reason, kind, willRetry: retriable, error });
    return { outcome: 'failed', dryRun, startedAt, finishedAt: clock().toISOString(), reason, kind };
  } finally {
    if (ownLease) await lease?.release();
  }
}

async function cycleBody(
  deps: CycleDeps,
  dryRun: boolean,
  dispatch: boolean,
  startedAt: string,
  /** Renews the lease and says whether we still hold it (worker/lease.ts check()). */
  holdsLease: () => Promise<boolean>,
): Promise<CycleReport> {
  const { config, store, specter, logger } = deps;
  const clock = deps.now ?? (() => new Date());
  const window = windowFor(clock(), config.sync.lookbackDays);
  logger.event('sync.started', `cycle started for orders dated ${window.fromDate}..${window.toDate}`, { ...window, dryRun });

  const statusMap = compileStatusMap(config.specter.statusMap);
  const rules = compileRoutingRules(config.routing);
  const track = (order: SpecterOrder) => trackOrder(order, statusMap, rules);

  // 1. The view: a complete listing (tracked as each page is checked: never held twice), diffed
  //    against the snapshots. The index is read first, so an unchanged order's tracked copy shares
  //    its summary's strings (trackOrder's `known`). Reading before listing is safe: this process
  //    holds the lease, so nothing else writes the snapshots meanwhile (a dry run holds none and
  //    reports what it saw). Stored payments: only of the orders the diff judges (ordersNeedingPayment).
  const snapshots = await loadSnapshotIndex(store, window);
  const listing = await specter.listOrdersInWindow(window, (order) => trackOrder(order, statusMap, rules, snapshots.get(order.orderNo)));
  crashPoint('cycle.listing');
  const lastRun = await lastSuccessfulRun(store);
  const baseline = lastRun === null;
  const coverage = lastRun?.from_date && lastRun.to_date ? { fromDate: lastRun.from_date, toDate: lastRun.to_date } : null;
  const payments = await loadSnapshotPayments(store, ordersNeedingPayment(snapshots, listing));
  const firstDiff = diffOrders({ snapshots, payments, listing, window, baseline, coverage });

  // 2. Missing from a listing is a question; only getOrder answers it. A confirmation that fails
  //    throws, and the cycle ends here: an unanswered question is never taken as "gone".
  const confirmed = await confirmMissing(deps, firstDiff.missing, track);
  const present = confirmed.found.length > 0 ? [...listing, ...confirmed.found] : listing;
  for (const [orderNo, payment] of await loadSnapshotPayments(store, ordersNeedingPayment(snapshots, confirmed.found))) payments.set(orderNo, payment);
  const diff = confirmed.found.length > 0 ? diffOrders({ snapshots, payments, listing: present, window, baseline, coverage }) : firstDiff;
  // Routed by the rules in force now, not those of the cycle that last saw them: a person may have
  // changed routing since (a method now settled elsewhere, or now covered by a provider).
  const routeStored = (payment: { payTypeIdentifier: string | null; payTypeReference: string | null }) => routeStoredPayment(payment, rules);
  const gone = (await loadSnapshots(store, confirmed.goneOrderNos)).map((snapshot) => {
    const route = routeStored(snapshot);
    return { ...snapshot, route, paymentKey: paymentKeyOf({ ...snapshot, route }) };
  });

  // 3. The money-safety rules, on plain values (plan.ts), against the jobs the payments already have.
  const recordedGone = recordedAsGone(snapshots, present);
  const plan = planCycle({
    diff,
    gone,
    present,
    ...(await jobsInvolved(store, diff, gone)),
    revisitable: await listRevisitableJobs(store),
    recordedGone,
    route: routeStored,
    settings: config.sync,
  });
  // 3b. The money of each order the guard let through as gone, asked of its provider before the
  //     commit (I/O never sits inside it), so the commit records a released payment as resolved.
  const reads: PaymentReads = dryRun
    ? new Map<string, StoredPaymentRead>()
    : await readPayments(deps.providers, asksFor(plan, gone), clock, { signal: deps.signal });
  applyPaymentReads(plan, reads);
  const actions: CycleAction[] = [...plan.actions];
  const counts: CycleCounts = {
    listed: listing.length,
    newOrders: diff.newOrders.length,
    changed: diff.changed.length,
    unchanged: diff.unchanged,
    cancelled: diff.cancellations.length,
    missing: firstDiff.missing.length,
    listingGaps: confirmed.found.length,
    vanished: plan.guardTripped ? 0 : plan.vanished.length,
    reappeared: diff.reappeared.length,
    leftWindow: diff.leftWindow.length,
    jobsCreated: plan.jobs.length,
  };
  for (const { orderNo } of confirmed.found) logger.event('order.listing_gap', `order ${orderNo} was missing from the listing, not gone`, { orderNo });

  if (dryRun) {
    for (const action of actions) {
      const fields = actionFields(action);
      logger.event('dryrun.action', `would: ${action.action}${typeof fields.orderNo === 'string' ? ` (order ${fields.orderNo})` : ''}`, fields);
    }
    const awaiting = await awaitingPerson(deps, plan.guardTripped);
    logger.event('sync.completed', 'dry run completed: nothing was written or sent', { ...counts, dryRun: true });
    return {
      outcome: baseline ? 'baseline' : 'succeeded',
      dryRun,
      startedAt,
      finishedAt: clock().toISOString(),
      window,
      counts,
      actions,
      awaitingPerson: awaiting,
    };
  }

  // 4. ONE transaction: snapshots, facts, jobs, the run.
  crashPoint('cycle.before_commit');
  // The lease may have expired while we listed (a very slow Specter) and another process may
  // hold it now: committing would make two writers. Check, and renew, under our own hand.
  if (!(await holdsLease())) {
    throw new Error('the sync lease was lost during the cycle; nothing was committed');
  }
  const committed = await commitCycle(store, {
    holder: deps.holder.id,
    startedAt,
    at: clock().toISOString(),
    baseline,
    window,
    upserts: [...diff.newOrders, ...diff.changed.map((c) => c.after)],
    reentered: diff.reentered.map((s) => s.orderNo),
    cancelledFacts: diff.cancelledFacts.map((o) => o.orderNo),
    vanished: plan.guardTripped ? [] : plan.vanished,
    reappeared: diff.reappeared.map((r) => r.after.orderNo),
    leftWindow: diff.leftWindow.map((s) => s.orderNo),
    jobs: plan.jobs,
    voids: plan.voids,
    reroutes: plan.reroutes,
    releases: plan.releases,
    unsettles: plan.unsettles,
    counts: { ...counts, guardTripped: plan.guardTripped },
  });
  crashPoint('cycle.after_commit');
  counts.jobsCreated = committed.createdJobs.length;
  await recordPaymentReads(store, [...reads.values()]);
  // Logged after the commit, so an alert never announces something the database does not hold.
  reportCommitted({ logger, config, diff, gone, plan, committed, actions, reads });
  if (baseline) {
    logger.event('sync.baseline', `baseline recorded: ${listing.length} orders tracked, nothing forwarded`, { listed: listing.length });
  }

  // Orders still awaiting a person whose last read is a reminder period old: asked again.
  for (const [orderNo, read] of await rereadAwaiting(deps, clock, reads, holdsLease)) reads.set(orderNo, read);

  // 5. Send what is due, each job checked against this cycle's view first; confirm accepted ones.
  if (dispatch) {
    const verify = verifyByCycleView(
      { present, gone: new Set([...confirmed.goneOrderNos, ...recordedGone]) },
      trackedGetOrder((orderNo) => specter.getOrder(orderNo), track),
    );
    actions.push(...(await sendAndConfirm(deps, clock, verify, holdsLease, cachedPaymentCheck(deps, reads, clock))));
  }

  const awaiting = await awaitingPerson(deps, plan.guardTripped);
  const finishedAt = clock().toISOString();
  await finishRun(store, committed.runId, finishedAt);
  logger.event(
    'sync.completed',
    `cycle completed: ${counts.listed} listed, ${counts.cancelled} cancelled, ${counts.vanished} vanished, ${counts.jobsCreated} jobs created`,
    {
      ...counts,
      awaitingPerson: awaiting,
      durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
    },
  );
  return { outcome: baseline ? 'baseline' : 'succeeded', dryRun, startedAt, finishedAt, window, counts, actions, awaitingPerson: awaiting };
}

/**
 * One failing phase never blocks the others, and never undoes the committed facts: a dispatch
 * error is logged and the jobs wait in the outbox for the next cycle.
 */
async function sendAndConfirm(
  deps: CycleDeps,
  clock: () => Date,
  verify: ReturnType<typeof verifyByCycleView>,
  holdsLease: () => Promise<boolean>,
  paymentCheck: PaymentCheck,
): Promise<CycleAction[]> {
  const { store, config, logger } = deps;
  const actions: CycleAction[] = [];
  // A lost lease stops sending before the next request: the new holder sends what is left.
  const dispatchDeps = {
    store,
    providers: deps.providers,
    settings: config.dispatch,
    logger,
    now: clock,
    signal: deps.signal,
    observer: deps.observer,
    canSend: holdsLease,
  };
  try {
    const report = await dispatchDueJobs({ ...dispatchDeps, verify, paymentCheck });
    for (const a of report.actions) actions.push({ action: 'dispatch', ...a });
  } catch (error) {
    logger.event('sync.failed', `dispatch could not complete; jobs stay queued: ${(error as Error).message}`, { phase: 'dispatch', willRetry: true, error });
  }
  try {
    const report = await confirmAcceptedJobs(dispatchDeps);
    for (const a of report.actions) actions.push({ action: 'confirm', ...a });
  } catch (error) {
    logger.event('sync.failed', `confirmation could not complete; jobs stay accepted: ${(error as Error).message}`, {
      phase: 'confirm',
      willRetry: true,
      error,
    });
  }
  return actions;
}

async function awaitingPerson(deps: CycleDeps, guardTripped: boolean): Promise<AwaitingPerson> {
  const { store, providers } = deps;
  const vanished = await listVanishedAwaiting(store);
  const jobStates = await countJobsByState(store);
  const openByProvider = await countOpenJobsByProvider(store);
  let jobsWithoutProvider = 0;
  for (const [provider, count] of Object.entries(openByProvider) as Array<[ProviderName, number]>) {
    if (!providers[provider]) jobsWithoutProvider += count;
  }
  return { vanishedOrders: vanished.length, failedJobs: jobStates.failed, jobsWithoutProvider, guardTripped };
}
