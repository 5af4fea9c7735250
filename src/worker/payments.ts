/**
 * Asking the providers about the money of vanished orders (docs/providers.md, "Reading a payment's
 * state"): Specter says what happened to the order, only the provider knows what happened to the
 * payment. Read only where a person is about to be asked — the orders the cycle confirms gone (and
 * the vanish guard let through), and, at most once per reminder period, those still awaiting — and
 * before a cancellation is sent on a person's behalf. At most one read per order per cycle; each
 * provider's reads run in its own bounded pool, so its rate limit holds.
 *
 * A read is I/O, so it never sits inside the cycle's synchronous commit: the new vanished orders
 * are read after the plan and before the commit (the commit then records an order whose money is
 * already released as resolved, in the same one transaction), and what was read is stored right
 * after it, before any line is logged.
 */
import type { OrderSnapshot, ProviderName } from '../domain.js';
import { runPerProvider } from '../dispatch/perProvider.js';
import type { PaymentCheck } from '../dispatch/unsent.js';
import type { Logger } from '../observability/logger.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { PaymentRead } from '../providers/types.js';
import type { Store } from '../store/database.js';
import { listAwaitingDueForRead, recordPaymentReads, type StoredPaymentRead } from '../store/paymentReads.js';
import { resolveVanished } from '../store/vanished.js';
import { REMINDER_INTERVAL_MS } from './monitor.js';
import type { CyclePlan } from './plan.js';
import { reportAutoResolved } from './report.js';

export type { PaymentCheck };

export interface PaymentAsk {
  orderNo: string;
  provider: ProviderName;
  providerRef: string;
}

/** The reads of one cycle, by order number: asked once, used by the report and by dispatch. */
export type PaymentReads = Map<string, StoredPaymentRead>;

/**
 * One read per order asked (a second ask for the same order is not sent). An order whose provider
 * is not configured is not asked: nothing is known, and nothing is stored. A client that throws
 * (a bug) gives `unknown`, like a failed read.
 */
export async function readPayments(
  providers: ProviderRegistry,
  asks: readonly PaymentAsk[],
  now: () => Date,
  options: { signal?: AbortSignal; shouldStop?: () => boolean } = {},
): Promise<PaymentReads> {
  const unique = [...new Map(asks.map((a) => [a.orderNo, a])).values()];
  const reads: PaymentReads = new Map();
  await runPerProvider(unique, providers, {
    unconfigured: () => Promise.resolve(),
    work: async (client, ask) => {
      let read: PaymentRead;
      try {
        read = await client.readPayment({ orderNo: ask.orderNo, providerRef: ask.providerRef }, options.signal);
      } catch (error) {
        const first = (error instanceof Error ? `${error.name}: ${error.message}` : typeof error).split('\n', 1)[0] ?? '';
        read = { state: 'unknown', reservedAmount: null, currency: null, expiresAt: null, detail: `provider client bug: ${first.slice(0, 300)}` };
      }
      reads.set(ask.orderNo, { ...ask, ...read, readAt: now().toISOString() });
    },
    shouldStop: options.shouldStop ?? (() => false),
    what: 'payment read',
  });
  return reads;
}

/** Cancelled or expired: the money is released, the vanished order needs nobody. */
function releasedByProvider(read: Pick<PaymentRead, 'state'> | undefined): read is Pick<PaymentRead, 'state'> & { state: 'cancelled' | 'expired' } {
  return read?.state === 'cancelled' || read?.state === 'expired';
}

/** The note kept on an order resolved because its provider says the money is released. */
function autoResolveNote(read: StoredPaymentRead): string {
  return `resolved automatically: ${read.provider} says the payment is ${read.state} (${read.detail})`;
}

/**
 * The plan, told what the providers said (pure). A vanished order whose payment is already
 * cancelled or expired is recorded resolved (announced `auto_resolved`), and with
 * VANISHED_ACTION=cancel its cancellation is not made at all: there is nothing to release. Other
 * states change nothing here: `captured` is stopped before sending by dispatch, with the same read.
 */
export function applyPaymentReads(plan: CyclePlan, reads: PaymentReads): void {
  const dropped = new Set<string>();
  for (const action of plan.actions) {
    const read = action.action === 'vanished_flagged' ? reads.get(action.orderNo) : undefined;
    if (action.action !== 'vanished_flagged' || read === undefined) continue;
    action.payment = { state: read.state, reservedAmount: read.reservedAmount, expiresAt: read.expiresAt, autoResolved: releasedByProvider(read) };
  }
  for (const record of plan.vanished) {
    const read = reads.get(record.orderNo);
    if (read === undefined || !releasedByProvider(read)) continue;
    if (record.announce !== 'person_must_act' && record.announce !== 'cancel_queued') continue;
    if (record.announce === 'cancel_queued') dropped.add(record.orderNo);
    record.status = 'resolved';
    record.note = autoResolveNote(read);
    record.announce = 'auto_resolved';
  }
  if (dropped.size === 0) return;
  const made = (j: { orderNo: string; reason: string }): boolean => j.reason === 'vanished' && dropped.has(j.orderNo);
  plan.jobs = plan.jobs.filter((j) => !made(j));
  plan.actions = plan.actions.filter((a) => !(a.action === 'cancel_job_created' && made(a)));
}

/** The vanished orders of this plan whose provider is to be asked: those a person would be asked about. */
export function asksFor(plan: CyclePlan, gone: readonly OrderSnapshot[]): PaymentAsk[] {
  const byNo = new Map(gone.map((s) => [s.orderNo, s]));
  return plan.vanished.flatMap((record) => {
    const route = byNo.get(record.orderNo)?.route;
    if (route?.kind !== 'provider' || (record.announce !== 'person_must_act' && record.announce !== 'cancel_queued')) return [];
    return [{ orderNo: record.orderNo, provider: route.provider, providerRef: route.providerRef }];
  });
}

/** At most this many orders still awaiting are asked again in one cycle (the oldest reads first). */
const REREADS_PER_CYCLE = 50;

/**
 * Vanished orders still awaiting a person, asked again once their last read is a reminder period
 * old: a reservation that lapsed, or that someone cancelled in the portal meanwhile, drops off by
 * itself (auto-resolved), and the reminder tells what is reserved now. Done by the cycle, under
 * its lease (a read writes what it learnt), never for an order already read this cycle.
 */
export async function rereadAwaiting(
  deps: { store: Store; providers: ProviderRegistry; logger: Logger; signal?: AbortSignal },
  clock: () => Date,
  readThisCycle: PaymentReads,
  holdsLease: () => Promise<boolean>,
): Promise<PaymentReads> {
  const { store, logger } = deps;
  const readBefore = new Date(clock().getTime() - REMINDER_INTERVAL_MS).toISOString();
  const due = (await listAwaitingDueForRead(store, { readBefore, limit: REREADS_PER_CYCLE + readThisCycle.size })).filter((o) => !readThisCycle.has(o.orderNo));
  if (due.length === 0) return new Map();
  const reads = await readPayments(deps.providers, due.slice(0, REREADS_PER_CYCLE), clock, { signal: deps.signal });
  // Reading took time: another process may hold the lease now, and what we learnt is theirs to learn.
  if (!(await holdsLease())) return new Map();
  await recordPaymentReads(store, [...reads.values()]);
  for (const read of reads.values()) {
    if (!releasedByProvider(read)) continue;
    // Only an order still awaiting changes: a person may have resolved or cancelled it meanwhile.
    if ((await resolveVanished(store, read.orderNo, autoResolveNote(read), clock().toISOString())) === 'resolved') reportAutoResolved(logger, read, 'since');
  }
  return reads;
}

/**
 * Dispatch's read before a vanished order's cancellation is sent on a person's behalf: this
 * cycle's read when it has one (never a second read of an order in one cycle), else one read now,
 * stored like any other.
 */
export function cachedPaymentCheck(
  deps: { store: Store; providers: ProviderRegistry; signal?: AbortSignal },
  reads: PaymentReads,
  clock: () => Date,
): PaymentCheck {
  return async (job) => {
    const cached = reads.get(job.orderNo);
    if (cached !== undefined) return cached;
    const fresh = (await readPayments(deps.providers, [{ orderNo: job.orderNo, provider: job.provider, providerRef: job.providerRef }], clock, deps)).get(
      job.orderNo,
    );
    if (fresh === undefined) return null;
    reads.set(job.orderNo, fresh);
    await recordPaymentReads(deps.store, [fresh]);
    return fresh;
  };
}
