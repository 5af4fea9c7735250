/**
 * Each sandbox provider's order read, asked by the real client over loopback HTTP, agrees with the
 * sandbox's own cancel and capture: reserved (with the amount) until our cancel or a scripted
 * capture, expiry, or a cancel in the provider's portal changes it, and then exactly that.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createKlarnaClient } from '../../src/providers/klarna/client.js';
import { createQliroClient } from '../../src/providers/qliro/client.js';
import { createSveaClient } from '../../src/providers/svea/client.js';
import type { PaymentRead, ProviderClient } from '../../src/providers/types.js';
import { createWalleyClient } from '../../src/providers/walley/client.js';
import { startKlarnaSandbox, type KlarnaSandbox } from '../../src/sandbox/providers/klarna.js';
import { startQliroSandbox, type QliroSandbox } from '../../src/sandbox/providers/qliro.js';
import { startSveaSandbox, type SveaSandbox } from '../../src/sandbox/providers/svea.js';
import { startWalleySandbox, type WalleySandbox } from '../../src/sandbox/providers/walley.js';
import { cancelRequestFor } from './requests.js';

const DAY_MS = 86_400_000;
let klarna: KlarnaSandbox;
let qliro: QliroSandbox;
let walley: WalleySandbox;
let svea: SveaSandbox;
const clients: Record<string, ProviderClient> = {};

beforeAll(async () => {
  klarna = await startKlarnaSandbox({ username: 'k-user', password: 'k-password' });
  qliro = await startQliroSandbox({ merchantApiKey: 'q-key', merchantApiSecret: 'q-secret', settleAfterReads: 1 });
  walley = await startWalleySandbox({ clientId: 'w-client', clientSecret: 'w-secret', scope: 'w-scope', cancelLagReads: 1 });
  svea = await startSveaSandbox({ merchantId: 's-merchant', secret: 's-secret' });
  clients.klarna = createKlarnaClient({ baseUrl: klarna.url, username: 'k-user', password: 'k-password' }, { timeoutMs: 2000 });
  clients.qliro = createQliroClient({ baseUrl: qliro.url, merchantApiKey: 'q-key', merchantApiSecret: 'q-secret' }, { timeoutMs: 2000 });
  clients.walley = createWalleyClient(
    { baseUrl: walley.url, clientId: 'w-client', clientSecret: 'w-secret', scope: 'w-scope' },
    { timeoutMs: 2000, notFoundRecheckMs: 10 },
  );
  clients.svea = createSveaClient({ baseUrl: svea.url, merchantId: 's-merchant', secret: 's-secret' }, { timeoutMs: 2000 });
});
afterAll(async () => {
  await Promise.all([klarna.close(), qliro.close(), walley.close(), svea.close()]);
});

const read = (provider: string, ref: string): Promise<PaymentRead> => clients[provider]!.readPayment({ orderNo: `SO-${ref}`, providerRef: ref });

describe('Klarna sandbox read', () => {
  it('reserved with amount and expiry → cancelled by our cancel', async () => {
    const expiresAt = new Date(Date.now() + 28 * DAY_MS);
    klarna.setOrder('k-1', 'authorized', { orderAmount: 89900, expiresAt });
    expect(await read('klarna', 'k-1')).toMatchObject({ state: 'reserved', reservedAmount: '899.00', currency: 'SEK', expiresAt: expiresAt.toISOString() });
    expect(await clients.klarna!.cancel(cancelRequestFor('k-1'))).toMatchObject({ kind: 'succeeded' });
    expect(await read('klarna', 'k-1')).toMatchObject({ state: 'cancelled' });
  });

  it('captured by a scripted capture, expired by a scripted date, cancelled in the portal, not found', async () => {
    klarna.setOrder('k-2', 'authorized');
    klarna.setOrder('k-2', 'captured');
    expect(await read('klarna', 'k-2')).toMatchObject({ state: 'captured' });
    expect(await clients.klarna!.cancel(cancelRequestFor('k-2'))).toMatchObject({ kind: 'permanent', reason: 'captured' });

    klarna.setOrder('k-3', 'authorized', { expiresAt: new Date(Date.now() + DAY_MS) });
    expect((await read('klarna', 'k-3')).state).toBe('reserved');
    klarna.advanceClock(2 * DAY_MS);
    expect(await read('klarna', 'k-3')).toMatchObject({ state: 'expired' });
    expect(klarna.orderState('k-3')).toBe('expired');

    klarna.setOrder('k-4', 'cancelled');
    expect(await read('klarna', 'k-4')).toMatchObject({ state: 'cancelled' });
    expect(await read('klarna', 'k-none')).toMatchObject({ state: 'not_found' });
  });
});

describe('Qliro sandbox read', () => {
  it('reserved with amount, no expiry → reserved while our reversal is in process → cancelled once it succeeds', async () => {
    qliro.setOrder(7001, 'authorized', { amount: 499.5 });
    expect(await read('qliro', '7001')).toMatchObject({ state: 'reserved', reservedAmount: '499.50', currency: 'SEK', expiresAt: null });
    const accepted = await clients.qliro!.cancel(cancelRequestFor('7001'));
    expect(accepted).toMatchObject({ kind: 'accepted' });
    // Accepted is not done: the reversal is Created, the money still reserved.
    expect((await read('qliro', '7001')).state).toBe('reserved');
    const transactionId = accepted.kind === 'accepted' ? accepted.transactionId : null;
    let confirmed = await clients.qliro!.confirm!({ orderNo: 'SO-7001', providerRef: '7001', transactionId });
    while (confirmed.kind === 'pending') confirmed = await clients.qliro!.confirm!({ orderNo: 'SO-7001', providerRef: '7001', transactionId });
    expect(confirmed).toEqual({ kind: 'succeeded' });
    expect(await read('qliro', '7001')).toMatchObject({ state: 'cancelled' });
  });

  it('captured, partly captured, cancelled in the portal, not found', async () => {
    qliro.setOrder(7002, 'captured');
    expect(await read('qliro', '7002')).toMatchObject({ state: 'captured' });
    expect(await clients.qliro!.cancel(cancelRequestFor('7002'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    qliro.setOrder(7003, 'partlyCaptured');
    expect(await read('qliro', '7003')).toMatchObject({ state: 'captured' });
    qliro.setOrder(7004, 'cancelled');
    expect(await read('qliro', '7004')).toMatchObject({ state: 'cancelled' });
    expect(await clients.qliro!.cancel(cancelRequestFor('7004'))).toMatchObject({ kind: 'succeeded', alreadyCancelled: true });
    expect(await read('qliro', '7999')).toMatchObject({ state: 'not_found' });
  });
});

describe('Walley sandbox read', () => {
  it('reserved with amount and expiry → cancelled once our accepted cancel shows', async () => {
    const expiresAt = new Date(Date.now() + 90 * DAY_MS);
    walley.setOrder('w-1', 'authorized', { amount: 1249, expiresAt });
    expect(await read('walley', 'w-1')).toMatchObject({ state: 'reserved', reservedAmount: '1249.00', currency: 'SEK', expiresAt: expiresAt.toISOString() });
    expect(await clients.walley!.cancel(cancelRequestFor('w-1'))).toMatchObject({ kind: 'accepted' });
    // Eventually consistent: the first read after the change still shows the reservation.
    expect((await read('walley', 'w-1')).state).toBe('reserved');
    expect(await read('walley', 'w-1')).toMatchObject({ state: 'cancelled' });
    expect(await clients.walley!.confirm!({ orderNo: 'SO-w-1', providerRef: 'w-1', transactionId: null })).toEqual({ kind: 'succeeded' });
  });

  it('captured, part-captured (no amount), expired by a scripted date, cancelled in the portal, not found', async () => {
    walley.setOrder('w-2', 'captured');
    expect(await read('walley', 'w-2')).toMatchObject({ state: 'captured' });
    expect(await clients.walley!.cancel(cancelRequestFor('w-2'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    walley.setOrder('w-3', 'partlyCaptured');
    expect(await read('walley', 'w-3')).toMatchObject({ state: 'reserved', reservedAmount: null });
    walley.setOrder('w-4', 'authorized', { expiresAt: new Date(Date.now() + DAY_MS) });
    expect((await read('walley', 'w-4')).state).toBe('reserved');
    walley.advanceClock(2 * DAY_MS);
    expect(await read('walley', 'w-4')).toMatchObject({ state: 'expired' });
    walley.setOrder('w-5', 'authorized', { expiresAt: null });
    expect(await read('walley', 'w-5')).toMatchObject({ state: 'reserved', expiresAt: null });
    walley.setOrder('w-6', 'cancelled');
    expect(await read('walley', 'w-6')).toMatchObject({ state: 'cancelled' });
    expect(await read('walley', 'w-none')).toMatchObject({ state: 'not_found' });
  });
});

describe('Svea sandbox read', () => {
  it('reserved with amount, no expiry → cancelled by our cancel; captured; cancelled in the portal; not found', async () => {
    svea.setOrder('s-1', 'authorized', { amount: 59900 });
    expect(await read('svea', 's-1')).toMatchObject({ state: 'reserved', reservedAmount: '599.00', currency: 'SEK', expiresAt: null });
    expect(await clients.svea!.cancel(cancelRequestFor('s-1'))).toMatchObject({ kind: 'succeeded', alreadyCancelled: false });
    expect(await read('svea', 's-1')).toMatchObject({ state: 'cancelled' });
    svea.setOrder('s-2', 'captured');
    expect(await read('svea', 's-2')).toMatchObject({ state: 'captured' });
    expect(await clients.svea!.cancel(cancelRequestFor('s-2'))).toMatchObject({ kind: 'permanent', reason: 'captured' });
    svea.setOrder('s-3', 'cancelled');
    expect(await read('svea', 's-3')).toMatchObject({ state: 'cancelled' });
    expect(await read('svea', 's-none')).toMatchObject({ state: 'not_found' });
  });
});
