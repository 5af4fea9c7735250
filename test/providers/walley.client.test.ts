/**
 * The Walley client against msw: the exact token and cancel requests, the token cache (shared,
 * refreshed before expiry, re-fetched once on 401), and every documented answer mapped.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { createWalleyClient } from '../../src/providers/walley/client.js';
import type { CancelOutcome, CancelRequest, ConfirmOutcome, ProviderClient } from '../../src/providers/types.js';

const BASE = 'https://api.uat.walley.test';
const CLIENT_SECRET = 'walley-client-secret-9Qx';
const settings = { baseUrl: BASE, clientId: 'client-abc', clientSecret: CLIENT_SECRET, scope: 'https://api.walleydev.com/.default' };
const ORDER_ID = '4f3e2d1c-0000-4000-8000-000000000001';

const request: CancelRequest = {
  orderNo: '20001',
  providerRef: ORDER_ID,
  idempotencyKey: '1b7e0c7a-2b4f-4a5e-9c1d-3f2e1d0c9b8a',
  amount: '499.00',
  currency: 'SEK',
};

interface Captured {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}
let tokenRequests: Captured[] = [];
let apiRequests: Captured[] = [];
const issuedTokens: string[] = [];
const outcomes: unknown[] = [];
let clock = 1_700_000_000_000;
let client: ProviderClient;

const capture = async (req: Request): Promise<Captured> => ({ method: req.method, url: req.url, headers: req.headers, body: await req.text() });

/** A token endpoint issuing tok-1, tok-2, … valid for `expiresIn` seconds. */
function tokenEndpoint(expiresIn = 3600): void {
  server.use(
    http.post(`${BASE}/oauth2/v2.0/token`, async ({ request: req }) => {
      tokenRequests.push(await capture(req));
      const token = `tok-${tokenRequests.length}`;
      issuedTokens.push(token);
      return HttpResponse.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn });
    }),
  );
}

type Answer = { status: number; body?: string | object; headers?: Record<string, string> };
function respond(answer: Answer): Response {
  const body = answer.body === undefined ? null : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  const contentType = typeof answer.body === 'object' ? 'application/json' : 'text/html';
  return new HttpResponse(body, { status: answer.status, headers: { 'content-type': contentType, ...answer.headers } });
}

/** The cancel endpoint answers these in turn (the last one repeats). */
function cancelAnswers(...answers: Answer[]): void {
  server.use(
    http.post(`${BASE}/manage/orders/:id/cancel`, async ({ request: req }) => {
      apiRequests.push(await capture(req));
      return respond(answers[Math.min(apiRequests.filter((r) => r.method === 'POST').length - 1, answers.length - 1)]!);
    }),
  );
}
function orderAnswers(...answers: Answer[]): void {
  server.use(
    http.get(`${BASE}/manage/orders/:id`, async ({ request: req }) => {
      apiRequests.push(await capture(req));
      return respond(answers[Math.min(apiRequests.filter((r) => r.method === 'GET').length - 1, answers.length - 1)]!);
    }),
  );
}

const order = (status: string): Answer => ({ status: 200, body: { data: { orderId: ORDER_ID, status } } });
const refusal = (code?: string, title = 'Bad request'): Answer => ({ status: 400, body: { title, status: 400, ...(code ? { code } : {}) } });

async function cancel(req: CancelRequest = request): Promise<CancelOutcome> {
  const outcome = await client.cancel(req);
  outcomes.push(outcome);
  return outcome;
}
async function confirm(): Promise<ConfirmOutcome> {
  const outcome = await client.confirm!({ orderNo: request.orderNo, providerRef: ORDER_ID, transactionId: null });
  outcomes.push(outcome);
  return outcome;
}

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
beforeEach(() => {
  tokenRequests = [];
  apiRequests = [];
  clock = 1_700_000_000_000;
  client = createWalleyClient(settings, { timeoutMs: 2000, now: () => clock });
  tokenEndpoint();
});
afterEach(() => server.resetHandlers());
afterAll(() => {
  server.close();
  // No outcome of any test carries the client secret or any token.
  const all = JSON.stringify(outcomes);
  expect(all).not.toContain(CLIENT_SECRET);
  for (const token of issuedTokens) expect(all).not.toMatch(new RegExp(`\\b${token}\\b`));
});

describe('Walley: the requests', () => {
  it('fetches a client-credentials token, then POSTs the cancel with Bearer and idempotency key', async () => {
    cancelAnswers({ status: 202, headers: { location: `/manage/orders/${ORDER_ID}` } });
    expect(await cancel()).toEqual({ kind: 'accepted', transactionId: null });

    expect(tokenRequests).toHaveLength(1);
    const tokenRequest = tokenRequests[0]!;
    expect(tokenRequest.method).toBe('POST');
    expect(tokenRequest.url).toBe(`${BASE}/oauth2/v2.0/token`);
    expect(tokenRequest.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(tokenRequest.body))).toEqual({
      client_id: 'client-abc',
      client_secret: CLIENT_SECRET,
      grant_type: 'client_credentials',
      scope: 'https://api.walleydev.com/.default',
    });

    expect(apiRequests).toHaveLength(1);
    const sent = apiRequests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe(`${BASE}/manage/orders/${ORDER_ID}/cancel`);
    expect(sent.headers.get('authorization')).toBe('Bearer tok-1');
    expect(sent.headers.get('walley-idempotency-key')).toBe(request.idempotencyKey);
    expect(sent.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(sent.body)).toEqual({ actionReference: '20001' });
    expect(sent.body).not.toContain(CLIENT_SECRET);
  });

  it('escapes the order id in the path', async () => {
    cancelAnswers({ status: 202 });
    await cancel({ ...request, providerRef: 'a/b c' });
    expect(apiRequests[0]!.url).toBe(`${BASE}/manage/orders/a%2Fb%20c/cancel`);
  });

  it('sends the same idempotency key on every retry', async () => {
    cancelAnswers({ status: 503 }, { status: 409, body: { title: 'in progress' } }, { status: 202 });
    orderAnswers(order('NotActivated'));
    await cancel();
    await cancel();
    await cancel();
    const posts = apiRequests.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.headers.get('walley-idempotency-key'))).toEqual(Array(3).fill(request.idempotencyKey));
  });
});

describe('Walley: the token', () => {
  it('is cached across calls', async () => {
    cancelAnswers({ status: 202 });
    orderAnswers(order('NotActivated'));
    await cancel();
    await cancel();
    await confirm();
    expect(tokenRequests).toHaveLength(1);
    expect(apiRequests.every((r) => r.headers.get('authorization') === 'Bearer tok-1')).toBe(true);
  });

  it('is shared by concurrent calls: one fetch', async () => {
    cancelAnswers({ status: 202 });
    await Promise.all([cancel(), cancel(), cancel(), cancel()]);
    expect(tokenRequests).toHaveLength(1);
  });

  it('is refreshed 60 s before it expires', async () => {
    cancelAnswers({ status: 202 });
    await cancel();
    clock += 3600_000 - 61_000;
    await cancel();
    expect(tokenRequests).toHaveLength(1);
    clock += 2_000;
    await cancel();
    expect(tokenRequests).toHaveLength(2);
    expect(apiRequests.at(-1)!.headers.get('authorization')).toBe('Bearer tok-2');
  });

  it('a short-lived token is refreshed at half its lifetime', async () => {
    tokenEndpoint(10);
    cancelAnswers({ status: 202 });
    await cancel();
    clock += 4_000;
    await cancel();
    expect(tokenRequests).toHaveLength(1);
    clock += 2_000;
    await cancel();
    expect(tokenRequests).toHaveLength(2);
  });

  it('on a 401 a new token is fetched once and the call repeated once', async () => {
    cancelAnswers({ status: 401 }, { status: 202 });
    expect(await cancel()).toEqual({ kind: 'accepted', transactionId: null });
    expect(tokenRequests).toHaveLength(2);
    expect(apiRequests.map((r) => r.headers.get('authorization'))).toEqual(['Bearer tok-1', 'Bearer tok-2']);
  });

  it('a second 401 is permanent auth, with no loop', async () => {
    cancelAnswers({ status: 401 });
    expect(await cancel()).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'UNAUTHORIZED' });
    expect(tokenRequests).toHaveLength(2);
    expect(apiRequests).toHaveLength(2);
  });

  const tokenFailures: Array<[string, Answer, Partial<CancelOutcome>]> = [
    [
      '401 invalid_client',
      { status: 401, body: { error: 'invalid_client', error_description: `bad secret ${CLIENT_SECRET}` } },
      { kind: 'permanent', reason: 'auth', code: 'TOKEN_INVALID_CLIENT' },
    ],
    ['400 invalid_client', { status: 400, body: { error: 'invalid_client' } }, { kind: 'permanent', reason: 'auth', code: 'TOKEN_INVALID_CLIENT' }],
    ['400 invalid_scope', { status: 400, body: { error: 'invalid_scope' } }, { kind: 'permanent', reason: 'auth' }],
    ['503 with Retry-After', { status: 503, body: 'down', headers: { 'retry-after': '4' } }, { kind: 'transient', code: 'TOKEN_HTTP_503', retryAfterMs: 4000 }],
    ['200 without a token', { status: 200, body: { token_type: 'Bearer' } }, { kind: 'transient', code: 'TOKEN_UNEXPECTED_ANSWER' }],
    ['400 HTML', { status: 400, body: '<html>?</html>' }, { kind: 'transient', code: 'TOKEN_HTTP_400' }],
  ];
  it.each(tokenFailures)('token endpoint %s', async (_name, answer, expected) => {
    server.use(http.post(`${BASE}/oauth2/v2.0/token`, () => respond(answer)));
    cancelAnswers({ status: 202 });
    const outcome = await cancel();
    expect(outcome).toMatchObject(expected);
    expect(JSON.stringify(outcome)).not.toContain(CLIENT_SECRET);
    expect(apiRequests).toHaveLength(0);
  });

  it('a token endpoint that cannot be reached is transient', async () => {
    server.use(http.post(`${BASE}/oauth2/v2.0/token`, () => HttpResponse.error()));
    expect(await cancel()).toMatchObject({ kind: 'transient' });
  });

  it('a failed token fetch is not cached: the next call asks again', async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE}/oauth2/v2.0/token`, () => {
        calls += 1;
        return calls === 1 ? respond({ status: 503 }) : HttpResponse.json({ access_token: 'tok-ok', expires_in: 3600 });
      }),
    );
    cancelAnswers({ status: 202 });
    expect(await cancel()).toMatchObject({ kind: 'transient' });
    expect(await cancel()).toMatchObject({ kind: 'accepted' });
  });
});

describe('Walley cancel: every documented answer', () => {
  const cases: Array<[string, Answer, Partial<CancelOutcome>]> = [
    ['202', { status: 202 }, { kind: 'accepted', transactionId: null }],
    ['404', { status: 404, body: { title: 'Not found' } }, { kind: 'permanent', reason: 'not_found' }],
    ['403', { status: 403 }, { kind: 'permanent', reason: 'auth', code: 'HTTP_403' }],
    ['400 already cancelled', refusal('ORDER_ALREADY_CANCELLED'), { kind: 'succeeded', alreadyCancelled: true }],
    ['400 activated', refusal('ORDER_ACTIVATED'), { kind: 'permanent', reason: 'captured', code: 'ORDER_ACTIVATED' }],
    [
      '400 activated, code in errors[]',
      { status: 400, body: { errors: [{ code: 'OrderActivated', message: 'x' }] } },
      { kind: 'permanent', reason: 'captured' },
    ],
    ['500', { status: 500 }, { kind: 'transient', code: 'HTTP_500' }],
    ['502 HTML', { status: 502, body: '<html>bad gateway</html>' }, { kind: 'transient', code: 'HTTP_502' }],
  ];
  it.each(cases)('%s', async (_name, answer, expected) => {
    cancelAnswers(answer);
    expect(await cancel()).toMatchObject(expected);
  });

  it('429 is transient with Retry-After', async () => {
    cancelAnswers({ status: 429, headers: { 'retry-after': '12' } });
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'HTTP_429', retryAfterMs: 12_000 });
  });

  it('a 400 without a known code is settled by reading the order', async () => {
    cancelAnswers(refusal(undefined, 'Only orders in status NotActivated, PartActivated or Expired can be cancelled'));
    orderAnswers(order('Cancelled'));
    expect(await cancel()).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(apiRequests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      `POST /manage/orders/${ORDER_ID}/cancel`,
      `GET /manage/orders/${ORDER_ID}`,
    ]);
  });

  it.each([
    ['Activated', { kind: 'permanent', reason: 'captured' }],
    ['PartActivated', { kind: 'permanent', reason: 'captured' }],
    ['NotActivated', { kind: 'transient' }],
  ])('a 400 without a known code on an order that reads %s', async (status, expected) => {
    cancelAnswers(refusal('SOMETHING_NEW'));
    orderAnswers(order(status));
    expect(await cancel()).toMatchObject(expected);
  });

  it('a 400 without a known code whose order read fails is transient', async () => {
    cancelAnswers(refusal());
    orderAnswers({ status: 503 });
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'HTTP_400' });
  });

  it('a network failure is transient', async () => {
    server.use(http.post(`${BASE}/manage/orders/:id/cancel`, () => HttpResponse.error()));
    expect(await cancel()).toMatchObject({ kind: 'transient' });
  });

  it('a token or secret echoed back is redacted', async () => {
    cancelAnswers({ status: 500, body: `<pre>Authorization: Bearer tok-1 secret=${CLIENT_SECRET}</pre>` });
    const outcome = await cancel();
    expect(outcome).toMatchObject({ kind: 'transient' });
    expect(JSON.stringify(outcome)).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(outcome)).not.toContain('tok-1');
  });
});

describe('Walley cancel: 409, a request with our own idempotency key in progress', () => {
  const inProgress: Answer = { status: 409, body: { title: 'Request with same idempotency key already in progress', status: 409 } };
  const calls = () => apiRequests.map((r) => `${r.method} ${new URL(r.url).pathname}`);

  it('reads the order: Cancelled → succeeded (our earlier attempt did it, so not "already cancelled")', async () => {
    cancelAnswers(inProgress);
    orderAnswers(order('Cancelled'));
    expect(await cancel()).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(calls()).toEqual([`POST /manage/orders/${ORDER_ID}/cancel`, `GET /manage/orders/${ORDER_ID}`]);
    // The read carries the same Bearer token; it is a GET, so no idempotency key.
    expect(apiRequests[1]!.headers.get('authorization')).toBe('Bearer tok-1');
  });

  it.each(['NotActivated', 'PartActivated', 'Expired'])('the order still reads %s (the cancel has not shown yet) → transient', async (status) => {
    cancelAnswers(inProgress);
    orderAnswers(order(status));
    const outcome = await cancel();
    expect(outcome).toMatchObject({ kind: 'transient', code: 'HTTP_409' });
    expect((outcome as { message: string }).message).toContain(`still reads ${status}`);
  });

  it('the order reads Activated → permanent captured', async () => {
    cancelAnswers(inProgress);
    orderAnswers(order('Activated'));
    expect(await cancel()).toMatchObject({ kind: 'permanent', reason: 'captured', code: 'ORDER_ACTIVATED' });
  });

  const failedReads: Array<[string, () => void]> = [
    ['503', () => orderAnswers({ status: 503 })],
    ['404 (the documented lag after a change)', () => orderAnswers({ status: 404, body: { title: 'Not found' } })],
    ['403 (the documented lag after a change)', () => orderAnswers({ status: 403 })],
    ['200 without data.status', () => orderAnswers({ status: 200, body: { data: {} } })],
    ['a network failure', () => server.use(http.get(`${BASE}/manage/orders/:id`, () => HttpResponse.error()))],
  ];
  it.each(failedReads)('the order read fails (%s) → transient, never permanent', async (_name, setUp) => {
    cancelAnswers(inProgress);
    setUp();
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'HTTP_409' });
  });

  it("keeps the 409's Retry-After", async () => {
    cancelAnswers({ ...inProgress, headers: { 'retry-after': '3' } });
    orderAnswers(order('NotActivated'));
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'HTTP_409', retryAfterMs: 3000 });
  });

  it('no secret or token in any message, even when both answers echo them', async () => {
    cancelAnswers({ status: 409, body: `<pre>in progress; Authorization: Bearer tok-1; secret=${CLIENT_SECRET}</pre>` });
    orderAnswers({ status: 200, body: { data: { status: `Weird ${CLIENT_SECRET} Bearer tok-1` } } });
    const outcome = await cancel();
    expect(outcome).toMatchObject({ kind: 'transient', code: 'HTTP_409' });
    expect(JSON.stringify(outcome)).not.toContain(CLIENT_SECRET);
    expect(JSON.stringify(outcome)).not.toMatch(/\btok-1\b/);
  });
});

describe('Walley confirm', () => {
  it('GETs the order with the Bearer token', async () => {
    orderAnswers(order('Cancelled'));
    expect(await confirm()).toEqual({ kind: 'succeeded' });
    const sent = apiRequests[0]!;
    expect(sent.method).toBe('GET');
    expect(sent.url).toBe(`${BASE}/manage/orders/${ORDER_ID}`);
    expect(sent.headers.get('authorization')).toBe('Bearer tok-1');
  });

  const cases: Array<[string, Answer, Partial<ConfirmOutcome>]> = [
    ['NotActivated', order('NotActivated'), { kind: 'pending', status: 'NotActivated' }],
    ['Activated', order('Activated'), { kind: 'permanent', reason: 'captured' }],
    ['PartActivated', order('PartActivated'), { kind: 'permanent', reason: 'captured' }],
    ['404 (lag)', { status: 404 }, { kind: 'pending' }],
    ['403 (lag)', { status: 403 }, { kind: 'pending' }],
    ['an undocumented status', order('Vanished'), { kind: 'transient', code: 'UNKNOWN_STATUS' }],
    ['no data.status', { status: 200, body: { data: {} } }, { kind: 'transient', code: 'UNEXPECTED_ANSWER' }],
    ['503', { status: 503, headers: { 'retry-after': '1' } }, { kind: 'transient', retryAfterMs: 1000 }],
  ];
  it.each(cases)('%s', async (_name, answer, expected) => {
    orderAnswers(answer);
    expect(await confirm()).toMatchObject(expected);
  });

  it('401 twice is auth; a refused token fetch is auth', async () => {
    orderAnswers({ status: 401 });
    expect(await confirm()).toMatchObject({ kind: 'permanent', reason: 'auth' });
    server.use(http.post(`${BASE}/oauth2/v2.0/token`, () => respond({ status: 401, body: { error: 'invalid_client' } })));
    client = createWalleyClient(settings, { timeoutMs: 2000, now: () => clock });
    expect(await confirm()).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'TOKEN_INVALID_CLIENT' });
  });
});
