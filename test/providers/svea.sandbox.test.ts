/**
 * The Svea client against the Svea sandbox over real loopback HTTP. Svea has no idempotency key:
 * these tests show the read-first step is what keeps a retry from cancelling twice.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import axios from 'axios';
import { createSveaClient } from '../../src/providers/svea/client.js';
import type { CancelRequest, ProviderClient } from '../../src/providers/types.js';
import { startSveaSandbox, type SveaSandbox } from '../../src/sandbox/providers/svea.js';

const MERCHANT_ID = '100042';
const SECRET = 'sandbox-svea-Secret-9';

let sandbox: SveaSandbox;
let svea: ProviderClient;
let nextId = 5_000_000;

beforeAll(async () => {
  sandbox = await startSveaSandbox({ merchantId: MERCHANT_ID, secret: SECRET });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.faults.clear();
  sandbox.setLatency(0);
  svea = createSveaClient({ baseUrl: sandbox.url, merchantId: MERCHANT_ID, secret: SECRET }, { timeoutMs: 1000 });
});

function freshOrder(state: 'authorized' | 'captured' | 'cancelled'): string {
  nextId += 1;
  const id = String(nextId);
  sandbox.setOrder(id, state);
  return id;
}

function cancelRequest(orderId: string): CancelRequest {
  return { orderNo: '7', providerRef: orderId, idempotencyKey: 'unused-by-svea', amount: '10.00', currency: 'SEK' };
}

function timestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function authorization(body: string, stamp: string, secret = SECRET): string {
  const hex = createHash('sha512')
    .update(body + secret + stamp, 'utf8')
    .digest('hex');
  return `Svea ${Buffer.from(`${MERCHANT_ID}:${hex}`).toString('base64')}`;
}

const isPatch = (r: { method: string }) => r.method === 'PATCH';

describe('Svea sandbox', () => {
  it('cancels an open order: GET then PATCH → succeeded, applied once', async () => {
    const id = freshOrder('authorized');
    expect(await svea.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.orderState(id)).toBe('cancelled');
    expect(sandbox.cancelsApplied(id)).toBe(1);
    const mine = sandbox.requests.filter((r) => r.path === `/api/v1/orders/${id}`);
    expect(mine.map((r) => r.method)).toEqual(['GET', 'PATCH']);
    expect(mine[1]!.body.toString()).toBe('{"IsCancelled":true}');
  });

  it('a delivered order → permanent captured, no PATCH sent', async () => {
    const id = freshOrder('captured');
    expect(await svea.cancel(cancelRequest(id))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(sandbox.cancelRequests(id)).toBe(0);
    expect(sandbox.orderState(id)).toBe('captured');
  });

  it('an already cancelled order → succeeded alreadyCancelled, no PATCH sent', async () => {
    const id = freshOrder('cancelled');
    expect(await svea.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(sandbox.cancelRequests(id)).toBe(0);
  });

  it('an unknown order → permanent not_found', async () => {
    expect(await svea.cancel(cancelRequest('999999999'))).toMatchObject({ kind: 'permanent', reason: 'not_found' });
  });

  it.each([
    ['a wrong secret', { merchantId: MERCHANT_ID, secret: `${SECRET}!` }],
    ['a wrong merchant id', { merchantId: '100043', secret: SECRET }],
  ])('%s → permanent auth, nothing cancelled, no secret in the outcome', async (_label, credentials) => {
    const id = freshOrder('authorized');
    const wrong = createSveaClient({ baseUrl: sandbox.url, ...credentials }, { timeoutMs: 1000 });
    const outcome = await wrong.cancel(cancelRequest(id));
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'HTTP_401' });
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
    expect(sandbox.orderState(id)).toBe('authorized');
  });

  it('a Timestamp too far from now → permanent auth', async () => {
    const id = freshOrder('authorized');
    const stale = createSveaClient(
      { baseUrl: sandbox.url, merchantId: MERCHANT_ID, secret: SECRET },
      { timeoutMs: 1000, now: () => new Date(Date.now() - 10 * 60 * 1000) },
    );
    expect(await stale.cancel(cancelRequest(id))).toMatchObject({
      kind: 'permanent',
      reason: 'auth',
      message: expect.stringContaining('Timestamp too far'),
    });
  });

  it('the sandbox checks the signature over the raw bytes received: a body changed after signing → 401', async () => {
    const id = freshOrder('authorized');
    const stamp = timestamp(new Date());
    const url = `${sandbox.url}/api/v1/orders/${id}`;
    const signedFor = '{"IsCancelled":true}';
    const tampered = '{"IsCancelled": true}';
    const headers = { Timestamp: stamp, 'Content-Type': 'application/json' };
    const bad = await axios.patch(url, Buffer.from(tampered), {
      headers: { ...headers, Authorization: authorization(signedFor, stamp) },
      validateStatus: () => true,
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.errormessage).toBe('Invalid signature');
    expect(sandbox.orderState(id)).toBe('authorized');

    const good = await axios.patch(url, Buffer.from(tampered), {
      headers: { ...headers, Authorization: authorization(tampered, stamp) },
      validateStatus: () => true,
    });
    expect(good.status).toBe(204);
    expect(sandbox.orderState(id)).toBe('cancelled');
  });

  it.each([503, 429])('%i with Retry-After → transient with retryAfterMs; the retry then succeeds', async (status) => {
    const id = freshOrder('authorized');
    sandbox.faults.add({ kind: 'status', status, headers: { 'Retry-After': '4' } }, { matches: isPatch });
    expect(await svea.cancel(cancelRequest(id))).toMatchObject({ kind: 'transient', code: `HTTP_${status}`, retryAfterMs: 4000 });
    expect(await svea.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.cancelsApplied(id)).toBe(1);
  });

  it('a hang → transient after the timeout', async () => {
    const id = freshOrder('authorized');
    sandbox.faults.add({ kind: 'hang' });
    const quick = createSveaClient({ baseUrl: sandbox.url, merchantId: MERCHANT_ID, secret: SECRET }, { timeoutMs: 300 });
    const started = Date.now();
    expect((await quick.cancel(cancelRequest(id))).kind).toBe('transient');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a PATCH whose answer is lost: the retry reads the order cancelled and sends no second PATCH', async () => {
    const id = freshOrder('authorized');
    sandbox.faults.add({ kind: 'resetAfterEffect' }, { matches: isPatch });
    expect((await svea.cancel(cancelRequest(id))).kind).toBe('transient');
    expect(sandbox.orderState(id)).toBe('cancelled');

    expect(await svea.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(sandbox.cancelRequests(id)).toBe(1);
    expect(sandbox.cancelsApplied(id)).toBe(1);
  });

  it('the sandbox answers a PATCH on an order that is no longer cancellable with 400 and the reason in ErrorMessage', async () => {
    const id = freshOrder('captured');
    const stamp = timestamp(new Date());
    const body = '{"IsCancelled":true}';
    const raw = await axios.patch(`${sandbox.url}/api/v1/orders/${id}`, Buffer.from(body), {
      headers: { Timestamp: stamp, Authorization: authorization(body, stamp), 'Content-Type': 'application/json' },
      validateStatus: () => true,
    });
    expect(raw.status).toBe(400);
    expect(raw.headers.errormessage).toBe('Order cannot be cancelled');
  });

  it('answer latency is configurable (benchmark mode) and unknown orders can start authorized', async () => {
    const bench = await startSveaSandbox({ merchantId: MERCHANT_ID, secret: SECRET, latencyMs: 50, unknownOrders: 'authorized' });
    try {
      const client = createSveaClient({ baseUrl: bench.url, merchantId: MERCHANT_ID, secret: SECRET }, { timeoutMs: 1000 });
      const started = Date.now();
      expect((await client.cancel(cancelRequest('123'))).kind).toBe('succeeded');
      expect(Date.now() - started).toBeGreaterThanOrEqual(95);
      expect(bench.cancelsApplied('123')).toBe(1);
    } finally {
      await bench.close();
    }
  });
});
