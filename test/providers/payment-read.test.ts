/**
 * Every client's payment read against msw: the request it sends (signed or authenticated like its
 * other requests), each documented answer mapped to exactly one state, and everything else — an
 * undocumented status, an error body, a malformed body, a timeout, a 401 — `unknown`, with a clear
 * reason and no secret. No real network: msw intercepts axios.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { createKlarnaClient } from '../../src/providers/klarna/client.js';
import { createQliroClient } from '../../src/providers/qliro/client.js';
import { createSveaClient } from '../../src/providers/svea/client.js';
import type { PaymentRead, ProviderClient } from '../../src/providers/types.js';
import { createWalleyClient } from '../../src/providers/walley/client.js';

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const TIMEOUT_MS = 300;
/** Every read any test got: searched for secrets at the end. */
const reads: PaymentRead[] = [];
const seen: Request[] = [];

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

function respond(answer: Exclude<Answer, 'hang'>): Response {
  const body = answer.body === undefined ? null : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  const contentType = typeof answer.body === 'string' ? 'text/html' : 'application/json';
  return new HttpResponse(body, { status: answer.status, headers: { 'content-type': contentType, ...answer.headers } });
}

function orderAnswers(url: string, answer: Answer): void {
  server.use(
    http.get(url, async ({ request }) => {
      seen.push(request.clone());
      if (answer === 'hang') {
        // An unref'd wait: the client gives up long before, and Jest must not wait for it.
        await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 3).unref());
        return respond({ status: 200, body: {} });
      }
      return respond(answer);
    }),
  );
}

interface Case {
  name: string;
  answer: Answer;
  expected: Partial<PaymentRead>;
}

interface ClientUnderTest {
  provider: string;
  ref: string;
  url: string;
  secret: string;
  client: () => ProviderClient;
  /** Extra handlers (Walley's token endpoint). */
  setup?: () => void;
  /** The request carried its credentials as documented. */
  authenticated: (request: Request) => void;
  cases: Case[];
}

// --- Klarna ---------------------------------------------------------------------------------
const KLARNA_BASE = 'https://api.playground.klarna.test';
const KLARNA_PASSWORD = 'klarna-pass-Xy9!secret';
const KLARNA_REF = 'f3392f8b-6116-4073-ab96-e330819e2c07';
const klarna: ClientUnderTest = {
  provider: 'klarna',
  ref: KLARNA_REF,
  url: `${KLARNA_BASE}/ordermanagement/v1/orders/${KLARNA_REF}`,
  secret: KLARNA_PASSWORD,
  client: () => createKlarnaClient({ baseUrl: KLARNA_BASE, username: 'PK1_merchant', password: KLARNA_PASSWORD }, { timeoutMs: TIMEOUT_MS }),
  authenticated: (r) => expect(r.headers.get('authorization')).toBe(`Basic ${Buffer.from(`PK1_merchant:${KLARNA_PASSWORD}`).toString('base64')}`),
  cases: [
    {
      name: 'AUTHORIZED → reserved, the remaining amount in major units, the expiry in UTC',
      answer: {
        status: 200,
        body: { status: 'AUTHORIZED', remaining_authorized_amount: 124900, purchase_currency: 'SEK', expires_at: '2026-12-30T10:00:00+01:00' },
      },
      expected: { state: 'reserved', reservedAmount: '1249.00', currency: 'SEK', expiresAt: '2026-12-30T09:00:00.000Z' },
    },
    {
      name: 'PART_CAPTURED → reserved, what remains',
      answer: {
        status: 200,
        body: { status: 'PART_CAPTURED', remaining_authorized_amount: 5005, purchase_currency: 'EUR', expires_at: '2027-01-05T00:00:00Z' },
      },
      expected: { state: 'reserved', reservedAmount: '50.05', currency: 'EUR', expiresAt: '2027-01-05T00:00:00.000Z' },
    },
    { name: 'CAPTURED → captured', answer: { status: 200, body: { status: 'CAPTURED', remaining_authorized_amount: 0 } }, expected: { state: 'captured' } },
    { name: 'CLOSED → captured (nothing left reserved)', answer: { status: 200, body: { status: 'CLOSED' } }, expected: { state: 'captured' } },
    { name: 'CANCELLED → cancelled', answer: { status: 200, body: { status: 'CANCELLED' } }, expected: { state: 'cancelled' } },
    { name: 'EXPIRED → expired', answer: { status: 200, body: { status: 'EXPIRED' } }, expected: { state: 'expired' } },
    {
      name: '404 NO_SUCH_ORDER → not_found',
      answer: { status: 404, body: { error_code: 'NO_SUCH_ORDER', error_messages: ['No such order'], correlation_id: 'c-1' } },
      expected: { state: 'not_found' },
    },
    { name: 'an undocumented status → unknown', answer: { status: 200, body: { status: 'ON_HOLD' } }, expected: { state: 'unknown' } },
    {
      name: 'an error body (503) → unknown',
      answer: { status: 503, body: { error_code: 'TEMPORARILY_UNAVAILABLE', error_messages: ['try later'] } },
      expected: { state: 'unknown' },
    },
    {
      name: 'a 404 without Klarna’s code (a wrong base URL) → unknown',
      answer: { status: 404, body: '<html>Not Found</html>' },
      expected: { state: 'unknown' },
    },
    { name: 'a malformed body → unknown', answer: { status: 200, body: '<html>maintenance</html>' }, expected: { state: 'unknown' } },
    {
      name: 'a negative amount is malformed → unknown',
      answer: { status: 200, body: { status: 'AUTHORIZED', remaining_authorized_amount: -5 } },
      expected: { state: 'unknown' },
    },
  ],
};

// --- Qliro ----------------------------------------------------------------------------------
const QLIRO_BASE = 'https://pago.qit.test';
const QLIRO_SECRET = 'qliro-secret-Zx81!';
const qliroTx = (Type: string, Status: string, Amount?: number) => ({ PaymentTransactionId: 1, Type, Status, Amount, Currency: 'SEK' });
const qliro: ClientUnderTest = {
  provider: 'qliro',
  ref: '3456789',
  url: `${QLIRO_BASE}/checkout/adminapi/v2/orders/3456789`,
  secret: QLIRO_SECRET,
  client: () => createQliroClient({ baseUrl: QLIRO_BASE, merchantApiKey: 'merchant-key-42', merchantApiSecret: QLIRO_SECRET }, { timeoutMs: TIMEOUT_MS }),
  // A GET signs the empty string: base64(sha256("" + secret)).
  authenticated: (r) => expect(r.headers.get('authorization')).toBe(`Qliro ${createHash('sha256').update(QLIRO_SECRET).digest('base64')}`),
  cases: [
    {
      name: 'a successful Preauthorization, no Reversal → reserved with its amount, no expiry',
      answer: { status: 200, body: { OrderId: 3456789, PaymentTransactions: [qliroTx('Preauthorization', 'Success', 1249)] } },
      expected: { state: 'reserved', reservedAmount: '1249.00', currency: 'SEK', expiresAt: null },
    },
    {
      name: 'a partial successful Reversal → reserved, the rest',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Preauthorization', 'Success', 1000), qliroTx('Reversal', 'Success', 400.5)] } },
      expected: { state: 'reserved', reservedAmount: '599.50' },
    },
    {
      name: 'a Reversal still in process changes nothing yet → reserved',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Preauthorization', 'Success', 1000), qliroTx('Reversal', 'InProcess', 1000)] } },
      expected: { state: 'reserved', reservedAmount: '1000.00' },
    },
    {
      name: 'a successful Reversal → cancelled',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Preauthorization', 'Success', 1000), qliroTx('Reversal', 'Success', 1000)] } },
      expected: { state: 'cancelled' },
    },
    {
      name: 'a successful Capture → captured',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Preauthorization', 'Success', 1000), qliroTx('Capture', 'Success', 1000)] } },
      expected: { state: 'captured' },
    },
    {
      name: 'a successful Debit → captured',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Debit', 'Success', 1000)] } },
      expected: { state: 'captured' },
    },
    {
      name: '404 ORDER_NOT_FOUND → not_found',
      answer: { status: 404, body: { ErrorCode: 'ORDER_NOT_FOUND', ErrorMessage: 'Order not found', ErrorReference: 'r-1' } },
      expected: { state: 'not_found' },
    },
    {
      name: 'no successful Preauthorization (undocumented) → unknown',
      answer: { status: 200, body: { PaymentTransactions: [qliroTx('Preauthorization', 'Error', 1000)] } },
      expected: { state: 'unknown' },
    },
    {
      name: 'an error body → unknown',
      answer: { status: 400, body: { ErrorCode: 'PAYMENT_ONHOLD', ErrorMessage: 'on hold', ErrorReference: 'r-2' } },
      expected: { state: 'unknown' },
    },
    { name: 'a malformed body → unknown', answer: { status: 200, body: { OrderId: 1 } }, expected: { state: 'unknown' } },
  ],
};

// --- Walley ---------------------------------------------------------------------------------
const WALLEY_BASE = 'https://api.uat.walley.test';
const WALLEY_SECRET = 'walley-client-secret-9Qx';
const WALLEY_REF = '4f3e2d1c-0000-4000-8000-000000000001';
const walleyOrder = (data: Record<string, unknown>) => ({ status: 200, body: { data: { orderId: WALLEY_REF, ...data } } });
const walley: ClientUnderTest = {
  provider: 'walley',
  ref: WALLEY_REF,
  url: `${WALLEY_BASE}/manage/orders/${WALLEY_REF}`,
  secret: WALLEY_SECRET,
  client: () =>
    createWalleyClient(
      { baseUrl: WALLEY_BASE, clientId: 'client-abc', clientSecret: WALLEY_SECRET, scope: 'scope/.default' },
      { timeoutMs: TIMEOUT_MS, notFoundRecheckMs: 10 },
    ),
  setup: () =>
    server.use(
      http.post(`${WALLEY_BASE}/oauth2/v2.0/token`, () => HttpResponse.json({ access_token: 'tok-walley-1', token_type: 'Bearer', expires_in: 3600 })),
    ),
  authenticated: (r) => expect(r.headers.get('authorization')).toBe('Bearer tok-walley-1'),
  cases: [
    {
      name: 'NotActivated → reserved with totalAmount and expiresAt',
      answer: walleyOrder({ status: 'NotActivated', totalAmount: 499, currency: 'SEK', expiresAt: '2027-02-28T12:00:00Z' }),
      expected: { state: 'reserved', reservedAmount: '499.00', currency: 'SEK', expiresAt: '2027-02-28T12:00:00.000Z' },
    },
    {
      name: 'NotActivated with expiresAt null → reserved, no expiry',
      answer: walleyOrder({ status: 'NotActivated', totalAmount: 12.5, currency: 'NOK', expiresAt: null }),
      expected: { state: 'reserved', reservedAmount: '12.50', expiresAt: null },
    },
    {
      name: 'PartActivated → reserved, the amount left out (not exposed)',
      answer: walleyOrder({ status: 'PartActivated', totalAmount: 499, currency: 'SEK' }),
      expected: { state: 'reserved', reservedAmount: null, currency: 'SEK' },
    },
    { name: 'Activated → captured', answer: walleyOrder({ status: 'Activated', totalAmount: 499 }), expected: { state: 'captured' } },
    { name: 'Cancelled → cancelled', answer: walleyOrder({ status: 'Cancelled' }), expected: { state: 'cancelled' } },
    { name: 'Expired → expired', answer: walleyOrder({ status: 'Expired' }), expected: { state: 'expired' } },
    { name: '404 (twice, a moment apart) → not_found', answer: { status: 404, body: { title: 'Order not found' } }, expected: { state: 'not_found' } },
    { name: 'an undocumented status → unknown', answer: walleyOrder({ status: 'Frozen' }), expected: { state: 'unknown' } },
    { name: 'an error body (500) → unknown', answer: { status: 500, body: { title: 'Internal error' } }, expected: { state: 'unknown' } },
    { name: 'a 403 → unknown', answer: { status: 403, body: { title: 'Forbidden' } }, expected: { state: 'unknown' } },
    { name: 'a malformed body → unknown', answer: { status: 200, body: '<html></html>' }, expected: { state: 'unknown' } },
  ],
};

// --- Svea -----------------------------------------------------------------------------------
const SVEA_BASE = 'https://paymentadminapistage.svea.test';
const SVEA_SECRET = 'svea-Secret-1f2e3d4c5b6a';
const sveaOrder = (fields: Record<string, unknown>) => ({ status: 200, body: { Id: 8906830, Currency: 'SEK', Deliveries: [], ...fields } });
const svea: ClientUnderTest = {
  provider: 'svea',
  ref: '8906830',
  url: `${SVEA_BASE}/api/v1/orders/8906830`,
  secret: SVEA_SECRET,
  client: () => createSveaClient({ baseUrl: SVEA_BASE, merchantId: '124842', secret: SVEA_SECRET }, { timeoutMs: TIMEOUT_MS }),
  authenticated: (r) => {
    const timestamp = r.headers.get('timestamp') ?? '';
    expect(timestamp).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const hex = createHash('sha512').update(`${SVEA_SECRET}${timestamp}`).digest('hex');
    expect(r.headers.get('authorization')).toBe(`Svea ${Buffer.from(`124842:${hex}`).toString('base64')}`);
  },
  cases: [
    {
      name: 'Open with CanCancelOrder → reserved, OrderAmount less CancelledAmount, no expiry',
      answer: sveaOrder({ OrderStatus: 'Open', Actions: ['CanDeliverOrder', 'CanCancelOrder'], OrderAmount: 124900, CancelledAmount: 20000 }),
      expected: { state: 'reserved', reservedAmount: '1049.00', currency: 'SEK', expiresAt: null },
    },
    { name: 'Delivered → captured', answer: sveaOrder({ OrderStatus: 'Delivered', Actions: [], OrderAmount: 100 }), expected: { state: 'captured' } },
    {
      name: 'a delivery beats the status → captured',
      answer: sveaOrder({ OrderStatus: 'Open', Actions: ['CanCancelOrder'], OrderAmount: 100, Deliveries: [{ Id: 1 }] }),
      expected: { state: 'captured' },
    },
    { name: 'Cancelled → cancelled', answer: sveaOrder({ OrderStatus: 'Cancelled', Actions: [] }), expected: { state: 'cancelled' } },
    { name: '404 → not_found', answer: { status: 404, headers: { ErrorMessage: 'Order not found' } }, expected: { state: 'not_found' } },
    { name: 'an undocumented status → unknown', answer: sveaOrder({ OrderStatus: 'Failed', Actions: [] }), expected: { state: 'unknown' } },
    { name: 'Open without CanCancelOrder → unknown', answer: sveaOrder({ OrderStatus: 'Open', Actions: ['CanDeliverOrder'] }), expected: { state: 'unknown' } },
    {
      name: 'an error (400, ErrorMessage header) → unknown',
      answer: { status: 400, headers: { ErrorMessage: 'Bad request' } },
      expected: { state: 'unknown' },
    },
    { name: 'a malformed body → unknown', answer: { status: 200, body: '<html></html>' }, expected: { state: 'unknown' } },
  ],
};

for (const c of [klarna, qliro, walley, svea]) {
  describe(`${c.provider} readPayment`, () => {
    async function readWith(answer: Answer): Promise<PaymentRead> {
      c.setup?.();
      orderAnswers(c.url, answer);
      const read = await c.client().readPayment({ orderNo: '1001', providerRef: c.ref });
      reads.push(read);
      return read;
    }

    for (const { name, answer, expected } of c.cases) {
      it(name, async () => {
        const read = await readWith(answer);
        expect(read).toMatchObject(expected);
        // Exactly one state, and a reason a person can read.
        expect(read.detail.length).toBeGreaterThan(0);
        if (read.state !== 'reserved') expect(read).toMatchObject({ reservedAmount: null, expiresAt: null });
      });
    }

    it('sends one GET for the order, authenticated like its other requests', async () => {
      seen.length = 0;
      await readWith({ status: 503, body: 'down' });
      const gets = seen.filter((r) => r.method === 'GET');
      expect(gets.length).toBeGreaterThanOrEqual(1);
      for (const r of gets) {
        expect(new URL(r.url).pathname).toBe(new URL(c.url).pathname);
        c.authenticated(r);
      }
    });

    it('no answer before PROVIDER_TIMEOUT_MS → unknown, saying so', async () => {
      const started = Date.now();
      const read = await readWith('hang');
      expect(read.state).toBe('unknown');
      expect(read.detail).toMatch(/no answer|deadline|timeout/i);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 5);
    });

    it('401 → unknown, naming the credentials, without the secret', async () => {
      // A hostile proxy echoing the secret back must not get it into the reason.
      const read = await readWith({ status: 401, body: `denied for ${c.secret}` });
      expect(read.state).toBe('unknown');
      expect(read.detail).toMatch(/401/);
      expect(read.detail).not.toContain(c.secret);
    });
  });
}

afterAll(() => {
  const text = JSON.stringify(reads);
  for (const secret of [KLARNA_PASSWORD, QLIRO_SECRET, WALLEY_SECRET, SVEA_SECRET]) expect(text).not.toContain(secret);
});
