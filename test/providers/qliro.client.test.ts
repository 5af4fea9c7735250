/**
 * The Qliro client against msw: the exact request (the signature recomputed here from Qliro's
 * documented formula with node:crypto, not with the client's helper), and every documented answer
 * mapped to its outcome.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { createQliroClient } from '../../src/providers/qliro/client.js';
import type { CancelOutcome, CancelRequest, ConfirmOutcome } from '../../src/providers/types.js';

const BASE = 'https://pago.qit.test';
const SECRET = 'qliro-secret-Zx81!';
const API_KEY = 'merchant-key-42';
const settings = { baseUrl: `${BASE}/`, merchantApiKey: API_KEY, merchantApiSecret: SECRET };
const client = createQliroClient(settings, { timeoutMs: 2000 });

const request: CancelRequest = {
  orderNo: '10001',
  providerRef: '4711',
  idempotencyKey: '6f1c2a7e-4c7b-4df0-9a36-0b6a1f0e9d11',
  amount: '1249.00',
  currency: 'SEK',
};

function documentedSignature(bytes: Buffer, secret: string): string {
  const hash = createHash('sha256');
  hash.update(Buffer.concat([bytes, Buffer.from(secret, 'utf8')]));
  return `Qliro ${hash.digest('base64')}`;
}

interface Captured {
  method: string;
  url: string;
  headers: Headers;
  body: Buffer;
}
const captured: Captured[] = [];
const outcomes: unknown[] = [];

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  captured.length = 0;
});
afterAll(() => {
  server.close();
  // Every outcome any test produced: no configured secret anywhere in them.
  const all = JSON.stringify(outcomes);
  expect(all).not.toContain(SECRET);
});

function answerCancel(status: number, body: string | object, headers: Record<string, string> = {}): void {
  server.use(
    http.post(`${BASE}/checkout/adminapi/v2/cancelOrder`, async ({ request: req }) => {
      captured.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.from(await req.arrayBuffer()) });
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      return new HttpResponse(text, { status, headers: { 'content-type': typeof body === 'string' ? 'text/html' : 'application/json', ...headers } });
    }),
  );
}

async function cancel(req: CancelRequest = request): Promise<CancelOutcome> {
  const outcome = await client.cancel(req);
  outcomes.push(outcome);
  return outcome;
}

const qliroError = (code: string, message = 'msg') => ({ ErrorCode: code, ErrorMessage: message, ErrorReference: 'ref-1' });

describe('Qliro cancel: the request', () => {
  it('POSTs the documented body, serialized once, signed over exactly those bytes', async () => {
    answerCancel(200, { PaymentTransactions: [{ PaymentTransactionId: 123456, Status: 'Created' }] });
    const outcome = await cancel();
    expect(outcome).toEqual({ kind: 'accepted', transactionId: '123456' });
    expect(captured).toHaveLength(1);
    const sent = captured[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe(`${BASE}/checkout/adminapi/v2/cancelOrder`);
    expect(sent.body.toString('utf8')).toBe(`{"RequestId":"${request.idempotencyKey}","MerchantApiKey":"${API_KEY}","OrderId":4711}`);
    expect(JSON.parse(sent.body.toString('utf8'))).toEqual({ RequestId: request.idempotencyKey, MerchantApiKey: API_KEY, OrderId: 4711 });
    expect(sent.headers.get('content-type')).toBe('application/json');
    expect(sent.headers.get('authorization')).toBe(documentedSignature(sent.body, SECRET));
    // The secret itself never travels.
    expect(sent.body.toString('utf8')).not.toContain(SECRET);
    expect(sent.headers.get('authorization')).not.toContain(SECRET);
  });

  it('sends the same RequestId on every retry of one cancellation', async () => {
    answerCancel(503, qliroError('SERVICE_UNAVAILABLE'));
    await cancel();
    await cancel();
    await cancel();
    const ids = captured.map((c) => (JSON.parse(c.body.toString('utf8')) as { RequestId: string }).RequestId);
    expect(ids).toEqual([request.idempotencyKey, request.idempotencyKey, request.idempotencyKey]);
    // Same bytes, same signature.
    expect(new Set(captured.map((c) => c.headers.get('authorization'))).size).toBe(1);
  });

  it('writes long integer ids digit for digit and drops leading zeros', async () => {
    answerCancel(200, { PaymentTransactions: [{ PaymentTransactionId: 1, Status: 'Created' }] });
    await cancel({ ...request, providerRef: '00012345678901234567' });
    expect(captured[0]!.body.toString('utf8')).toContain('"OrderId":12345678901234567}');
  });

  it('refuses a non-integer providerRef without sending anything', async () => {
    const outcome = await cancel({ ...request, providerRef: 'abc-1' });
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'rejected', code: 'INVALID_ORDER_ID' });
    expect(captured).toHaveLength(0);
  });
});

describe('Qliro cancel: every documented answer', () => {
  const cases: Array<[string, number, object, Partial<CancelOutcome>]> = [
    ['already cancelled', 400, qliroError('ORDER_HAS_BEEN_CANCELLED'), { kind: 'succeeded', alreadyCancelled: true }],
    ['not found', 400, qliroError('ORDER_NOT_FOUND'), { kind: 'permanent', reason: 'not_found', code: 'ORDER_NOT_FOUND' }],
    ['not found at 404', 404, qliroError('ORDER_NOT_FOUND'), { kind: 'permanent', reason: 'not_found' }],
    ['merchant mismatch', 400, qliroError('MERCHANT_MISMATCH'), { kind: 'permanent', reason: 'rejected', code: 'MERCHANT_MISMATCH' }],
    ['no payment transaction', 400, qliroError('NO_PAYMENT_TRANSACTION'), { kind: 'permanent', reason: 'not_found', code: 'NO_PAYMENT_TRANSACTION' }],
    ['no items to cancel', 400, qliroError('NO_ITEMS_TO_CANCEL'), { kind: 'permanent', reason: 'captured', code: 'NO_ITEMS_TO_CANCEL' }],
    ['no qualified items', 400, qliroError('NO_QUALIFIED_ITEMS_TO_MANAGE'), { kind: 'permanent', reason: 'captured' }],
    ['nothing left in reservation', 400, qliroError('NO_ITEMS_LEFT_IN_RESERVATION'), { kind: 'permanent', reason: 'captured' }],
    ['another transaction in process', 400, qliroError('OPERATION_NOT_SUPPORTED'), { kind: 'transient', code: 'OPERATION_NOT_SUPPORTED' }],
    ['payment on hold', 400, qliroError('PAYMENT_ONHOLD'), { kind: 'transient', code: 'PAYMENT_ONHOLD' }],
    ['401 without a known code', 401, qliroError('UNAUTHORIZED'), { kind: 'permanent', reason: 'auth' }],
    ['403 without a body', 403, {}, { kind: 'permanent', reason: 'auth', code: 'HTTP_403' }],
    ['a known code wins over 401', 401, qliroError('ORDER_HAS_BEEN_CANCELLED'), { kind: 'succeeded', alreadyCancelled: true }],
    ['unknown ErrorCode', 400, qliroError('SOMETHING_NEW'), { kind: 'transient', code: 'SOMETHING_NEW' }],
    ['2xx without a transaction id', 200, { PaymentTransactions: [] }, { kind: 'transient', code: 'UNEXPECTED_ANSWER' }],
    ['2xx with an empty object', 200, {}, { kind: 'transient', code: 'UNEXPECTED_ANSWER' }],
    ['500', 500, {}, { kind: 'transient', code: 'HTTP_500' }],
    ['404 without a code', 404, {}, { kind: 'transient', code: 'HTTP_404' }],
  ];
  it.each(cases)('%s', async (_name, status, body, expected) => {
    answerCancel(status, body);
    expect(await cancel()).toMatchObject(expected);
  });

  it('an HTML page, even at 200, is transient', async () => {
    answerCancel(200, '<html><body>Maintenance</body></html>');
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'UNEXPECTED_ANSWER' });
  });

  it('429 and 503 are transient and carry Retry-After', async () => {
    answerCancel(429, qliroError('TOO_MANY_REQUESTS'), { 'retry-after': '7' });
    expect(await cancel()).toMatchObject({ kind: 'transient', retryAfterMs: 7000 });
    answerCancel(503, '<html>down</html>', { 'retry-after': '2' });
    expect(await cancel()).toMatchObject({ kind: 'transient', code: 'HTTP_503', retryAfterMs: 2000 });
  });

  it('a network failure is transient', async () => {
    server.use(http.post(`${BASE}/checkout/adminapi/v2/cancelOrder`, () => HttpResponse.error()));
    expect(await cancel()).toMatchObject({ kind: 'transient' });
  });

  it('a secret echoed back by the provider is redacted from the message', async () => {
    answerCancel(400, qliroError('SOMETHING_NEW', `bad secret ${SECRET} in request`));
    const outcome = await cancel();
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
    expect(outcome).toMatchObject({ kind: 'transient', message: expect.stringContaining('[REDACTED]') });
    answerCancel(500, `<html>${SECRET}</html>`);
    expect(JSON.stringify(await cancel())).not.toContain(SECRET);
  });
});

describe('Qliro confirm', () => {
  function answerTransaction(status: number, body: object | string, headers: Record<string, string> = {}): void {
    server.use(
      http.get(`${BASE}/checkout/adminapi/v2/paymentTransactions/:id`, async ({ request: req }) => {
        captured.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.from(await req.arrayBuffer()) });
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        return new HttpResponse(text, { status, headers: { 'content-type': 'application/json', ...headers } });
      }),
    );
  }
  async function confirm(transactionId: string | null = '123456'): Promise<ConfirmOutcome> {
    const outcome = await client.confirm!({ orderNo: '10001', providerRef: '4711', transactionId });
    outcomes.push(outcome);
    return outcome;
  }
  const tx = (Status: string) => ({ PaymentTransactionId: 123456, Type: 'Reversal', Status });

  it('GETs the transaction, signed over the empty string', async () => {
    answerTransaction(200, tx('Success'));
    expect(await confirm()).toEqual({ kind: 'succeeded' });
    const sent = captured[0]!;
    expect(sent.method).toBe('GET');
    expect(sent.url).toBe(`${BASE}/checkout/adminapi/v2/paymentTransactions/123456`);
    expect(sent.headers.get('authorization')).toBe(documentedSignature(Buffer.alloc(0), SECRET));
    expect(sent.body.length).toBe(0);
  });

  it.each(['Created', 'InProcess', 'OnHold', 'UserInteractionRequired'])('%s is pending', async (status) => {
    answerTransaction(200, tx(status));
    expect(await confirm()).toEqual({ kind: 'pending', status });
  });

  it.each(['Error', 'Cancelled'])('%s is a permanent rejection', async (status) => {
    answerTransaction(200, tx(status));
    expect(await confirm()).toMatchObject({ kind: 'permanent', reason: 'rejected' });
  });

  it('an undocumented status or shape is transient', async () => {
    answerTransaction(200, tx('Teleported'));
    expect(await confirm()).toMatchObject({ kind: 'transient', code: 'UNKNOWN_STATUS' });
    answerTransaction(200, '<html></html>');
    expect(await confirm()).toMatchObject({ kind: 'transient', code: 'UNEXPECTED_ANSWER' });
  });

  it('401 is auth, 429/5xx transient with Retry-After', async () => {
    answerTransaction(401, qliroError('UNAUTHORIZED'));
    expect(await confirm()).toMatchObject({ kind: 'permanent', reason: 'auth' });
    answerTransaction(429, {}, { 'retry-after': '3' });
    expect(await confirm()).toMatchObject({ kind: 'transient', retryAfterMs: 3000 });
    answerTransaction(502, {});
    expect(await confirm()).toMatchObject({ kind: 'transient', code: 'HTTP_502' });
  });

  it('without a stored transaction id it is transient and sends nothing', async () => {
    expect(await confirm(null)).toMatchObject({ kind: 'transient', code: 'MISSING_TRANSACTION_ID' });
    expect(captured).toHaveLength(0);
  });
});
