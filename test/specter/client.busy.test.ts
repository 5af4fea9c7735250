/**
 * A busy shop, against the sandbox on 127.0.0.1: orders created, cancelled and deleted between
 * the page requests of one listing (the sandbox's betweenPages script), with pages of five so a
 * listing has five pages. The listing must succeed and keep its promise — every order that
 * existed throughout and kept its position is there exactly once, nothing twice, nothing that
 * the sandbox never held — and must still refuse what a busy shop cannot explain.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { seedOrders } from '../../src/sandbox/specter/seed.js';
import { startSpecterSandbox } from '../../src/sandbox/specter/server.js';
import type { SandboxOrder, ServedPage, SpecterSandbox } from '../../src/sandbox/specter/types.js';
import { createSpecterClient } from '../../src/specter/client.js';
import type { SpecterOrder } from '../../src/domain.js';
import { SpecterError } from '../../src/specter/errors.js';

const NOW = new Date('2026-11-26T12:00:00Z');
const WINDOW = { fromDate: '2026-09-27', toDate: '2026-11-26' };
const PAGE_SIZE = 5;

/** orderNo 300000 + 10·i, so an order can be created between any two (a lower orderNo). */
function ordersWithGaps(count: number, first = 300_000): SandboxOrder[] {
  return seedOrders({ count, now: NOW, seed: 7, lookbackDays: 30 }).map((o, i) => ({ ...o, orderNo: String(first + 10 * i) }));
}

/** 23 orders: pages of 5, 5, 5, 5, 3. */
const BASE = ordersWithGaps(23);

let sb: SpecterSandbox;

beforeAll(async () => {
  sb = await startSpecterSandbox();
});
beforeEach(() => {
  reset(BASE);
});
afterAll(async () => {
  await sb.close();
});

function reset(orders: readonly SandboxOrder[]): void {
  sb.clearScripts();
  for (const o of sb.orders()) sb.delete(o.orderNo);
  sb.add(...orders);
  sb.requests.length = 0;
}

const client = (pageSize = PAGE_SIZE) => createSpecterClient(sb.settings({ pageSize }));
const nos = (orders: ReadonlyArray<{ orderNo: string }>) => orders.map((o) => o.orderNo);
const pagesRequested = () => sb.requestsFor().map((r) => Number(r.query.get('page')));

function asSpecterOrder({ extraXml: _extra, ...order }: SandboxOrder): SpecterOrder {
  return order;
}

/** A new order like `like`, with its own orderNo and reference. */
function newOrder(orderNo: string, like: SandboxOrder = BASE[0]!): SandboxOrder {
  return {
    ...like,
    orderNo,
    externalOrderNo: `WEB-${orderNo}`,
    statusId: '2',
    payment: like.payment && { ...like.payment, payTypeReference: `ref-${orderNo}` },
  };
}

const open = (o: SandboxOrder) => o.statusId !== '5';
/** An open order on `page` (1-based) of BASE. */
function openOn(page: number): SandboxOrder {
  const found = BASE.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).find(open);
  if (!found) throw new Error(`no open order on page ${page} of BASE`);
  return found;
}

async function failureOf(promise: Promise<unknown>): Promise<SpecterError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SpecterError);
    return error as SpecterError;
  }
  throw new Error('expected a SpecterError, the call succeeded');
}

describe('a busy shop between page requests: the listing succeeds', () => {
  it('orders created at the end: the listing grows with them and reads every one', async () => {
    let next = 400_000;
    const created: string[] = [];
    const served: ServedPage[] = [];
    const script = sb.betweenPages(
      (page) => {
        served.push(page);
        if (page.last) return;
        next += 10;
        sb.add(newOrder(String(next)));
        created.push(String(next));
      },
      { times: Infinity },
    );
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(script.errors).toEqual([]);
    // 23 orders in 5 pages; one more after every page: page 4 already sees 6 pages, page 6 is last.
    expect(served.map((p) => [p.page, p.totalCount, p.totalPages])).toEqual([
      [1, 23, 5],
      [2, 24, 5],
      [3, 25, 5],
      [4, 26, 6],
      [5, 27, 6],
      [6, 28, 6],
    ]);
    expect(pagesRequested()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(created).toHaveLength(5);
    expect(orders).toEqual(sb.orders().map(asSpecterOrder));
  });

  it('an order cancelled between pages: cancelled if its page was still to come, as it was if read; the next listing has both cancelled', async () => {
    const [read, ahead] = [openOn(1), openOn(4)];
    const script = sb.betweenPages(
      () => {
        sb.cancel(read.orderNo);
        sb.cancel(ahead.orderNo);
      },
      { afterPage: 2 },
    );
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(script.runs).toBe(1);
    expect(nos(orders)).toEqual(nos(BASE));
    const byNo = new Map(orders.map((o) => [o.orderNo, o]));
    expect(byNo.get(read.orderNo)).toEqual(asSpecterOrder(read));
    expect(byNo.get(ahead.orderNo)?.statusId).toBe('5');
    const next = await client().listOrdersInWindow(WINDOW);
    expect(next.filter((o) => o.orderNo === read.orderNo || o.orderNo === ahead.orderNo).map((o) => o.statusId)).toEqual(['5', '5']);
  });

  it('an order deleted from a page already read: later pages shift down, the one order the shift skips is missing and getOrder still finds it', async () => {
    const deleted = BASE[1]!;
    // The first order of page 3 moves onto page 2, which was read before the deletion.
    const skipped = BASE[10]!;
    sb.betweenPages(() => void sb.delete(deleted.orderNo), { afterPage: 2 });
    const orders = await client().listOrdersInWindow(WINDOW);
    // The deleted order was read before it went: the next cycle's getOrder says it is gone.
    expect(nos(orders)).toEqual(nos(BASE.filter((o) => o !== skipped)));
    expect(pagesRequested()).toEqual([1, 2, 3, 4, 5]);
    expect(await client().getOrder(skipped.orderNo)).toEqual(asSpecterOrder(skipped));
    expect(await client().getOrder(deleted.orderNo)).toBeNull();
    expect(nos(await client().listOrdersInWindow(WINDOW))).toEqual(nos(BASE.filter((o) => o !== deleted)));
  });

  it('an order deleted from a page still to come is simply not there; nothing else is missed', async () => {
    const deleted = BASE[17]!;
    sb.betweenPages(() => void sb.delete(deleted.orderNo), { afterPage: 2 });
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(nos(orders)).toEqual(nos(BASE.filter((o) => o !== deleted)));
  });

  it('deletions that shrink the listing by a page: it ends on the last page as the latest answer says', async () => {
    // 23 → 20 after page 4: page 5 is beyond the end (four pages) and comes back empty.
    const deleted = [BASE[0]!, BASE[6]!, BASE[12]!];
    const served: ServedPage[] = [];
    sb.betweenPages(
      (page) => {
        served.push(page);
        if (page.page === 4) for (const o of deleted) sb.delete(o.orderNo);
      },
      { times: Infinity },
    );
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(served.map((p) => [p.page, p.totalCount, p.totalPages, p.orderNos.length])).toEqual([
      [1, 23, 5, 5],
      [2, 23, 5, 5],
      [3, 23, 5, 5],
      [4, 23, 5, 5],
      [5, 20, 4, 0],
    ]);
    // Pages 1-4 were read whole before the deletions; the last three orders moved onto page 4.
    expect(nos(orders)).toEqual(nos(BASE.slice(0, 20)));
  });

  it('an order created with a lower orderNo: the next page repeats the boundary order, taken once and as the later copy', async () => {
    const boundary = BASE[9]!; // the last order of page 2
    const low = newOrder('300015'); // between BASE[1] and BASE[2], on page 1
    expect(open(boundary)).toBe(true);
    sb.betweenPages(
      () => {
        sb.add(low);
        sb.cancel(boundary.orderNo);
      },
      { afterPage: 2 },
    );
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(sb.requestsFor().length).toBe(5);
    // Page 3 started with the boundary order again; the created order sits on page 1, already read.
    expect(nos(orders)).toEqual(nos(BASE));
    expect(orders.find((o) => o.orderNo === boundary.orderNo)?.statusId).toBe('5');
    expect(nos(await client().listOrdersInWindow(WINDOW))).toEqual(nos(sb.orders()));
    expect(sb.orders().some((o) => o.orderNo === low.orderNo)).toBe(true);
  });

  it('orders created below the page being read show up in the repeated run and are kept in their place', async () => {
    // Two orders created inside page 2's range after page 2 was read: page 3 then starts with
    // the second one and the boundary repeat, both at or before the highest orderNo received.
    sb.betweenPages(() => sb.add(newOrder('300075'), newOrder('300085')), { afterPage: 2 });
    const orders = await client().listOrdersInWindow(WINDOW);
    expect(nos(orders)).toEqual([...nos(BASE.slice(0, 9)), '300085', ...nos(BASE.slice(9))]);
  });

  it('a bulk deletion within the bound passes, at the price of the orders the shift skipped (each one getOrder)', async () => {
    reset(ordersWithGaps(2000, 500_000));
    // pageSize 500: the bound is max(500, 2 % of 2,000) = 500. 400 orders of page 1 deleted after it.
    const all = sb.orders();
    sb.betweenPages(() => all.slice(0, 400).forEach((o) => sb.delete(o.orderNo)), { afterPage: 1 });
    const orders = await client(500).listOrdersInWindow(WINDOW);
    // Page 2 now starts at what was the 901st order: 400 orders slid onto page 1 unseen.
    expect(nos(orders)).toEqual(nos([...all.slice(0, 500), ...all.slice(900)]));
  });
});

describe('created, cancelled and deleted between any pages (seeded random histories)', () => {
  type Mutation = { kind: 'none' } | { kind: 'createEnd' } | { kind: 'createLow' | 'cancel' | 'delete'; at: number };
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.constant({ kind: 'createEnd' as const }),
    fc.record({ kind: fc.constantFrom('createLow' as const, 'cancel' as const, 'delete' as const), at: fc.nat() }),
  );

  it('every order that kept its position is there once; nothing twice; nothing the sandbox never held; skips at most one per deletion', async () => {
    let nextEnd = 900_000;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 6, maxLength: 6 }), async (plan) => {
        reset(BASE);
        // What each page request saw: the state before page 1, then after each script run.
        const states: SandboxOrder[][] = [sb.orders()];
        let deletions = 0;
        let step = 0;
        const script = sb.betweenPages(
          (page) => {
            if (page.last) return;
            const m = plan[step++ % plan.length]!;
            const current = sb.orders();
            if (m.kind === 'createEnd') sb.add(newOrder(String((nextEnd += 10))));
            if (m.kind === 'createLow') {
              const orderNo = String(Number(current[m.at % current.length]!.orderNo) + 1 + (m.at % 8));
              if (sb.order(orderNo) === undefined) sb.add(newOrder(orderNo));
            }
            if (m.kind === 'cancel') sb.cancel(current[m.at % current.length]!.orderNo);
            if (m.kind === 'delete') {
              sb.delete(current[m.at % current.length]!.orderNo);
              deletions += 1;
            }
            states.push(sb.orders());
          },
          { times: Infinity },
        );
        const orders = await client().listOrdersInWindow(WINDOW);
        expect(script.errors).toEqual([]);

        // Strictly ascending: no orderNo twice.
        for (let i = 1; i < orders.length; i += 1) expect(Number(orders[i]!.orderNo)).toBeGreaterThan(Number(orders[i - 1]!.orderNo));
        // Every order returned is a state the sandbox held during the listing.
        for (const order of orders) {
          const seen = states.some((state) => state.some((o) => o.orderNo === order.orderNo && isDeepStrictEqual(asSpecterOrder(o), order)));
          if (!seen) throw new Error(`order ${order.orderNo} as returned was never held by the sandbox: ${JSON.stringify(order)}`);
        }
        // Every order present at the same position in every state the pages saw is there.
        const returned = new Set(nos(orders));
        const rankIn = (state: SandboxOrder[], orderNo: string) => state.findIndex((o) => o.orderNo === orderNo);
        for (const [rank, o] of states[0]!.entries()) {
          if (states.every((state) => rankIn(state, o.orderNo) === rank))
            expect({ kept: o.orderNo, present: returned.has(o.orderNo) }).toEqual({ kept: o.orderNo, present: true });
        }
        // What went missing of the orders that existed throughout: at most one per deletion.
        const throughout = states[0]!.filter((o) => states.every((state) => rankIn(state, o.orderNo) >= 0));
        expect(throughout.filter((o) => !returned.has(o.orderNo)).length).toBeLessThanOrEqual(deletions);
      }),
      { seed: 20261126, numRuns: 80 },
    );
  }, 60_000);
});

describe('what a busy shop cannot explain is still refused', () => {
  it('a count that collapses between two pages (23 to 3)', async () => {
    sb.betweenPages(() => BASE.slice(3).forEach((o) => sb.delete(o.orderNo)), { afterPage: 1 });
    const error = await failureOf(client().listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('incomplete');
    expect(error.message).toMatch(/page 2: totalCount moved from 23 on page 1 to 3, more than the 5 orders a busy shop/);
    expect(pagesRequested()).toEqual([1, 2]);
  });

  it('a count that collapses from 10,000 to 0 between two pages', async () => {
    reset(ordersWithGaps(10_000, 1_000_000));
    const all = sb.orders();
    sb.betweenPages(() => all.forEach((o) => sb.delete(o.orderNo)), { afterPage: 1 });
    const error = await failureOf(client(500).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('incomplete');
    expect(error.message).toMatch(/page 2: totalCount moved from 10000 on page 1 to 0/);
  });

  it('a count that drifts past the bound over several pages, one step at a time', async () => {
    // Two orders deleted after each page: 23, 21, 19, 17 — six from page 1's count by page 4.
    sb.betweenPages(
      () =>
        sb
          .orders()
          .slice(-2)
          .forEach((o) => sb.delete(o.orderNo)),
      { times: Infinity },
    );
    const error = await failureOf(client().listOrdersInWindow(WINDOW));
    expect(error.message).toMatch(/page 4: totalCount moved from 23 on page 1 to 17/);
  });

  it('a page made only of orders already received (a whole page shifted between two requests)', async () => {
    // Five orders created below everything after page 1: page 2 is page 1 over again.
    sb.betweenPages(() => sb.add(...['299950', '299960', '299970', '299980', '299990'].map((n) => newOrder(n))), { afterPage: 1 });
    const error = await failureOf(client().listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('incomplete');
    expect(error.message).toMatch(
      new RegExp(`page 2: every order on the page \\(${BASE[0]!.orderNo}\\.\\.${BASE[4]!.orderNo}\\) comes at or before order ${BASE[4]!.orderNo}`),
    );
  });

  it.each(['duplicateInPage', 'swapInPage'] as const)('%s while the shop is busy: a repeat inside a page or a descending orderNo', async (tamper) => {
    let next = 400_000;
    sb.betweenPages(() => sb.add(newOrder(String((next += 10)))), { times: Infinity });
    sb.tamperListing(tamper, { page: 3 });
    const error = await failureOf(client().listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('incomplete');
    expect(error.message).toMatch(/page 3: order \d+ follows order \d+ on the same page; orderNos must be strictly ascending/);
  });

  it('a page short of pageSize before its own last page, while the totals move', async () => {
    let next = 400_000;
    sb.betweenPages(() => sb.add(newOrder(String((next += 10)))), { times: Infinity });
    sb.tamperListing('emptyPage', { page: 3 });
    const error = await failureOf(client().listOrdersInWindow(WINDOW));
    expect(error.message).toMatch(/page 3: 0 orders on the page, expected 5 \(totalCount 25, pageSize 5\)/);
  });
});
