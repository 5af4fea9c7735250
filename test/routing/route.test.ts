import { describe, expect, it } from '@jest/globals';
import type { RoutingRule } from '../../src/config/types.js';
import type { SpecterPayment } from '../../src/domain.js';
import { compileRoutingRules, routePayment } from '../../src/routing/route.js';

// The defaults of docs/interface.md, as config/default.json carries them.
const defaults: RoutingRule[] = [
  { referencePrefix: 'QLIRO-', payTypeIdentifiers: ['QL'], provider: 'qliro', providerIdPattern: '^[0-9]+$' },
  { payTypeIdentifiers: ['K', 'KG'], provider: 'klarna' },
  { payTypeIdentifiers: ['CL', 'WA'], provider: 'walley' },
  { payTypeIdentifiers: ['SP', 'SS', 'SCH'], provider: 'handledBySpecter' },
];
const rules = compileRoutingRules(defaults);

function payment(payTypeIdentifier: string | null, payTypeReference: string | null): SpecterPayment {
  return { payTypeIdentifier, payTypeReference, payTypeIdentifierPaySystemUser: null, currency: 'SEK', totalIncVat: '100.00' };
}

describe('routing', () => {
  it('routes a QLIRO- reference whatever the method code, stripping the prefix', () => {
    expect(routePayment(payment('XX', 'QLIRO-3381022'), rules)).toEqual({ kind: 'provider', provider: 'qliro', providerRef: '3381022' });
    expect(routePayment(payment('QL', 'QLIRO-12'), rules)).toEqual({ kind: 'provider', provider: 'qliro', providerRef: '12' });
    expect(routePayment(payment('QL', '55'), rules)).toEqual({ kind: 'provider', provider: 'qliro', providerRef: '55' });
  });

  it('refuses a Qliro id that is not an integer, saying why', () => {
    const route = routePayment(payment('QL', 'QLIRO-abc'), rules);
    expect(route.kind).toBe('unrouted');
    expect(route.kind === 'unrouted' && route.reason).toContain('QLIRO-abc');
  });

  it('routes Klarna and Walley by method code, with the reference as the id', () => {
    expect(routePayment(payment('KG', 'f3b2c1d0-aaaa-4bbb-8ccc-0123456789ab'), rules)).toEqual({
      kind: 'provider',
      provider: 'klarna',
      providerRef: 'f3b2c1d0-aaaa-4bbb-8ccc-0123456789ab',
    });
    expect(routePayment(payment('CL', '900123'), rules)).toEqual({ kind: 'provider', provider: 'walley', providerRef: '900123' });
  });

  it('leaves Svea to Specter', () => {
    expect(routePayment(payment('SCH', 'abc'), rules)).toEqual({ kind: 'handledBySpecter' });
  });

  it('anything else, an order without payment, or a routed order without reference is unrouted', () => {
    expect(routePayment(payment('SW', 'x'), rules).kind).toBe('unrouted');
    expect(routePayment(null, rules).kind).toBe('unrouted');
    expect(routePayment(payment('K', null), rules).kind).toBe('unrouted');
  });

  it('first matching rule wins', () => {
    const custom = compileRoutingRules([{ payTypeIdentifiers: ['K'], provider: 'handledBySpecter' }, ...defaults]);
    expect(routePayment(payment('K', 'id'), custom)).toEqual({ kind: 'handledBySpecter' });
  });
});
