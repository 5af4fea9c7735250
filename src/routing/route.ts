/**
 * Which provider cancels an order's payment (docs/interface.md, "Routing"). Specter has no code for
 * Qliro: integrators write the reference with a prefix ("QLIRO-3381022") so several providers can
 * share one account, so a rule matches on the method code OR the reference prefix, first rule wins.
 */
import type { RoutingRule } from '../config/types.js';
import type { Route, SpecterPayment } from '../domain.js';

export interface CompiledRule {
  rule: RoutingRule;
  identifiers: ReadonlySet<string>;
  idPattern: RegExp | null;
}

export function compileRoutingRules(rules: readonly RoutingRule[]): CompiledRule[] {
  return rules.map((rule) => ({
    rule,
    identifiers: new Set(rule.payTypeIdentifiers ?? []),
    idPattern: rule.providerIdPattern ? new RegExp(rule.providerIdPattern) : null,
  }));
}

export function routePayment(payment: SpecterPayment | null, rules: readonly CompiledRule[]): Route {
  if (!payment) return { kind: 'unrouted', reason: 'the order has no payment' };
  const identifier = payment.payTypeIdentifier ?? '';
  const reference = payment.payTypeReference ?? '';

  for (const { rule, identifiers, idPattern } of rules) {
    const byPrefix = rule.referencePrefix !== undefined && reference.startsWith(rule.referencePrefix);
    const byIdentifier = identifiers.has(identifier);
    if (!byPrefix && !byIdentifier) continue;

    if (rule.provider === 'handledBySpecter') return { kind: 'handledBySpecter' };
    if (rule.provider === 'elsewhere') return { kind: 'elsewhere' };

    // The prefix is stripped whenever it is there, also when the method code matched.
    const providerRef =
      rule.referencePrefix !== undefined && reference.startsWith(rule.referencePrefix) ? reference.slice(rule.referencePrefix.length) : reference;
    if (providerRef.trim() === '') {
      return { kind: 'unrouted', reason: `payment routes to ${rule.provider} but has no payTypeReference` };
    }
    if (idPattern && !idPattern.test(providerRef)) {
      return {
        kind: 'unrouted',
        reason: `payTypeReference "${reference}" does not give a valid ${rule.provider} id (must match ${idPattern.source})`,
      };
    }
    return { kind: 'provider', provider: rule.provider, providerRef };
  }
  return {
    kind: 'unrouted',
    reason: `no routing rule matches payTypeIdentifier "${identifier}"${reference ? ` / reference "${reference}"` : ''}`,
  };
}

/**
 * Routes a payment kept in the database (a snapshot's or a job's identifier and reference) by the
 * rules in force now: routing may have changed since the cycle that stored it. Both null: the
 * order carried no payment at all.
 */
export function routeStoredPayment(payment: { payTypeIdentifier: string | null; payTypeReference: string | null }, rules: readonly CompiledRule[]): Route {
  if (payment.payTypeIdentifier === null && payment.payTypeReference === null) return routePayment(null, rules);
  return routePayment(
    {
      payTypeIdentifier: payment.payTypeIdentifier,
      payTypeReference: payment.payTypeReference,
      payTypeIdentifierPaySystemUser: null,
      currency: null,
      totalIncVat: null,
    },
    rules,
  );
}
