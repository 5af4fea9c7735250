/**
 * The Specter order API client. Every assumed detail of Specter's API (specter-api.md,
 * "Assumed") lives here and in xml.ts: the endpoint, the parameters, paging, error codes.
 *
 * Its one promise: a listing is every page of the window, checked as complete as a busy shop
 * allows (listOrdersInWindow says exactly what that means), or a SpecterError. A busy shop
 * changes between two page requests and must not fail the cycle; an answer a busy shop cannot
 * explain (a collapsed count, a short page, orders out of order) fails it. The diff treats "not
 * in the listing" as a question only getOrder answers, so an order skipped because the pages
 * shifted under the listing costs one getOrder, never a false vanish.
 */
import axios, { type AxiosResponse } from 'axios';
import type { SpecterSettings } from '../config/types.js';
import type { SpecterOrder } from '../domain.js';
import { redact } from '../outbound/redact.js';
import { retry } from '../outbound/retry.js';
import { retryAfterMs } from '../outbound/retryAfter.js';
import { computeSpecterKey, keySchemeOf, newBatchNo } from './auth.js';
import { SpecterError } from './errors.js';
import { decodeSpecterBody, parseSpecterDocument, type ParsedOrdersPage } from './xml.js';

export interface OrderWindow {
  /** 'YYYY-MM-DD', inclusive, on the order date. */
  fromDate: string;
  /** 'YYYY-MM-DD', inclusive. */
  toDate: string;
}

export interface SpecterRetryInfo {
  /** The configured action name, e.g. "getOrders". */
  action: string;
  /** The attempt that just failed (1-based). */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** The failed attempt's error message (never holds a secret). */
  reason: string;
}

export interface SpecterClientHooks {
  onRetry?: (info: SpecterRetryInfo) => void;
}

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

/** Specter's <APIresponse> codes (specter-api.md, "Errors"). */
const CODE_AUTH = 10;
const CODE_NOT_FOUND = 20;
const CODE_TOO_MANY_REQUESTS = 30;

const MAX_PAGE_SIZE = 500;
/** How far totalCount may move during one listing, as a share of page 1's (listOrdersInWindow). */
const MAX_COUNT_DRIFT_SHARE = 0.02;
const DATE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$/;
const ORDER_NO = /^[1-9][0-9]*$/;
const NOT_FOUND = Symbol('not found');
/** What one request came to: a page (or an order) as parsed, or getOrder's not-found answer. */
type Answer = ParsedOrdersPage | typeof NOT_FOUND;

interface PreparedRequest {
  action: string;
  /** e.g. "getOrders 2026-10-01..2026-11-26 page 2": the prefix of every error message. */
  where: string;
  params: Record<string, string>;
  page?: number;
  /** getOrder only: code 20 is an answer, not an error. */
  notFoundIsAnswer: boolean;
}

export function createSpecterClient(settings: SpecterSettings, hooks: SpecterClientHooks = {}): SpecterClient {
  if (!Number.isInteger(settings.pageSize) || settings.pageSize < 1 || settings.pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`Specter pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${settings.pageSize}`);
  }
  if (!settings.baseUrl.endsWith('/')) throw new RangeError('Specter baseUrl must end with "/"');
  const endpoint = `${settings.baseUrl}getInfo.asp`;
  const host = hostOf(settings.baseUrl);
  const scheme = keySchemeOf(settings);
  const http = axios.create();

  async function fetchOnce(request: PreparedRequest): Promise<Answer> {
    const batchNo = newBatchNo();
    const key = computeSpecterKey(settings, batchNo);
    const query = new URLSearchParams({
      Action: request.action,
      sbmId: String(settings.sbmId),
      apiUserId: settings.apiUserId,
      useXML: '2',
      batchNo,
      key,
      ...request.params,
    });
    // Text that came from outside (Specter's messages, parse errors) could echo a secret back.
    const scrub = (text: string): string => redact(text, [settings.apiUserKey, settings.integrationKey, key]);

    let response: AxiosResponse<unknown>;
    try {
      response = await http.request({
        method: 'GET',
        url: `${endpoint}?${query.toString()}`,
        responseType: 'arraybuffer',
        // axios' timeout only fires on an idle socket; the signal bounds the whole exchange, so
        // a body that trickles in a byte at a time still ends within timeoutMs.
        timeout: settings.timeoutMs,
        signal: AbortSignal.timeout(settings.timeoutMs),
        validateStatus: () => true,
        // A redirect would carry the signed query to another location (a login page, another
        // host): never follow one.
        maxRedirects: 0,
        maxContentLength: 256 * 1024 * 1024,
        headers: { Accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
      });
    } catch (error) {
      // Never rethrow an axios error: its config holds the URL with `key`.
      throw transportError(error, request);
    }

    try {
      return interpret(response, request);
    } catch (error) {
      if (error instanceof SpecterError) throw withMessage(error, scrub(error.message));
      throw new SpecterError('malformed', scrub(`${request.where}: could not read the answer (${describe(error)})`), {
        action: request.action,
        page: request.page,
      });
    }
  }

  function interpret(response: AxiosResponse<unknown>, request: PreparedRequest): Answer {
    const { where, action, page } = request;
    const status = response.status;
    const common = { action, page, httpStatus: status, retryAfterMs: retryAfterMs(response.headers) };
    if (status === 429) {
      throw new SpecterError('rate_limited', `${where}: Specter answered HTTP 429 (too many requests)`, common);
    }
    if (status >= 500 || status === 408) {
      throw new SpecterError('http', `${where}: Specter answered HTTP ${status}`, { ...common, retriable: true });
    }
    if (status >= 300 && status < 400) {
      throw new SpecterError('http', `${where}: Specter answered a redirect (HTTP ${status}); check SPECTER_BASE_URL`, common);
    }
    if (status < 200 || status >= 300) {
      const hint = status === 404 ? '; check SPECTER_BASE_URL' : '';
      throw new SpecterError('http', `${where}: Specter answered HTTP ${status}${hint}`, common);
    }

    const body = toBuffer(response.data);
    const notXml = sniffNotXml(body);
    if (notXml !== null) throw new SpecterError('not_xml', `${where}: the answer is not XML (${notXml})`, { action, page, httpStatus: status });

    let parsed: ParsedOrdersPage;
    try {
      parsed = parseSpecterDocument(decodeSpecterBody(body));
    } catch (error) {
      if (!(error instanceof SpecterError)) throw error;
      if (error.kind !== 'api' || error.code === undefined) {
        throw new SpecterError(error.kind, `${where}: ${error.message}`, { action, page });
      }
      return classifyApiCode(error.code, error.message, request);
    }
    return parsed;
  }

  function classifyApiCode(code: number, message: string, request: PreparedRequest): typeof NOT_FOUND {
    const { where, action, page } = request;
    if (code === CODE_NOT_FOUND && request.notFoundIsAnswer) return NOT_FOUND;
    if (code === CODE_AUTH) {
      throw new SpecterError(
        'auth',
        `${where}: Specter refused the credentials (code ${CODE_AUTH}); check SPECTER_SBM_ID, SPECTER_API_USER_ID, ` +
          `SPECTER_API_USER_KEY and SPECTER_INTEGRATION_KEY (this client signs with the ${scheme} key scheme: ` +
          `${scheme === 'v2' ? 'SPECTER_INTEGRATION_KEY is set' : 'SPECTER_INTEGRATION_KEY is not set'})`,
        { code, action, page },
      );
    }
    if (code === CODE_TOO_MANY_REQUESTS) {
      throw new SpecterError('rate_limited', `${where}: ${message} (too many requests)`, { code, action, page });
    }
    throw new SpecterError('api', `${where}: ${message}`, { code, action, page });
  }

  function transportError(error: unknown, request: PreparedRequest): SpecterError {
    const { where, action, page } = request;
    if (axios.isAxiosError(error)) {
      const code = error.code ?? 'unknown';
      // ERR_CANCELED: the only thing that aborts our requests is the AbortSignal.timeout above.
      if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
        return new SpecterError('timeout', `${where}: no complete answer from ${host} within ${settings.timeoutMs} ms`, { action, page });
      }
      return new SpecterError('network', `${where}: network error ${code} talking to ${host}`, { action, page });
    }
    return new SpecterError('network', `${where}: request to ${host} failed (${error instanceof Error ? error.name : typeof error})`, {
      action,
      page,
    });
  }

  /** One request with its own retries: a failed page 7 repeats page 7, not the whole listing. */
  async function send(request: PreparedRequest): Promise<Answer> {
    const sent = await retry<Answer | SpecterError, SpecterError>({
      maxAttempts: settings.maxAttempts,
      // Retry-After is honoured, but never beyond retryMaxMs: a `once` run must end (bounded patience).
      bounds: settings,
      attempt: async () => {
        try {
          return { kind: 'final', value: await fetchOnce(request) };
        } catch (error) {
          const failure = error instanceof SpecterError ? error : new SpecterError('malformed', `${request.where}: ${describe(error)}`);
          return failure.retriable ? { kind: 'transient', failure, retryAfterMs: failure.retryAfterMs } : { kind: 'final', value: failure };
        }
      },
      beforeWait: ({ failure, attempt, delayMs }) => {
        try {
          hooks.onRetry?.({ action: request.action, attempt, delayMs, reason: failure.message });
        } catch {
          // A logging hook must not change the outcome of a request.
        }
        return true;
      },
    });
    const last = sent.kind === 'final' ? sent.value : sent.failure;
    if (!(last instanceof SpecterError)) return last;
    throw sent.attempts > 1 ? withMessage(last, `${last.message} (gave up after ${sent.attempts} attempts)`) : last;
  }

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

    for (let page = 1; ; page += 1) {
      const where = `${listing} page ${page}`;
      const answer = await send({
        action,
        where,
        page,
        notFoundIsAnswer: false,
        params: { fromDate: window.fromDate, toDate: window.toDate, page: String(page), pageSize: String(pageSize) },
      });
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

  return { listOrdersInWindow: listOrdersInWindow as SpecterClient['listOrdersInWindow'], getOrder };
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
export function compareOrderNos(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sniffNotXml(body: Buffer): string | null {
  let i = 0;
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) i = 3;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i += 1;
  if (i >= body.length) return 'the body is empty';
  if (body[i] !== 0x3c /* < */) return 'it does not start with "<"';
  // Content-Type is no evidence either way: classic ASP answers text/html unless told otherwise.
  const head = body.toString('latin1', i, Math.min(body.length, i + 512)).toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || /^<!--[\s\S]*?-->\s*<(?:!doctype html|html)/.test(head)) {
    return 'an HTML page';
  }
  return null;
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data, 'latin1');
  return Buffer.alloc(0);
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return 'Specter';
  }
}

function withMessage(error: SpecterError, message: string): SpecterError {
  if (message === error.message) return error;
  return new SpecterError(error.kind, message, {
    retriable: error.retriable,
    code: error.code,
    httpStatus: error.httpStatus,
    action: error.action,
    page: error.page,
    retryAfterMs: error.retryAfterMs,
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
