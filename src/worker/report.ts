/**
 * What a cycle tells people after its commit: the alert-worthy lines (their texts say what a
 * person must do) and a one-line description of each action for `once` and the demo. Logged only
 * after the commit, so an alert never announces something the database does not hold.
 */
import type { AppConfig } from '../config/types.js';
import type { OrderSnapshot, TrackedOrder } from '../domain.js';
import type { OrderDiff } from '../diff/diff.js';
import type { Logger, LogFields } from '../observability/logger.js';
import { paymentKeyOf } from '../routing/payment.js';
import type { CommitResult } from '../store/commit.js';
import type { StoredPaymentRead } from '../store/paymentReads.js';
import type { CycleAction } from './cycle.js';
import type { CyclePlan, PlannedAction } from './plan.js';

function orderFields(order: Pick<TrackedOrder, 'orderNo' | 'route' | 'amount' | 'currency'>): LogFields {
  const route = order.route;
  return {
    orderNo: order.orderNo,
    ...(route.kind === 'provider' ? { provider: route.provider, providerRef: route.providerRef } : {}),
    amount: order.amount,
    currency: order.currency,
  };
}

export interface CommittedReport {
  logger: Logger;
  config: AppConfig;
  diff: OrderDiff;
  gone: readonly OrderSnapshot[];
  plan: CyclePlan;
  committed: CommitResult;
  /** The cycle's actions: job ids are filled in from what the commit created. */
  actions: CycleAction[];
  /** What the providers said about the vanished orders' money (worker/payments.ts). */
  reads: ReadonlyMap<string, StoredPaymentRead>;
}

export function reportCommitted(report: CommittedReport): void {
  const { logger, config, diff, gone, plan, committed, actions, reads } = report;
  const createdByKey = new Map(committed.createdJobs.map((j) => [j.paymentKey, j]));
  const ordersByNo = new Map<string, Pick<TrackedOrder, 'orderNo' | 'route' | 'amount' | 'currency'>>([
    ...diff.cancellations.map((c) => [c.order.orderNo, c.order] as const),
    ...gone.map((s) => [s.orderNo, s] as const),
  ]);

  for (const action of actions) {
    if (action.action !== 'cancel_job_created') continue;
    const job = createdByKey.get(
      paymentKeyOf({
        orderNo: action.orderNo,
        route: { kind: 'provider', provider: action.provider, providerRef: action.providerRef },
        payTypeIdentifier: null,
        payTypeReference: null,
      }) ?? '',
    );
    if (job) action.jobId = job.id;
  }

  for (const voided of committed.voided) {
    const action = plan.actions.find((a): a is Extract<PlannedAction, { action: 'job_voided' }> => a.action === 'job_voided' && a.jobId === voided.jobId);
    logger.event('cancel.voided', `job ${voided.jobId} is voided and will not be sent: ${voidText(voided.reason, action?.orderNo)}`, {
      jobId: voided.jobId,
      ...(action ? { orderNo: action.orderNo } : {}),
      ...(action?.provider && action.providerRef ? { provider: action.provider, providerRef: action.providerRef } : {}),
      reason: voided.reason,
    });
  }

  for (const { order, firstSeenCancelled } of diff.cancellations) {
    const job = order.paymentKey === null ? undefined : createdByKey.get(order.paymentKey);
    if (order.route.kind === 'handledBySpecter') {
      logger.event('order.cancel_detected', `order ${order.orderNo} was cancelled in Specter; Specter cancels this payment itself, nothing is sent`, {
        ...orderFields(order),
        handledBySpecter: true,
        firstSeenCancelled,
      });
      continue;
    }
    if (job === undefined || job.provider === null) continue;
    logger.event(
      'order.cancel_detected',
      `order ${order.orderNo} was cancelled in Specter; cancellation job ${job.id} ${job.hold ? 'held for a person' : job.rearmed ? 'queued again (same idempotency key)' : 'queued'}`,
      { ...orderFields(order), jobId: job.id, firstSeenCancelled, rearmed: job.rearmed },
    );
    if (job.hold) {
      logger.event('cancel.failed', `rejected: ${job.hold.message} (job ${job.id})`, {
        ...orderFields(order),
        jobId: job.id,
        reason: 'rejected',
        code: job.hold.code,
        detail: job.hold.message,
      });
    }
  }

  for (const { orderNo, reason, jobId } of plan.unrouted) {
    if (jobId !== undefined && !committed.unsettled.includes(jobId)) continue;
    const order = ordersByNo.get(orderNo);
    const job = jobId !== undefined ? { id: jobId } : committed.createdJobs.find((j) => j.orderNo === orderNo && j.provider === null);
    logger.event(
      'order.unrouted',
      `order ${orderNo} ${order && gone.some((g) => g.orderNo === orderNo) ? 'vanished' : 'was cancelled'}, and its payment has no provider to cancel at (${reason}); it awaits a person: ` +
        `add a routing rule (then it is sent), or settle it by hand and close it with \`specter-sync jobs dismiss ${job?.id ?? 'JOB_ID'} --note "…"\``,
      { ...(order ? orderFields(order) : { orderNo }), reason, jobId: job?.id ?? null },
    );
  }

  for (const r of committed.reroutes) {
    logger.event(
      'job.rerouted',
      r.result === 'rerouted'
        ? `job ${r.jobId}: routing now covers its payment; it is queued for ${r.provider} (${r.providerRef})`
        : `job ${r.jobId}: routing now covers its payment, which already has a job of its own; this one is voided`,
      { jobId: r.jobId, provider: r.provider, providerRef: r.providerRef, result: r.result },
    );
    if (r.result === 'duplicate') {
      const orderNo = plan.actions.find((a) => a.action === 'job_rerouted' && a.jobId === r.jobId);
      logger.event('cancel.voided', `job ${r.jobId} is voided: its payment already has a job`, {
        jobId: r.jobId,
        ...(orderNo && 'orderNo' in orderNo ? { orderNo: orderNo.orderNo } : {}),
        provider: r.provider,
        providerRef: r.providerRef,
        reason: 'duplicate_payment',
      });
    }
  }
  for (const jobId of committed.released) {
    logger.event('job.requeued', `job ${jobId}: no live order carries its payment any more; queued with its original idempotency key`, { jobId, by: 'cycle' });
  }

  if (plan.guardTripped) {
    logger.event(
      'vanish_guard.tripped',
      `more than VANISH_GUARD_MAX_PER_RUN=${config.sync.vanishGuardMaxPerRun} orders were confirmed gone in one run (confirmation stopped there); none flagged. Check Specter (a wrong account, a data problem?); if the deletions are real, run once with a higher VANISH_GUARD_MAX_PER_RUN`,
      { count: gone.length, limit: config.sync.vanishGuardMaxPerRun, orderNos: gone.slice(0, 50).map((s) => s.orderNo) },
    );
  } else {
    reportVanished(logger, gone, plan, reads);
  }

  for (const notice of plan.reopened) {
    const job = notice.sentJob;
    const sent = job !== null;
    const what = notice.was === 'cancelled' ? 'recorded as cancelled' : 'recorded as deleted';
    logger.event(
      'order.reopened',
      sent
        ? `order ${notice.order.orderNo}, ${what}, is open in Specter again, but the cancellation of its ${job.provider ?? ''} payment ${job.providerRef ?? ''} already went out (job ${job.id}, ${job.state}): the customer's reservation is gone; a person must arrange payment again`
        : `order ${notice.order.orderNo}, ${what}, is open in Specter again; nothing had been sent for its payment, and nothing will be`,
      { ...orderFields(notice.order), jobId: job?.id ?? null, cancellationSent: sent, alert: sent },
    );
  }
  for (const { after } of diff.reappeared) {
    logger.event('order.reappeared', `order ${after.orderNo}, recorded as vanished, is back in Specter`, orderFields(after));
  }
  for (const snapshot of diff.leftWindow) {
    logger.event('order.left_window', `order ${snapshot.orderNo} is older than the lookback window and is no longer tracked`, { orderNo: snapshot.orderNo });
  }
}

/** Why a job was voided, in words (the log line here, `once`'s report in cli/describe.ts). */
export function voidText(reason: string, orderNo: string | undefined): string {
  const order = orderNo === undefined ? 'its order' : `order ${orderNo}`;
  switch (reason) {
    case 'reopened':
      return `${order} is open in Specter again`;
    case 'reappeared':
      return `${order} is back in Specter`;
    case 'handled_by_specter':
      return 'routing says Specter cancels this payment itself';
    case 'settled_elsewhere':
      return 'routing says this payment is settled outside specter-sync';
    default:
      return reason;
  }
}

function reportVanished(logger: Logger, gone: readonly OrderSnapshot[], plan: CyclePlan, reads: ReadonlyMap<string, StoredPaymentRead>): void {
  const snapshotsByNo = new Map(gone.map((s) => [s.orderNo, s]));
  for (const v of plan.vanished) {
    const snapshot = snapshotsByNo.get(v.orderNo);
    if (!snapshot || snapshot.route.kind !== 'provider' || v.announce === undefined) continue;
    const read = reads.get(v.orderNo);
    if (v.announce === 'auto_resolved' && read) {
      reportAutoResolved(logger, read, 'deleted', { ...orderFields(snapshot), orderDate: snapshot.orderDate });
      continue;
    }
    const { provider, providerRef } = snapshot.route;
    const amount = snapshot.amount ? `${snapshot.amount} ${snapshot.currency ?? ''}`.trim() : 'unknown amount';
    const todo =
      v.announce === 'cancel_queued'
        ? read?.state === 'captured'
          ? `the cancellation is not sent (it cannot release captured money); whether to refund is the decision to make, at ${provider}`
          : `the cancellation at ${provider} was queued (VANISHED_ACTION=cancel)`
        : read?.state === 'captured'
          ? `cancelling cannot give the money back; whether to refund the customer is the decision to make (at ${provider}), then mark it dealt with (specter-sync vanished resolve ${v.orderNo})`
          : `a person must check it and cancel the reservation at ${provider} (specter-sync vanished cancel ${v.orderNo}) or mark it dealt with (specter-sync vanished resolve ${v.orderNo})`;
    logger.event(
      'order.vanished',
      `order ${v.orderNo} was deleted from Specter; ${moneyText(provider, providerRef, amount, read)}: ${todo}${v.note && v.announce === 'person_must_act' ? `. Note: ${v.note}` : ''}`,
      { ...orderFields(snapshot), orderDate: snapshot.orderDate, action: v.announce, note: v.note, ...paymentFields(read) },
    );
  }
}

/** What the provider said about the money, in words (or what is not known, when it was not asked). */
function moneyText(provider: string, providerRef: string, amount: string, read: StoredPaymentRead | undefined): string {
  const payment = `its ${provider} payment ${providerRef} (${amount})`;
  switch (read?.state) {
    case undefined:
      return `${payment} may still be reserved (${provider} was not asked: it is not configured)`;
    case 'reserved': {
      const still = read.reservedAmount ? `${read.reservedAmount} ${read.currency ?? ''}`.trim() : 'an amount it does not tell';
      const until = read.expiresAt ? `until ${read.expiresAt}, when it lapses` : `${provider} tells no expiry`;
      return `${payment} is still reserved at ${provider}: ${still}, ${until}`;
    }
    case 'captured':
      return `${payment} is captured at ${provider}: the money was taken (${read.detail})`;
    case 'not_found':
      return `${provider} does not know ${payment} (${read.detail}); check the reference in the ${provider} portal`;
    case 'unknown':
      return `${provider} could not be asked about ${payment} (${read.detail}); it may still be reserved`;
    case 'cancelled':
    case 'expired':
      return `${payment} is ${read.state} at ${provider}`;
  }
}

/** The payment's fields on a line about a vanished order (docs/interface.md), when its provider was asked. */
function paymentFields(read: StoredPaymentRead | undefined): LogFields {
  if (read === undefined) return {};
  return {
    paymentState: read.state,
    ...(read.reservedAmount !== null && read.state === 'reserved' ? { reservedAmount: read.reservedAmount } : {}),
    ...(read.expiresAt !== null && read.state === 'reserved' ? { expiresAt: read.expiresAt } : {}),
    paymentDetail: read.detail,
  };
}

/**
 * `vanished.auto_resolved`: the provider says the money is already released, so the order needs
 * nobody. `when`: it was just found deleted, or it had awaited a person since it was.
 */
export function reportAutoResolved(logger: Logger, read: StoredPaymentRead, when: 'deleted' | 'since', fields: LogFields = {}): void {
  const how = read.state === 'expired' ? 'the reservation expired (lapsed on its own)' : 'the payment is already cancelled there';
  logger.event(
    'vanished.auto_resolved',
    `order ${read.orderNo}${when === 'deleted' ? ' was deleted from Specter and' : ' (deleted from Specter earlier)'} needs nobody: ${read.provider} says ${how}; it is resolved automatically (${read.detail})`,
    { orderNo: read.orderNo, provider: read.provider, providerRef: read.providerRef, ...fields, reason: read.state, ...paymentFields(read) },
  );
}

/** An action as flat log fields: orderNo/provider/providerRef where it has them. */
export function actionFields(action: CycleAction): LogFields {
  const fields: LogFields = { action: action.action };
  if ('orderNo' in action) fields.orderNo = action.orderNo;
  if ('provider' in action && action.provider) fields.provider = action.provider;
  if ('providerRef' in action && action.providerRef) fields.providerRef = action.providerRef;
  if ('reason' in action && action.reason) fields.reason = action.reason;
  if ('jobId' in action && action.jobId !== undefined) fields.jobId = action.jobId;
  return fields;
}
