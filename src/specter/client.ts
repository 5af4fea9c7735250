/**
 * The Specter order API client. Every assumed detail of Specter's API (docs/specter.md,
 * "Assumed") lives here (paging, getOrder's answers), in transport.ts (the endpoint, the
 * parameters, the error codes, one request with its retries) and in xml.ts.
 *
 * Its one promise: a listing is every page of the window, checked as complete as a busy shop
 * allows (listOrdersInWindow says exactly what that means), or a SpecterError. A busy shop
 * changes between two page requests and must not fail the cycle; an answer a busy shop cannot
 * explain (a collapsed count, a short page, orders out of order) fails it. The diff treats "not
 * in the listing" as a question only getOrder answers, so an order skipped because the pages
 * shifted under the listing costs one getOrder, never a false vanish.
 */
import type { SpecterSettings } from '../config/types.js';
import type { SpecterOrder, OrderWindow } from '../domain.js';
import { SpecterError } from './errors.js';
import { createSpecterTransport, NOT_FOUND, type Answer, type SpecterClientHooks } from './transport.js';

export type { SpecterClientHooks, SpecterRetryInfo } from './transport.js';

export interface SpecterClient {
  /**
   * Every page of the window, checked complete as far as a busy shop allows (orders created or
   * deleted while the pages are read: see the implementation's header), or it throws
   * SpecterError. Never a garbled or cut-short list; unique orderNos, ascending.
   * `map` turns each order into what the caller keeps as soon as its page is checked, so a large
   * listing is never held twice (once as Specter's orders, once as the caller's).
   */
  listOrdersInWindow(window: OrderWindow): Promise<SpecterOrder[]>;
  listOrdersInWindow<T>(window: OrderWindow, map: (order: SpecterOrder) => T): Promise<T[]>;
  /** null = not found (code 20, or an empty <orders/>). Any other failure throws SpecterError. */
  getOrder(orderNo: string): Promise<SpecterOrder | null>;
}

const MAX_PAGE_SIZE = 500;
/** How far totalCount may move during one listing, as a share of page 1's (listOrdersInWindow). */
const MAX_COUNT_DRIFT_SHARE = 0.02;
const DATE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$/;
const ORDER_NO = /^[1-9][0-9]*$/;
/** The page count in a raw answer's <orders> tag: only to decide whether to request the next page early. */
const TOTAL_PAGES_HINT = /<orders\s[^>]*?totalPages="([0-9]{1,9})"/;

export function createSpecterClient(settings: SpecterSettings, hooks: SpecterClientHooks = {}): SpecterClient {
  if (!Number.isInteger(settings.pageSize) || settings.pageSize < 1 || settings.pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`Specter pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${settings.pageSize}`);
  }
  if (!settings.baseUrl.endsWith('/')) throw new RangeError('Specter baseUrl must end with "/"');
  const { send } = createSpecterTransport(settings, hooks);

  /**
   * Pages `getOrders` over the window and returns every order the pages showed, once each (the
   * latest copy), in ascending orderNo — or throws SpecterError. Orders come sorted by orderNo
   * and paged by offset, and a busy shop changes between two page requests, so the rule is what
   * a busy shop can and cannot explain (each answer is taken as one consistent snapshot: a page
   * and its totals computed together):
   *
   * - Each answer must be whole by its own totals: its page number and pageSize, totalPages
   *   fitting totalCount, `pageSize` orders before its last page, exactly the rest on its last
   *   page, none beyond it, strictly ascending orderNos. A page short of pageSize before its own
   *   last page is refused; a page short because ITS totals shrank (orders deleted meanwhile) is
   *   that answer's last page, or an empty page beyond it.
   * - totalCount may move between answers (orders created or deleted meanwhile), but no answer's
   *   totalCount may be further than max(pageSize, 2 % of page 1's totalCount) from page 1's:
   *   a count that collapses (10,000 to 0, or to one page) is not a busy shop.
   * - An order created (or restored) with an orderNo the listing has already passed shifts the
   *   later pages up: the next page starts with orders at or before the highest orderNo received.
   *   Each needs an order created below it, so such a leading run may be at most as long as the
   *   count rose since the previous answer, and never a whole page. Its orders replace the
   *   earlier copies (this answer is the newer one), never counted twice; one never seen before
   *   is added in its place.
   * - A deletion of an order already passed shifts the later pages down: the order at the next
   *   page's start moves onto the page already read and is skipped. It is not in the result; the
   *   cycle finds it missing and asks getOrder, which finds it: a listing gap, never a vanish.
   * - The loop ends on the last page as the LATEST answer reports it.
   *
   * What callers can rely on: every order that existed for the whole listing and kept its
   * position (no order created or deleted before it while the pages were read) is in the result
   * exactly once; no orderNo is in it twice; nothing from an answer that fails these checks is
   * returned. An order that shifted may be missing: "not in the listing" is a question for
   * getOrder, as it always was. Skips and repeats both come from changes between requests; a
   * shop that stands still gets the complete listing, checked as before.
   */
  async function listOrdersInWindow<T>(window: OrderWindow, map?: (order: SpecterOrder) => T): Promise<Array<T | SpecterOrder>> {
    if (!DATE.test(window.fromDate) || !DATE.test(window.toDate)) {
      throw new RangeError(`order window dates must be YYYY-MM-DD, got ${JSON.stringify(window)}`);
    }
    const action = settings.actions.listOrders;
    const pageSize = settings.pageSize;
    const listing = `${action} ${window.fromDate}..${window.toDate}`;
    // Sorted by orderNo, in step: `orderNos[i]` is the orderNo of `orders[i]`.
    const orders: Array<T | SpecterOrder> = [];
    const orderNos: string[] = [];
    let firstCount: number | null = null;
    let previousCount = 0;
    let drift = 0;

    // One page ahead, never more: page p+1 is requested once page p's body has arrived (if that
    // body says there is a page p+1) and the loop has reached page p, so Specter renders p+1
    // while this process parses and checks p. Specter still sees at most one listing request at
    // a time from this client (p+1 leaves after p's answer is in), in ascending order, and never
    // more than one page is buffered ahead of the loop. A busy shop's changes between two requests
    // are judged exactly as before: every answer is still checked in page order.
    let current = 0;
    const early = new Map<number, Promise<Answer>>();
    const hintedPages = new Map<number, number>();
    const askAhead = (page: number): void => {
      const total = hintedPages.get(page);
      if (total === undefined || page + 1 > total || early.has(page + 1)) return;
      const next = request(page + 1);
      // Consumed by the loop, or left behind when this listing fails: never an unhandled rejection.
      next.catch(() => undefined);
      early.set(page + 1, next);
    };
    const request = (page: number): Promise<Answer> =>
      send({
        action,
        where: `${listing} page ${page}`,
        page,
        notFoundIsAnswer: false,
        params: { fromDate: window.fromDate, toDate: window.toDate, page: String(page), pageSize: String(pageSize) },
        onBody: (body) => {
          if (hintedPages.has(page)) return; // a retry of this page: the next one is already asked for
          const hint = TOTAL_PAGES_HINT.exec(body.toString('latin1', 0, Math.min(body.length, 1024)));
          if (hint === null) return;
          hintedPages.set(page, Number(hint[1]));
          if (current >= page) askAhead(page);
        },
      });

    try {
      for (let page = 1; ; page += 1) {
        const where = `${listing} page ${page}`;
        current = page;
        const pending = early.get(page) ?? request(page);
        early.delete(page);
        askAhead(page); // its body may have arrived while the loop was still on the page before
        const answer = await pending;
        if (answer === NOT_FOUND) throw new SpecterError('api', `${where}: unexpected not-found answer`, { action, page });
        const malformed = (message: string) => new SpecterError('malformed', `${where}: ${message}`, { action, page });
        const incomplete = (message: string) => new SpecterError('incomplete', `${where}: ${message}`, { action, page });

        if (answer.page === null) throw malformed('<orders> has no page attribute');
        if (answer.page !== page) throw incomplete(`the answer is page ${answer.page}, expected page ${page}`);
        if (answer.totalPages === null || answer.totalCount === null) {
          // An empty <orders/> is "not found" for getOrder; in a listing it could be anything,
          // and must never pass as "no orders".
          throw malformed('<orders> lacks totalPages or totalCount');
        }
        if (answer.pageSize !== null && answer.pageSize !== pageSize) {
          throw malformed(`the answer has pageSize ${answer.pageSize}, requested ${pageSize}`);
        }
        const { totalPages, totalCount } = answer;
        const fits = totalCount === 0 ? totalPages <= 1 : totalPages === Math.ceil(totalCount / pageSize);
        if (!fits) throw malformed(`totalPages ${totalPages} does not fit totalCount ${totalCount} at pageSize ${pageSize}`);
        if (firstCount === null) {
          firstCount = totalCount;
          drift = Math.max(pageSize, Math.ceil(totalCount * MAX_COUNT_DRIFT_SHARE));
        } else if (Math.abs(totalCount - firstCount) > drift) {
          throw incomplete(
            `totalCount moved from ${firstCount} on page 1 to ${totalCount}, more than the ${drift} orders a busy shop ` +
              'creates or deletes while a listing is paged (max(pageSize, 2 % of the count))',
          );
        }
        const rose = page === 1 ? 0 : totalCount - previousCount;
        previousCount = totalCount;

        const lastPage = Math.max(1, totalPages);
        const expectedOnPage = page < lastPage ? pageSize : page === lastPage ? totalCount - (lastPage - 1) * pageSize : 0;
        if (answer.orders.length !== expectedOnPage) {
          throw incomplete(`${answer.orders.length} orders on the page, expected ${expectedOnPage} (totalCount ${totalCount}, pageSize ${pageSize})`);
        }
        const onPage = answer.orders;
        for (let i = 1; i < onPage.length; i += 1) {
          if (compareOrderNos(onPage[i - 1]!.orderNo, onPage[i]!.orderNo) >= 0) {
            throw incomplete(`order ${onPage[i]!.orderNo} follows order ${onPage[i - 1]!.orderNo} on the same page; orderNos must be strictly ascending`);
          }
        }

        const highest = orderNos.length > 0 ? orderNos[orderNos.length - 1]! : null;
        let repeats = 0;
        while (highest !== null && repeats < onPage.length && compareOrderNos(onPage[repeats]!.orderNo, highest) <= 0) repeats += 1;
        if (repeats > 0 && repeats === onPage.length) {
          throw incomplete(
            `every order on the page (${onPage[0]!.orderNo}..${onPage[onPage.length - 1]!.orderNo}) comes at or before order ${highest} ` +
              'of an earlier page; a shift of a whole page between two requests is not a busy shop',
          );
        }
        if (repeats > Math.max(0, rose)) {
          throw incomplete(
            `the page starts with ${repeats} order(s) at or before order ${highest} of an earlier page, but totalCount ` +
              `${rose > 0 ? `rose by only ${rose}` : rose === 0 ? 'stood still' : `fell by ${-rose}`} since page ${page - 1}; ` +
              'each such order needs one created below it between the two requests',
          );
        }
        for (let i = 0; i < onPage.length; i += 1) {
          const order = onPage[i]!;
          const kept = map ? map(order) : order;
          if (i >= repeats) {
            orders.push(kept);
            orderNos.push(order.orderNo);
            continue;
          }
          // A boundary repeat: this answer is the newer one.
          const at = sortedIndexOf(orderNos, order.orderNo);
          if (at.found) orders[at.index] = kept;
          else {
            orders.splice(at.index, 0, kept);
            orderNos.splice(at.index, 0, order.orderNo);
          }
        }
        if (page >= lastPage) break;
      }
    } catch (error) {
      // The page asked for ahead is still on its way: the listing ends when Specter has answered
      // it, so no request of a failed listing outlives the call (nor lands in the next one).
      await Promise.allSettled(early.values());
      throw error;
    }
    // A page asked for ahead that the strict answer then did not call for: let it land here.
    if (early.size > 0) await Promise.allSettled(early.values());
    return orders;
  }

  async function getOrder(orderNo: string): Promise<SpecterOrder | null> {
    if (!ORDER_NO.test(orderNo)) throw new RangeError(`orderNo must be a positive integer, got ${JSON.stringify(orderNo)}`);
    const action = settings.actions.getOrder;
    const where = `${action} order ${orderNo}`;
    const answer = await send({ action, where, notFoundIsAnswer: true, params: { orderNo } });
    if (answer === NOT_FOUND) return null;
    if (answer.orders.length === 0) {
      // Only an empty answer that claims nothing means "not found"; totalCount="1" with no
      // <order> is a broken answer, not a deletion.
      if (answer.totalCount === null || answer.totalCount === 0) return null;
      throw new SpecterError('incomplete', `${where}: totalCount ${answer.totalCount} but no <order> in the answer`, { action });
    }
    if (answer.orders.length > 1) {
      throw new SpecterError('malformed', `${where}: the answer holds ${answer.orders.length} orders, expected one`, { action });
    }
    const order = answer.orders[0]!;
    if (order.orderNo !== orderNo) {
      throw new SpecterError('malformed', `${where}: the answer holds order ${order.orderNo} instead`, { action });
    }
    return order;
  }

  return { listOrdersInWindow: listOrdersInWindow, getOrder };
}

/** Where `orderNo` is in the ascending `orderNos`, or where it would go. */
function sortedIndexOf(orderNos: readonly string[], orderNo: string): { found: boolean; index: number } {
  let low = 0;
  let high = orderNos.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const c = compareOrderNos(orderNos[mid]!, orderNo);
    if (c === 0) return { found: true, index: mid };
    if (c < 0) low = mid + 1;
    else high = mid;
  }
  return { found: false, index: low };
}

/** Numeric order of canonical (no leading zero) digit strings, without Number's 2^53 limit. */
function compareOrderNos(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
