/**
 * What the sandbox world saw: the requests each simulated server recorded, read the one way every
 * suite reads them (a cancel request of each provider, the idempotency key it carried, what the
 * provider actually carried out), and how a test clears the faults it scripted.
 */
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';

export type Provider = 'qliro' | 'klarna' | 'walley' | 'svea';
export const PROVIDERS: readonly Provider[] = ['qliro', 'klarna', 'walley', 'svea'];

/** Forget every scripted fault in the world (tests share one world per file). */
export function clearFaults(world: SandboxWorld): void {
  world.specter.clearScripts();
  world.specter.setEncoding('utf-8');
  world.specter.setNotFoundAnswer('code20');
  for (const p of PROVIDERS) world[p].faults.clear();
}

/**
 * Every cancel request this provider's sandbox received for `ref`, in order: recorded on arrival,
 * so the ones a scripted fault answered (or still holds back) are included, unlike the sandboxes'
 * own cancelRequests() counts, which see only those that reached the handler.
 */
export function cancelRequestsAt(world: SandboxWorld, provider: Provider, ref: string): RecordedRequest[] {
  switch (provider) {
    case 'klarna':
      return world.klarna.requests.filter((r) => r.method === 'POST' && r.path === `/ordermanagement/v1/orders/${encodeURIComponent(ref)}/cancel`);
    case 'walley':
      return world.walley.requests.filter((r) => r.method === 'POST' && r.path === `/manage/orders/${encodeURIComponent(ref)}/cancel`);
    case 'qliro':
      return world.qliro.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/cancelOrder') && String(qliroBody(r).OrderId) === ref);
    case 'svea':
      return world.svea.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/orders/${encodeURIComponent(ref)}`));
  }
}

/** The idempotency key a recorded cancel request carries (Svea has none: null). */
export function idempotencyKeyOf(provider: Provider, request: RecordedRequest): string | null | undefined {
  switch (provider) {
    case 'klarna':
      return header(request, 'klarna-idempotency-key');
    case 'walley':
      return header(request, 'walley-idempotency-key');
    case 'qliro': {
      const id = qliroBody(request).RequestId;
      return typeof id === 'string' ? id : undefined;
    }
    case 'svea':
      return null;
  }
}

/**
 * The idempotency key of every cancel request the Klarna sandbox received for `providerRef`, in
 * order, faulted ones included. Keys, not whole requests: a failure message stays readable.
 */
export function klarnaCancelKeys(world: SandboxWorld, providerRef: string): string[] {
  return cancelRequestsAt(world, 'klarna', providerRef).map((r) => idempotencyKeyOf('klarna', r) ?? '(no key)');
}

/** Cancels the provider sandbox actually carried out for `ref` (must never exceed 1). */
export function cancelsApplied(world: SandboxWorld, provider: Provider, ref: string): number {
  switch (provider) {
    case 'klarna':
      return world.klarna.cancelsApplied(ref);
    case 'svea':
      return world.svea.cancelsApplied(ref);
    // Qliro: each 'accepted' answer created a Reversal; a repeat answers ORDER_HAS_BEEN_CANCELLED.
    case 'qliro':
      return world.qliro.cancelRequests().filter((c) => c.orderId === ref && c.answer === 'accepted').length;
    // Walley: a plain "202" started a cancel; a repeated key is labelled "202 (replayed)"/"409 …".
    case 'walley':
      return world.walley.cancelRequests().filter((c) => c.orderId === ref && c.answer === '202').length;
  }
}

/** The state of the payment at its provider ('cancelled' once a cancel took effect). */
export function providerState(world: SandboxWorld, provider: Provider, ref: string): string {
  switch (provider) {
    case 'klarna':
      return world.klarna.orderState(ref);
    case 'svea':
      return world.svea.orderState(ref);
    case 'qliro':
      return world.qliro.orderState(ref);
    case 'walley':
      return world.walley.orderState(ref);
  }
}

/** How many requests of any kind the four provider sandboxes received, together. */
export function providerRequestCount(world: SandboxWorld): number {
  return PROVIDERS.reduce((sum, p) => sum + world[p].requests.length, 0);
}

/** How many Specter getOrder requests asked for `orderNo`. */
export function getOrderRequests(world: SandboxWorld, orderNo: string): number {
  return world.specter.requestsFor(world.specter.actions.getOrder).filter((r) => r.query.get('orderNo') === orderNo).length;
}

/** A Specter listing request (the sandbox's default action name, which every suite keeps). */
export function isListing(request: RecordedRequest): boolean {
  return request.query.get('Action') === 'getOrders';
}

/** The page a recorded Specter listing request asked for. */
export function listingPage(request: RecordedRequest): number {
  return Number(request.query.get('page'));
}

function header(request: RecordedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function qliroBody(request: RecordedRequest): Record<string, unknown> {
  try {
    const parsed = JSON.parse(request.body.toString('utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
