/** The Qliro client against the Qliro sandbox over real loopback HTTP. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createQliroClient } from '../../src/providers/qliro/client.js';
import type { ProviderClient } from '../../src/providers/types.js';
import { startQliroSandbox, type QliroSandbox } from '../../src/sandbox/providers/qliro.js';
import { cancelRequestFor } from './requests.js';

const API_KEY = 'sandbox-key';
const SECRET = 'sandbox-secret-123';
let sandbox: QliroSandbox;
let client: ProviderClient;

const req = cancelRequestFor;

beforeAll(async () => {
  sandbox = await startQliroSandbox({ merchantApiKey: API_KEY, merchantApiSecret: SECRET });
  client = createQliroClient({ baseUrl: sandbox.url, merchantApiKey: API_KEY, merchantApiSecret: SECRET }, { timeoutMs: 400 });
});
afterAll(() => sandbox.close());
afterEach(() => sandbox.faults.clear());

describe('Qliro sandbox', () => {
  it('cancel → accepted → confirm pending → succeeded', async () => {
    sandbox.setOrder(1001, 'authorized');
    const outcome = await client.cancel(req('1001'));
    expect(outcome).toMatchObject({ kind: 'accepted' });
    const transactionId = outcome.kind === 'accepted' ? outcome.transactionId : null;
    expect(transactionId).toMatch(/^[0-9]+$/);
    expect(sandbox.orderState(1001)).toBe('cancelled');

    const confirmRequest = { orderNo: 'SO-1001', providerRef: '1001', transactionId };
    expect(await client.confirm!(confirmRequest)).toEqual({ kind: 'pending', status: 'Created' });
    expect(await client.confirm!(confirmRequest)).toEqual({ kind: 'succeeded' });
    expect(sandbox.cancelRequests()).toEqual([expect.objectContaining({ orderId: '1001', requestId: 'key-1001', answer: 'accepted' })]);
  });

  it('a repeated RequestId after the cancel went through answers already cancelled', async () => {
    sandbox.setOrder(1002, 'authorized');
    sandbox.faults.add({ kind: 'resetAfterEffect' }, { matches: (r) => r.path.endsWith('/cancelOrder') });
    expect(await client.cancel(req('1002'))).toMatchObject({ kind: 'transient' });
    expect(await client.cancel(req('1002'))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(
      sandbox
        .cancelRequests()
        .filter((c) => c.orderId === '1002')
        .map((c) => c.requestId),
    ).toEqual(['key-1002', 'key-1002']);
  });

  it('captured → permanent captured; already cancelled → succeeded; unknown → not_found', async () => {
    sandbox.setOrder(1003, 'captured');
    sandbox.setOrder(1004, 'partlyCaptured');
    sandbox.setOrder(1005, 'cancelled');
    expect(await client.cancel(req('1003'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(await client.cancel(req('1004'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(await client.cancel(req('1005'))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(await client.cancel(req('9999'))).toMatchObject({ kind: 'permanent', reason: 'not_found' });
  });

  it('busy → transient; a reversal ending in Error → permanent rejected', async () => {
    sandbox.setOrder(1006, 'busy');
    expect(await client.cancel(req('1006'))).toMatchObject({ kind: 'transient', code: 'OPERATION_NOT_SUPPORTED' });
    sandbox.setOrder(1007, 'authorized');
    sandbox.setReversalFinalStatus('Error');
    const outcome = await client.cancel(req('1007'));
    sandbox.setReversalFinalStatus('Success');
    const transactionId = outcome.kind === 'accepted' ? outcome.transactionId : null;
    await client.confirm!({ orderNo: 'SO-1007', providerRef: '1007', transactionId });
    expect(await client.confirm!({ orderNo: 'SO-1007', providerRef: '1007', transactionId })).toMatchObject({ kind: 'permanent', reason: 'rejected' });
  });

  it('a wrong secret → permanent auth, and the sandbox changed nothing', async () => {
    sandbox.setOrder(1008, 'authorized');
    const wrong = createQliroClient({ baseUrl: sandbox.url, merchantApiKey: API_KEY, merchantApiSecret: 'not-the-secret' }, { timeoutMs: 400 });
    const outcome = await wrong.cancel(req('1008'));
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'auth' });
    expect(JSON.stringify(outcome)).not.toContain('not-the-secret');
    expect(sandbox.orderState(1008)).toBe('authorized');
    expect(await wrong.confirm!({ orderNo: 'x', providerRef: '1008', transactionId: '1' })).toMatchObject({ kind: 'permanent', reason: 'auth' });
  });

  it('503 and 429 → transient with retryAfterMs', async () => {
    sandbox.setOrder(1009, 'authorized');
    sandbox.faults.add({ kind: 'status', status: 503, body: 'down', headers: { 'retry-after': '5' } });
    sandbox.faults.add({ kind: 'status', status: 429, body: '{}', headers: { 'content-type': 'application/json', 'retry-after': '1' } });
    expect(await client.cancel(req('1009'))).toMatchObject({ kind: 'transient', code: 'HTTP_503', retryAfterMs: 5000 });
    expect(await client.cancel(req('1009'))).toMatchObject({ kind: 'transient', code: 'HTTP_429', retryAfterMs: 1000 });
    expect(await client.cancel(req('1009'))).toMatchObject({ kind: 'accepted' });
  });

  it('a hang → transient after the timeout; a slow body too', async () => {
    sandbox.setOrder(1010, 'authorized');
    sandbox.faults.add({ kind: 'hang' });
    const started = Date.now();
    expect(await client.cancel(req('1010'))).toMatchObject({ kind: 'transient' });
    expect(Date.now() - started).toBeLessThan(2000);
    sandbox.faults.add({ kind: 'slowBody', ms: 600 });
    expect(await client.cancel(req('1010'))).toMatchObject({ kind: 'transient' });
    // The slow answer's effect happened: a retry with the same RequestId is "already cancelled".
    expect(await client.cancel(req('1010'))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
  });

  it('a connection reset → transient', async () => {
    sandbox.setOrder(1011, 'authorized');
    sandbox.faults.add({ kind: 'reset' });
    expect(await client.cancel(req('1011'))).toMatchObject({ kind: 'transient' });
    expect(sandbox.orderState(1011)).toBe('authorized');
  });
});
