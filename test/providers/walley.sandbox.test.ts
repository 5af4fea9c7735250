/** The Walley client against the Walley sandbox over real loopback HTTP. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createWalleyClient } from '../../src/providers/walley/client.js';
import type { ProviderClient } from '../../src/providers/types.js';
import { startWalleySandbox, type WalleySandbox } from '../../src/sandbox/providers/walley.js';
import { cancelRequestFor } from './requests.js';

const CREDENTIALS = { clientId: 'sandbox-client', clientSecret: 'sandbox-client-secret', scope: 'walley.manage' };
let sandbox: WalleySandbox;
let client: ProviderClient;

const req = cancelRequestFor;
const confirmOf = (providerRef: string) => ({ orderNo: `SO-${providerRef}`, providerRef, transactionId: null });

beforeAll(async () => {
  sandbox = await startWalleySandbox({ ...CREDENTIALS });
  client = createWalleyClient({ baseUrl: sandbox.url, ...CREDENTIALS }, { timeoutMs: 400 });
});
afterAll(() => sandbox.close());
afterEach(() => {
  sandbox.faults.clear();
  sandbox.setCancelLag({ reads: 1, ms: 0, notFound: false });
  sandbox.setKeyInProgress(0);
});

describe('Walley sandbox', () => {
  it('cancel → accepted → confirm pending → succeeded', async () => {
    sandbox.setOrder('w-1', 'authorized');
    expect(await client.cancel(req('w-1'))).toEqual({ kind: 'accepted', transactionId: null });
    expect(sandbox.orderState('w-1')).toBe('cancelling');
    expect(await client.confirm!(confirmOf('w-1'))).toEqual({ kind: 'pending', status: 'NotActivated' });
    expect(await client.confirm!(confirmOf('w-1'))).toEqual({ kind: 'succeeded' });
    expect(sandbox.orderState('w-1')).toBe('cancelled');
    expect(sandbox.cancelRequests()).toEqual([
      expect.objectContaining({ orderId: 'w-1', idempotencyKey: 'key-w-1', actionReference: 'SO-w-1', answer: '202' }),
    ]);
  });

  it('a lag that answers 404 is pending, never permanent', async () => {
    sandbox.setOrder('w-2', 'authorized');
    sandbox.setCancelLag({ reads: 2, notFound: true });
    await client.cancel(req('w-2'));
    expect(await client.confirm!(confirmOf('w-2'))).toMatchObject({ kind: 'pending' });
    expect(await client.confirm!(confirmOf('w-2'))).toMatchObject({ kind: 'pending' });
    expect(await client.confirm!(confirmOf('w-2'))).toEqual({ kind: 'succeeded' });
  });

  it('captured → permanent captured; part-captured → accepted, then captured; cancelled → succeeded; unknown → not_found', async () => {
    sandbox.setOrder('w-3', 'captured');
    sandbox.setOrder('w-4', 'partlyCaptured');
    sandbox.setOrder('w-5', 'cancelled');
    expect(await client.cancel(req('w-3'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(await client.cancel(req('w-4'))).toMatchObject({ kind: 'accepted' });
    sandbox.setCancelLag({ reads: 0 });
    expect(await client.confirm!(confirmOf('w-4'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(await client.cancel(req('w-5'))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
    expect(await client.cancel(req('nope'))).toMatchObject({ kind: 'permanent', reason: 'not_found' });
  });

  it('without error codes, refusals are settled by reading the order', async () => {
    const bare = await startWalleySandbox({ ...CREDENTIALS, errorCodes: false });
    try {
      const bareClient = createWalleyClient({ baseUrl: bare.url, ...CREDENTIALS }, { timeoutMs: 400 });
      bare.setOrder('b-1', 'cancelled');
      bare.setOrder('b-2', 'captured');
      expect(await bareClient.cancel(req('b-1'))).toEqual({ kind: 'succeeded', alreadyCancelled: true });
      expect(await bareClient.cancel(req('b-2'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    } finally {
      await bare.close();
    }
  });

  it('a retry with the same key while the cancel is lagging is 409 → the order still reads NotActivated → transient, then accepted', async () => {
    sandbox.setOrder('w-6', 'authorized');
    sandbox.faults.add({ kind: 'resetAfterEffect' }, { matches: (r) => r.path.endsWith('/cancel') });
    expect(await client.cancel(req('w-6'))).toMatchObject({ kind: 'transient' });
    expect(await client.cancel(req('w-6'))).toMatchObject({ kind: 'transient', code: 'HTTP_409' });
    await client.confirm!(confirmOf('w-6'));
    expect(await client.cancel(req('w-6'))).toMatchObject({ kind: 'accepted' });
    expect(await client.confirm!(confirmOf('w-6'))).toEqual({ kind: 'succeeded' });
    expect(
      new Set(
        sandbox
          .cancelRequests()
          .filter((c) => c.orderId === 'w-6')
          .map((c) => c.idempotencyKey),
      ),
    ).toEqual(new Set(['key-w-6']));
  });

  it('the 202 is lost, then 409 for our own key for as long as Walley likes: the order read settles it as succeeded', async () => {
    sandbox.setOrder('w-11', 'authorized');
    sandbox.setKeyInProgress(Infinity);
    sandbox.faults.add({ kind: 'resetAfterEffect' }, { matches: (r) => r.path.endsWith('/cancel') });
    expect(await client.cancel(req('w-11'))).toMatchObject({ kind: 'transient' });
    expect(sandbox.orderState('w-11')).toBe('cancelling');
    // The cancel lags one read: the first 409's read still shows NotActivated.
    expect(await client.cancel(req('w-11'))).toMatchObject({
      kind: 'transient',
      code: 'HTTP_409',
      message: expect.stringContaining('still reads NotActivated'),
    });
    expect(await client.cancel(req('w-11'))).toEqual({ kind: 'succeeded', alreadyCancelled: false });
    expect(sandbox.orderState('w-11')).toBe('cancelled');
    const records = sandbox.cancelRequests().filter((c) => c.orderId === 'w-11');
    // Applied once (the lost 202), then "in progress" although the order reads Cancelled.
    expect(records.map((c) => c.answer)).toEqual(['202', '409 IDEMPOTENCY_KEY_IN_PROGRESS', '409 IDEMPOTENCY_KEY_IN_PROGRESS']);
    expect(new Set(records.map((c) => c.idempotencyKey))).toEqual(new Set(['key-w-11']));
    const reads = sandbox.requests.filter((r) => r.method === 'GET' && r.path === '/manage/orders/w-11');
    expect(reads).toHaveLength(2);
  });

  it('the key is held only for a started cancel: a refused one is answered again, not 409', async () => {
    sandbox.setOrder('w-12', 'captured');
    sandbox.setKeyInProgress(Infinity);
    expect(await client.cancel(req('w-12'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(await client.cancel(req('w-12'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    expect(
      sandbox
        .cancelRequests()
        .filter((c) => c.orderId === 'w-12')
        .map((c) => c.answer),
    ).toEqual(['400 ORDER_ACTIVATED', '400 (replayed)']);
  });

  it('a wrong client secret → permanent auth, nothing cancelled, no secret in the outcome', async () => {
    sandbox.setOrder('w-7', 'authorized');
    const wrong = createWalleyClient({ baseUrl: sandbox.url, ...CREDENTIALS, clientSecret: 'wrong-secret-value' }, { timeoutMs: 400 });
    const outcome = await wrong.cancel(req('w-7'));
    expect(outcome).toMatchObject({ kind: 'permanent', reason: 'auth' });
    expect(JSON.stringify(outcome)).not.toContain('wrong-secret-value');
    expect(sandbox.orderState('w-7')).toBe('authorized');
    const wrongScope = createWalleyClient({ baseUrl: sandbox.url, ...CREDENTIALS, scope: 'other' }, { timeoutMs: 400 });
    expect(await wrongScope.cancel(req('w-7'))).toMatchObject({ kind: 'permanent', reason: 'auth', code: 'TOKEN_INVALID_SCOPE' });
  });

  it('an expired token is replaced once on 401', async () => {
    sandbox.setOrder('w-8', 'authorized');
    const before = sandbox.tokensIssued();
    await client.confirm!(confirmOf('w-8'));
    sandbox.expireTokens();
    expect(await client.cancel(req('w-8'))).toMatchObject({ kind: 'accepted' });
    expect(sandbox.tokensIssued()).toBe(before + 1);
  });

  it('short-lived tokens are refreshed before they expire', async () => {
    const shortLived = await startWalleySandbox({ ...CREDENTIALS, tokenTtlSeconds: 1 });
    try {
      const c = createWalleyClient({ baseUrl: shortLived.url, ...CREDENTIALS }, { timeoutMs: 400 });
      shortLived.setOrder('s-1', 'authorized');
      await c.confirm!(confirmOf('s-1'));
      await new Promise((r) => setTimeout(r, 600));
      expect(await c.confirm!(confirmOf('s-1'))).toMatchObject({ kind: 'pending' });
      expect(shortLived.tokensIssued()).toBe(2);
      // No API call was refused: the client renewed before expiry.
      expect(shortLived.requests.filter((r) => r.path.startsWith('/manage')).length).toBe(2);
    } finally {
      await shortLived.close();
    }
  });

  it('503 and 429 → transient with retryAfterMs', async () => {
    sandbox.setOrder('w-9', 'authorized');
    sandbox.faults.add({ kind: 'status', status: 503, body: 'down', headers: { 'retry-after': '5' } }, { matches: (r) => r.path.endsWith('/cancel') });
    sandbox.faults.add({ kind: 'status', status: 429, body: '', headers: { 'retry-after': '1' } }, { matches: (r) => r.path.endsWith('/cancel') });
    expect(await client.cancel(req('w-9'))).toMatchObject({ kind: 'transient', code: 'HTTP_503', retryAfterMs: 5000 });
    expect(await client.cancel(req('w-9'))).toMatchObject({ kind: 'transient', code: 'HTTP_429', retryAfterMs: 1000 });
    expect(await client.cancel(req('w-9'))).toMatchObject({ kind: 'accepted' });
  });

  it('a hang → transient after the timeout; a token endpoint outage → transient', async () => {
    sandbox.setOrder('w-10', 'authorized');
    sandbox.faults.add({ kind: 'hang' }, { matches: (r) => r.path.endsWith('/cancel') });
    const started = Date.now();
    expect(await client.cancel(req('w-10'))).toMatchObject({ kind: 'transient' });
    expect(Date.now() - started).toBeLessThan(2000);
    const fresh = createWalleyClient({ baseUrl: sandbox.url, ...CREDENTIALS }, { timeoutMs: 400 });
    sandbox.faults.add({ kind: 'status', status: 503, body: '' }, { matches: (r) => r.path === '/oauth2/v2.0/token' });
    expect(await fresh.cancel(req('w-10'))).toMatchObject({ kind: 'transient', code: 'TOKEN_HTTP_503' });
    sandbox.faults.add({ kind: 'reset' }, { matches: (r) => r.path === '/oauth2/v2.0/token' });
    expect(await fresh.cancel(req('w-10'))).toMatchObject({ kind: 'transient' });
  });
});
