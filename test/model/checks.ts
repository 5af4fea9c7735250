/**
 * The invariants of the model-based test, checked after every cycle by comparing what the real
 * worker did (requests the provider sandboxes received, rows in its database, its log events)
 * with what the reference model says must and must not happen. Each check names its invariant,
 * so a failure says which rule of docs/money-safety.md broke:
 *
 *   0. a cycle with nothing scripted against it completes; one whose listing fails changes nothing
 *      and sends nothing
 *   1. no cancel request for a payment while an order carrying it is live (open or delivered) in
 *      the worker's window
 *   2. every payment owed a cancellation (reference.ts, "cause") is, after 3 healthy quiet cycles,
 *      cancelled at its provider or awaits a person (a failed job of it, or a vanished order
 *      carrying it that awaits a person)
 *   3. one idempotency key per payment at each provider, and at most one job per payment
 *   4. no vanish unless the order was really gone during that cycle
 *   5. nothing from history: no cancel request and no job for a payment without a cause
 *   6. an order re-opened after its payment was cancelled raises `order.reopened` with alert true
 */
import type { ReferenceModel, Payment } from './reference.js';
import type { Row, SeenCancel, SystemUnderTest } from './system.js';

/** Healthy cycles in a row, with nothing else happening, after which every owed payment is settled. */
export const SETTLE_CYCLES = 3;

export type Invariant = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export const INVARIANT_NAMES: Record<Invariant, string> = {
  0: 'cycles complete unless their listing fails, and a failed cycle changes nothing',
  1: 'no cancel for a payment while an order carrying it is live',
  2: 'every payment cancelled while watched reaches its provider or a person',
  3: 'one idempotency key and one job per payment',
  4: 'no vanish unless getOrder said gone',
  5: 'nothing from history',
  6: 'a re-opened order whose payment was cancelled raises order.reopened with alert',
};

class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: Invariant,
    detail: string,
    trace: readonly string[],
  ) {
    super(`invariant ${invariant} (${INVARIANT_NAMES[invariant]}): ${detail}\n  what happened:\n    ${trace.join('\n    ')}`);
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** The model's payment a job row is about: by provider and id, else by Specter's reference. */
function paymentOfJob(model: ReferenceModel, row: Row): Payment | undefined {
  const provider = text(row['provider']);
  const providerRef = text(row['provider_ref']);
  if (provider && providerRef) {
    const payment = model.paymentAt(provider, providerRef);
    if (payment) return payment;
  }
  const reference = text(row['pay_type_reference']);
  if (reference) return model.paymentWithReference(reference);
  // payment_key "unrouted:<payTypeIdentifier>:<payTypeReference>" (interface: migration 0003).
  const key = text(row['payment_key']);
  const unrouted = key ? /^unrouted:([^:]*):(.+)$/.exec(key) : null;
  if (unrouted && unrouted[1] !== 'order') return model.paymentWithReference(unrouted[2]!);
  return undefined;
}

function describeJob(row: Row): string {
  const payment = text(row['payment_key']) ?? `${String(row['provider'])}:${String(row['provider_ref'])}`;
  return `job ${String(row['id'])} (${payment}, order ${String(row['order_no'])}, ${String(row['state'])}${typeof row['failure_reason'] === 'string' ? ` ${row['failure_reason']}` : ''})`;
}

/** Whatever the worker currently believes gone (vanished, not since seen again). */
function believedGone(row: Row | undefined): boolean {
  return row !== undefined && row['vanished_at'] !== null && row['vanished_at'] !== undefined && row['vanish_status'] !== 'reappeared';
}

/**
 * The real side of the model run: the system, plus what the checks accumulate over a history
 * (the idempotency keys each payment was sent with).
 */
export class Real {
  /** How often each rule was put to the test over the run, so a run shows it was not vacuous. */
  readonly tally = { causes: 0, cancelsSeen: 0, owedChecked: 0, reopenedAfterCancel: 0, failedListings: 0 };
  private readonly keys = new Map<string, Set<string | null>>();
  /** The jobs as last put in the trace (only changes are traced). */
  private lastJobs = '';

  constructor(
    readonly sut: SystemUnderTest,
    private readonly enabled: ReadonlySet<Invariant>,
  ) {}

  resetHistory(): void {
    this.keys.clear();
    this.lastJobs = '';
  }

  /** One `cycle` command: expect, run, replay in the model, check. */
  async cycle(model: ReferenceModel): Promise<void> {
    const expectation = model.expectCycle();
    // Before the cycle: which re-opened orders had their payment cancelled already (invariant 6).
    const cancelledBefore = new Set(expectation.reopened.flatMap((o) => (o.payment && this.sut.cancelledAtProvider(o.payment) ? [o.payment] : [])));
    const observed = await this.sut.cycle({
      lookback: model.lookback,
      vanishedAction: model.vanishedAction,
      routing: model.routing,
      listingFault: model.listingFault,
    });
    const fail = (invariant: Invariant, detail: string): void => {
      if (invariant === 0 || this.enabled.has(invariant)) throw new InvariantViolation(invariant, detail, model.trace);
    };
    const { report } = observed;
    const requestsText = observed.cancels.map((c) => `${c.provider}:${c.id}`).join(', ') || 'none';

    if (expectation.mustFail !== null) {
      model.cycleFailed();
      this.tally.failedListings += 1;
      if (report.outcome !== 'failed') fail(0, `cycle ${model.cyclesRun}: the listing failed (${expectation.mustFail}) but the cycle ended ${report.outcome}`);
      if (observed.cancels.length > 0) fail(0, `cycle ${model.cyclesRun}: its listing failed, yet it sent cancels (${requestsText})`);
      if (observed.dump !== observed.dumpBefore) fail(0, `cycle ${model.cyclesRun}: its listing failed, yet the database changed`);
      return;
    }
    const wanted = expectation.baseline ? 'baseline' : 'succeeded';
    if (report.outcome !== wanted) {
      model.trace.push(`cycle ${model.cyclesRun + 1}: ${report.outcome}${'reason' in report ? ` (${report.reason})` : ''}`);
      fail(
        0,
        `cycle ${model.cyclesRun + 1} had no listing fault scripted and should have ended ${wanted}, but ended ${report.outcome}${'reason' in report ? `: ${report.reason}` : ''}`,
      );
    }
    const byProvider: Record<string, number> = {};
    for (const c of observed.cancels) byProvider[c.provider] = (byProvider[c.provider] ?? 0) + 1;
    const causesBefore = model.causes.length;
    model.cycleSucceeded(expectation, byProvider);
    this.tally.causes += model.causes.length - causesBefore;
    this.tally.cancelsSeen += observed.cancels.length;
    this.tally.reopenedAfterCancel += cancelledBefore.size;
    const n = model.cyclesRun;
    if (observed.cancels.length > 0) model.trace.push(`  cancel requests: ${observed.cancels.map((c) => this.describeCancel(model, c)).join(', ')}`);
    const jobs = observed.jobs
      .map((j) => `${paymentOfJob(model, j)?.name ?? '?'} ${String(j['state'])}${typeof j['failure_reason'] === 'string' ? ` ${j['failure_reason']}` : ''}`)
      .join(', ');
    if (jobs !== this.lastJobs) model.trace.push(`  jobs now: ${jobs || 'none'}`);
    this.lastJobs = jobs;

    // 1 and 5: every request this cycle.
    for (const cancel of observed.cancels) {
      const payment = model.paymentAt(cancel.provider, cancel.id);
      if (!payment) {
        fail(5, `cycle ${n} sent a cancel to ${cancel.provider} for ${cancel.id}, a payment no order of this history ever carried`);
        continue;
      }
      const live = model.liveCarriers(payment).filter((o) => model.inWindow(o, expectation.lookback));
      if (live.length > 0) {
        fail(1, `cycle ${n} sent a cancel for ${model.describePayment(payment)} while ${live.map((o) => model.describeOrder(o)).join(', ')} is live`);
      }
      if (!model.maySend.has(payment)) {
        fail(5, `cycle ${n} sent a cancel for ${model.describePayment(payment)}, whose cancellation the worker never watched`);
      }
    }

    // 5 and 3: every job in the database.
    const jobsPerPayment = new Map<Payment, Row[]>();
    for (const row of observed.jobs) {
      const payment = paymentOfJob(model, row);
      if (!payment) {
        fail(5, `cycle ${n}: ${describeJob(row)} is for no payment the model knows of (an order without a payment needs nothing)`);
        continue;
      }
      if (!model.mayHaveJob.has(payment))
        fail(5, `cycle ${n}: ${describeJob(row)} is for ${model.describePayment(payment)}, whose cancellation the worker never watched`);
      jobsPerPayment.set(payment, [...(jobsPerPayment.get(payment) ?? []), row]);
    }
    for (const [payment, rows] of jobsPerPayment) {
      if (rows.length > 1) fail(3, `cycle ${n}: ${rows.length} jobs for one payment ${model.describePayment(payment)}: ${rows.map(describeJob).join('; ')}`);
    }
    for (const cancel of observed.cancels) {
      const id = `${cancel.provider}:${cancel.id}`;
      const keys = this.keys.get(id) ?? new Set<string | null>();
      keys.add(cancel.key);
      this.keys.set(id, keys);
      if (keys.size > 1) fail(3, `cycle ${n}: ${cancel.provider} received cancels for ${id} under ${keys.size} idempotency keys (${[...keys].join(', ')})`);
    }

    // 4: what the worker now believes gone must have been gone during this cycle.
    const before = new Map((JSON.parse(observed.dumpBefore) as { snapshots: Row[] }).snapshots.map((r) => [String(r['order_no']), r]));
    for (const row of observed.snapshots) {
      const orderNo = String(row['order_no']);
      const previous = before.get(orderNo);
      const newlyGone = believedGone(row) && (!believedGone(previous) || previous?.['vanished_at'] !== row['vanished_at']);
      if (!newlyGone) continue;
      const order = model.orderByNo(orderNo);
      if (order?.exists) fail(4, `cycle ${n} recorded order ${model.describeOrder(order)} as vanished, but it exists in Specter`);
    }

    // 6: re-opened orders whose payment was already cancelled at the provider.
    for (const order of expectation.reopened) {
      if (!order.payment || !cancelledBefore.has(order.payment)) continue;
      const alerted = observed.events.some((e) => e.event === 'order.reopened' && e.alert && e.fields.orderNo === order.orderNo);
      if (!alerted)
        fail(
          6,
          `cycle ${n}: ${model.describeOrder(order)} is live again after ${model.describePayment(order.payment)} was cancelled at ${order.payment.provider}, but no order.reopened alert was logged`,
        );
    }

    // 2: after enough quiet healthy cycles, everything owed is settled.
    if (model.quietCycles >= SETTLE_CYCLES) {
      for (const { payment, cause } of model.owedPayments()) {
        this.tally.owedChecked += 1;
        if (this.settled(model, payment, observed.jobs, observed.snapshots)) continue;
        const jobs = observed.jobs.filter((j) => paymentOfJob(model, j) === payment).map(describeJob);
        fail(
          2,
          `after ${model.quietCycles} healthy cycles (cycle ${n}), ${model.describePayment(payment)} is owed a cancellation ` +
            `(${cause.kind === 'cancelled' ? 'cancelled' : 'found gone'}: order ${cause.order.label} in cycle ${cause.cycle}, route ${cause.route}) ` +
            `but is neither cancelled at a provider nor awaiting a person; its jobs: ${jobs.join('; ') || 'none'}`,
        );
      }
    }
  }

  /** Cancelled at the provider, or a person has it: a failed job, or a vanished order awaiting. */
  private settled(model: ReferenceModel, payment: Payment, jobs: readonly Row[], snapshots: readonly Row[]): boolean {
    if (this.sut.cancelledAtProvider(payment)) return true;
    if (jobs.some((j) => j['state'] === 'failed' && paymentOfJob(model, j) === payment)) return true;
    return snapshots.some((s) => s['vanish_status'] === 'awaiting' && s['pay_type_reference'] === payment.reference);
  }

  private describeCancel(model: ReferenceModel, cancel: SeenCancel): string {
    const payment = model.paymentAt(cancel.provider, cancel.id);
    return `${cancel.provider} ${payment ? payment.name : cancel.id}`;
  }
}
