/**
 * A simulated Specter on 127.0.0.1, speaking the contract of docs/specter.md ("Assumed"):
 * GET /getInfo.asp, signed requests (v1 or v2 key scheme), paged getOrders over an order-date
 * window sorted by orderNo, getOrder, and the <APIresponse> error codes.
 *
 * It checks the signature with its own MD5 code, not the client's (src/specter/auth.ts), so a
 * mistake in one is caught by the other instead of being agreed on.
 *
 * Speed matters: the benchmark pages 100,000 orders out of it. Each order's XML fragment is
 * rendered once and cached until that order changes; the sorted list and each date window's
 * slice are cached until any order changes.
 *
 * One file because the server is one piece of state — the orders, their cached fragments and
 * window slices, and the scripted faults — that both actions read and every mutation invalidates
 * together; its types are in types.ts and its XML in render.ts.
 */
import { createHash } from 'node:crypto';
import { startLoopbackServer, type RecordedRequest, type SandboxResponse } from '../loopback.js';
import { esc, renderSandboxOrder } from './render.js';
import type { NotFoundAnswer, PageTamper, SandboxEncoding, SandboxOrder, ServedPage, SpecterSandbox, SpecterSandboxOptions } from './types.js';

const SANDBOX_CODES = {
  auth: 10,
  notFound: 20,
  tooManyRequests: 30,
  badParameter: 40,
  unknownAction: 50,
} as const;

const SANDBOX_HTML_PAGE =
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
      return notFoundAnswer === 'code20' ? codeAnswer(SANDBOX_CODES.notFound, 'Order not found') : xmlAnswer('<SBM>\n  <orders/>\n</SBM>\n');
    }
    return xmlAnswer(`<SBM>\n  <orders page="1" pageSize="1" totalPages="1" totalCount="1">\n${fragmentOf(entry)}\n  </orders>\n</SBM>\n`);
  }

  function handle(request: RecordedRequest): SandboxResponse {
    if (request.path.toLowerCase() !== '/getinfo.asp') {
      return {
        status: 404,
        headers: { 'content-type': 'text/html' },
        body: '<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head><body></body></html>',
      };
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
      q.get('sbmId') === String(credentials.sbmId) && q.get('apiUserId') === credentials.apiUserId && batchNo !== '' && q.get('key') === expectedKey(batchNo);
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
