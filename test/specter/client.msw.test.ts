/**
 * The Specter client against msw: the exact request (the key recomputed here from the documented
 * formula with node:crypto, not with the client's helper), paging and its completeness checks,
 * every error answer with its retry behaviour, and that no secret ever reaches an error.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { delay, http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import type { SpecterSettings } from '../../src/config/types.js';
import { createSpecterClient, type SpecterRetryInfo } from '../../src/specter/client.js';
import { SpecterError } from '../../src/specter/errors.js';

const BASE = 'https://api.specter.test/';
const API_USER_KEY = 'apiuserkey-Secret-91f3';
const INTEGRATION_KEY = 'integration-Secret-77ab';

const baseSettings: SpecterSettings = {
  baseUrl: BASE,
  sbmId: 4711,
  apiUserId: 'reader-7',
  apiUserKey: API_USER_KEY,
  integrationKey: null,
  timeoutMs: 2000,
  maxAttempts: 3,
  retryMinMs: 5,
  retryMaxMs: 20,
  pageSize: 2,
  actions: { listOrders: 'getOrders', getOrder: 'getOrder' },
  statusMap: { cancelledStatusIds: ['5'], deliveredDeliveryStatuses: ['D'] },
};

const WINDOW = { fromDate: '2026-10-01', toDate: '2026-11-26' };

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

type Responder = (url: URL) => Response | Promise<Response>;
const seen: URL[] = [];
let responders: Responder[] = [];
/** Used when the script has run out. */
let fallback: Responder | null = null;

const server = setupServer(
  http.get(`${BASE}getInfo.asp`, async ({ request }) => {
    const url = new URL(request.url);
    seen.push(url);
    const next = responders.shift() ?? fallback;
    if (next === null) return new HttpResponse('no scripted answer', { status: 599 });
    return next(url);
  }),
);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  seen.length = 0;
  responders = [];
  fallback = null;
});
afterAll(() => server.close());

function script(...next: Responder[]): void {
  responders.push(...next);
}

function xml(body: string, encoding = 'utf-8'): Response {
  return new HttpResponse(Buffer.from(`<?xml version="1.0" encoding="${encoding}"?>\n${body}`, encoding === 'utf-8' ? 'utf8' : 'latin1'), {
    status: 200,
    headers: { 'content-type': 'text/html' }, // classic ASP's default: the client must not care
  });
}

function orderXml(orderNo: number | string, extra = ''): string {
  return (
    `<order orderNo="${orderNo}" orderDate="2026-11-20 10:15:00"><orderstatus statusId="2" deliveryStatus="N"/>` +
    `<payment payTypeIdentifier="KG" payTypeReference="ref-${orderNo}" currency="SEK" totalIncVat="100.00"/>${extra}</order>`
  );
}

function pageXml(page: number, totalPages: number, totalCount: number, orderNos: Array<number | string>, pageSize = 2): Response {
  return xml(
    `<SBM><orders page="${page}" pageSize="${pageSize}" totalPages="${totalPages}" totalCount="${totalCount}">` +
      `${orderNos.map((n) => orderXml(n)).join('')}</orders></SBM>`,
  );
}

function codeXml(code: number, message = 'error'): Response {
  return xml(`<SBM><APIresponse><code>${code}</code><message>${message}</message></APIresponse></SBM>`);
}

/** Five orders over three pages of two. */
function scriptFivePages(): void {
  script(
    () => pageXml(1, 3, 5, [101, 102]),
    () => pageXml(2, 3, 5, [103, 104]),
    () => pageXml(3, 3, 5, [105]),
  );
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

describe('the request', () => {
  it('sends exactly the documented parameters, signed with the v1 key over a fresh batchNo', async () => {
    scriptFivePages();
    await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW);
    expect(seen).toHaveLength(3);
    const batchNos = new Set<string>();
    seen.forEach((url, i) => {
      expect(url.origin + url.pathname).toBe(`${BASE}getInfo.asp`);
      expect([...url.searchParams.keys()].sort()).toEqual(
        ['Action', 'apiUserId', 'batchNo', 'fromDate', 'key', 'page', 'pageSize', 'sbmId', 'toDate', 'useXML'].sort(),
      );
      const q = url.searchParams;
      expect(q.get('Action')).toBe('getOrders');
      expect(q.get('sbmId')).toBe('4711');
      expect(q.get('apiUserId')).toBe('reader-7');
      expect(q.get('useXML')).toBe('2');
      expect(q.get('fromDate')).toBe('2026-10-01');
      expect(q.get('toDate')).toBe('2026-11-26');
      expect(q.get('page')).toBe(String(i + 1));
      expect(q.get('pageSize')).toBe('2');
      const batchNo = q.get('batchNo')!;
      expect(batchNo).toMatch(/^[0-9a-f]{32}$/);
      batchNos.add(batchNo);
      expect(q.get('key')).toBe(md5(`${API_USER_KEY}4711${batchNo}`));
    });
    expect(batchNos.size).toBe(3);
  });

  it('signs with the v2 key when an integration key is set', async () => {
    script(() => pageXml(1, 1, 1, [101]));
    await createSpecterClient({ ...baseSettings, integrationKey: INTEGRATION_KEY }).listOrdersInWindow(WINDOW);
    const q = seen[0]!.searchParams;
    const batchNo = q.get('batchNo')!;
    expect(q.get('key')).toBe(md5(INTEGRATION_KEY + md5(`${API_USER_KEY}4711${batchNo}`)));
    expect(q.get('key')).not.toBe(md5(`${API_USER_KEY}4711${batchNo}`));
  });

  it('uses the configured action names', async () => {
    script(
      () => pageXml(1, 1, 1, [101]),
      () => pageXml(1, 1, 1, [101]),
    );
    const client = createSpecterClient({ ...baseSettings, actions: { listOrders: 'getOrdersV3', getOrder: 'getOrderDetails' } });
    await client.listOrdersInWindow(WINDOW);
    await client.getOrder('101');
    expect(seen.map((u) => u.searchParams.get('Action'))).toEqual(['getOrdersV3', 'getOrderDetails']);
  });

  it('asks getOrder with orderNo and no paging parameters', async () => {
    script(() => pageXml(1, 1, 1, [100234], 1));
    const order = await createSpecterClient(baseSettings).getOrder('100234');
    expect(order?.orderNo).toBe('100234');
    const q = seen[0]!.searchParams;
    expect([...q.keys()].sort()).toEqual(['Action', 'apiUserId', 'batchNo', 'key', 'orderNo', 'sbmId', 'useXML'].sort());
    expect(q.get('Action')).toBe('getOrder');
    expect(q.get('orderNo')).toBe('100234');
    expect(q.get('key')).toBe(md5(`${API_USER_KEY}4711${q.get('batchNo')!}`));
  });

  it('refuses invalid arguments before sending anything', async () => {
    const client = createSpecterClient(baseSettings);
    await expect(client.getOrder('12a')).rejects.toThrow(RangeError);
    await expect(client.listOrdersInWindow({ fromDate: '2026-1-1', toDate: '2026-11-26' })).rejects.toThrow(RangeError);
    expect(() => createSpecterClient({ ...baseSettings, pageSize: 501 })).toThrow(RangeError);
    expect(seen).toHaveLength(0);
  });
});

describe('paging and completeness', () => {
  it('returns every page in order', async () => {
    scriptFivePages();
    const orders = await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW);
    expect(orders.map((o) => o.orderNo)).toEqual(['101', '102', '103', '104', '105']);
    expect(orders[0]?.payment?.payTypeReference).toBe('ref-101');
  });

  it('accepts zero orders only as a well-formed totalCount="0"', async () => {
    script(() => pageXml(1, 0, 0, []));
    expect(await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW)).toEqual([]);
  });

  it('never reads an empty <orders/> as "no orders" in a listing', async () => {
    script(() => xml('<SBM><orders/></SBM>'));
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain('page 1');
  });

  it('treats code 20 in a listing as an error, not as "nothing there"', async () => {
    script(() => codeXml(20, 'Not found'));
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('api');
    expect(error.code).toBe(20);
    expect(seen).toHaveLength(1);
  });

  const broken: Array<[string, Responder[], string, RegExp]> = [
    ['a page that answers as another page', [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(3, 3, 5, [105])], 'incomplete', /page 2: the answer is page 3/],
    // The count may move (a busy shop), not collapse: 5 to 0 is more than max(pageSize 2, 2 %).
    [
      'a count that collapses between pages',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 0, 0, [])],
      'incomplete',
      /page 2: totalCount moved from 5 on page 1 to 0, more than the 2 orders/,
    ],
    [
      'a count that drops by more than the bound',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 1, 2, [])],
      'incomplete',
      /page 2: totalCount moved from 5 on page 1 to 2/,
    ],
    [
      'a later page whose totalPages does not fit its totalCount',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 3, 7, [103, 104])],
      'malformed',
      /page 2: totalPages 3 does not fit totalCount 7 at pageSize 2/,
    ],
    [
      'a short page that is not the last',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 3, 5, [103])],
      'incomplete',
      /page 2: 1 orders on the page, expected 2/,
    ],
    [
      'a last page with one order too few',
      [() => pageXml(1, 2, 4, [101, 102]), () => pageXml(2, 2, 4, [103])],
      'incomplete',
      /page 2: 1 orders on the page, expected 2/,
    ],
    // A boundary repeat needs an order created below it, which raises the count: with the count
    // standing still, the listing must add up exactly.
    [
      'a shifted page (an order repeated across pages) while the totals stand still',
      [() => pageXml(1, 2, 4, [101, 102]), () => pageXml(2, 2, 4, [102, 103])],
      'incomplete',
      /page 2: the page starts with 1 order\(s\) at or before order 102 of an earlier page, but totalCount stood still since page 1/,
    ],
    [
      'an order repeated across pages while the count fell',
      [() => pageXml(1, 3, 6, [101, 102]), () => pageXml(2, 3, 5, [102, 103])],
      'incomplete',
      /page 2: .* but totalCount fell by 1 since page 1/,
    ],
    [
      'a page made only of orders already received',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 3, 6, [101, 102])],
      'incomplete',
      /page 2: every order on the page \(101\.\.102\) comes at or before order 102 of an earlier page/,
    ],
    ['descending orderNos', [() => pageXml(1, 1, 2, [102, 101])], 'incomplete', /order 101 follows order 102 on the same page/],
    [
      'an order twice on one page',
      [() => pageXml(1, 3, 5, [101, 102]), () => pageXml(2, 3, 6, [103, 103])],
      'incomplete',
      /page 2: order 103 follows order 103 on the same page/,
    ],
    ['numeric, not lexical, order (99 after 100)', [() => pageXml(1, 1, 2, [100, 99])], 'incomplete', /order 99 follows order 100/],
    ['totalPages that does not fit totalCount', [() => pageXml(1, 2, 5, [101, 102])], 'malformed', /totalPages 2 does not fit totalCount 5 at pageSize 2/],
    [
      'a page without totals',
      [() => xml('<SBM><orders page="1" pageSize="2">' + orderXml(1) + '</orders></SBM>')],
      'malformed',
      /lacks totalPages or totalCount/,
    ],
    [
      'a page without a page attribute',
      [() => xml('<SBM><orders totalPages="1" totalCount="1">' + orderXml(1) + '</orders></SBM>')],
      'malformed',
      /no page attribute/,
    ],
    ['a different pageSize', [() => pageXml(1, 1, 1, [101], 500)], 'malformed', /pageSize 500, requested 2/],
    ['orders with totalCount="0"', [() => pageXml(1, 0, 0, [101])], 'incomplete', /1 orders on the page, expected 0/],
  ];
  it.each(broken)('rejects %s', async (_name, answers, kind, message) => {
    script(...answers);
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe(kind);
    expect(error.message).toMatch(message);
  });

  it('reads to the last page as the latest answer says when orders are created while it pages', async () => {
    script(
      () => pageXml(1, 3, 5, [101, 102]),
      () => pageXml(2, 3, 6, [103, 104]),
      () => pageXml(3, 4, 7, [105, 106]),
      () => pageXml(4, 4, 7, [107]),
    );
    const orders = await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW);
    expect(orders.map((o) => o.orderNo)).toEqual(['101', '102', '103', '104', '105', '106', '107']);
    expect(seen.map((u) => u.searchParams.get('page'))).toEqual(['1', '2', '3', '4']);
  });

  it('takes an order repeated at a page boundary once, as the later copy, when an order was created below it', async () => {
    // 103 created after page 1: everything from 104 on moved up by one.
    const cancelled104 = orderXml(104).replace('statusId="2"', 'statusId="5"');
    script(
      () => pageXml(1, 2, 4, [102, 104]),
      () => xml(`<SBM><orders page="2" pageSize="2" totalPages="3" totalCount="5">${cancelled104}${orderXml(105)}</orders></SBM>`),
      () => pageXml(3, 3, 5, [106]),
    );
    const orders = await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW);
    expect(orders.map((o) => o.orderNo)).toEqual(['102', '104', '105', '106']);
    expect(orders[1]?.statusId).toBe('5');
  });

  it('ends early when deletions shrink the listing: on the latest last page, or on an empty page beyond it', async () => {
    // 101 and 103 deleted after page 1: page 2 of 2 is 105, 106 (104 slid onto page 1, unseen).
    script(
      () => pageXml(1, 3, 6, [101, 102]),
      () => pageXml(2, 2, 4, [105, 106]),
    );
    expect((await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW)).map((o) => o.orderNo)).toEqual(['101', '102', '105', '106']);
    expect(seen).toHaveLength(2);
    seen.length = 0;
    // 103 deleted after page 1: one page is left, page 2 comes back empty.
    script(
      () => pageXml(1, 2, 3, [101, 102]),
      () => pageXml(2, 1, 2, []),
    );
    expect((await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW)).map((o) => o.orderNo)).toEqual(['101', '102']);
    expect(seen).toHaveLength(2);
  });

  it("accepts a page short of pageSize before page 1's last page when its own totals make it the last", async () => {
    script(
      () => pageXml(1, 3, 5, [101, 102]),
      () => pageXml(2, 2, 3, [105]),
    );
    expect((await createSpecterClient(baseSettings).listOrdersInWindow(WINDOW)).map((o) => o.orderNo)).toEqual(['101', '102', '105']);
  });

  it('fails the whole listing on one malformed order, naming order, field and value', async () => {
    script(
      () => pageXml(1, 2, 3, [101, 102]),
      () =>
        xml(
          '<SBM><orders page="2" pageSize="2" totalPages="2" totalCount="3"><order orderNo="100234" orderDate="2026-11-20">' +
            '<orderstatus statusId="5"/><payment currency="SEK" totalIncVat="12,50"/></order></orders></SBM>',
        ),
    );
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('malformed');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('getOrders 2026-10-01..2026-11-26 page 2');
    expect(error.message).toContain('order 100234: totalIncVat "12,50" is not a decimal with a dot');
    expect(seen).toHaveLength(2);
  });
});

describe('getOrder', () => {
  it('returns the order', async () => {
    script(() => pageXml(1, 1, 1, [100234], 1));
    const order = await createSpecterClient(baseSettings).getOrder('100234');
    expect(order).toMatchObject({ orderNo: '100234', statusId: '2', payment: { payTypeIdentifier: 'KG' } });
  });

  it('returns null for code 20', async () => {
    script(() => codeXml(20, 'Order not found'));
    expect(await createSpecterClient(baseSettings).getOrder('100234')).toBeNull();
    expect(seen).toHaveLength(1);
  });

  it('returns null for an empty <orders/> and for totalCount="0"', async () => {
    script(
      () => xml('<SBM><orders/></SBM>'),
      () => pageXml(1, 0, 0, [], 1),
    );
    const client = createSpecterClient(baseSettings);
    expect(await client.getOrder('100234')).toBeNull();
    expect(await client.getOrder('100234')).toBeNull();
  });

  it('does not read an answer that claims an order but holds none as "not found"', async () => {
    script(() => xml('<SBM><orders page="1" totalPages="1" totalCount="1"></orders></SBM>'));
    expect((await failureOf(createSpecterClient(baseSettings).getOrder('100234'))).kind).toBe('incomplete');
  });

  it('rejects an answer about another order, or several orders', async () => {
    script(
      () => pageXml(1, 1, 1, [100235], 1),
      () => pageXml(1, 1, 2, [100234, 100235], 1),
    );
    const client = createSpecterClient(baseSettings);
    expect((await failureOf(client.getOrder('100234'))).message).toMatch(/holds order 100235 instead/);
    expect((await failureOf(client.getOrder('100234'))).message).toMatch(/holds 2 orders/);
  });

  it('throws for any other code', async () => {
    script(() => codeXml(99, 'Batch not acknowledged'));
    const error = await failureOf(createSpecterClient(baseSettings).getOrder('100234'));
    expect(error.kind).toBe('api');
    expect(error.code).toBe(99);
  });
});

describe('errors and retries', () => {
  function collectRetries(): { retries: SpecterRetryInfo[]; onRetry: (info: SpecterRetryInfo) => void } {
    const retries: SpecterRetryInfo[] = [];
    return { retries, onRetry: (info) => retries.push(info) };
  }

  it('code 10 fails at once, as auth, naming the settings to check', async () => {
    fallback = () => codeXml(10, 'Authentication failed');
    const { retries, onRetry } = collectRetries();
    const error = await failureOf(createSpecterClient(baseSettings, { onRetry }).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('auth');
    expect(error.code).toBe(10);
    expect(error.retriable).toBe(false);
    for (const name of ['SPECTER_SBM_ID', 'SPECTER_API_USER_ID', 'SPECTER_API_USER_KEY', 'SPECTER_INTEGRATION_KEY']) {
      expect(error.message).toContain(name);
    }
    expect(error.message).toContain('v1 key scheme');
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ name: 'SpecterError', kind: 'auth', code: 10, retriable: false, message: error.message });
    expect(seen).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('code 30 backs off and retries the same page, reporting each retry', async () => {
    script(
      () => pageXml(1, 2, 3, [101, 102]),
      () => codeXml(30, 'Too many requests'),
      () => codeXml(30, 'Too many requests'),
      () => pageXml(2, 2, 3, [103]),
    );
    const { retries, onRetry } = collectRetries();
    const orders = await createSpecterClient(baseSettings, { onRetry }).listOrdersInWindow(WINDOW);
    expect(orders).toHaveLength(3);
    expect(seen.map((u) => u.searchParams.get('page'))).toEqual(['1', '2', '2', '2']);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    for (const retry of retries) {
      expect(retry.action).toBe('getOrders');
      expect(retry.reason).toMatch(/page 2: .*too many requests/);
      expect(retry.delayMs).toBeGreaterThanOrEqual(5);
      expect(retry.delayMs).toBeLessThanOrEqual(20);
    }
  });

  it('code 30 until the attempts run out fails as rate_limited after maxAttempts requests', async () => {
    fallback = () => codeXml(30, 'Too many requests');
    const { retries, onRetry } = collectRetries();
    const error = await failureOf(createSpecterClient(baseSettings, { onRetry }).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('rate_limited');
    expect(error.code).toBe(30);
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('gave up after 3 attempts');
    expect(seen).toHaveLength(3);
    expect(retries).toHaveLength(2);
  });

  it('HTTP 429 honours Retry-After (seconds)', async () => {
    script(
      () => new HttpResponse('slow down', { status: 429, headers: { 'retry-after': '1' } }),
      () => pageXml(1, 1, 1, [101]),
    );
    const { retries, onRetry } = collectRetries();
    const started = Date.now();
    await createSpecterClient({ ...baseSettings, retryMaxMs: 5000 }, { onRetry }).listOrdersInWindow(WINDOW);
    expect(retries).toEqual([{ action: 'getOrders', attempt: 1, delayMs: 1000, reason: expect.stringContaining('HTTP 429') }]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('caps Retry-After at retryMaxMs (a once run must end)', async () => {
    script(
      () => new HttpResponse('', { status: 503, headers: { 'retry-after': '3600' } }),
      () => pageXml(1, 1, 1, [101]),
    );
    const { retries, onRetry } = collectRetries();
    await createSpecterClient(baseSettings, { onRetry }).listOrdersInWindow(WINDOW);
    expect(retries[0]?.delayMs).toBe(20);
  });

  it('retries HTTP 5xx and fails with the status when attempts run out', async () => {
    fallback = () => new HttpResponse('<html><body>Internal error</body></html>', { status: 500 });
    const error = await failureOf(createSpecterClient(baseSettings).getOrder('100234'));
    expect(error.kind).toBe('http');
    expect(error.httpStatus).toBe(500);
    expect(error.retriable).toBe(true);
    expect(error.message).toMatch(/getOrder order 100234: Specter answered HTTP 500 \(gave up after 3 attempts\)/);
    expect(seen).toHaveLength(3);
  });

  it('does not retry HTTP 404, and points at the base URL', async () => {
    fallback = () => new HttpResponse('not found', { status: 404 });
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('http');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('SPECTER_BASE_URL');
    expect(seen).toHaveLength(1);
  });

  it('does not follow redirects (they would carry the signed query elsewhere)', async () => {
    fallback = () => new HttpResponse(null, { status: 302, headers: { location: 'https://login.specter.test/' } });
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('http');
    expect(error.httpStatus).toBe(302);
    expect(seen).toHaveLength(1);
  });

  it('an HTML page with status 200 is not_xml, retried, never "no orders"', async () => {
    fallback = () =>
      new HttpResponse('<!DOCTYPE html><html><head><title>Maintenance</title></head><body></body></html>', {
        status: 200,
        headers: { 'content-type': 'text/html' },
      });
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('not_xml');
    expect(error.message).toContain('HTML page');
    expect(seen).toHaveLength(3);
  });

  it('plain text and an empty body are not_xml', async () => {
    script(() => new HttpResponse('Error: database offline', { status: 200 }));
    expect((await failureOf(createSpecterClient({ ...baseSettings, maxAttempts: 1 }).getOrder('1'))).kind).toBe('not_xml');
    script(() => new HttpResponse('', { status: 200 }));
    expect((await failureOf(createSpecterClient({ ...baseSettings, maxAttempts: 1 }).getOrder('1'))).kind).toBe('not_xml');
  });

  it('truncated XML is malformed and not retried', async () => {
    script(() => xml('<SBM><orders page="1" pageSize="2" totalPages="1" totalCount="2">' + orderXml(101) + '<order orderNo="10'));
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain('page 1');
    expect(seen).toHaveLength(1);
  });

  it('a network error is retried, then reported as network', async () => {
    script(
      () => HttpResponse.error(),
      () => pageXml(1, 1, 1, [101]),
    );
    const { retries, onRetry } = collectRetries();
    expect(await createSpecterClient(baseSettings, { onRetry }).listOrdersInWindow(WINDOW)).toHaveLength(1);
    expect(retries[0]?.reason).toMatch(/network error/);

    fallback = () => HttpResponse.error();
    const error = await failureOf(createSpecterClient(baseSettings).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('network');
    expect(error.retriable).toBe(true);
    expect(error.message).toContain('api.specter.test');
  });

  it('a request that never answers times out', async () => {
    fallback = async () => {
      await delay('infinite');
      return pageXml(1, 1, 1, [101]);
    };
    const started = Date.now();
    const error = await failureOf(createSpecterClient({ ...baseSettings, timeoutMs: 150, maxAttempts: 2 }).getOrder('1'));
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('within 150 ms');
    expect(seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a hook that throws does not change the outcome', async () => {
    script(
      () => codeXml(30),
      () => pageXml(1, 1, 1, [101]),
    );
    const client = createSpecterClient(baseSettings, {
      onRetry: () => {
        throw new Error('logger broke');
      },
    });
    expect(await client.listOrdersInWindow(WINDOW)).toHaveLength(1);
  });
});

describe('no secret in any error', () => {
  it('keeps apiUserKey, integrationKey, the computed key and the URL out of every error', async () => {
    const settings = { ...baseSettings, integrationKey: INTEGRATION_KEY, maxAttempts: 1, timeoutMs: 150 };
    const client = createSpecterClient(settings);
    // Answers that echo secrets back (as verbose error pages do) must be scrubbed too.
    const echo: Responder = (url) => codeXml(40, `bad request key=${url.searchParams.get('key')} user key ${API_USER_KEY} integration ${INTEGRATION_KEY}`);
    const failures: Array<[string, Responder]> = [
      ['auth', () => codeXml(10)],
      ['api echoing secrets', echo],
      ['http 500', () => new HttpResponse(`error at ${BASE}getInfo.asp`, { status: 500 })],
      ['html', (url) => new HttpResponse(`<html><title>${url.toString()}</title></html>`, { status: 200 })],
      ['network', () => HttpResponse.error()],
      [
        'timeout',
        async () => {
          await delay('infinite');
          return codeXml(10);
        },
      ],
      [
        'malformed echoing the key',
        (url) =>
          xml(
            `<SBM><orders page="1" pageSize="2" totalPages="1" totalCount="1"><order orderNo="1" orderDate="${url.searchParams.get('key')}"><orderstatus statusId="1"/></order></orders></SBM>`,
          ),
      ],
    ];
    for (const [name, responder] of failures) {
      seen.length = 0;
      fallback = responder;
      const errors = [await failureOf(client.listOrdersInWindow(WINDOW)), await failureOf(client.getOrder('100234'))];
      const keys = seen.map((u) => u.searchParams.get('key')!);
      expect(keys.length).toBeGreaterThan(0);
      for (const error of errors) {
        const renderings = [error.message, JSON.stringify(error), String(error), inspect(error, { depth: 5 }), error.stack ?? ''];
        for (const text of renderings) {
          for (const secret of [API_USER_KEY, INTEGRATION_KEY, ...keys]) {
            if (text.includes(secret)) throw new Error(`${name}: a secret leaked into ${JSON.stringify(text)}`);
          }
          expect(text).not.toMatch(/key=[0-9a-f]|batchNo=[0-9a-f]|getInfo\.asp\?/);
        }
        for (const property of ['config', 'request', 'response', 'cause']) expect(error).not.toHaveProperty(property);
      }
    }
  });
});
