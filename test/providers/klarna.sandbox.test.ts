/**
 * The Klarna client against the Klarna sandbox over real loopback HTTP: the paths the end-to-end
 * tests and the demo rely on, and that nothing is ever cancelled twice.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import axios from 'axios';
import { createKlarnaClient } from '../../src/providers/klarna/client.js';
import type { CancelRequest, ProviderClient } from '../../src/providers/types.js';
import { startKlarnaSandbox, type KlarnaSandbox } from '../../src/sandbox/providers/klarna.js';

const USERNAME = 'PK_sandbox_user';
const PASSWORD = 'sandbox-Password-42';

let sandbox: KlarnaSandbox;
let klarna: ProviderClient;

beforeAll(async () => {
  sandbox = await startKlarnaSandbox({ username: USERNAME, password: PASSWORD });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.faults.clear();
  sandbox.setLatency(0);
  sandbox.setCancelledOrderAnswer('cancel_not_allowed');
  klarna = createKlarnaClient({ baseUrl: sandbox.url, username: USERNAME, password: PASSWORD }, { timeoutMs: 1000 });
});

function cancelRequest(orderId: string, idempotencyKey: string = randomUUID()): CancelRequest {
  return { orderNo: '1', providerRef: orderId, idempotencyKey, amount: '100.00', currency: 'SEK' };
}

function freshOrder(state: 'authorized' | 'captured' | 'cancelled'): string {
  const id = randomUUID();
  sandbox.setOrder(id, state);
  return id;
}

const isCancel = (r: { path: string }) => r.path.endsWith('/cancel');

describe('Klarna sandbox', () => {
  it('cancels an authorized order: 204 → succeeded, applied once', async () => {
    const id = freshOrder('authorized');
    expect(await klarna.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.orderState(id)).toBe('cancelled');
    expect(sandbox.cancelsApplied(id)).toBe(1);
  });

  it('a captured order → permanent captured, untouched', async () => {
    const id = freshOrder('captured');
    expect(await klarna.cancel(cancelRequest(id))).toMatchObject({ kind: 'permanent', reason: 'captured', code: 'CANCEL_NOT_ALLOWED' });
    expect(sandbox.orderState(id)).toBe('captured');
    expect(sandbox.cancelsApplied(id)).toBe(0);
  });

  it('an already cancelled order (answered 403, like captured) → succeeded alreadyCancelled', async () => {
    const id = freshOrder('cancelled');
    expect(await klarna.cancel(cancelRequest(id))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(sandbox.cancelsApplied(id)).toBe(0);
  });

  it('an already cancelled order (answered 204) → succeeded', async () => {
    sandbox.setCancelledOrderAnswer('no_content');
    const id = freshOrder('cancelled');
    expect((await klarna.cancel(cancelRequest(id))).kind).toBe('succeeded');
    expect(sandbox.cancelsApplied(id)).toBe(0);
  });

  it('an unknown order → permanent not_found', async () => {
    expect(await klarna.cancel(cancelRequest(randomUUID()))).toMatchObject({ kind: 'permanent', reason: 'not_found' });
  });

  it('wrong credentials → permanent auth, with Klarna error JSON, and nothing cancelled', async () => {
    const id = freshOrder('authorized');
    const wrong = createKlarnaClient({ baseUrl: sandbox.url, username: USERNAME, password: `${PASSWORD}x` }, { timeoutMs: 1000 });
    const outcome = await wrong.cancel(cancelRequest(id));
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'UNAUTHORIZED' });
    expect(JSON.stringify(outcome)).not.toContain(PASSWORD);
    expect(sandbox.orderState(id)).toBe('authorized');

    const raw = await axios.post(`${sandbox.url}/ordermanagement/v1/orders/${id}/cancel`, undefined, { validateStatus: () => true });
    expect(raw.status).toBe(401);
    expect(raw.data).toEqual({ error_code: 'UNAUTHORIZED', error_messages: [expect.any(String)], correlation_id: expect.any(String) });
  });

  it.each([
    [503, 'TEMPORARILY_UNAVAILABLE'],
    [429, 'TOO_MANY_REQUESTS'],
    [409, 'CONFLICT'],
  ])('%i with Retry-After → transient with retryAfterMs; the retry then succeeds', async (status, code) => {
    const id = freshOrder('authorized');
    sandbox.faults.add(
      {
        kind: 'status',
        status,
        headers: { 'content-type': 'application/json', 'Retry-After': '2' },
        body: JSON.stringify({ error_code: code, error_messages: ['later'], correlation_id: 'c' }),
      },
      { matches: isCancel },
    );
    const request = cancelRequest(id);
    expect(await klarna.cancel(request)).toMatchObject({ kind: 'transient', code, retryAfterMs: 2000 });
    expect(await klarna.cancel(request)).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.cancelsApplied(id)).toBe(1);
  });

  it('a hang → transient after the timeout', async () => {
    const id = freshOrder('authorized');
    sandbox.faults.add({ kind: 'hang' });
    const quick = createKlarnaClient({ baseUrl: sandbox.url, username: USERNAME, password: PASSWORD }, { timeoutMs: 300 });
    const started = Date.now();
    const outcome = await quick.cancel(cancelRequest(id));
    expect(outcome.kind).toBe('transient');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a slow body past the deadline → transient', async () => {
    const id = freshOrder('captured');
    sandbox.faults.add({ kind: 'slowBody', ms: 700 }, { matches: (r) => r.method === 'GET' });
    const quick = createKlarnaClient({ baseUrl: sandbox.url, username: USERNAME, password: PASSWORD }, { timeoutMs: 300 });
    expect((await quick.cancel(cancelRequest(id))).kind).toBe('transient');
  });

  it('a connection reset → transient', async () => {
    sandbox.faults.add({ kind: 'reset' });
    expect((await klarna.cancel(cancelRequest(freshOrder('authorized')))).kind).toBe('transient');
  });

  it('a repeated idempotency key returns the first result: the retry after a lost answer gets 204, applied once', async () => {
    const id = freshOrder('authorized');
    const request = cancelRequest(id);
    // The first attempt cancels the order, but its answer never arrives.
    sandbox.faults.add({ kind: 'resetAfterEffect' }, { matches: isCancel });
    expect((await klarna.cancel(request)).kind).toBe('transient');
    expect(sandbox.orderState(id)).toBe('cancelled');

    expect(await klarna.cancel(request)).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(await klarna.cancel(request)).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.cancelsApplied(id)).toBe(1);
    expect(sandbox.cancelRequests(id)).toBe(1);
    const keys = sandbox.requests.filter((r) => r.path === `/ordermanagement/v1/orders/${id}/cancel`).map((r) => r.headers['klarna-idempotency-key']);
    expect(keys).toEqual([request.idempotencyKey, request.idempotencyKey, request.idempotencyKey]);
  });

  it('a repeated key after 24 h is a new request (the order is then already cancelled)', async () => {
    const id = freshOrder('authorized');
    const request = cancelRequest(id);
    expect((await klarna.cancel(request)).kind).toBe('succeeded');
    sandbox.advanceClock(24 * 60 * 60 * 1000 + 1);
    expect(await klarna.cancel(request)).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(sandbox.cancelsApplied(id)).toBe(1);
  });

  it('answer latency is configurable (benchmark mode) and unknown orders can start authorized', async () => {
    const bench = await startKlarnaSandbox({ username: USERNAME, password: PASSWORD, latencyMs: 50, unknownOrders: 'authorized' });
    try {
      const client = createKlarnaClient({ baseUrl: bench.url, username: USERNAME, password: PASSWORD }, { timeoutMs: 1000 });
      const started = Date.now();
      expect((await client.cancel(cancelRequest('any-order-id'))).kind).toBe('succeeded');
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(bench.cancelsApplied('any-order-id')).toBe(1);
    } finally {
      await bench.close();
    }
  });
});
