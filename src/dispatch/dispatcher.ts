/**
 * Sends due cancellation jobs to their providers and records each outcome (docs/architecture.md: outbox,
 * at-least-once, idempotent; "Bounded patience").
 *
 * Every attempt is `markSending` (attempts + 1) committed before the request leaves, so whatever
 * the process dies between, the row says what to do next: a row left `sending` is sent again with
 * the key stored in it, which can only ever repeat the same request. Transient answers are
 * retried inside the cycle while the wait is short, otherwise the job goes back to pending with
 * its next attempt time and a later cycle picks it up. Each provider has its own bounded pool;
 * providers run side by side, so one slow or failing provider never holds up another's jobs.
 */
import type { DispatchSettings } from '../config/types.js';
import { crashPoint } from '../crashpoint.js';
import type { Logger } from '../observability/logger.js';
import type { DispatchObserver } from '../observability/metrics.js';
import { retry } from '../outbound/retry.js';
import { sleep, type Sleep } from '../outbound/sleep.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { CancelOutcome, CancelRequest, ProviderClient } from '../providers/types.js';
import type { Store } from '../store/database.js';
import { LeaseLostError } from '../store/fence.js';
import { listDueJobs, type SendableJob } from '../store/jobs.js';
import { markAccepted, markDone, markRetry, markSending } from '../store/outbox.js';
import { askClient, CANCEL_KINDS } from './clientBug.js';
import { actionBase, failJob, jobFields, type JobRef } from './jobReport.js';
import { runPerProvider } from './perProvider.js';
import { addMs, iso } from './time.js';
import { settleByPayment, settleUnsent, waitForProvider, type PaymentCheck, type SendVerdict } from './unsent.js';

/**
 * The longest wait spent inside a cycle before another attempt. Longer waits go back to the
 * queue (next_attempt_at) so a cycle never sits for minutes on one job while the schedule, the
 * lease and a stop request wait behind it; 5 s covers a 429's typical Retry-After and a brief
 * "another transaction in process" at Qliro.
 */
export const IN_CYCLE_RETRY_MAX_MS = 5_000;

// The observer type lives with the metrics that implement it (observability is below dispatch);
// re-exported for the callers that wire it through DispatchDeps.
export type { DispatchObserver };

export interface DispatchDeps {
  store: Store;
  providers: ProviderRegistry;
  settings: DispatchSettings;
  logger: Logger;
  now?: () => Date;
  /** Stop requested: requests in flight finish and are recorded, no new attempt starts. */
  signal?: AbortSignal;
  observer?: DispatchObserver;
  /** Waits between in-cycle attempts; resolves early when `signal` fires. */
  sleep?: Sleep;
  /** The jitter source (tests make it deterministic). */
  random?: () => number;
  /**
   * Asked right before every markSending (and before taking over a job without a request: the
   * exhausted and provider-off paths): false means the lease was lost, so the job is left exactly
   * as it is and nothing more is started. Answers already received are still recorded. The lease
   * helper (worker/lease.ts) wires it to `lease.check()`. markSending itself is checked against the
   * lease's fencing token in its transaction (store/fence.ts): a lease lost in between is caught there.
   */
  canSend?: () => Promise<boolean>;
  /** Dispatch only these jobs (`vanished cancel`, `jobs retry` send their own job, nothing else). */
  onlyJobIds?: ReadonlySet<number>;
  /**
   * Send-time truth (worker/truth.ts): asked right before a job's first request of this dispatch.
   * A job whose cause no longer holds is voided, a live twin holds it for a person, and an
   * unanswerable question sends nothing now. Absent: every due job is sent (unit tests only).
   */
  verify?: (job: SendableJob) => Promise<SendVerdict>;
  /**
   * The provider asked about the money before a `vanished` job's first request (worker/payments.ts):
   * such a cancellation is sent on a person's behalf, and one already cancelled, expired or
   * captured is not sent. Not asked for a job left `sending` (its request may be out: repeat it).
   */
  paymentCheck?: PaymentCheck;
}

export type DispatchResult = 'succeeded' | 'already_cancelled' | 'accepted' | 'retry_scheduled' | 'failed' | 'voided' | 'not_verified' | 'waiting_for_provider';

export interface DispatchAction extends JobRef {
  result: DispatchResult;
  /** failed: the failure reason; retry_scheduled: the transient code; waiting_for_provider: why. */
  reason?: string;
  nextAttemptAt?: string;
}

export interface DispatchReport {
  actions: DispatchAction[];
  counts: Record<DispatchAction['result'], number>;
}

type Transient = Extract<CancelOutcome, { kind: 'transient' }>;
type Final = Extract<CancelOutcome, { kind: 'succeeded' | 'accepted' }>;

/**
 * What a job's attempts of this cycle came to, besides a transient answer: the provider's final
 * or permanent answer, or no request at all because markSending matched no row (`moved`: the job
 * left pending/sending under us, only possible without the lease) or canSend said no right before
 * the request (`lease_gone`: the job stays as it is).
 */
type Sent = Final | Extract<CancelOutcome, { kind: 'permanent' }> | { kind: 'moved' } | { kind: 'lease_gone' };

function emptyCounts(): Record<DispatchResult, number> {
  return { succeeded: 0, already_cancelled: 0, accepted: 0, retry_scheduled: 0, failed: 0, voided: 0, not_verified: 0, waiting_for_provider: 0 };
}

interface Context {
  deps: DispatchDeps;
  now: () => Date;
  sleep: Sleep;
  random: () => number;
  stopping: () => boolean;
  /** canSend, remembered once it said no: nothing more is started after that. */
  mayWrite: () => Promise<boolean>;
  /** A fenced write found the lease gone: nothing more is started. */
  loseLease: () => Promise<void>;
}

export async function dispatchDueJobs(deps: DispatchDeps): Promise<DispatchReport> {
  const now = deps.now ?? (() => new Date());
  let leaseGone = false;
  const ctx: Context = {
    deps,
    now,
    sleep: deps.sleep ?? sleep,
    random: deps.random ?? Math.random,
    stopping: () => leaseGone || deps.signal?.aborted === true,
    mayWrite: async () => {
      if (!leaseGone && deps.canSend && !(await deps.canSend())) leaseGone = true;
      return !leaseGone;
    },
    loseLease: async () => {
      leaseGone = true;
      // Asked once more, the lease finds itself lost and says so (lease.lost).
      await deps.canSend?.();
    },
  };
  const actions: DispatchAction[] = [];
  const only = deps.onlyJobIds;
  const due = (await listDueJobs(deps.store, iso(now()))).filter((job) => only === undefined || only.has(job.id));

  // A fenced write found the lease gone (store/fence.ts): nothing of it was recorded, nothing more
  // starts; the new holder finds the job in flight and repeats it with the same key.
  const fenced = async (work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      await ctx.loseLease();
    }
  };
  await runPerProvider(due, deps.providers, {
    unconfigured: (job) =>
      fenced(async () => {
        // A job waiting for its provider still stops waiting when its cause stops holding.
        const verdict = deps.verify ? await deps.verify(job) : null;
        actions.push(verdict?.kind === 'void' ? await settleUnsent(ctx, job, job.attempts, verdict) : await waitForProvider(ctx, job));
      }),
    work: (client, job) =>
      fenced(async () => {
        const action = await sendJob(ctx, client, job);
        if (action) actions.push(action);
      }),
    shouldStop: ctx.stopping,
    what: 'dispatch',
  });

  const counts = emptyCounts();
  for (const action of actions) counts[action.result] += 1;
  return { actions, counts };
}

/** One job: every attempt of this cycle, then the outcome recorded. Null when nothing was done. */
async function sendJob(ctx: Context, client: ProviderClient, job: SendableJob): Promise<DispatchAction | null> {
  const { logger, settings } = ctx.deps;
  const attempt = job.attempts;

  // Send-time truth first: a job whose cause no longer holds needs nobody, even an exhausted one.
  if (ctx.deps.verify) {
    const verdict = await ctx.deps.verify(job);
    if (verdict.kind !== 'send') return settleUnsent(ctx, job, attempt, verdict);
  }
  if (ctx.deps.paymentCheck && job.reason === 'vanished' && job.state === 'pending') {
    const settled = await settleByPayment(ctx, job, attempt, await ctx.deps.paymentCheck(job));
    if (settled !== null) return settled;
  }

  // Bounded patience across restarts too: a job that keeps taking the process down while in
  // flight (or whose settings were lowered) is not sent an (n+1)th time; a person looks at it.
  if (attempt >= settings.maxAttempts) {
    if (!(await ctx.mayWrite())) return null;
    const code = job.state === 'sending' ? 'IN_FLIGHT_AT_STOP' : 'ATTEMPTS_EXHAUSTED';
    const detail =
      job.state === 'sending'
        ? `the process stopped while attempt ${attempt} of ${settings.maxAttempts} was in flight; whether ${job.provider} cancelled is unknown`
        : `${attempt} attempts made, the limit is ${settings.maxAttempts}`;
    return failJob(ctx.deps, job, { at: ctx.now(), attempt, reason: 'exhausted', code, detail });
  }

  // (A stop is checked by the pool just before this job was taken: nothing in between awaits.)
  if (job.state === 'sending') {
    logger.event('job.recovered', `job ${job.id} was in flight when the process stopped; sending it again with the same idempotency key`, {
      ...jobFields(job),
      attempt,
    });
  }
  return attemptJob(ctx, client, job);
}

/**
 * The attempts of this cycle (outbound/retry.ts), each one markSending committed, then the
 * request; a transient answer is recorded (markRetry) before any wait, and waited for here only
 * while the wait is at most IN_CYCLE_RETRY_MAX_MS and no stop came.
 */
async function attemptJob(ctx: Context, client: ProviderClient, job: SendableJob): Promise<DispatchAction | null> {
  const { store, logger, settings } = ctx.deps;
  let attempt = job.attempts;
  const fields = (): Record<string, unknown> & ReturnType<typeof jobFields> => ({ ...jobFields(job), attempt });
  const request: CancelRequest = {
    orderNo: job.orderNo,
    providerRef: job.providerRef,
    // The key stored with the job when it was created; never a new one (docs/architecture.md, outbox).
    idempotencyKey: job.idempotencyKey,
    amount: job.amount,
    currency: job.currency,
  };

  // Set once an attempt's transient answer was recorded: a later stop leaves the job due then.
  // (Asserted, not annotated: it is assigned inside a callback, out of the compiler's sight.)
  let scheduled = null as { code: string; nextAttemptAt: string } | null;
  const sent = await retry<Sent, Transient>({
    // Bounded by maxAttempts counted in the row, so a restart does not give a job a fresh count.
    maxAttempts: settings.maxAttempts,
    attemptsMade: job.attempts,
    bounds: settings,
    random: ctx.random,
    sleep: ctx.sleep,
    signal: ctx.deps.signal,
    // A stop during the wait: the job is already pending with its time; start nothing new.
    stopping: ctx.stopping,
    attempt: async (number) => {
      // The lease, right before the request: after a lost lease (a slow answer outlasted it and
      // another process took over) a request from us would be a second sender of this job.
      if (!(await ctx.mayWrite())) return { kind: 'final', value: { kind: 'lease_gone' } };
      let marked: boolean;
      try {
        marked = await markSending(store, job.id, iso(ctx.now()));
      } catch (error) {
        // The fencing token moved on between the renewal and this transaction (we were paused past
        // the TTL): another holder owns the job now; no request from us.
        if (!(error instanceof LeaseLostError)) throw error;
        await ctx.loseLease();
        return { kind: 'final', value: { kind: 'lease_gone' } };
      }
      if (!marked) return { kind: 'final', value: { kind: 'moved' } };
      attempt = number;
      logger.event('cancel.sent', `cancellation of order ${job.orderNo} sent to ${job.provider} (attempt ${attempt})`, fields());
      const answer = await askProvider(client, request);
      ctx.deps.observer?.providerAnswer?.(job.provider, answer.kind);
      crashPoint('dispatch.after_answer');
      if (answer.kind === 'transient') return { kind: 'transient', failure: answer, retryAfterMs: answer.retryAfterMs };
      return { kind: 'final', value: answer };
    },
    beforeWait: async ({ failure, delayMs }) => {
      const at = ctx.now();
      const nextAttemptAt = iso(addMs(at, delayMs));
      // Back to pending with the next attempt time before waiting: a crash during the wait
      // leaves a job that is simply due later, not one that looks in flight.
      await markRetry(store, job.id, { code: failure.code, message: failure.message, nextAttemptAt, now: iso(at) });
      scheduled = { code: failure.code, nextAttemptAt };
      const inCycle = delayMs <= IN_CYCLE_RETRY_MAX_MS && !ctx.stopping();
      logger.event('cancel.retry_scheduled', `${job.provider} answered ${failure.code} for order ${job.orderNo}; next attempt at ${nextAttemptAt}`, {
        ...fields(),
        code: failure.code,
        detail: failure.message,
        delayMs,
        nextAttemptAt,
        inCycle,
      });
      return inCycle;
    },
  });

  if (sent.kind === 'exhausted') {
    const { code, message } = sent.failure;
    const detail = `${attempt} attempts, the last answered ${code}: ${message}`;
    return failJob(ctx.deps, job, { at: ctx.now(), attempt, reason: 'exhausted', code, detail });
  }
  // Deferred, or the lease lost before a retry: the job is pending with its next attempt time
  // already (an in-cycle retry not started). Lost before the first request: nothing was done.
  if (sent.kind === 'deferred' || sent.value.kind === 'lease_gone') {
    return scheduled === null ? null : { ...actionBase(job), result: 'retry_scheduled', reason: scheduled.code, nextAttemptAt: scheduled.nextAttemptAt };
  }
  const outcome = sent.value;
  if (outcome.kind === 'moved') return null;
  if (outcome.kind === 'permanent') {
    return failJob(ctx.deps, job, { at: ctx.now(), attempt, reason: outcome.reason, code: outcome.code, detail: outcome.message });
  }
  return recordFinal(ctx, job, outcome, fields());
}

/** Cancelled (done) or accepted (confirmed on the next cycles, until its deadline). */
async function recordFinal(ctx: Context, job: SendableJob, outcome: Final, fields: ReturnType<typeof jobFields>): Promise<DispatchAction> {
  const { store, logger, settings } = ctx.deps;
  const at = iso(ctx.now());
  if (outcome.kind === 'succeeded') {
    await markDone(
      store,
      job.id,
      at,
      outcome.alreadyCancelled ? { code: 'ALREADY_CANCELLED', message: `${job.provider} reports the payment already cancelled` } : undefined,
    );
    logger.event(
      'cancel.succeeded',
      outcome.alreadyCancelled
        ? `${job.provider} reports the payment of order ${job.orderNo} already cancelled`
        : `${job.provider} cancelled the payment of order ${job.orderNo}`,
      { ...fields, alreadyCancelled: outcome.alreadyCancelled },
    );
    return { ...actionBase(job), result: outcome.alreadyCancelled ? 'already_cancelled' : 'succeeded' };
  }

  const confirmDeadlineAt = iso(addMs(new Date(at), settings.confirmDeadlineMs));
  await markAccepted(store, job.id, { transactionId: outcome.transactionId, now: at, confirmDeadlineAt });
  logger.event(
    'cancel.accepted',
    `${job.provider} accepted the cancellation of order ${job.orderNo}; it is confirmed on the next cycles (deadline ${confirmDeadlineAt})`,
    { ...fields, transactionId: outcome.transactionId, confirmDeadlineAt },
  );
  return { ...actionBase(job), result: 'accepted' };
}

/**
 * One request. `dispatch.in_flight` fires after markSending is committed and the client has been
 * called (the request is on its way, its answer not yet seen): the deterministic "died mid-request"
 * spot. Whether the bytes reached the provider is deliberately unknowable there; recovery must be
 * right either way, and the stored key makes it so.
 */
function askProvider(client: ProviderClient, request: CancelRequest): Promise<CancelOutcome> {
  // No stop signal is passed: a stop lets in-flight requests finish (the client's own timeout
  // bounds them), so their answers are recorded rather than lost.
  return askClient(
    () => client.cancel(request),
    CANCEL_KINDS,
    () => crashPoint('dispatch.in_flight'),
  );
}
