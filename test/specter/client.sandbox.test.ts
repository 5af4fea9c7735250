/**
 * The Specter client against the real sandbox on 127.0.0.1: real sockets, real bytes in both
 * encodings, the sandbox's own key check, scripted codes, transport faults and damaged pages.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { seedOrders } from '../../src/sandbox/specter/seed.js';
import { startSpecterSandbox } from '../../src/sandbox/specter/server.js';
import type { PageTamper, SandboxOrder, SpecterSandbox } from '../../src/sandbox/specter/types.js';
import { createSpecterClient, type SpecterRetryInfo } from '../../src/specter/client.js';
import { SpecterError } from '../../src/specter/errors.js';

const NOW = new Date('2026-11-26T12:00:00Z');
const WINDOW = { fromDate: '2026-09-27', toDate: '2026-11-26' };
/** 1,234 orders over 60 days: three pages of 500. */
const ORDERS = seedOrders({ count: 1234, now: NOW, seed: 42, lookbackDays: 60 });

let sandbox: SpecterSandbox;

beforeAll(async () => {
  sandbox = await startSpecterSandbox({ orders: ORDERS });
});
afterEach(() => {
  sandbox.clearScripts();
  sandbox.requests.length = 0;
  sandbox.upsert(...ORDERS);
  sandbox.setEncoding('utf-8');
  sandbox.setNotFoundAnswer('code20');
});
afterAll(async () => {
  await sandbox.close();
});

function inWindow(orders: readonly SandboxOrder[], window = WINDOW): SandboxOrder[] {
  return orders.filter((o) => o.orderDate.slice(0, 10) >= window.fromDate && o.orderDate.slice(0, 10) <= window.toDate);
}

/** What the client should return for an order (the sandbox's extraXml is not part of it). */
function asSpecterOrder({ extraXml: _extra, ...order }: SandboxOrder): Omit<SandboxOrder, 'extraXml'> {
  return order;
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

/** A request signed here, with the documented formula, to look at the sandbox's raw bytes. */
async function rawRequest(sb: SpecterSandbox, params: Record<string, string>): Promise<{ status: number; body: Buffer; contentType: string | null }> {
  const batchNo = createHash('md5').update(String(Math.random())).digest('hex');
  const { apiUserKey, sbmId, apiUserId, integrationKey } = sb.credentials;
  const inner = createHash('md5').update(`${apiUserKey}${sbmId}${batchNo}`).digest('hex');
  const key = integrationKey
    ? createHash('md5')
        .update(integrationKey + inner)
        .digest('hex')
    : inner;
  const query = new URLSearchParams({ sbmId: String(sbmId), apiUserId, useXML: '2', batchNo, key, ...params });
  const response = await fetch(`${sb.url}getInfo.asp?${query.toString()}`);
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type') };
}

describe('listing', () => {
  it('pages through the window and returns exactly the sandbox orders in it', async () => {
    const client = createSpecterClient(sandbox.settings());
    const orders = await client.listOrdersInWindow(WINDOW);
    const expected = inWindow(sandbox.orders()).map(asSpecterOrder);
    expect(expected.length).toBeGreaterThan(1000);
    expect(orders).toEqual(expected);
    expect(sandbox.requestsFor().map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
  });

  it('asks for the next page while it reads this one, but never more than one request ahead', async () => {
    // Pages of 100 (13 requests) from a Specter that takes 20 ms to answer: room for a burst.
    sandbox.faults.add({ kind: 'delay', ms: 20 }, { times: Infinity });
    const client = createSpecterClient(sandbox.settings({ pageSize: 100 }));
    const orders = await client.listOrdersInWindow(WINDOW);
    expect(orders).toEqual(inWindow(sandbox.orders()).map(asSpecterOrder));
    const listed = sandbox.requestsFor();
    // Every page once, in order, none beyond the last; Specter never saw more than two at once.
    expect(listed.map((r) => r.query.get('page'))).toEqual(Array.from({ length: 13 }, (_, i) => String(i + 1)));
    expect(Math.max(...listed.map((r) => r.inFlight))).toBeLessThanOrEqual(2);
  });

  it('a listing that fails on a page leaves no request behind beyond the next page', async () => {
    sandbox.tamperListing('truncate', { page: 3 });
    const client = createSpecterClient(sandbox.settings({ pageSize: 100 }));
    await failureOf(client.listOrdersInWindow(WINDOW));
    await new Promise((r) => setTimeout(r, 50));
    const pages = sandbox.requestsFor().map((r) => Number(r.query.get('page')));
    expect(Math.max(...pages)).toBeLessThanOrEqual(4);
  });

  it('maps each order as its page is checked, in listing order', async () => {
    const client = createSpecterClient(sandbox.settings());
    const orderNos = await client.listOrdersInWindow(WINDOW, (order) => order.orderNo);
    expect(orderNos).toEqual(inWindow(sandbox.orders()).map((o) => o.orderNo));
  });

  it('filters on the order date, inclusive at both ends', async () => {
    const day = ORDERS[600]!.orderDate.slice(0, 10);
    const client = createSpecterClient(sandbox.settings({ pageSize: 7 }));
    const orders = await client.listOrdersInWindow({ fromDate: day, toDate: day });
    const expected = ORDERS.filter((o) => o.orderDate.startsWith(day));
    expect(expected.length).toBeGreaterThan(7);
    expect(orders.map((o) => o.orderNo)).toEqual(expected.map((o) => o.orderNo));
    expect(await client.listOrdersInWindow({ fromDate: '2020-01-01', toDate: '2020-01-31' })).toEqual([]);
  });

  it.each(['utf-8', 'iso-8859-1'] as const)('keeps "Åsa Öberg" intact in %s', async (encoding) => {
    sandbox.setEncoding(encoding);
    const raw = await rawRequest(sandbox, { Action: 'getOrder', orderNo: ORDERS[0]!.orderNo });
    expect(raw.body.toString('latin1')).toContain(`encoding="${encoding}"`);
    const aRing = encoding === 'utf-8' ? Buffer.from([0xc3, 0x85]) : Buffer.from([0xc5, 0x73, 0x61]); // "Å" / "Åsa"
    expect(raw.body.includes(aRing)).toBe(true);

    const client = createSpecterClient(sandbox.settings());
    const orders = await client.listOrdersInWindow(WINDOW);
    expect(orders[0]?.customerName).toBe('Åsa Öberg');
    expect(orders.map((o) => o.customerName)).toEqual(inWindow(ORDERS).map((o) => o.customerName));
  });

  it('sees cancel and deliver in the next listing, and a deleted order no more', async () => {
    const client = createSpecterClient(sandbox.settings());
    const [a, b, c] = [ORDERS[10]!.orderNo, ORDERS[11]!.orderNo, ORDERS[12]!.orderNo];
    sandbox.cancel(a);
    sandbox.deliver(b);
    expect(sandbox.delete(c)).toBe(true);
    const byNo = new Map((await client.listOrdersInWindow(WINDOW)).map((o) => [o.orderNo, o]));
    expect(byNo.get(a)?.statusId).toBe('5');
    expect(byNo.get(b)?.deliveryStatus).toBe('D');
    expect(byNo.has(c)).toBe(false);
    expect(await client.getOrder(c)).toBeNull();
  });

  it('hideFromListing makes a consistent listing gap that getOrder still answers, for the given number of listings', async () => {
    const client = createSpecterClient(sandbox.settings());
    const hidden = ORDERS[700]!.orderNo;
    sandbox.hideFromListing(hidden, 1);
    const first = await client.listOrdersInWindow(WINDOW);
    expect(first.some((o) => o.orderNo === hidden)).toBe(false);
    expect(first).toHaveLength(inWindow(ORDERS).length - 1);
    expect((await client.getOrder(hidden))?.orderNo).toBe(hidden);
    const second = await client.listOrdersInWindow(WINDOW);
    expect(second.some((o) => o.orderNo === hidden)).toBe(true);
  });
});

describe('the key check', () => {
  it('accepts the v2 scheme when the sandbox has an integration key, and refuses v1 there with code 10', async () => {
    const v2 = await startSpecterSandbox({ orders: ORDERS.slice(0, 3), integrationKey: 'integration-key-v2' });
    try {
      expect(await createSpecterClient(v2.settings()).getOrder(ORDERS[0]!.orderNo)).not.toBeNull();
      const retries: SpecterRetryInfo[] = [];
      const error = await failureOf(createSpecterClient(v2.settings({ integrationKey: null }), { onRetry: (r) => retries.push(r) }).listOrdersInWindow(WINDOW));
      expect(error.kind).toBe('auth');
      expect(error.code).toBe(10);
      expect(error.message).toContain('SPECTER_INTEGRATION_KEY');
      expect(retries).toEqual([]);
      expect(v2.requests).toHaveLength(2);
    } finally {
      await v2.close();
    }
  });

  it('refuses a wrong user key, user or account with code 10, and never retries', async () => {
    for (const override of [{ apiUserKey: 'wrong' }, { apiUserId: 'someone-else' }, { sbmId: 1 }, { integrationKey: 'not-set-on-the-sandbox' }]) {
      sandbox.requests.length = 0;
      const error = await failureOf(createSpecterClient(sandbox.settings(override)).listOrdersInWindow(WINDOW));
      expect(error.kind).toBe('auth');
      expect(sandbox.requests).toHaveLength(1);
    }
  });

  it('answers an unsigned request with code 10 and a too large pageSize with another code', async () => {
    const unsigned = await rawRequest(sandbox, {
      Action: 'getOrders',
      key: '0'.repeat(32),
      fromDate: '2026-01-01',
      toDate: '2026-12-31',
      page: '1',
      pageSize: '10',
    });
    expect(unsigned.body.toString()).toContain('<code>10</code>');
    const tooLarge = await rawRequest(sandbox, { Action: 'getOrders', fromDate: '2026-01-01', toDate: '2026-12-31', page: '1', pageSize: '501' });
    expect(tooLarge.body.toString()).toContain('<code>40</code>');
  });
});

describe('scripted codes and faults', () => {
  it('code 30 until retries run out: rate_limited after maxAttempts requests', async () => {
    sandbox.failWithCode(30, { times: Infinity, action: 'getOrders' });
    const retries: SpecterRetryInfo[] = [];
    const error = await failureOf(createSpecterClient(sandbox.settings({ maxAttempts: 4 }), { onRetry: (r) => retries.push(r) }).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('rate_limited');
    expect(error.code).toBe(30);
    expect(sandbox.requests).toHaveLength(4);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it('code 30 once, then the listing completes', async () => {
    sandbox.failWithCode(30, { times: 1 });
    const orders = await createSpecterClient(sandbox.settings()).listOrdersInWindow(WINDOW);
    expect(orders).toHaveLength(inWindow(ORDERS).length);
    expect(sandbox.requestsFor().map((r) => r.query.get('page'))).toEqual(['1', '1', '2', '3']);
  });

  it('a 503 on page 2 repeats page 2 only, not the whole listing', async () => {
    sandbox.faults.add({ kind: 'status', status: 503, body: 'busy' }, { times: 2, matches: (r) => r.query.get('page') === '2' });
    const orders = await createSpecterClient(sandbox.settings()).listOrdersInWindow(WINDOW);
    expect(orders).toHaveLength(inWindow(ORDERS).length);
    expect(sandbox.requestsFor().map((r) => r.query.get('page'))).toEqual(['1', '2', '2', '2', '3']);
  });

  it('HTTP 500 on every attempt fails as http', async () => {
    sandbox.faults.add({ kind: 'status', status: 500, body: 'boom' }, { times: Infinity });
    const error = await failureOf(createSpecterClient(sandbox.settings()).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('http');
    expect(error.httpStatus).toBe(500);
    expect(sandbox.requests).toHaveLength(3);
  });

  it('an HTML page instead of XML fails as not_xml', async () => {
    sandbox.serveHtmlPage({ times: Infinity });
    const error = await failureOf(createSpecterClient(sandbox.settings()).getOrder(ORDERS[0]!.orderNo));
    expect(error.kind).toBe('not_xml');
  });

  it('a connection reset is retried and the listing completes', async () => {
    sandbox.faults.add({ kind: 'reset' }, { times: 1, matches: (r) => r.query.get('page') === '2' });
    const retries: SpecterRetryInfo[] = [];
    const orders = await createSpecterClient(sandbox.settings(), { onRetry: (r) => retries.push(r) }).listOrdersInWindow(WINDOW);
    expect(orders).toHaveLength(inWindow(ORDERS).length);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.reason).toMatch(/page 2: network error/);
  });

  it('a hanging request times out', async () => {
    sandbox.faults.add({ kind: 'hang' }, { times: Infinity });
    const started = Date.now();
    const error = await failureOf(createSpecterClient(sandbox.settings({ timeoutMs: 200, maxAttempts: 2 })).getOrder(ORDERS[0]!.orderNo));
    expect(error.kind).toBe('timeout');
    expect(sandbox.requests).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a body that trickles in slower than the timeout times out (the deadline covers the whole answer)', async () => {
    sandbox.faults.add({ kind: 'slowBody', ms: 2000 }, { times: Infinity });
    const started = Date.now();
    const error = await failureOf(createSpecterClient(sandbox.settings({ timeoutMs: 300, maxAttempts: 1 })).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('damaged listings never pass as complete', () => {
  const cases: Array<[PageTamper, number | undefined, number, string, RegExp]> = [
    ['truncate', 2, 1, 'malformed', /page 2: the answer is not well-formed XML/],
    ['emptyPage', 2, 1, 'incomplete', /page 2: 0 orders on the page, expected 500/],
    // totalCount one too high on every page: the last page is one order short by its own totals.
    ['wrongTotalCount', undefined, Infinity, 'incomplete', /page 3: 234 orders on the page, expected 235/],
    ['wrongPageAttribute', 3, 1, 'incomplete', /page 3: the answer is page 4, expected page 3/],
    // A shift up the totals do not show: a boundary repeat needs a count that rose.
    [
      'repeatPrevious',
      2,
      1,
      'incomplete',
      /page 2: the page starts with 1 order\(s\) at or before order \d+ of an earlier page, but totalCount stood still since page 1/,
    ],
    // Page 2 served one order late: page 3 repeats page 2's last order, with the count unchanged.
    [
      'skipOne',
      2,
      1,
      'incomplete',
      /page 3: the page starts with 1 order\(s\) at or before order \d+ of an earlier page, but totalCount stood still since page 2/,
    ],
    ['skipOne', 3, 1, 'incomplete', /page 3: 233 orders on the page, expected 234/],
    ['noTotals', 1, 1, 'malformed', /page 1: <orders> lacks totalPages or totalCount/],
    ['duplicateInPage', 2, 1, 'incomplete', /page 2: order (\d+) follows order \1 on the same page/],
    ['swapInPage', 3, 1, 'incomplete', /page 3: order \d+ follows order \d+ on the same page/],
  ];
  it.each(cases)('%s (page %s)', async (tamper, page, times, kind, message) => {
    sandbox.tamperListing(tamper, { page, times });
    const error = await failureOf(createSpecterClient(sandbox.settings()).listOrdersInWindow(WINDOW));
    expect(error.kind).toBe(kind);
    expect(error.message).toMatch(message);
  });

  it('a totalCount one off on one middle page is what a busy shop does: every order, once', async () => {
    // Page 2 claims 1,235 (an order created), page 3 claims 1,234 again (one deleted).
    sandbox.tamperListing('wrongTotalCount', { page: 2, times: 1 });
    const orders = await createSpecterClient(sandbox.settings()).listOrdersInWindow(WINDOW);
    expect(orders).toEqual(inWindow(sandbox.orders()).map(asSpecterOrder));
    expect(sandbox.requestsFor().map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
  });
});

describe('getOrder', () => {
  it('finds an order', async () => {
    const wanted = ORDERS[5]!;
    expect(await createSpecterClient(sandbox.settings()).getOrder(wanted.orderNo)).toEqual(asSpecterOrder(wanted));
  });

  it.each(['code20', 'emptyOrders'] as const)('returns null for a missing order answered as %s', async (answer) => {
    sandbox.setNotFoundAnswer(answer);
    const raw = await rawRequest(sandbox, { Action: 'getOrder', orderNo: '999999999' });
    expect(raw.body.toString()).toContain(answer === 'code20' ? '<code>20</code>' : '<orders/>');
    expect(await createSpecterClient(sandbox.settings()).getOrder('999999999')).toBeNull();
  });
});
