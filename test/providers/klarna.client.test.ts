/**
 * The Klarna client against msw: the exact request it sends, and the outcome of every answer
 * Klarna documents (and of some it does not). No real network: msw intercepts axios.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { http, HttpResponse, delay } from 'msw';
import { setupServer } from 'msw/node';
import { createKlarnaClient } from '../../src/providers/klarna/client.js';
import type { CancelOutcome, CancelRequest } from '../../src/providers/types.js';

const BASE = 'https://api.playground.klarna.test';
const USERNAME = 'PK12345_merchant';
const PASSWORD = 'klarna-pass-Xy9!secret';
const BASIC_TOKEN = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
const ORDER_ID = 'f3392f8b-6116-4073-ab96-e330819e2c07';
const CANCEL_URL = `${BASE}/ordermanagement/v1/orders/${ORDER_ID}/cancel`;
const ORDER_URL = `${BASE}/ordermanagement/v1/orders/${ORDER_ID}`;

const request: CancelRequest = {
  orderNo: '1001',
  providerRef: ORDER_ID,
  idempotencyKey: '6d3c1c1e-2b7a-4b55-9a0c-9c7f4b1d2e10',
  amount: '1249.00',
  currency: 'SEK',
};

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

/** Every outcome any test produced: searched for secrets at the end. */
const outcomes: CancelOutcome[] = [];

function client(timeoutMs = 2000) {
  return createKlarnaClient({ baseUrl: `${BASE}/`, username: USERNAME, password: PASSWORD }, { timeoutMs });
}

async function cancelWith(timeoutMs?: number): Promise<CancelOutcome> {
  const outcome = await client(timeoutMs).cancel(request);
  outcomes.push(outcome);
  return outcome;
}

function klarnaError(status: number, code: string, message: string, headers: Record<string, string> = {}) {
  return HttpResponse.json({ error_code: code, error_messages: [message], correlation_id: 'corr-1' }, { status, headers });
}

function cancelAnswers(answer: (info: { request: Request }) => Response | Promise<Response>) {
  server.use(http.post(CANCEL_URL, answer));
}

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

async function record(req: Request, into: Seen[]): Promise<void> {
  into.push({
    method: req.method,
    url: req.url,
    headers: Object.fromEntries(req.headers.entries()),
    body: await req.text(),
  });
}

describe('Klarna request', () => {
  it('POSTs /cancel with no body, Basic auth and the idempotency key, and a 204 is success', async () => {
    const seen: Seen[] = [];
    cancelAnswers(async ({ request: req }) => {
      await record(req, seen);
      return new HttpResponse(null, { status: 204 });
    });

    const outcome = await cancelWith();

    expect(outcome).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(seen).toHaveLength(1);
    const sent = seen[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe(CANCEL_URL);
    expect(sent.headers.authorization).toBe(`Basic ${BASIC_TOKEN}`);
    expect(sent.headers['klarna-idempotency-key']).toBe(request.idempotencyKey);
    expect(sent.body).toBe('');
    expect(sent.headers['content-type']).toBeUndefined();
  });

  it('sends the same idempotency key on every attempt of the same cancellation', async () => {
    const keys: (string | null)[] = [];
    let calls = 0;
    cancelAnswers(({ request: req }) => {
      keys.push(req.headers.get('klarna-idempotency-key'));
      calls += 1;
      return calls === 1 ? klarnaError(503, 'TEMPORARILY_UNAVAILABLE', 'Temporarily unavailable') : new HttpResponse(null, { status: 204 });
    });
    const first = await cancelWith();
    const second = await cancelWith();
    expect(first.kind).toBe('transient');
    expect(second).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(keys).toEqual([request.idempotencyKey, request.idempotencyKey]);
  });

  it('escapes the order id into one path segment', async () => {
    const seen: string[] = [];
    server.use(
      http.post(`${BASE}/ordermanagement/v1/orders/:id/cancel`, ({ request: req }) => {
        seen.push(new URL(req.url).pathname);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    await client().cancel({ ...request, providerRef: 'a/b?c' });
    expect(seen).toEqual(['/ordermanagement/v1/orders/a%2Fb%3Fc/cancel']);
  });
});

describe('Klarna answers → outcomes', () => {
  it('404 NO_SUCH_ORDER → permanent not_found', async () => {
    cancelAnswers(() => klarnaError(404, 'NO_SUCH_ORDER', 'The order does not exist'));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'not_found', code: 'NO_SUCH_ORDER' });
  });

  it('401 → permanent auth', async () => {
    cancelAnswers(() => klarnaError(401, 'UNAUTHORIZED', 'Invalid credentials'));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'auth' });
  });

  it('401 without a body → permanent auth', async () => {
    cancelAnswers(() => new HttpResponse(null, { status: 401 }));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'UNAUTHORIZED' });
  });

  it.each([
    [409, 'CONFLICT'],
    [429, 'TOO_MANY_REQUESTS'],
    [500, 'INTERNAL_SERVER_ERROR'],
    [503, 'TEMPORARILY_UNAVAILABLE'],
  ])('%i %s → transient, honouring Retry-After', async (status, code) => {
    cancelAnswers(() => klarnaError(status, code, 'try later', { 'Retry-After': '7' }));
    expect(await cancelWith()).toEqual({
      kind: 'transient',
      code,
      message: expect.stringContaining(code),
      retryAfterMs: 7000,
    });
  });

  it('503 without Retry-After → transient without retryAfterMs', async () => {
    cancelAnswers(() => klarnaError(503, 'TEMPORARILY_UNAVAILABLE', 'Temporarily unavailable'));
    const outcome = await cancelWith();
    expect(outcome.kind).toBe('transient');
    expect(outcome).not.toHaveProperty('retryAfterMs');
  });

  it.each([
    ['a 200 with a body', () => HttpResponse.json({ status: 'CANCELLED' }, { status: 200 })],
    ['a 202', () => new HttpResponse(null, { status: 202 })],
    ['an HTML 502 from a proxy', () => new HttpResponse('<html><body>Bad gateway</body></html>', { status: 502, headers: { 'content-type': 'text/html' } })],
    ['a 404 without Klarna error code', () => new HttpResponse('<html>Not Found</html>', { status: 404 })],
    ['a 403 with another code', () => klarnaError(403, 'PERMISSION_DENIED', 'nope')],
    ['a 400', () => klarnaError(400, 'BAD_VALUE', 'bad')],
    ['a redirect', () => new HttpResponse(null, { status: 302, headers: { Location: 'https://elsewhere.test/' } })],
  ])('undocumented: %s → transient, never success', async (_label, answer) => {
    cancelAnswers(answer);
    expect((await cancelWith()).kind).toBe('transient');
  });

  it('a network error → transient', async () => {
    cancelAnswers(() => HttpResponse.error());
    expect((await cancelWith()).kind).toBe('transient');
  });

  it('no answer before the timeout → transient', async () => {
    cancelAnswers(async () => {
      await delay('infinite');
      return new HttpResponse(null, { status: 204 });
    });
    const started = Date.now();
    const outcome = await cancelWith(200);
    expect(outcome.kind).toBe('transient');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('an empty provider reference is rejected without a request', async () => {
    expect(await client().cancel({ ...request, providerRef: '  ' })).toMatchObject({ kind: 'permanent', reason: 'rejected' });
  });
});

describe('403 CANCEL_NOT_ALLOWED: captured or already cancelled?', () => {
  function notAllowedThenOrder(order: () => Response | Promise<Response>, seenAuth?: string[]) {
    cancelAnswers(() => klarnaError(403, 'CANCEL_NOT_ALLOWED', 'Order has previous captures. Cancel not possible.'));
    server.use(
      http.get(ORDER_URL, ({ request: req }) => {
        seenAuth?.push(req.headers.get('authorization') ?? '');
        return order();
      }),
    );
  }

  it('order CANCELLED, nothing captured → succeeded, alreadyCancelled (read with Basic auth)', async () => {
    const auth: string[] = [];
    notAllowedThenOrder(() => HttpResponse.json({ order_id: ORDER_ID, status: 'CANCELLED', captured_amount: 0 }), auth);
    expect(await cancelWith()).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(auth).toEqual([`Basic ${BASIC_TOKEN}`]);
  });

  it.each([
    ['CAPTURED', 10000],
    ['PART_CAPTURED', 5000],
    ['AUTHORIZED', 2500],
    ['CANCELLED', 100],
  ])('order %s with captured_amount %i → permanent captured (captured beats cancelled)', async (status, captured) => {
    notAllowedThenOrder(() => HttpResponse.json({ order_id: ORDER_ID, status, captured_amount: captured }));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'captured', code: 'CANCEL_NOT_ALLOWED' });
  });

  it.each(['AUTHORIZED', 'EXPIRED', 'CLOSED'])('order %s with nothing captured → captured (no proof of cancelled)', async (status) => {
    notAllowedThenOrder(() => HttpResponse.json({ order_id: ORDER_ID, status, captured_amount: 0 }));
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'captured' });
  });

  it.each([
    ['404', () => klarnaError(404, 'NO_SUCH_ORDER', 'gone')],
    ['401', () => klarnaError(401, 'UNAUTHORIZED', 'no')],
    ['unreadable 200', () => new HttpResponse('<html/>', { status: 200 })],
    ['200 without status', () => HttpResponse.json({ order_id: ORDER_ID })],
  ])('order read fails definitively (%s) → permanent captured, the safe answer', async (_label, answer) => {
    notAllowedThenOrder(answer);
    expect(await cancelWith()).toMatchObject({ kind: 'permanent', reason: 'captured' });
  });

  it('order read gets 503 → transient (a retry repeats the same keyed cancel and reads again)', async () => {
    notAllowedThenOrder(() => klarnaError(503, 'TEMPORARILY_UNAVAILABLE', 'later', { 'Retry-After': '3' }));
    expect(await cancelWith()).toMatchObject({ kind: 'transient', retryAfterMs: 3000 });
  });

  it('order read without an answer → transient', async () => {
    notAllowedThenOrder(() => HttpResponse.error());
    expect((await cancelWith()).kind).toBe('transient');
  });
});

describe('secrets', () => {
  it('a provider echoing our Authorization header does not leak it into the outcome', async () => {
    cancelAnswers(({ request: req }) => new HttpResponse(`<html>debug: ${req.headers.get('authorization')} pw=${PASSWORD}</html>`, { status: 500 }));
    const outcome = await cancelWith();
    expect(outcome.kind).toBe('transient');
    expect(JSON.stringify(outcome)).toContain('[REDACTED]');
  });

  it('no outcome of any test contains the password or the Basic token', () => {
    expect(outcomes.length).toBeGreaterThan(20);
    const all = JSON.stringify(outcomes);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(BASIC_TOKEN);
  });
});
