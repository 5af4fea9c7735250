/**
 * The reference model of the model-based test (docs/money-safety.md): a plain replay of
 * the same commands that knows the sandbox's truth (which orders exist, their status and payment)
 * and what the worker could have seen (the window of every successful cycle), and from that alone
 * says what must and what must not be sent. No I/O and nothing from src/: it is the specification,
 * written a second time, so it can disagree with the code.
 *
 * The words it uses:
 * - A payment is what a customer's money hangs on: a (method, reference) pair. Two orders sharing
 *   a reference carry one payment; paying again makes a new one.
 * - An order is *seen* in a successful cycle when it exists and its date is in that cycle's window
 *   (hidden orders are only ever ones the worker tracks, which getOrder then finds).
 * - A cancellation is *watched* when the worker had the order in view from a sighting where it was
 *   not cancelled (or carried another payment) up to the cycle that sees it cancelled, or when a
 *   never-seen order is first seen cancelled with a date inside the previous successful cycle's
 *   window (created and cancelled between two polls). Anything else is history.
 * - A *cause* is a watched cancellation (or a watched disappearance: an order the worker tracked,
 *   last seen not cancelled, found gone) of an order carrying a payment. It stands while the worker
 *   keeps seeing the order cancelled with that payment (or keeps finding it gone) inside its
 *   window. The payment is *owed* a cancellation while a cause stands, its route needs action (a
 *   provider, or a person when there is no route; handledBySpecter and elsewhere need nothing) and
 *   no live order carries it.
 * - What *may* happen: a cancel request only for a payment that had a watched cancellation (or,
 *   with VANISHED_ACTION=cancel, a watched disappearance) while its route needed action; a job also
 *   for a payment of any order found gone (a person may be asked about it).
 */

export type Method = 'K' | 'QL' | 'CL' | 'SP' | 'SW';
export type Status = 'open' | 'delivered' | 'cancelled';
export type ProviderName = 'klarna' | 'qliro' | 'walley' | 'svea';
export type RouteKind = 'provider' | 'unrouted' | 'handledBySpecter' | 'elsewhere';
export type VanishedAction = 'flag' | 'cancel';
export type ListingFault = '503' | 'reset' | 'html';

/** The sandbox Specter's calendar day the histories run on ("today", Stockholm). */
export const TODAY = { year: 2026, month: 3, day: 10 } as const;

export interface Payment {
  /** For messages: p1, p2, … in the order they were made. */
  readonly name: string;
  readonly method: Method;
  /** payTypeReference, as Specter shows it. */
  readonly reference: string;
  /** The provider whose sandbox would receive a cancel for it (SW has none). */
  readonly provider: ProviderName | null;
  /** The id that provider sees (the reference, or the Qliro OrderId without "QLIRO-"). */
  readonly providerId: string | null;
}

export interface Sighting {
  cycle: number;
  status: Status;
  payment: Payment | null;
}

export interface ModelOrder {
  /** The name the history gives it (A, B, …). */
  readonly label: string;
  readonly orderNo: string;
  readonly daysBack: number;
  cancelled: boolean;
  delivered: boolean;
  payment: Payment | null;
  exists: boolean;
  /** The last successful cycle that saw it, and how. */
  lastSeen: Sighting | null;
  /** A cycle found it gone (after a sighting, in view all along) and it has not been seen since. */
  vanishRecorded: boolean;
}

export interface Cause {
  kind: 'cancelled' | 'vanished';
  order: ModelOrder;
  payment: Payment;
  /** The cycle it arose in, counted like the trace (failed cycles included). */
  cycle: number;
  /** The payment's route when the cause arose. */
  route: RouteKind;
  standing: boolean;
}

export interface Routing {
  klarnaRule: boolean;
  swishElsewhere: boolean;
}

export interface SuccessfulCycle {
  /** 1-based among successful cycles; 1 is the baseline. */
  readonly index: number;
  readonly lookback: number;
}

export function statusOf(order: Pick<ModelOrder, 'cancelled' | 'delivered'>): Status {
  return order.cancelled ? 'cancelled' : order.delivered ? 'delivered' : 'open';
}

function routeOf(payment: Payment, routing: Routing): RouteKind {
  switch (payment.method) {
    case 'K':
      return routing.klarnaRule ? 'provider' : 'unrouted';
    case 'QL':
    case 'CL':
      return 'provider';
    case 'SP':
      return 'handledBySpecter';
    case 'SW':
      return routing.swishElsewhere ? 'elsewhere' : 'unrouted';
  }
}

/** A route that needs someone: a provider to send to, or a person when there is none. */
function needsAction(route: RouteKind): boolean {
  return route === 'provider' || route === 'unrouted';
}

function providerKey(provider: string, id: string): string {
  return `${provider}:${id}`;
}

/** What the model expects of one cycle, fixed before it runs. */
export interface CycleExpectation {
  /** A listing fault is scripted: the cycle must fail and change nothing. */
  mustFail: ListingFault | null;
  /** Nothing scripted against it (no listing fault, no provider fault left). */
  healthy: boolean;
  /** The first successful cycle records a baseline. */
  baseline: boolean;
  lookback: number;
  /** Orders seen cancelled in the previous sighting and live now, with that payment. */
  reopened: ModelOrder[];
}

export class ReferenceModel {
  readonly orders: ModelOrder[] = [];
  readonly payments: Payment[] = [];
  readonly causes: Cause[] = [];
  readonly cycles: SuccessfulCycle[] = [];
  /** Payments a cancel request may be sent for (a cause arose while their route needed action). */
  readonly maySend = new Set<Payment>();
  /** Payments a job may exist for: maySend, plus those of orders the worker found gone. */
  readonly mayHaveJob = new Set<Payment>();
  lookback = 60;
  vanishedAction: VanishedAction = 'flag';
  routing: Routing = { klarnaRule: true, swishElsewhere: false };
  listingFault: ListingFault | null = null;
  /** Provider faults scripted and not yet used up: 503 for the next n cancel requests. */
  readonly pendingFaults: Record<'klarna' | 'qliro' | 'walley', number> = { klarna: 0, qliro: 0, walley: 0 };
  /** Cycles run, failed ones included (the clock advances by one step per cycle). */
  cyclesRun = 0;
  /** Commands other than cycles that ran. */
  changes = 0;
  /** Successful healthy cycles in a row with nothing else happening in between. */
  quietCycles = 0;
  /** What happened, for failure messages. */
  readonly trace: string[] = [];

  private readonly byProviderKey = new Map<string, Payment>();
  private readonly byReference = new Map<string, Payment>();

  /** `history` makes every order number and reference of this history fresh in the shared sandboxes. */
  constructor(private readonly history: number) {}

  // ---------------------------------------------------------------------------------------------
  // The world: what Specter and the providers hold.

  newPayment(method: Method): Payment {
    const n = this.payments.length + 1;
    const h = this.history;
    let reference: string;
    let provider: ProviderName | null;
    let providerId: string | null;
    switch (method) {
      case 'K':
        reference = `kl-${h}-${n}`;
        provider = 'klarna';
        providerId = reference;
        break;
      case 'QL': {
        const orderId = String(10_000_000 + h * 100 + n);
        reference = `QLIRO-${orderId}`;
        provider = 'qliro';
        providerId = orderId;
        break;
      }
      case 'CL':
        reference = `wa-${h}-${n}`;
        provider = 'walley';
        providerId = reference;
        break;
      case 'SP':
        reference = String(20_000_000 + h * 100 + n);
        provider = 'svea';
        providerId = reference;
        break;
      case 'SW':
        reference = `SW${h}X${n}`;
        provider = null;
        providerId = null;
        break;
    }
    const payment: Payment = { name: `p${n}`, method, reference, provider, providerId };
    this.payments.push(payment);
    this.byReference.set(reference, payment);
    if (provider && providerId) this.byProviderKey.set(providerKey(provider, providerId), payment);
    return payment;
  }

  createOrder(label: string, payment: Payment | null, daysBack: number, cancelled: boolean): ModelOrder {
    const n = this.orders.length;
    const order: ModelOrder = {
      label,
      orderNo: String(1_000_000 + this.history * 100 + n),
      daysBack,
      cancelled,
      delivered: false,
      payment,
      exists: true,
      lastSeen: null,
      vanishRecorded: false,
    };
    this.orders.push(order);
    return order;
  }

  paymentAt(provider: string, id: string): Payment | undefined {
    return this.byProviderKey.get(providerKey(provider, id));
  }

  paymentWithReference(reference: string): Payment | undefined {
    return this.byReference.get(reference);
  }

  order(label: string): ModelOrder | undefined {
    return this.orders.find((o) => o.label === label);
  }

  orderByNo(orderNo: string): ModelOrder | undefined {
    return this.orders.find((o) => o.orderNo === orderNo);
  }

  carriers(payment: Payment): ModelOrder[] {
    return this.orders.filter((o) => o.payment === payment);
  }

  /** Orders carrying the payment that exist and are not cancelled (open or delivered). */
  liveCarriers(payment: Payment): ModelOrder[] {
    return this.carriers(payment).filter((o) => o.exists && !o.cancelled);
  }

  inWindow(order: ModelOrder, lookback = this.lookback): boolean {
    return order.daysBack <= lookback;
  }

  /** Any command but a cycle: the world changed, so convergence is counted afresh. */
  changed(what: string): void {
    this.changes += 1;
    this.quietCycles = 0;
    this.trace.push(what);
  }

  // ---------------------------------------------------------------------------------------------
  // Cycles.

  lastCycle(): SuccessfulCycle | null {
    return this.cycles[this.cycles.length - 1] ?? null;
  }

  /** The order was inside the window of every successful cycle after `since`, up to `lookbackNow`. */
  inViewSince(order: ModelOrder, since: number, lookbackNow: number): boolean {
    return this.cycles.every((c) => c.index <= since || order.daysBack <= c.lookback) && order.daysBack <= lookbackNow;
  }

  expectCycle(): CycleExpectation {
    const lookback = this.lookback;
    const reopened = this.orders.filter(
      (o) =>
        o.exists &&
        !o.cancelled &&
        o.payment !== null &&
        this.inWindow(o) &&
        o.lastSeen?.status === 'cancelled' &&
        o.lastSeen.payment === o.payment &&
        this.inViewSince(o, o.lastSeen.cycle, lookback),
    );
    const faultsLeft = this.pendingFaults.klarna + this.pendingFaults.qliro + this.pendingFaults.walley;
    return {
      mustFail: this.listingFault,
      healthy: this.listingFault === null && faultsLeft === 0,
      baseline: this.cycles.length === 0,
      lookback,
      reopened,
    };
  }

  /** A cycle failed as scripted: the worker saw nothing, so nothing changes but the fault. */
  cycleFailed(): void {
    this.cyclesRun += 1;
    this.quietCycles = 0;
    this.trace.push(`cycle ${this.cyclesRun}: failed (listing fault ${this.listingFault})`);
    this.listingFault = null;
  }

  /** A cycle succeeded: replay what the worker saw, and derive the causes it created. */
  cycleSucceeded(expectation: CycleExpectation, cancelRequestsByProvider: Record<string, number>): void {
    this.cyclesRun += 1;
    const previous = this.lastCycle();
    const cycle: SuccessfulCycle = { index: this.cycles.length + 1, lookback: this.lookback };
    this.cycles.push(cycle);
    const notes: string[] = [];

    for (const order of this.orders) {
      const inWindow = this.inWindow(order);
      // Out of view: whatever happens to it now is not watched, so its causes lapse.
      if (!inWindow) {
        for (const cause of this.causesOf(order)) cause.standing = false;
        continue;
      }
      if (order.exists) {
        const status = statusOf(order);
        if (previous !== null && status === 'cancelled' && order.payment !== null && this.watchedCancellation(order, previous)) {
          this.addCause('cancelled', order, order.payment);
          notes.push(`${order.label} cancelled → cause for ${order.payment.name}`);
        }
        for (const cause of this.causesOf(order)) {
          const holds = cause.kind === 'cancelled' && status === 'cancelled' && order.payment === cause.payment;
          if (!holds) cause.standing = false;
        }
        order.lastSeen = { cycle: cycle.index, status, payment: order.payment };
        order.vanishRecorded = false;
        continue;
      }
      // Gone: the worker finds out when it asks about an order it tracks.
      const last = order.lastSeen;
      if (last !== null && !order.vanishRecorded && this.inViewSince(order, last.cycle, this.lookback)) {
        order.vanishRecorded = true;
        notes.push(`${order.label} found gone`);
        if (last.payment !== null) {
          if (needsAction(routeOf(last.payment, this.routing))) this.mayHaveJob.add(last.payment);
          if (last.status !== 'cancelled') this.addCause('vanished', order, last.payment);
          if (this.vanishedAction === 'cancel' && needsAction(routeOf(last.payment, this.routing))) this.maySend.add(last.payment);
        }
      }
    }

    // A person's settings can change after the fact: VANISHED_ACTION=cancel may send for any order
    // recorded gone, and a cause whose route now needs action may be sent (or await a person).
    for (const order of this.orders) {
      if (this.vanishedAction === 'cancel' && order.vanishRecorded && !order.exists && order.lastSeen?.payment) {
        const payment = order.lastSeen.payment;
        if (needsAction(routeOf(payment, this.routing))) this.maySend.add(payment);
      }
    }
    for (const cause of this.causes) {
      if (cause.standing && needsAction(routeOf(cause.payment, this.routing))) {
        if (cause.kind === 'cancelled') this.maySend.add(cause.payment);
        this.mayHaveJob.add(cause.payment);
      }
    }

    for (const provider of ['klarna', 'qliro', 'walley'] as const) {
      this.pendingFaults[provider] = Math.max(0, this.pendingFaults[provider] - (cancelRequestsByProvider[provider] ?? 0));
    }
    this.quietCycles = expectation.healthy ? this.quietCycles + 1 : 0;
    const kind = expectation.baseline ? 'baseline' : 'succeeded';
    this.trace.push(`cycle ${this.cyclesRun}: ${kind}, lookback ${this.lookback}${notes.length ? `; ${notes.join('; ')}` : ''}`);
  }

  /**
   * Seen cancelled now: watched when the worker had the order in view since a sighting where it
   * was not cancelled (or carried another payment, so it was re-opened and paid again in between),
   * or, never seen before, when its date lay inside the previous successful cycle's window.
   */
  private watchedCancellation(order: ModelOrder, previous: SuccessfulCycle): boolean {
    const last = order.lastSeen;
    if (last === null) return order.daysBack <= previous.lookback;
    const news = last.status !== 'cancelled' || last.payment !== order.payment;
    return news && this.inViewSince(order, last.cycle, this.lookback);
  }

  private addCause(kind: Cause['kind'], order: ModelOrder, payment: Payment): void {
    const route = routeOf(payment, this.routing);
    this.causes.push({ kind, order, payment, cycle: this.cyclesRun, route, standing: true });
    if (needsAction(route)) {
      if (kind === 'cancelled') this.maySend.add(payment);
      this.mayHaveJob.add(payment);
    }
  }

  private causesOf(order: ModelOrder): Cause[] {
    return this.causes.filter((c) => c.order === order && c.standing);
  }

  /**
   * Payments owed a cancellation now: a cause stands, its route needed action then and still
   * does, and no order carrying the payment is live (anywhere: a live twin outside the window
   * makes the obligation unknowable to the worker, so none is asked of it).
   */
  owedPayments(): Array<{ payment: Payment; cause: Cause }> {
    const owed = new Map<Payment, Cause>();
    for (const cause of this.causes) {
      if (!cause.standing || owed.has(cause.payment)) continue;
      if (!needsAction(cause.route) || !needsAction(routeOf(cause.payment, this.routing))) continue;
      if (this.liveCarriers(cause.payment).length > 0) continue;
      owed.set(cause.payment, cause);
    }
    return [...owed].map(([payment, cause]) => ({ payment, cause }));
  }

  describePayment(payment: Payment): string {
    const carriers = this.carriers(payment).map((o) => `${o.label} #${o.orderNo}`);
    return `${payment.name} (${payment.method} ${payment.reference}; orders ${carriers.join(', ') || 'none'})`;
  }

  describeOrder(order: ModelOrder): string {
    const state = order.exists ? statusOf(order) : 'deleted';
    return `${order.label} #${order.orderNo} (${state}, ${order.daysBack} days old, ${order.payment ? order.payment.name : 'no payment'})`;
  }
}
