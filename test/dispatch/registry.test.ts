/** The registry holds a client for each configured provider, and only those. */
import { describe, expect, it } from '@jest/globals';
import type { ProviderSettings } from '../../src/config/types.js';
import { createProviderRegistry } from '../../src/providers/registry.js';

const none: ProviderSettings = { qliro: null, klarna: null, walley: null, svea: null, requestTimeoutMs: 5_000 };

describe('createProviderRegistry', () => {
  it('nothing configured → an empty registry', () => {
    expect(createProviderRegistry(none)).toEqual({});
  });

  it('only the configured providers, each client named after its provider', () => {
    const registry = createProviderRegistry({
      ...none,
      qliro: { baseUrl: 'https://pago.qit.nu/', merchantApiKey: 'key', merchantApiSecret: 'qliro-secret' },
      walley: { baseUrl: 'https://api.uat.walleydev.com/', clientId: 'id', clientSecret: 'walley-secret', scope: 'scope' },
    });
    expect(Object.keys(registry).sort()).toEqual(['qliro', 'walley']);
    expect(registry.qliro?.name).toBe('qliro');
    expect(registry.walley?.name).toBe('walley');
    // The asynchronous providers must be able to confirm what they accepted.
    expect(typeof registry.qliro?.confirm).toBe('function');
    expect(typeof registry.walley?.confirm).toBe('function');
    expect(registry.qliro?.maxConcurrency).toBeGreaterThanOrEqual(1);
  });

  it('all four', () => {
    const registry = createProviderRegistry({
      ...none,
      qliro: { baseUrl: 'https://pago.qit.nu/', merchantApiKey: 'key', merchantApiSecret: 'qliro-secret' },
      klarna: { baseUrl: 'https://api.playground.klarna.com/', username: 'u', password: 'p' },
      walley: { baseUrl: 'https://api.uat.walleydev.com/', clientId: 'id', clientSecret: 'walley-secret', scope: 'scope' },
      svea: { baseUrl: 'https://paymentadminapistage.svea.com/', merchantId: '123', secret: 'svea-secret' },
    });
    expect(Object.entries(registry).map(([key, client]) => [key, client?.name])).toEqual([
      ['qliro', 'qliro'],
      ['klarna', 'klarna'],
      ['walley', 'walley'],
      ['svea', 'svea'],
    ]);
  });
});
