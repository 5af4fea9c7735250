/**
 * A simulated Specter on 127.0.0.1, speaking the contract of specter-api.md ("Assumed"):
 * GET /getInfo.asp, signed requests (v1 or v2 key scheme), paged getOrders over an order-date
 * window sorted by orderNo, getOrder, and the <APIresponse> error codes.
 *
 * It checks the signature with its own MD5 code, not the client's (src/specter/auth.ts), so a
 * mistake in one is caught by the other instead of being agreed on.
 *
 * Speed matters: the benchmark pages 100,000 orders out of it. Each order's XML fragment is
 * rendered once and cached until that order changes; the sorted list and each date window's
 * slice are cached until any order changes.
 */
import { createHash } from 'node:crypto';
import type { SpecterSettings } from '../../config/types.js';
import type { SpecterOrder } from '../../domain.js';
import { startLoopbackServer, type FaultPlan, type RecordedRequest, type SandboxResponse } from '../loopback.js';

/** The sandbox's order record: a SpecterOrder, plus raw XML for tests that need odd content. */
export interface SandboxOrder extends SpecterOrder {
  /** Placed inside <order> verbatim (unknown elements, deliberately broken content). */
  extraXml?: string;
}

export type SandboxEncoding = 'utf-8' | 'iso-8859-1';

/** How a missing order answers getOrder: both occur on real accounts. */
export type NotFoundAnswer = 'code20' | 'emptyOrders';

/**
 * Scripted damage to a getOrders page:
 * - truncate: the body is cut in half (an answer that ends mid-document)
 * - emptyPage: the page comes with its header but no <order> (a missing page)
 * - wrongTotalCount: totalCount one higher (totalPages computed from it, a consistent lie)
 * - wrongPageAttribute: page="N+1" on page N
 * - repeatPrevious: the page starts one order early, totals unchanged (a shift up the totals do
 *   not show; `betweenPages` makes the real thing)
 * - skipOne: the page starts one order late, totals unchanged (a shift down the totals do not show)
 * - noTotals: <orders> without totalPages and totalCount
 * - duplicateInPage: the page's second order is a copy of its first (a repeat inside one page)
 * - swapInPage: the page's first two orders swapped (descending orderNos)
 */
export type PageTamper =
  | 'truncate'
  | 'emptyPage'
  | 'wrongTotalCount'
  | 'wrongPageAttribute'
  | 'repeatPrevious'
  | 'skipOne'
  | 'noTotals'
  | 'duplicateInPage'
  | 'swapInPage';

/** What a between-pages script is told about the getOrders page just answered. */
export interface ServedPage {
  page: number;
  pageSize: number;
  totalPages: number;
  totalCount: number;
  /** The orderNos on the page, as served. */
  orderNos: readonly string[];
  /** page >= totalPages: no further page of this listing follows. */
  last: boolean;
}

/** A between-pages script, as `betweenPages` registered it. */
export interface BetweenPagesScript {
  /** How many times it has run (a test can show its script was not dead code). */
  readonly runs: number;
  /** What it threw; a throwing script never changes the answer it followed. */
  readonly errors: readonly unknown[];
}

export interface SpecterSandboxOptions {
  /** Default 4711. */
  sbmId?: number;
  /** Default "sandbox-reader". */
  apiUserId?: string;
  /** Default "sandbox-api-user-key". */
  apiUserKey?: string;
  /** Set → the sandbox expects the v2 key scheme. Default null (v1). */
  integrationKey?: string | null;
  orders?: readonly SandboxOrder[];
  /** Default 'utf-8'. */
  encoding?: SandboxEncoding;
  /** Default 'code20'. */
  notFound?: NotFoundAnswer;
  /** Default { listOrders: 'getOrders', getOrder: 'getOrder' }. */
  actions?: { listOrders: string; getOrder: string };
  /** Default 500, as specter-api.md assumes; larger pageSize answers code 40. */
  maxPageSize?: number;
  /** Default 0: any free port. */
  port?: number;
}

/** The codes the sandbox answers. 10/20/30 are Specter's; 40/50 stand for "some other code". */
export const SANDBOX_CODES = {
  auth: 10,
  notFound: 20,
  tooManyRequests: 30,
  badParameter: 40,
  unknownAction: 50,
} as const;

export interface SpecterSandbox {
  /** e.g. "http://127.0.0.1:41234/" — with the trailing slash, ready for SPECTER_BASE_URL. */
  url: string;
  port: number;
  /** Every request received, in order (query includes key and batchNo). */
  requests: RecordedRequest[];
  /** Transport-level faults (status/HTML page, reset, hang, delay, slow body): loopback.ts. */
  faults: FaultPlan;
  credentials: { sbmId: number; apiUserId: string; apiUserKey: string; integrationKey: string | null };
  actions: { listOrders: string; getOrder: string };
  /** SpecterSettings pointing at this sandbox with its credentials; small timeouts and retry delays. */
  settings(overrides?: Partial<SpecterSettings>): SpecterSettings;

  /** Adds orders; throws if an orderNo exists already. */
  add(...orders: SandboxOrder[]): void;
  /** Adds or replaces orders by orderNo. */
  upsert(...orders: SandboxOrder[]): void;
  /** Changes fields of an existing order. */
  update(orderNo: string, patch: Partial<Omit<SandboxOrder, 'orderNo'>>): void;
  /** statusId "5". */
  cancel(orderNo: string): void;
  /** deliveryStatus "D". */
  deliver(orderNo: string): void;
  /** The trash icon: gone from listings and getOrder, without a trace. Returns whether it existed. */
  delete(orderNo: string): boolean;
  /**
   * Leaves the order out of the next `times` listings (default 1), while getOrder still finds
   * it: a listing gap. A listing starts with a page-1 request; totals are computed without the
   * order, so the listing looks complete.
   */
  hideFromListing(orderNo: string, times?: number): void;
  /** The next `times` (default 1) requests (of `action`, if given) answer <APIresponse><code>. */
  failWithCode(code: number, options?: { times?: number; action?: string; message?: string }): void;
  /** Damages the next `times` (default 1) getOrders answers (for `page`, if given). */
  tamperListing(tamper: PageTamper, options?: { page?: number; times?: number }): void;
  /** The next `times` (default 1) requests answer an HTML error page (HTTP `status`, default 200). */
  serveHtmlPage(options?: { status?: number; times?: number }): void;
  /**
   * A busy shop: runs `script` right after a getOrders page is answered (its content fixed) and
   * before the next request is read, so what it does (add, cancel, delete, …: the methods above)
   * lands between two page requests of one listing. It runs after every page, the last one too
   * (`served.last`); `afterPage` limits it to one page number, `times` (default 1, Infinity:
   * until cleared) to a number of runs. Pages answered by a scripted code or transport fault
   * never reach it.
   */
  betweenPages(script: (served: ServedPage) => void, options?: { afterPage?: number; times?: number }): BetweenPagesScript;
  /** Forgets every scripted code, tamper, listing gap, between-pages script and transport fault not yet consumed. */
  clearScripts(): void;
  setEncoding(encoding: SandboxEncoding): void;
  setNotFoundAnswer(answer: NotFoundAnswer): void;

  /** A copy of the order as the sandbox holds it, or undefined. */
  order(orderNo: string): SandboxOrder | undefined;
  /** Copies of all orders, sorted by orderNo. */
  orders(): SandboxOrder[];
  /** The recorded requests of one action (default: the listing action). */
  requestsFor(action?: string): RecordedRequest[];
  close(): Promise<void>;
}

export const SANDBOX_HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>' +
  '<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request.</p></body></html>\n';

interface Entry {
  order: SandboxOrder;
  /** The cached <order> element, or null after a change. */
  fragment: string | null;
}

interface Hidden {
  remaining: number;
  /** Whether the listing in progress (since the last page-1 request) leaves it out. */
  active: boolean;
}

interface PlannedCode {
  code: number;
  message: string;
  action: string | undefined;
  remaining: number;
}

interface PlannedScript {
  script: (served: ServedPage) => void;
  afterPage: number | undefined;
  remaining: number;
  handle: { runs: number; errors: unknown[] };
}

interface PlannedTamper {
  tamper: PageTamper;
  page: number | undefined;
  remaining: number;
}

const ORDER_NO = /^[1-9][0-9]*$/;
const DATE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$/;
const BATCH_NO = /^[0-9a-fA-F]{32}$/;
const POSITIVE_INT = /^[1-9][0-9]{0,8}$/;

/** The sandbox's own MD5: deliberately not src/specter/auth.ts (see the header comment). */
function md5(text: string): string {
  return createHash('md5').update(Buffer.from(text, 'utf8')).digest('hex');
}

function compareOrderNo(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

const NEEDS_ESCAPE = /[&<>"'\u0000-\u001f\u007f-\u009f\u0100-\uffff]/;

/**
 * Attribute/text escaping. Characters beyond Latin-1 become numeric references, so one cached
 * fragment serves both encodings; å ä ö stay raw bytes (the point of the encoding tests).
 */
function esc(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += `&#${cp};`;
    else if (cp < 0x20) out += '&#xFFFD;';
    else if (cp >= 0x7f && cp <= 0x9f) out += `&#${cp};`;
    else if (cp > 0xff) out += `&#${cp};`;
    else out += ch;
  }
  return out;
}

function attr(name: string, value: string | null): string {
  return value === null ? '' : ` ${name}="${esc(value)}"`;
}

/** The <order> element the sandbox serves for `o` (exported for round-trip tests of the parser). */
export function renderSandboxOrder(o: SandboxOrder): string {
  let xml = `<order${attr('orderNo', o.orderNo)}${attr('externalOrderNo', o.externalOrderNo)}${attr('orderDate', o.orderDate)}${attr('lastChanged', o.lastChanged)}>`;
  xml += `<orderstatus${attr('statusId', o.statusId)}${attr('deliveryStatus', o.deliveryStatus)}/>`;
  const p = o.payment;
  if (p !== null) {
    xml +=
      `<payment${attr('payTypeIdentifier', p.payTypeIdentifier)}${attr('payTypeReference', p.payTypeReference)}` +
      `${attr('payTypeIdentifierPaySystemUser', p.payTypeIdentifierPaySystemUser)}${attr('currency', p.currency)}` +
      `${attr('totalIncVat', p.totalIncVat)}/>`;
  }
  if (o.customerName !== null) xml += `<customer${attr('name', o.customerName)}/>`;
  if (o.extraXml !== undefined) xml += o.extraXml;
  return `${xml}</order>`;
}

function copyOrder(o: SandboxOrder): SandboxOrder {
  return { ...o, payment: o.payment === null ? null : { ...o.payment } };
}

export async function startSpecterSandbox(options: SpecterSandboxOptions = {}): Promise<SpecterSandbox> {
  const credentials = {
    sbmId: options.sbmId ?? 4711,
    apiUserId: options.apiUserId ?? 'sandbox-reader',
    apiUserKey: options.apiUserKey ?? 'sandbox-api-user-key',
    integrationKey: options.integrationKey ?? null,
  };
  const actions = options.actions ?? { listOrders: 'getOrders', getOrder: 'getOrder' };
  const maxPageSize = options.maxPageSize ?? 500;
  let encoding: SandboxEncoding = options.encoding ?? 'utf-8';
  let notFoundAnswer: NotFoundAnswer = options.notFound ?? 'code20';

  const entries = new Map<string, Entry>();
  let sorted: Entry[] | null = null;
  const windows = new Map<string, Entry[]>();
  const hidden = new Map<string, Hidden>();
  const plannedCodes: PlannedCode[] = [];
  const plannedTampers: PlannedTamper[] = [];
  const plannedScripts: PlannedScript[] = [];

  function changed(structure: boolean): void {
    windows.clear();
    if (structure) sorted = null;
  }

  function put(order: SandboxOrder, allowReplace: boolean): void {
    if (!ORDER_NO.test(order.orderNo)) throw new Error(`sandbox: orderNo ${JSON.stringify(order.orderNo)} is not a positive integer`);
    const existing = entries.get(order.orderNo);
    if (existing !== undefined) {
      if (!allowReplace) throw new Error(`sandbox: order ${order.orderNo} exists already`);
      existing.order = copyOrder(order);
      existing.fragment = null;
      changed(false);
      return;
    }
    entries.set(order.orderNo, { order: copyOrder(order), fragment: null });
    changed(true);
  }

  function mustGet(orderNo: string): Entry {
    const entry = entries.get(orderNo);
    if (entry === undefined) throw new Error(`sandbox: no order ${orderNo}`);
    return entry;
  }

  function update(orderNo: string, patch: Partial<Omit<SandboxOrder, 'orderNo'>>): void {
    const entry = mustGet(orderNo);
    entry.order = copyOrder({ ...entry.order, ...patch, orderNo });
    entry.fragment = null;
    changed(false);
  }

  function sortedEntries(): Entry[] {
    if (sorted === null) sorted = [...entries.values()].sort((a, b) => compareOrderNo(a.order.orderNo, b.order.orderNo));
    return sorted;
  }

  function windowEntries(fromDate: string, toDate: string): Entry[] {
    const cacheKey = `${fromDate}|${toDate}`;
    let list = windows.get(cacheKey);
    if (list === undefined) {
      list = sortedEntries().filter((e) => {
        const day = e.order.orderDate.slice(0, 10);
        return day >= fromDate && day <= toDate;
      });
      windows.set(cacheKey, list);
    }
    return list;
  }

  function fragmentOf(entry: Entry): string {
    if (entry.fragment === null) entry.fragment = renderSandboxOrder(entry.order);
    return entry.fragment;
  }

  function xmlAnswer(body: string): SandboxResponse {
    const document = `<?xml version="1.0" encoding="${encoding}"?>\n${body}`;
    return {
      status: 200,
      headers: { 'content-type': `text/xml; charset=${encoding}` },
      body: Buffer.from(document, encoding === 'utf-8' ? 'utf8' : 'latin1'),
    };
  }

  function codeAnswer(code: number, message: string): SandboxResponse {
    return xmlAnswer(`<SBM>\n  <APIresponse>\n    <code>${code}</code>\n    <message>${esc(message)}</message>\n  </APIresponse>\n</SBM>\n`);
  }

  function expectedKey(batchNo: string): string {
    const inner = md5(credentials.apiUserKey + String(credentials.sbmId) + batchNo);
    return credentials.integrationKey ? md5(credentials.integrationKey + inner) : inner;
  }

  function takeTamper(page: number): PageTamper | undefined {
    const index = plannedTampers.findIndex((t) => t.remaining > 0 && (t.page === undefined || t.page === page));
    if (index < 0) return undefined;
    const planned = plannedTampers[index]!;
    planned.remaining -= 1;
    if (planned.remaining <= 0) plannedTampers.splice(index, 1);
    return planned.tamper;
  }

  function takeCode(action: string): PlannedCode | undefined {
    const index = plannedCodes.findIndex((c) => c.remaining > 0 && (c.action === undefined || c.action === action));
    if (index < 0) return undefined;
    const planned = plannedCodes[index]!;
    planned.remaining -= 1;
    if (planned.remaining <= 0) plannedCodes.splice(index, 1);
    return planned;
  }

  function runBetweenPages(served: ServedPage): void {
    // A copy: a script that adds or removes scripts must not change who runs this time.
    for (const planned of [...plannedScripts]) {
      if (planned.remaining <= 0 || (planned.afterPage !== undefined && planned.afterPage !== served.page)) continue;
      planned.remaining -= 1;
      if (planned.remaining <= 0) plannedScripts.splice(plannedScripts.indexOf(planned), 1);
      planned.handle.runs += 1;
      try {
        planned.script(served);
      } catch (error) {
        planned.handle.errors.push(error);
      }
    }
  }

  function startListing(): void {
    for (const [orderNo, h] of hidden) {
      h.active = h.remaining > 0;
      if (h.active) h.remaining -= 1;
      else hidden.delete(orderNo);
    }
  }

  function listOrders(query: URLSearchParams): SandboxResponse {
    const fromDate = query.get('fromDate') ?? '';
    const toDate = query.get('toDate') ?? '';
    const pageText = query.get('page') ?? '';
    const pageSizeText = query.get('pageSize') ?? '';
    if (!DATE.test(fromDate) || !DATE.test(toDate)) return codeAnswer(SANDBOX_CODES.badParameter, 'fromDate and toDate must be YYYY-MM-DD');
    if (!POSITIVE_INT.test(pageText)) return codeAnswer(SANDBOX_CODES.badParameter, 'page must be a positive integer');
    if (!POSITIVE_INT.test(pageSizeText) || Number(pageSizeText) > maxPageSize) {
      return codeAnswer(SANDBOX_CODES.badParameter, `pageSize must be from 1 to ${maxPageSize}`);
    }
    const page = Number(pageText);
    const pageSize = Number(pageSizeText);
    if (page === 1) startListing();

    let list = windowEntries(fromDate, toDate);
    let anyHidden = false;
    for (const h of hidden.values()) anyHidden ||= h.active;
    if (anyHidden) list = list.filter((e) => hidden.get(e.order.orderNo)?.active !== true);

    const tamper = takeTamper(page);
    const totalCount = list.length + (tamper === 'wrongTotalCount' ? 1 : 0);
    const totalPages = Math.ceil(totalCount / pageSize);
    let offset = (page - 1) * pageSize;
    if (tamper === 'repeatPrevious') offset = Math.max(0, offset - 1);
    if (tamper === 'skipOne') offset += 1;
    const slice = tamper === 'emptyPage' ? [] : list.slice(offset, offset + pageSize);
    if (slice.length >= 2 && tamper === 'duplicateInPage') slice[1] = slice[0]!;
    if (slice.length >= 2 && tamper === 'swapInPage') [slice[0], slice[1]] = [slice[1]!, slice[0]!];

    const pageAttr = tamper === 'wrongPageAttribute' ? page + 1 : page;
    const totals = tamper === 'noTotals' ? '' : ` totalPages="${totalPages}" totalCount="${totalCount}"`;
    const parts: string[] = [`<SBM>\n  <orders page="${pageAttr}" pageSize="${pageSize}"${totals}>`];
    for (const entry of slice) parts.push(fragmentOf(entry));
    parts.push('  </orders>\n</SBM>\n');
    const answer = xmlAnswer(parts.join('\n'));
    if (tamper === 'truncate') {
      const bytes = answer.body as Buffer;
      answer.body = bytes.subarray(0, Math.floor(bytes.length / 2));
    }
    // The answer is rendered: what the script changes is seen from the next request on.
    if (plannedScripts.length > 0) {
      runBetweenPages({ page, pageSize, totalPages, totalCount, orderNos: slice.map((e) => e.order.orderNo), last: page >= totalPages });
    }
    return answer;
  }

  function getOrder(query: URLSearchParams): SandboxResponse {
    const orderNo = query.get('orderNo') ?? '';
    if (!ORDER_NO.test(orderNo)) return codeAnswer(SANDBOX_CODES.badParameter, 'orderNo must be a positive integer');
    const entry = entries.get(orderNo);
    if (entry === undefined) {
      return notFoundAnswer === 'code20'
        ? codeAnswer(SANDBOX_CODES.notFound, 'Order not found')
        : xmlAnswer('<SBM>\n  <orders/>\n</SBM>\n');
    }
    return xmlAnswer(`<SBM>\n  <orders page="1" pageSize="1" totalPages="1" totalCount="1">\n${fragmentOf(entry)}\n  </orders>\n</SBM>\n`);
  }

  function handle(request: RecordedRequest): SandboxResponse {
    if (request.path.toLowerCase() !== '/getinfo.asp') {
      return { status: 404, headers: { 'content-type': 'text/html' }, body: '<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body></body></html>' };
    }
    if (request.method !== 'GET') return { status: 405, headers: { 'content-type': 'text/html' }, body: '<html><body>405</body></html>' };
    const q = request.query;
    // Without useXML=2 the real service answers its default (non-XML) format.
    if (q.get('useXML') !== '2') return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'Error: useXML=2 required by this sandbox' };
    const action = q.get('Action') ?? '';
    const planned = takeCode(action);
    if (planned !== undefined) return codeAnswer(planned.code, planned.message);

    const batchNo = q.get('batchNo') ?? '';
    const signed =
      q.get('sbmId') === String(credentials.sbmId) &&
      q.get('apiUserId') === credentials.apiUserId &&
      batchNo !== '' &&
      q.get('key') === expectedKey(batchNo);
    if (!signed) return codeAnswer(SANDBOX_CODES.auth, 'Authentication failed');
    if (!BATCH_NO.test(batchNo)) return codeAnswer(SANDBOX_CODES.badParameter, 'batchNo must be 32 hex characters');

    if (action === actions.listOrders) return listOrders(q);
    if (action === actions.getOrder) return getOrder(q);
    return codeAnswer(SANDBOX_CODES.unknownAction, `Unknown Action ${action}`);
  }

  for (const order of options.orders ?? []) put(order, true);
  const server = await startLoopbackServer(handle, options.port ?? 0);
  const url = `${server.url}/`;

  return {
    url,
    port: server.port,
    requests: server.requests,
    faults: server.faults,
    credentials,
    actions,
    settings: (overrides = {}) => ({
      baseUrl: url,
      sbmId: credentials.sbmId,
      apiUserId: credentials.apiUserId,
      apiUserKey: credentials.apiUserKey,
      integrationKey: credentials.integrationKey,
      timeoutMs: 5000,
      maxAttempts: 3,
      retryMinMs: 5,
      retryMaxMs: 50,
      pageSize: 500,
      actions: { ...actions },
      statusMap: { cancelledStatusIds: ['5'], deliveredDeliveryStatuses: ['D'] },
      ...overrides,
    }),
    add: (...orders) => orders.forEach((o) => put(o, false)),
    upsert: (...orders) => orders.forEach((o) => put(o, true)),
    update,
    cancel: (orderNo) => update(orderNo, { statusId: '5' }),
    deliver: (orderNo) => update(orderNo, { deliveryStatus: 'D' }),
    delete(orderNo) {
      const existed = entries.delete(orderNo);
      if (existed) changed(true);
      return existed;
    },
    hideFromListing(orderNo, times = 1) {
      hidden.set(orderNo, { remaining: times, active: false });
    },
    failWithCode(code, opts = {}) {
      plannedCodes.push({ code, message: opts.message ?? `Error ${code}`, action: opts.action, remaining: opts.times ?? 1 });
    },
    tamperListing(tamper, opts = {}) {
      plannedTampers.push({ tamper, page: opts.page, remaining: opts.times ?? 1 });
    },
    serveHtmlPage(opts = {}) {
      server.faults.add(
        { kind: 'status', status: opts.status ?? 200, body: SANDBOX_HTML_PAGE, headers: { 'content-type': 'text/html; charset=utf-8' } },
        { times: opts.times ?? 1 },
      );
    },
    betweenPages(script, opts = {}) {
      const handle = { runs: 0, errors: [] as unknown[] };
      plannedScripts.push({ script, afterPage: opts.afterPage, remaining: opts.times ?? 1, handle });
      return handle;
    },
    clearScripts() {
      plannedCodes.length = 0;
      plannedTampers.length = 0;
      plannedScripts.length = 0;
      hidden.clear();
      server.faults.clear();
    },
    setEncoding(next) {
      encoding = next;
    },
    setNotFoundAnswer(next) {
      notFoundAnswer = next;
    },
    order: (orderNo) => {
      const entry = entries.get(orderNo);
      return entry === undefined ? undefined : copyOrder(entry.order);
    },
    orders: () => sortedEntries().map((e) => copyOrder(e.order)),
    requestsFor: (action = actions.listOrders) => server.requests.filter((r) => r.query.get('Action') === action),
    close: () => server.close(),
  };
}
