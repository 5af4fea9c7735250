/**
 * The commands a history is made of, for fast-check's model-based runner (fc.commands +
 * fc.asyncModelRun). Each changes the sandbox world and the reference model alike; `cycle` runs
 * the real worker once and checks it (checks.ts). A command whose precondition does not hold when
 * its turn comes (an order not created yet, already deleted, …) is skipped, which is what lets
 * fast-check shrink a history by dropping commands.
 *
 * Orders carry a name chosen by the history (`create(C: K, 0d)` … `cancel(C)`), so dropping an
 * unrelated command while shrinking never changes which order a later command means; a `create`
 * of a name already taken is skipped. Payments are named p1, p2, … as they are made. A shrunk
 * history prints as these commands' toString().
 */
import fc from 'fast-check';
import type { Real } from './checks.js';
import { statusOf, type ListingFault, type Method, type ModelOrder, type ReferenceModel, type VanishedAction } from './reference.js';

type Model = ReferenceModel;
export type HistoryCommand = fc.AsyncCommand<Model, Real>;

function orderAt(model: Readonly<Model>, name: string): ModelOrder | undefined {
  return model.order(name);
}

class Create implements HistoryCommand {
  constructor(
    readonly name: string,
    readonly method: Method | 'none',
    readonly daysBack: number,
    readonly cancelled: boolean,
  ) {}
  check = (m: Readonly<Model>): boolean => orderAt(m, this.name) === undefined;
  async run(m: Model, r: Real): Promise<void> {
    const payment = this.method === 'none' ? null : m.newPayment(this.method);
    const order = m.createOrder(this.name, payment, this.daysBack, this.cancelled);
    r.sut.put(order);
    m.changed(`create ${m.describeOrder(order)}${payment ? ` paid ${payment.method} ${payment.reference}` : ''}`);
  }
  toString = (): string => `create(${this.name}: ${this.method}, ${this.daysBack}d${this.cancelled ? ', cancelled' : ''})`;
}

/** A second order carrying the same payment (same method and reference) as order `from`. */
class Share implements HistoryCommand {
  constructor(
    readonly name: string,
    readonly from: string,
    readonly daysBack: number,
    readonly cancelled: boolean,
  ) {}
  check = (m: Readonly<Model>): boolean =>
    orderAt(m, this.name) === undefined && orderAt(m, this.from)?.payment !== null && orderAt(m, this.from)?.payment !== undefined;
  async run(m: Model, r: Real): Promise<void> {
    const from = m.order(this.from)!;
    const order = m.createOrder(this.name, from.payment, this.daysBack, this.cancelled);
    r.sut.put(order);
    m.changed(`share: ${m.describeOrder(order)} carries ${from.label}'s payment`);
  }
  toString = (): string => `share(${this.name}: ${this.from}'s payment, ${this.daysBack}d${this.cancelled ? ', cancelled' : ''})`;
}

/** A change to one existing order in Specter. */
class Edit implements HistoryCommand {
  constructor(
    readonly what: 'cancel' | 'reopen' | 'deliver',
    readonly name: string,
  ) {}
  check = (m: Readonly<Model>): boolean => {
    const o = orderAt(m, this.name);
    if (!o?.exists) return false;
    if (this.what === 'cancel') return !o.cancelled;
    if (this.what === 'reopen') return o.cancelled;
    return statusOf(o) === 'open';
  };
  async run(m: Model, r: Real): Promise<void> {
    const o = m.order(this.name)!;
    if (this.what === 'cancel') o.cancelled = true;
    else if (this.what === 'reopen') o.cancelled = false;
    else o.delivered = true;
    r.sut.put(o);
    m.changed(`${this.what} ${o.label}`);
  }
  toString = (): string => `${this.what}(${this.name})`;
}

/** The customer pays again: a new payment (new reference) on an open order. */
class PayAgain implements HistoryCommand {
  constructor(
    readonly name: string,
    readonly method: Method,
  ) {}
  check = (m: Readonly<Model>): boolean => {
    const o = orderAt(m, this.name);
    return o !== undefined && o.exists && statusOf(o) === 'open';
  };
  async run(m: Model, r: Real): Promise<void> {
    const o = m.order(this.name)!;
    o.payment = m.newPayment(this.method);
    r.sut.put(o);
    m.changed(`pay again: ${o.label} now carries ${o.payment.name} (${o.payment.method} ${o.payment.reference})`);
  }
  toString = (): string => `payAgain(${this.name}, ${this.method})`;
}

class Delete implements HistoryCommand {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>): boolean => orderAt(m, this.name)?.exists === true;
  async run(m: Model, r: Real): Promise<void> {
    const o = m.order(this.name)!;
    o.exists = false;
    r.sut.delete(o);
    m.changed(`delete ${o.label}`);
  }
  toString = (): string => `delete(${this.name})`;
}

/** A deleted order comes back exactly as it was. */
class Restore implements HistoryCommand {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>): boolean => orderAt(m, this.name)?.exists === false;
  async run(m: Model, r: Real): Promise<void> {
    const o = m.order(this.name)!;
    o.exists = true;
    r.sut.put(o);
    m.changed(`restore ${m.describeOrder(o)}`);
  }
  toString = (): string => `restore(${this.name})`;
}

/**
 * The next listing leaves out an order the worker tracks (seen in the last successful cycle), so
 * only getOrder can tell it is still there. Hiding an order the worker never saw would be the
 * same as creating it later, which other commands already do.
 */
class Hide implements HistoryCommand {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>): boolean => {
    const o = orderAt(m, this.name);
    const last = m.lastCycle();
    return o !== undefined && o.exists && last !== null && o.lastSeen?.cycle === last.index;
  };
  async run(m: Model, r: Real): Promise<void> {
    const o = m.order(this.name)!;
    r.sut.hide(o);
    m.changed(`hide ${o.label} from the next listing`);
  }
  toString = (): string => `hide(${this.name})`;
}

class Lookback implements HistoryCommand {
  constructor(readonly days: number) {}
  check = (m: Readonly<Model>): boolean => m.lookback !== this.days;
  async run(m: Model): Promise<void> {
    m.lookback = this.days;
    m.changed(`lookback ${this.days} days`);
  }
  toString = (): string => `lookback(${this.days})`;
}

/** With the Klarna rule removed, K payments are unrouted. */
class KlarnaRule implements HistoryCommand {
  constructor(readonly on: boolean) {}
  check = (m: Readonly<Model>): boolean => m.routing.klarnaRule !== this.on;
  async run(m: Model): Promise<void> {
    m.routing = { ...m.routing, klarnaRule: this.on };
    m.changed(`routing: Klarna rule ${this.on ? 'added' : 'removed'}`);
  }
  toString = (): string => `klarnaRule(${this.on ? 'on' : 'off'})`;
}

/** SW (Swish, captured at once) is unrouted by default; this rule settles it `elsewhere`. */
class SwishElsewhere implements HistoryCommand {
  constructor(readonly on: boolean) {}
  check = (m: Readonly<Model>): boolean => m.routing.swishElsewhere !== this.on;
  async run(m: Model): Promise<void> {
    m.routing = { ...m.routing, swishElsewhere: this.on };
    m.changed(`routing: SW → elsewhere ${this.on ? 'added' : 'removed'}`);
  }
  toString = (): string => `swishElsewhere(${this.on ? 'on' : 'off'})`;
}

class VanishedActionCommand implements HistoryCommand {
  constructor(readonly action: VanishedAction) {}
  check = (m: Readonly<Model>): boolean => m.vanishedAction !== this.action;
  async run(m: Model): Promise<void> {
    m.vanishedAction = this.action;
    m.changed(`VANISHED_ACTION=${this.action}`);
  }
  toString = (): string => `vanishedAction(${this.action})`;
}

/** The provider answers 503 to its next `times` cancel requests, whichever payment they are for. */
class FailCancels implements HistoryCommand {
  constructor(
    readonly provider: 'klarna' | 'qliro' | 'walley',
    readonly times: number,
  ) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    m.pendingFaults[this.provider] += this.times;
    r.sut.failCancels(this.provider, this.times);
    m.changed(`${this.provider} answers 503 to the next ${this.times} cancels`);
  }
  toString = (): string => `fail503(${this.provider}, ${this.times})`;
}

/** The merchant captures order `name`'s payment: a cancel from now on fails with reason captured. */
class Capture implements HistoryCommand {
  constructor(readonly name: string) {}
  check = (m: Readonly<Model>): boolean => {
    const method = orderAt(m, this.name)?.payment?.method;
    return method === 'K' || method === 'QL' || method === 'CL';
  };
  async run(m: Model, r: Real): Promise<void> {
    const payment = m.order(this.name)!.payment!;
    const done = r.sut.capture(payment);
    m.changed(done ? `capture ${payment.name} at ${payment.provider}` : `capture ${payment.name}: already cancelled there, nothing to capture`);
  }
  toString = (): string => `capture(${this.name})`;
}

/** The next cycle's listing fails as a whole: the cycle must fail and change nothing. */
class FailListing implements HistoryCommand {
  constructor(readonly kind: ListingFault) {}
  check = (m: Readonly<Model>): boolean => m.listingFault === null;
  async run(m: Model): Promise<void> {
    m.listingFault = this.kind;
    m.changed(`the next listing fails (${this.kind})`);
  }
  toString = (): string => `failListing(${this.kind})`;
}

class Cycle implements HistoryCommand {
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.cycle(m);
  }
  toString = (): string => 'cycle';
}

// ---------------------------------------------------------------------------------------------
// Generators.

/** Order names; a command naming an order that does not exist (yet) is skipped. */
const name = fc.constantFrom('A', 'B', 'C', 'D', 'E', 'F');
export const METHODS: readonly Method[] = ['K', 'QL', 'CL', 'SP', 'SW'];
/** Klarna twice as often as the others; `exclude` leaves methods out (MODEL_EXCLUDE=SW, …). */
function methodArbitrary(exclude: ReadonlySet<string>): fc.Arbitrary<Method> {
  const methods = (['K', 'K', 'QL', 'CL', 'SP', 'SW'] as const).filter((m) => !exclude.has(m));
  if (methods.length === 0) throw new Error('MODEL_EXCLUDE leaves no payment method');
  return fc.constantFrom<Method>(...methods);
}
/** Mostly recent; often right at a window's edge (30, 60 and 90 days are the lookbacks used). */
const daysBack = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(0, 2, 10) },
  { weight: 3, arbitrary: fc.constantFrom(29, 30, 31, 59, 60, 61, 89, 90, 91) },
  { weight: 1, arbitrary: fc.constant(120) },
);

/** Every kind of command with its weight; MODEL_EXCLUDE names kinds to leave out. */
function commandKinds(method: fc.Arbitrary<Method>) {
  return {
    create: {
      weight: 8,
      arbitrary: fc.tuple(name, fc.oneof(method, fc.constant<'none'>('none')), daysBack, fc.boolean()).map(([n, m, d, c]) => new Create(n, m, d, c)),
    },
    share: { weight: 4, arbitrary: fc.tuple(name, name, daysBack, fc.boolean()).map(([n, s, d, c]) => new Share(n, s, d, c)) },
    cancel: { weight: 7, arbitrary: name.map((s) => new Edit('cancel', s)) },
    reopen: { weight: 4, arbitrary: name.map((s) => new Edit('reopen', s)) },
    deliver: { weight: 1, arbitrary: name.map((s) => new Edit('deliver', s)) },
    payAgain: { weight: 1, arbitrary: fc.tuple(name, method).map(([s, m]) => new PayAgain(s, m)) },
    delete: { weight: 3, arbitrary: name.map((s) => new Delete(s)) },
    restore: { weight: 1, arbitrary: name.map((s) => new Restore(s)) },
    hide: { weight: 1, arbitrary: name.map((s) => new Hide(s)) },
    lookback: { weight: 2, arbitrary: fc.constantFrom(30, 60, 90).map((d) => new Lookback(d)) },
    klarnaRule: { weight: 1, arbitrary: fc.boolean().map((on) => new KlarnaRule(on)) },
    elsewhere: { weight: 1, arbitrary: fc.boolean().map((on) => new SwishElsewhere(on)) },
    vanishedAction: { weight: 1, arbitrary: fc.constantFrom<VanishedAction>('flag', 'cancel').map((a) => new VanishedActionCommand(a)) },
    fail503: {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom<'klarna' | 'qliro' | 'walley'>('klarna', 'qliro', 'walley'), fc.integer({ min: 1, max: 3 }))
        .map(([p, n]) => new FailCancels(p, n)),
    },
    capture: { weight: 1, arbitrary: name.map((s) => new Capture(s)) },
    failListing: { weight: 1, arbitrary: fc.constantFrom<ListingFault>('503', 'reset', 'html').map((k) => new FailListing(k)) },
    cycle: { weight: 14, arbitrary: fc.constant(new Cycle()) },
  } satisfies Record<string, { weight: number; arbitrary: fc.Arbitrary<HistoryCommand> }>;
}

export const COMMAND_KINDS: readonly string[] = Object.keys(commandKinds(fc.constant<Method>('K')));

/**
 * `exclude`: command kinds (COMMAND_KINDS) and payment methods (METHODS) to leave out.
 * `replayPath`: the /*replayPath="…"*\/ of a printed counterexample, to replay it exactly.
 */
export function historyArbitrary(exclude: ReadonlySet<string>, maxCommands: number, replayPath?: string): fc.Arbitrary<Iterable<HistoryCommand>> {
  const kinds = Object.entries(commandKinds(methodArbitrary(exclude)))
    .filter(([kind]) => !exclude.has(kind))
    .map(([, spec]) => spec);
  return fc.commands([fc.oneof(...kinds)], { maxCommands, size: 'max', ...(replayPath !== undefined ? { replayPath } : {}) });
}
