/**
 * The Svea client against msw: the exact requests (read first, then the signed PATCH), the
 * signature recomputed here from the documented formula with node:crypto (not the client's
 * helper), and the outcome of every documented answer.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { http, HttpResponse, delay } from 'msw';
import { setupServer } from 'msw/node';
import { createSveaClient } from '../../src/providers/svea/client.js';
import type { CancelOutcome, CancelRequest } from '../../src/providers/types.js';

const BASE = 'https://paymentadminapistage.svea.test';
const MERCHANT_ID = '124842';
const SECRET = 'svea-Secret-1f2e3d4c5b6a';
const ORDER_ID = '8906830';
const ORDER_URL = `${BASE}/api/v1/orders/${ORDER_ID}`;
const FIXED_NOW = new Date(Date.UTC(2026, 10, 26, 8, 5, 9));
const FIXED_TIMESTAMP = '2026-11-26 08:05:09';

const request: CancelRequest = {
  orderNo: '2002',
  providerRef: ORDER_ID,
  idempotencyKey: '0b7f0f76-54a7-4c0e-a1c9-3f5a9d0e2b11',
  amount: '499.00',
  currency: 'SEK',
};

/** The documented formula, written out independently of src/providers/svea/signature.ts. */
function expectedAuthorization(body: string, timestamp: string): string {
  const hex = createHash('sha512')
    .update(body + SECRET + timestamp, 'utf8')
    .digest('hex');
  return `Svea ${Buffer.from(`${MERCHANT_ID}:${hex}`).toString('base64')}`;
}

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const outcomes: CancelOutcome[] = [];
/** Every Authorization value the client sent: none may appear in an outcome. */
const signatures = new Set<string>();

function client(timeoutMs = 2000) {
  return createSveaClient({ baseUrl: BASE, merchantId: MERCHANT_ID, secret: SECRET }, { timeoutMs, now: () => FIXED_NOW });
}

async function cancelWith(timeoutMs?: number): Promise<CancelOutcome> {
  const outcome = await client(timeoutMs).cancel(request);
  outcomes.push(outcome);
  return outcome;
}

function order(fields: Record<string, unknown>) {
  return {
    Id: Number(ORDER_ID),
    Currency: 'SEK',
    MerchantOrderId: '2002',
    OrderStatus: 'Open',
    IsCompany: false,
    IsCancelled: false,
    CancelledAmount: 0,
    OrderAmount: 49900,
    Deliveries: null,
    OrderRows: [],
    Actions: ['CanDeliverOrder', 'CanDeliverPartially', 'CanCancelOrder', 'CanCancelOrderRow'],
    ...fields,
  };
}

type Answer = (info: { request: Request }) => Response | Promise<Response>;

let patches = 0;
function sveaAnswers(read: Answer, patch: Answer = () => new HttpResponse(null, { status: 204 })) {
  patches = 0;
  server.use(
    http.get(ORDER_URL, (info) => {
      signatures.add(info.request.headers.get('authorization') ?? '');
      return read(info);
    }),
    http.patch(ORDER_URL, (info) => {
      patches += 1;
      signatures.add(info.request.headers.get('authorization') ?? '');
      return patch(info);
    }),
  );
}

describe('Svea requests', () => {
  it('reads the order, then PATCHes {"IsCancelled":true}, each signed over exactly its body', async () => {
    const seen: { method: string; url: string; headers: Record<string, string>; body: string }[] = [];
    const capture: Answer = async ({ request: req }) => {
      seen.push({ method: req.method, url: req.url, headers: Object.fromEntries(req.headers.entries()), body: await req.text() });
      return req.method === 'GET' ? HttpResponse.json(order({})) : new HttpResponse(null, { status: 204 });
    };
    sveaAnswers(capture, capture);

    expect(await cancelWith()).toEqual({ kind: 'succeeded', alreadyCancelled: false });

    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([`GET ${ORDER_URL}`, `PATCH ${ORDER_URL}`]);
    const [get, patch] = seen as [(typeof seen)[0], (typeof seen)[0]];
    expect(get.body).toBe('');
    expect(get.headers.timestamp).toBe(FIXED_TIMESTAMP);
    expect(get.headers.authorization).toBe(expectedAuthorization('', FIXED_TIMESTAMP));

    expect(patch.body).toBe('{"IsCancelled":true}');
    expect(patch.headers['content-type']).toBe('application/json');
    expect(patch.headers.timestamp).toBe(FIXED_TIMESTAMP);
    expect(patch.headers.authorization).toBe(expectedAuthorization('{"IsCancelled":true}', FIXED_TIMESTAMP));
  });

  it('formats the Timestamp in UTC whatever the time of day', async () => {
    const stamps: string[] = [];
    sveaAnswers(({ request: req }) => {
      stamps.push(req.headers.get('timestamp') ?? '');
      return HttpResponse.json(order({ OrderStatus: 'Cancelled', IsCancelled: true, Actions: [] }));
    });
    const late = createSveaClient(
      { baseUrl: BASE, merchantId: MERCHANT_ID, secret: SECRET },
      { timeoutMs: 2000, now: () => new Date('2026-01-02T23:59:58.900+00:00') },
    );
    await late.cancel(request);
    expect(stamps).toEqual(['2026-01-02 23:59:58']);
  });
});

describe('Svea order states → outcomes', () => {
  it('CanCancelOrder and a 200 to the PATCH → succeeded', async () => {
    sveaAnswers(
      () => HttpResponse.json(order({})),
      () => new HttpResponse(null, { status: 200 }),
    );
    expect(await cancelWith()).toEqual({ kind: 'succeeded', alreadyCancelled: false });
  });

  it('already Cancelled → succeeded alreadyCancelled, and no PATCH', async () => {
    sveaAnswers(() => HttpResponse.json(order({ OrderStatus: 'Cancelled', IsCancelled: true, CancelledAmount: 49900, Actions: [] })));
    expect(await cancelWith()).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(patches).toBe(0);
  });

  it('IsCancelled true with another status → alreadyCancelled', async () => {
    sveaAnswers(() => HttpResponse.json(order({ OrderStatus: 'Open', IsCancelled: true, Actions: [] })));
    expect(await cancelWith()).toEqual({ kind: 'succeeded', alreadyCancelled: true });
  });

  it('Delivered → permanent captured, no PATCH', async () => {
    sveaAnswers(() => HttpResponse.json(order({ OrderStatus: 'Delivered', Deliveries: [{ Id: 1 }], Actions: [] })));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(patches).toBe(0);
  });

  it('cancelled but with a delivery → captured (captured beats cancelled)', async () => {
    sveaAnswers(() => HttpResponse.json(order({ OrderStatus: 'Cancelled', IsCancelled: true, Deliveries: [{ Id: 1 }], Actions: [] })));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'captured' });
  });

  it.each(['Open', 'Failed'])('%s without CanCancelOrder → permanent rejected', async (status) => {
    sveaAnswers(() => HttpResponse.json(order({ OrderStatus: status, Actions: ['CanDeliverOrder'] })));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'rejected', code: 'NOT_CANCELLABLE' });
    expect(patches).toBe(0);
  });

  it('a 200 read that is not an order → transient', async () => {
    sveaAnswers(() => new HttpResponse('<html>maintenance</html>', { status: 200 }));
    expect((await cancelWith()).kind).toBe('transient');
    expect(patches).toBe(0);
  });
});

describe('Svea answers → outcomes', () => {
  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [404, 'not_found'],
    [400, 'rejected'],
  ] as const)('read answers %i → permanent %s', async (status, reason) => {
    sveaAnswers(() => new HttpResponse(null, { status, headers: { ErrorMessage: `reason for ${status}` } }));
    const outcome = await cancelWith();
    expect(outcome).toMatchObject({ kind: 'permanent', reason, message: expect.stringContaining(`reason for ${status}`) });
    expect(patches).toBe(0);
  });

  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [404, 'not_found'],
    [400, 'rejected'],
  ] as const)('PATCH answers %i → permanent %s', async (status, reason) => {
    sveaAnswers(
      () => HttpResponse.json(order({})),
      () => new HttpResponse(null, { status }),
    );
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason });
  });

  it('a 400 whose reason is only in the ErrorMessage header carries that reason', async () => {
    sveaAnswers(
      () => HttpResponse.json(order({})),
      () => new HttpResponse(null, { status: 400, headers: { ErrorMessage: 'Order is locked by another operation' } }),
    );
    expect(await cancelWith()).toMatchObject({
      kind: 'permanent',
      reason: 'rejected',
      message: 'cancel: HTTP 400: Order is locked by another operation',
    });
  });

  it.each([429, 500, 502, 503])('%i with Retry-After → transient with retryAfterMs', async (status) => {
    sveaAnswers(() => new HttpResponse(null, { status, headers: { 'Retry-After': '12' } }));
    expect(await cancelWith()).toMatchObject({ kind: 'transient', code: `HTTP_${status}`, retryAfterMs: 12000 });
  });

  it('PATCH 503 → transient', async () => {
    sveaAnswers(
      () => HttpResponse.json(order({})),
      () => new HttpResponse('busy', { status: 503 }),
    );
    expect((await cancelWith()).kind).toBe('transient');
  });

  it.each([
    ['a 204 read', () => new HttpResponse(null, { status: 204 })],
    ['a 302 read', () => new HttpResponse(null, { status: 302, headers: { Location: '/login' } })],
    ['a 418 read', () => new HttpResponse(null, { status: 418 })],
  ])('undocumented: %s → transient', async (_label, answer) => {
    sveaAnswers(answer);
    expect((await cancelWith()).kind).toBe('transient');
  });

  it('a network error on either request → transient', async () => {
    sveaAnswers(() => HttpResponse.error());
    expect((await cancelWith()).kind).toBe('transient');
    sveaAnswers(
      () => HttpResponse.json(order({})),
      () => HttpResponse.error(),
    );
    expect((await cancelWith()).kind).toBe('transient');
  });

  it('no answer before the timeout → transient', async () => {
    sveaAnswers(async () => {
      await delay('infinite');
      return HttpResponse.json(order({}));
    });
    const started = Date.now();
    expect((await cancelWith(200)).kind).toBe('transient');
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('secrets', () => {
  it('a provider echoing the secret does not leak it into the outcome', async () => {
    sveaAnswers(() => new HttpResponse(null, { status: 400, headers: { ErrorMessage: `bad secret ${SECRET}` } }));
    const outcome = await cancelWith();
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
  });

  it('no outcome of any test contains the secret or a signature sent', () => {
    expect(outcomes.length).toBeGreaterThan(20);
    const all = JSON.stringify(outcomes);
    expect(all).not.toContain(SECRET);
    expect(signatures.size).toBeGreaterThan(0);
    for (const signature of signatures) {
      if (signature === '') continue;
      expect(all).not.toContain(signature);
      expect(all).not.toContain(signature.slice('Svea '.length));
    }
  });
});
