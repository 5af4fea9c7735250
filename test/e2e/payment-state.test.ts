/**
 * Asking the provider, end to end (real CLI, sandbox servers, a SQLite file): a vanished order at
 * each provider in each state its provider can tell. Reserved → a person is asked, with the amount
 * and (where told) the expiry; cancelled or expired → resolved automatically, exit 0; captured →
 * the message says a refund is the decision; the provider down → unknown, asked, exit 3. Then a
 * reservation that lapses between two reminder periods drops off by itself, and a cancellation a
 * person asks for is read first: an already-cancelled payment is sent nothing.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit, type CliResult, type LogLine } from '../support/cli.js';
import { writeDb } from '../support/db.js';
import { DAY_MS, makeOrder, providerRefOf, type Method } from '../support/orders.js';
import { cancelRequestsAt, type Provider } from '../support/sandbox.js';
import { configDirWithRouting, useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(90_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

type State = 'reserved' | 'captured' | 'cancelled' | 'expired' | 'down';

const METHOD: Record<Provider, Method> = { klarna: 'K', qliro: 'QL', walley: 'CL', svea: 'SP' };
/** Qliro and Svea tell no expiry: no "expired" they could report. */
const STATES: Record<Provider, readonly State[]> = {
  klarna: ['reserved', 'captured', 'cancelled', 'expired', 'down'],
  walley: ['reserved', 'captured', 'cancelled', 'expired', 'down'],
  qliro: ['reserved', 'captured', 'cancelled', 'down'],
  svea: ['reserved', 'captured', 'cancelled', 'down'],
};

const EXPIRES_AT = new Date(Date.now() + 20 * DAY_MS);

/** Puts the payment of `order` into `state` at its provider's sandbox. */
function script(provider: Provider, ref: string, state: State): void {
  const past = new Date(Date.now() - DAY_MS);
  switch (provider) {
    case 'klarna':
      if (state === 'captured' || state === 'cancelled') world.klarna.setOrder(ref, state);
      else world.klarna.setOrder(ref, 'authorized', { orderAmount: 124900, expiresAt: state === 'expired' ? past : EXPIRES_AT });
      break;
    case 'walley':
      if (state === 'captured' || state === 'cancelled') world.walley.setOrder(ref, state);
      else world.walley.setOrder(ref, 'authorized', { amount: 1249, expiresAt: state === 'expired' ? past : EXPIRES_AT });
      break;
    case 'qliro':
      world.qliro.setOrder(ref, state === 'captured' || state === 'cancelled' ? state : 'authorized', { amount: 1249 });
      break;
    case 'svea':
      world.svea.setOrder(ref, state === 'captured' || state === 'cancelled' ? state : 'authorized', { amount: 124900 });
      break;
  }
  if (state === 'down') {
    world[provider].faults.add(
      { kind: 'status', status: 503, body: 'Service Unavailable' },
      { matches: (r) => r.method === 'GET' && r.path.includes(ref), times: Infinity },
    );
  }
}

/** A workspace whose routing sends Svea (handled by Specter by default) through specter-sync. */
function workspaceFor(provider: Provider, env: Record<string, string> = {}): Workspace {
  const ws = workspace(env);
  if (provider !== 'svea') return ws;
  const dir = configDirWithRouting(ws, (rules) => rules.map((r) => (r.provider === 'handledBySpecter' ? { ...r, provider: 'svea' } : r)));
  return workspace({ ...env, SYNC_CONFIG_DIR: dir });
}

/** Orders paid at `provider`, one per state, tracked by a baseline, then deleted in Specter. */
async function deletedOrders(ws: Workspace, provider: Provider, states: readonly State[]): Promise<Map<State, { order: SandboxOrder; ref: string }>> {
  const orders = new Map(states.map((state) => [state, makeOrder({ method: METHOD[provider] })] as const));
  for (const order of orders.values()) world.specter.add(order);
  expectExit(await ws.run(['once']), 0);
  const placed = new Map<State, { order: SandboxOrder; ref: string }>();
  for (const [state, order] of orders) {
    const ref = providerRefOf(order);
    script(provider, ref, state);
    world.specter.delete(order.orderNo);
    placed.set(state, { order, ref });
  }
  return placed;
}

function lineFor(run: CliResult, event: string, orderNo: string): LogLine | undefined {
  return run.events(event).find((l) => l.orderNo === orderNo);
}

function payment(provider: Provider, ref: string): string {
  return provider === 'qliro' ? `/checkout/adminapi/v2/orders/${ref}` : provider === 'klarna' ? `/ordermanagement/v1/orders/${ref}` : ref;
}

function readsOf(provider: Provider, ref: string): number {
  return world[provider].requests.filter((r) => r.method === 'GET' && r.path.endsWith(payment(provider, ref))).length;
}

describe.each(['klarna', 'qliro', 'walley', 'svea'] as const)('a vanished order paid with %s', (provider) => {
  const released: readonly State[] = STATES[provider].filter((s) => s === 'cancelled' || s === 'expired');
  const asked = STATES[provider].filter((s) => !released.includes(s));

  it(`${released.join(' and ')} at the provider → resolved automatically, nobody asked, exit 0`, async () => {
    const ws = workspaceFor(provider);
    const orders = await deletedOrders(ws, provider, released);
    const run = await ws.run(['once']);
    expectExit(run, 0);
    expect(run.events('order.vanished')).toEqual([]);
    for (const [state, { order, ref }] of orders) {
      expect(lineFor(run, 'vanished.auto_resolved', order.orderNo)).toMatchObject({
        level: 'info',
        provider,
        providerRef: ref,
        reason: state,
        paymentState: state,
      });
      expect(ws.snapshot(order.orderNo)).toMatchObject({ vanish_status: 'resolved', vanish_note: expect.stringContaining(`payment is ${state}`) });
      expect(ws.rows('SELECT state FROM payment_reads WHERE order_no = ?', order.orderNo)).toEqual([{ state }]);
      expect(readsOf(provider, ref)).toBe(1);
      expect(cancelRequestsAt(world, provider, ref)).toEqual([]);
    }
    const list = await ws.run(['vanished', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
    // Nothing awaits a person: the next run exits 0 too, and asks nothing again.
    expectExit(await ws.run(['once']), 0);
    for (const { ref } of orders.values()) expect(readsOf(provider, ref)).toBe(1);
  });

  it(`${asked.join(', ')} → a person is asked with what the provider said, exit 3`, async () => {
    const ws = workspaceFor(provider);
    const orders = await deletedOrders(ws, provider, asked);
    const run = await ws.run(['once']);
    expectExit(run, 3);
    const tellsExpiry = provider === 'klarna' || provider === 'walley';

    const reserved = orders.get('reserved')!;
    const line = lineFor(run, 'order.vanished', reserved.order.orderNo);
    expect(line).toMatchObject({ level: 'warn', alert: true, provider, providerRef: reserved.ref, paymentState: 'reserved', reservedAmount: '1249.00' });
    expect(line!.message).toContain('still reserved');
    expect(line!.message).toContain('1249.00 SEK');
    if (tellsExpiry) {
      expect(line!.expiresAt).toBe(EXPIRES_AT.toISOString());
      expect(line!.message).toContain(`until ${EXPIRES_AT.toISOString()}`);
    } else {
      expect(line!.expiresAt).toBeUndefined();
      expect(line!.message).toContain(`${provider} tells no expiry`);
    }

    const captured = lineFor(run, 'order.vanished', orders.get('captured')!.order.orderNo);
    expect(captured).toMatchObject({ paymentState: 'captured', alert: true });
    expect(captured!.message).toMatch(/refund/);
    expect(captured!.reservedAmount).toBeUndefined();

    const down = lineFor(run, 'order.vanished', orders.get('down')!.order.orderNo);
    expect(down).toMatchObject({ paymentState: 'unknown', alert: true });
    expect(down!.message).toContain('could not be asked');
    expect(down!.message).toContain('may still be reserved');

    // One read per order in the cycle, and no cancellation sent (VANISHED_ACTION=flag).
    for (const { ref } of orders.values()) {
      expect(readsOf(provider, ref)).toBe(1);
      expect(cancelRequestsAt(world, provider, ref)).toEqual([]);
    }

    const list = JSON.parse((await ws.run(['vanished', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(list.map((v) => [v.orderNo, v.paymentState])).toEqual(
      expect.arrayContaining(asked.map((s) => [orders.get(s)!.order.orderNo, s === 'down' ? 'unknown' : s])),
    );
    // Soonest expiry first: the one with an expiry (where told) leads.
    if (tellsExpiry) expect(list[0]).toMatchObject({ orderNo: reserved.order.orderNo, expiresAt: EXPIRES_AT.toISOString(), reservedAmount: '1249.00' });
    expect(list.find((v) => v.orderNo === reserved.order.orderNo)).toMatchObject({ paymentState: 'reserved', reservedAmount: '1249.00' });
    const status = JSON.parse((await ws.run(['status', '--json'])).stdout) as { vanishedOrders: Array<Record<string, unknown>> };
    expect(status.vanishedOrders.find((v) => v.orderNo === reserved.order.orderNo)).toMatchObject({ paymentState: 'reserved', reservedAmount: '1249.00' });
    const human = await ws.run(['vanished', 'list']);
    expect(human.stdout).toMatch(new RegExp(`${reserved.order.orderNo}.*reserved\\s+1249\\.00 SEK`));
  });
});

describe('over time, and before a cancellation a person asks for', () => {
  it('a reservation that lapses between two reminder periods drops off by itself', async () => {
    const ws = workspace();
    const order = makeOrder({ method: 'K' });
    world.specter.add(order);
    expectExit(await ws.run(['once']), 0);
    const ref = providerRefOf(order);
    world.klarna.setOrder(ref, 'authorized', { orderAmount: 124900, expiresAt: new Date(Date.now() + 60_000) });
    world.specter.delete(order.orderNo);
    const first = await ws.run(['once']);
    expectExit(first, 3);
    expect(lineFor(first, 'order.vanished', order.orderNo)).toMatchObject({ paymentState: 'reserved' });

    // The authorisation lapses; within the reminder period the provider is not asked again.
    world.klarna.setOrder(ref, 'authorized', { expiresAt: new Date(Date.now() - 1000) });
    const within = await ws.run(['once']);
    expectExit(within, 3);
    expect(readsOf('klarna', ref)).toBe(1);

    // A reminder period (a day) later the cycle asks again: expired, resolved, nobody needed.
    writeDb(ws.dbPath, (db) =>
      db.prepare('UPDATE payment_reads SET read_at = ? WHERE order_no = ?').run(new Date(Date.now() - 25 * 3_600_000).toISOString(), order.orderNo),
    );
    const later = await ws.run(['once']);
    expectExit(later, 0);
    expect(readsOf('klarna', ref)).toBe(2);
    expect(lineFor(later, 'vanished.auto_resolved', order.orderNo)).toMatchObject({ reason: 'expired', paymentState: 'expired' });
    expect(JSON.parse((await ws.run(['vanished', 'list', '--json'])).stdout)).toEqual([]);
    expect(cancelRequestsAt(world, 'klarna', ref)).toEqual([]);
  });

  it('vanished cancel of a payment someone already cancelled in the portal sends nothing; a captured one fails at once', async () => {
    const ws = workspace();
    const cancelled = makeOrder({ method: 'K' });
    const captured = makeOrder({ method: 'CL' });
    world.specter.add(cancelled);
    world.specter.add(captured);
    expectExit(await ws.run(['once']), 0);
    world.specter.delete(cancelled.orderNo);
    world.specter.delete(captured.orderNo);
    expectExit(await ws.run(['once']), 3);

    // Meanwhile, in the providers' portals: one cancelled, one captured.
    world.klarna.setOrder(providerRefOf(cancelled), 'cancelled');
    world.walley.setOrder(providerRefOf(captured), 'captured');
    const sent = await ws.run(['vanished', 'cancel', cancelled.orderNo]);
    expectExit(sent, 0);
    expect(sent.stdout).toMatch(/not sent: klarna says the payment is already cancelled/);
    expect(cancelRequestsAt(world, 'klarna', providerRefOf(cancelled))).toEqual([]);
    expect(ws.jobs(cancelled.orderNo)).toEqual([expect.objectContaining({ state: 'voided', void_reason: 'payment_cancelled', attempts: 0 })]);
    expect(sent.events('cancel.voided')).toEqual([expect.objectContaining({ reason: 'payment_cancelled', orderNo: cancelled.orderNo })]);

    const refused = await ws.run(['vanished', 'cancel', captured.orderNo]);
    expectExit(refused, 1);
    expect(refused.stdout).toMatch(/failed \(captured\)/);
    expect(cancelRequestsAt(world, 'walley', providerRefOf(captured))).toEqual([]);
    expect(ws.jobs(captured.orderNo)).toEqual([
      expect.objectContaining({ state: 'failed', failure_reason: 'captured', last_error_code: 'PAYMENT_CAPTURED', attempts: 0 }),
    ]);
  });

  it('VANISHED_ACTION=cancel reads first: cancelled in the portal → no job, auto-resolved; reserved → sent; captured → failed without a request', async () => {
    const ws = workspace({ VANISHED_ACTION: 'cancel' });
    const portal = makeOrder({ method: 'K' });
    const reserved = makeOrder({ method: 'K' });
    const captured = makeOrder({ method: 'K' });
    for (const o of [portal, reserved, captured]) world.specter.add(o);
    expectExit(await ws.run(['once']), 0);
    world.klarna.setOrder(providerRefOf(portal), 'cancelled');
    world.klarna.setOrder(providerRefOf(reserved), 'authorized');
    world.klarna.setOrder(providerRefOf(captured), 'captured');
    for (const o of [portal, reserved, captured]) world.specter.delete(o.orderNo);

    const run = await ws.run(['once']);
    expectExit(run, 3);
    expect(lineFor(run, 'vanished.auto_resolved', portal.orderNo)).toMatchObject({ reason: 'cancelled' });
    expect(ws.jobs(portal.orderNo)).toEqual([]);
    expect(cancelRequestsAt(world, 'klarna', providerRefOf(portal))).toEqual([]);

    expect(ws.jobs(reserved.orderNo)).toEqual([expect.objectContaining({ state: 'done' })]);
    expect(cancelRequestsAt(world, 'klarna', providerRefOf(reserved))).toHaveLength(1);

    expect(lineFor(run, 'order.vanished', captured.orderNo)!.message).toMatch(/refund/);
    expect(ws.jobs(captured.orderNo)).toEqual([expect.objectContaining({ state: 'failed', failure_reason: 'captured', last_error_code: 'PAYMENT_CAPTURED' })]);
    expect(cancelRequestsAt(world, 'klarna', providerRefOf(captured))).toEqual([]);
    // One read per order in the cycle: the dispatch used the cycle's own.
    for (const o of [portal, reserved, captured]) expect(readsOf('klarna', providerRefOf(o))).toBe(1);
  });
});
