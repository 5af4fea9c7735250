/**
 * Send-time truth (docs/money-safety.md): a job is sent only while what it was made from still
 * holds. For `cancelled`, its order is still cancelled in Specter (or gone); for `vanished`, its
 * order is still gone; and no live order carries the payment, unless a person re-queued a
 * live-twin hold on purpose. The cycle judges by its own complete listing; a command that sends
 * outside a cycle (`vanished cancel`, `jobs retry`) asks Specter with getOrder first.
 *
 * Why every send and not only when the job is made: a job can wait for days (a provider down, a
 * person's retry), and an order's story goes on meanwhile — re-opened, restored, paid again.
 */
import type { SpecterOrder, TrackedOrder } from '../domain.js';
import type { SendVerdict } from '../dispatch/unsent.js';
import { OrdersByNo, OrdersByPayment } from '../routing/payment.js';
import type { CancellationJob } from '../store/jobs.js';

export type Verify = (job: CancellationJob) => Promise<SendVerdict>;

/**
 * The verdict, given the job's own order as Specter has it now (null: gone) and the other orders
 * Specter lists as not cancelled that carry the job's payment.
 */
function judge(job: CancellationJob, origin: TrackedOrder | null, liveTwins: readonly TrackedOrder[]): SendVerdict {
  if (job.reason === 'cancelled' && origin !== null && origin.status !== 'cancelled') {
    return { kind: 'void', reason: 'reopened', detail: `order ${job.orderNo} is ${origin.status} in Specter again` };
  }
  if (job.reason === 'vanished' && origin !== null) {
    return { kind: 'void', reason: 'reappeared', detail: `order ${job.orderNo} is back in Specter` };
  }
  const twin = liveTwins.find((o) => o.orderNo !== job.orderNo);
  if (twin !== undefined && !job.twinOverride) {
    return {
      kind: 'hold',
      code: 'LIVE_TWIN',
      message: `not sent: order ${twin.orderNo}, not cancelled in Specter, carries the same ${job.provider ?? ''} reference ${job.providerRef ?? ''}; it is sent by itself once that order is cancelled or gone, or a person re-queues it (jobs retry) or dismisses it (jobs dismiss)`,
    };
  }
  return { kind: 'send' };
}

export interface CycleView {
  /** The complete listing plus what getOrder found. */
  present: readonly TrackedOrder[];
  /** Orders confirmed gone this cycle, or recorded as vanished before and still not listed. */
  gone: ReadonlySet<string>;
}

/**
 * The cycle's verdicts, from its own complete listing. A job whose order the listing cannot speak
 * for (dated outside the window now) is asked of Specter once, like a send outside a cycle.
 */
export function verifyByCycleView(view: CycleView, getOrder: (orderNo: string) => Promise<TrackedOrder | null>): Verify {
  // Both indexed on the first job asked about: a cycle with nothing to send builds neither.
  const byNo = new OrdersByNo(view.present);
  const live = new OrdersByPayment(view.present, (o) => o.status !== 'cancelled');
  const byGetOrder = verifyByGetOrder(getOrder);
  return async (job) => {
    const origin = byNo.get(job.orderNo);
    const twins = live.carrying(job, job.orderNo);
    if (origin === undefined && !view.gone.has(job.orderNo)) return byGetOrder(job, twins);
    return judge(job, origin ?? null, twins);
  };
}

/** Outside a cycle: getOrder for the job's own order (its twins are the cycle's to judge). */
export function verifyByGetOrder(
  getOrder: (orderNo: string) => Promise<TrackedOrder | null>,
): (job: CancellationJob, liveTwins?: readonly TrackedOrder[]) => Promise<SendVerdict> {
  return async (job, liveTwins = []) => {
    let origin: TrackedOrder | null;
    try {
      origin = await getOrder(job.orderNo);
    } catch (error) {
      return { kind: 'unknown', detail: `Specter could not be asked about order ${job.orderNo}: ${error instanceof Error ? error.message : String(error)}` };
    }
    return judge(job, origin, liveTwins);
  };
}

/** getOrder, tracked through the status map and routing like a listed order. */
export function trackedGetOrder(
  getOrder: (orderNo: string) => Promise<SpecterOrder | null>,
  track: (order: SpecterOrder) => TrackedOrder,
): (orderNo: string) => Promise<TrackedOrder | null> {
  return async (orderNo) => {
    const order = await getOrder(orderNo);
    return order === null ? null : track(order);
  };
}
