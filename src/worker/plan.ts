/**
 * The money-safety rules of one cycle (docs/money-safety.md), as a pure function: from the diff,
 * the orders confirmed gone, what Specter lists now and the jobs already kept for the payments
 * involved, to what the cycle commits — jobs to create or re-arm, jobs to void, re-route or
 * release, vanish records — and what it reports. No I/O and no clock: every rule is tested on
 * plain values (test/worker/plan.test.ts).
 *
 * The rules, in short: a cancellation belongs to a payment (one job per payment key, however many
 * orders carry it); nothing is sent for a payment a live order still carries; a cancelled or
 * vanished order's payment reaches a provider or a person (unrouted payments become failed jobs a
 * person sees); what the worker did not watch is history; a job whose cause stopped holding is
 * voided, and an order open again after its payment's cancellation went out is an alert.
 */
import type { SyncSettings } from '../config/types.js';
import type { OrderSnapshot, PaymentState, ProviderName, Route, SnapshotSummary, TrackedOrder } from '../domain.js';
import type { OrderDiff } from '../diff/diff.js';
import type { JobReroute, JobVoid, VanishRecord } from '../store/commit.js';
import type { CancellationJob, NewCancellationJob } from '../store/jobs.js';
import { OrdersByNo, OrdersByPayment } from '../routing/payment.js';
import { revisit } from './revisit.js';

/** One thing the cycle decided (or, in a dry run, would do), for `once` output and the demo. */
export type PlannedAction =
  | {
      action: 'cancel_job_created';
      orderNo: string;
      provider: ProviderName;
      providerRef: string;
      reason: 'cancelled' | 'vanished';
      jobId?: number;
      heldBecause?: string;
    }
  | {
      action: 'vanished_flagged';
      orderNo: string;
      provider: string | null;
      providerRef: string | null;
      amount: string | null;
      currency: string | null;
      note: string | null;
      /** What its provider said about the money (worker/payments.ts), when it was asked. */
      payment?: { state: PaymentState; reservedAmount: string | null; expiresAt: string | null; autoResolved: boolean };
    }
  | { action: 'reappeared'; orderNo: string }
  | { action: 'reopened'; orderNo: string; cancellationSent: boolean }
  | { action: 'unrouted'; orderNo: string; reason: string }
  | { action: 'handled_by_specter'; orderNo: string; what: 'cancelled' | 'vanished' }
  | { action: 'job_voided'; jobId: number; orderNo: string; provider: ProviderName | null; providerRef: string | null; reason: string }
  | { action: 'job_rerouted'; jobId: number; orderNo: string; provider: ProviderName; providerRef: string }
  | { action: 'hold_released'; jobId: number; orderNo: string }
  | { action: 'vanish_guard_tripped'; vanished: number; limit: number };

/** An order open in Specter again whose payment's cancellation may already have gone out. */
export interface ReopenNotice {
  order: TrackedOrder;
  /** The payment's job that went out (sending, accepted or done), if any. */
  sentJob: CancellationJob | null;
  /** 'cancelled': its cancellation was recorded; 'vanished': it had been confirmed gone. */
  was: 'cancelled' | 'vanished';
}

export interface PlanInput {
  diff: OrderDiff<SnapshotSummary>;
  /** Orders getOrder confirmed gone this cycle, as full snapshots. */
  gone: readonly OrderSnapshot[];
  /** Every order Specter has now: the complete listing plus those getOrder found. */
  present: readonly TrackedOrder[];
  /** The existing job of every payment the diff, the gone orders and the re-opened orders touch. */
  jobsByPayment: ReadonlyMap<string, CancellationJob>;
  /** The jobs whose cause is a re-opened or reappeared order. */
  jobsByOrder: ReadonlyMap<string, readonly CancellationJob[]>;
  /** Failed jobs the world can settle: unrouted payments, live-twin holds (store listRevisitableJobs). */
  revisitable: readonly CancellationJob[];
  /** Orders recorded as vanished earlier (not listed, not back): gone, for a job's cause. */
  recordedGone: ReadonlySet<string>;
  /** The routing rules in force now. */
  route: (payment: { payTypeIdentifier: string | null; payTypeReference: string | null }) => Route;
  settings: Pick<SyncSettings, 'vanishedAction' | 'vanishGuardMaxPerRun'>;
}

export interface CyclePlan {
  jobs: NewCancellationJob[];
  vanished: VanishRecord[];
  voids: JobVoid[];
  reroutes: JobReroute[];
  releases: number[];
  unsettles: number[];
  reopened: ReopenNotice[];
  /** Payments with no route that a new job now holds for a person: logged as order.unrouted. */
  unrouted: Array<{ orderNo: string; reason: string; jobId?: number }>;
  guardTripped: boolean;
  actions: PlannedAction[];
}

/** Job states in which a cancellation request may already have reached the provider. */
const WENT_OUT: ReadonlySet<CancellationJob['state']> = new Set(['sending', 'accepted', 'done']);
/** Job states a change of the order's story can still stop: nothing final has happened yet. */
const STOPPABLE: ReadonlySet<CancellationJob['state']> = new Set(['pending', 'sending', 'failed']);

export function planCycle(input: PlanInput): CyclePlan {
  const { diff, gone, present, jobsByPayment, settings } = input;
  const plan: CyclePlan = {
    jobs: [],
    vanished: [],
    voids: [],
    reroutes: [],
    releases: [],
    unsettles: [],
    reopened: [],
    unrouted: [],
    guardTripped: false,
    actions: [],
  };
  const planned = new Set<string>();
  const liveOrders = new OrdersByPayment(present, (o) => o.status !== 'cancelled');
  const listedOrders = new OrdersByPayment(present);
  const presentByNo = new OrdersByNo(present);
  const goneNos = new Set(gone.map((s) => s.orderNo));

  /** A payment already has a job that covers it (anything but voided): nothing new is made. */
  const covered = (key: string): boolean => {
    const existing = jobsByPayment.get(key);
    return planned.has(key) || (existing !== undefined && existing.state !== 'voided');
  };
  const addJob = (job: NewCancellationJob): void => {
    planned.add(job.paymentKey);
    plan.jobs.push(job);
  };

  // Re-opened and reappeared orders first: their jobs are voided before anything new is made.
  for (const { before, after } of diff.reopened) {
    const stopped = stopJobs(input, plan, after.orderNo, 'cancelled', 'reopened');
    const sentJob = sentJobOf(input, after.orderNo, [before.paymentKey, after.paymentKey], stopped);
    plan.reopened.push({ order: after, sentJob, was: 'cancelled' });
    plan.actions.push({ action: 'reopened', orderNo: after.orderNo, cancellationSent: sentJob !== null });
  }
  for (const { before, after } of diff.reappeared) {
    const stopped = stopJobs(input, plan, after.orderNo, 'vanished', 'reappeared');
    plan.actions.push({ action: 'reappeared', orderNo: after.orderNo });
    // Its payment's cancellation went out while it was gone: the customer's reservation is gone
    // for an order that exists after all. That is the re-open alert too.
    const sentJob = sentJobOf(input, after.orderNo, [before.paymentKey, after.paymentKey], stopped);
    if (sentJob !== null && after.status !== 'cancelled') plan.reopened.push({ order: after, sentJob, was: 'vanished' });
  }

  for (const { order } of diff.cancellations) {
    const route = order.route;
    const key = order.paymentKey;
    if (route.kind === 'handledBySpecter') {
      plan.actions.push({ action: 'handled_by_specter', orderNo: order.orderNo, what: 'cancelled' });
      continue;
    }
    // No payment at all, or settled elsewhere on purpose: nothing and nobody.
    if (key === null || covered(key)) continue;
    if (route.kind === 'provider') {
      const twin = liveOrders.carrying(order, order.orderNo)[0];
      const hold = twin === undefined ? undefined : liveTwinHold(route.provider, route.providerRef, twin.orderNo);
      addJob(jobFor(order, key, 'cancelled', hold));
      plan.actions.push({
        action: 'cancel_job_created',
        orderNo: order.orderNo,
        provider: route.provider,
        providerRef: route.providerRef,
        reason: 'cancelled',
        ...(hold ? { heldBecause: hold.message } : {}),
      });
    } else if (route.kind === 'unrouted') {
      addJob(jobFor(order, key, 'cancelled', unroutedHold(route.reason)));
      plan.unrouted.push({ orderNo: order.orderNo, reason: route.reason });
      plan.actions.push({ action: 'unrouted', orderNo: order.orderNo, reason: route.reason });
    }
  }

  // The guard acts before the flood: the cycle stopped confirming once more than the limit were
  // gone, and none of them is flagged.
  const limit = settings.vanishGuardMaxPerRun;
  plan.guardTripped = gone.length > limit;
  if (plan.guardTripped) {
    plan.actions.push({ action: 'vanish_guard_tripped', vanished: gone.length, limit });
  } else {
    for (const snapshot of gone) planVanished(snapshot, plan, { covered, addJob, listedOrders, settings });
  }

  revisit(input, plan, { presentByNo, goneNos, liveOrders });
  return plan;
}

/** Voids the order's not-yet-final jobs of this cause; returns the jobs it stopped. */
function stopJobs(input: PlanInput, plan: CyclePlan, orderNo: string, cause: 'cancelled' | 'vanished', reason: string): CancellationJob[] {
  const stopped: CancellationJob[] = [];
  for (const job of input.jobsByOrder.get(orderNo) ?? []) {
    if (job.reason !== cause || !STOPPABLE.has(job.state)) continue;
    stopped.push(job);
    plan.voids.push({ jobId: job.id, reason });
    plan.actions.push({ action: 'job_voided', jobId: job.id, orderNo, provider: job.provider, providerRef: job.providerRef, reason });
  }
  return stopped;
}

/**
 * The job that (may have) reached a provider for this order: one of its payments' jobs, or one the
 * order itself made (its payment key may have changed since, e.g. routing no longer covers it).
 * A stopped `sending` job counts: its request may have left before the process died.
 */
function sentJobOf(input: PlanInput, orderNo: string, keys: ReadonlyArray<string | null>, stopped: readonly CancellationJob[]): CancellationJob | null {
  for (const key of keys) {
    if (key === null) continue;
    const job = input.jobsByPayment.get(key);
    if (job && WENT_OUT.has(job.state)) return job;
  }
  const own = (input.jobsByOrder.get(orderNo) ?? []).find((j) => WENT_OUT.has(j.state));
  return own ?? stopped.find((j) => j.state === 'sending') ?? null;
}

function liveTwinHold(provider: ProviderName, providerRef: string, twinNo: string): NonNullable<NewCancellationJob['hold']> {
  return {
    reason: 'rejected',
    code: 'LIVE_TWIN',
    message: `not sent: order ${twinNo}, not cancelled in Specter, carries the same ${provider} reference ${providerRef}; it is sent by itself once that order is cancelled or gone, or a person re-queues it (jobs retry) or dismisses it (jobs dismiss)`,
  };
}

function unroutedHold(reason: string): NonNullable<NewCancellationJob['hold']> {
  return {
    reason: 'unrouted',
    code: 'UNROUTED',
    message: `${reason}: no provider to cancel at; add a routing rule (the job is then sent), settle the payment by hand and dismiss the job (jobs dismiss), or route the method to "elsewhere"`,
  };
}

function jobFor(
  order: Pick<TrackedOrder, 'orderNo' | 'route' | 'payTypeIdentifier' | 'payTypeReference' | 'amount' | 'currency'>,
  paymentKey: string,
  reason: 'cancelled' | 'vanished',
  hold?: NewCancellationJob['hold'],
): NewCancellationJob {
  const route = order.route;
  return {
    orderNo: order.orderNo,
    paymentKey,
    provider: route.kind === 'provider' ? route.provider : null,
    providerRef: route.kind === 'provider' ? route.providerRef : null,
    payTypeIdentifier: order.payTypeIdentifier,
    payTypeReference: order.payTypeReference,
    amount: order.amount,
    currency: order.currency,
    reason,
    ...(hold ? { hold } : {}),
  };
}

function planVanished(
  snapshot: OrderSnapshot,
  plan: CyclePlan,
  ctx: {
    covered: (key: string) => boolean;
    addJob: (job: NewCancellationJob) => void;
    listedOrders: OrdersByPayment<TrackedOrder>;
    settings: PlanInput['settings'];
  },
): void {
  const { orderNo, route } = snapshot;
  const key = snapshot.paymentKey;
  const record = (status: VanishRecord['status'], note: string | null, announce?: VanishRecord['announce']): void => {
    plan.vanished.push({ orderNo, status, note, ...(announce ? { announce } : {}) });
  };

  if (route.kind === 'handledBySpecter') {
    record('handled_by_specter', 'Specter cancels this payment itself when an order is deleted');
    plan.actions.push({ action: 'handled_by_specter', orderNo, what: 'vanished' });
    return;
  }
  if (route.kind === 'elsewhere') return record('settled_elsewhere', 'routing says this payment is settled outside specter-sync');
  if (key === null) return record('unrouted', route.kind === 'unrouted' ? route.reason : 'the order has no payment');
  if (ctx.covered(key)) return record('cancel_requested', 'its payment already has a cancellation job');
  if (snapshot.status === 'cancelled') {
    // Cancelled before the worker watched it (a watched cancellation has a job): its payment was
    // settled then, and the deletion asks nothing more.
    return record('cancel_requested', 'cancelled in Specter before it was deleted');
  }
  if (route.kind === 'unrouted') {
    ctx.addJob(jobFor(snapshot, key, 'vanished', unroutedHold(route.reason)));
    plan.unrouted.push({ orderNo, reason: route.reason });
    plan.actions.push({ action: 'unrouted', orderNo, reason: route.reason });
    return record('unrouted', route.reason);
  }
  const twin = ctx.listedOrders.carrying(snapshot, orderNo)[0];
  const note =
    twin !== undefined
      ? `not cancelled automatically: order ${twin.orderNo}, still in Specter, carries the same ${route.provider} reference ${route.providerRef}`
      : null;
  if (ctx.settings.vanishedAction === 'cancel' && twin === undefined) {
    ctx.addJob(jobFor(snapshot, key, 'vanished'));
    record('cancel_requested', 'VANISHED_ACTION=cancel queued the cancellation', 'cancel_queued');
    plan.actions.push({ action: 'cancel_job_created', orderNo, provider: route.provider, providerRef: route.providerRef, reason: 'vanished' });
  } else {
    record('awaiting', note, 'person_must_act');
  }
  plan.actions.push({
    action: 'vanished_flagged',
    orderNo,
    provider: route.provider,
    providerRef: route.providerRef,
    amount: snapshot.amount,
    currency: snapshot.currency,
    note,
  });
}
