/**
 * The provider clients this process may use: one per provider whose credentials are configured.
 * A provider left out (settings null) is "configured off": its jobs wait, pending, until it is
 * configured (docs/interface.md), and the dispatcher says so once per cycle.
 */
import type { ProviderSettings } from '../config/types.js';
import type { ProviderName } from '../domain.js';
import { createKlarnaClient } from './klarna/client.js';
import { createQliroClient } from './qliro/client.js';
import { createSveaClient } from './svea/client.js';
import type { ProviderClient } from './types.js';
import { createWalleyClient } from './walley/client.js';

export type ProviderRegistry = Partial<Record<ProviderName, ProviderClient>>;

export function createProviderRegistry(settings: ProviderSettings): ProviderRegistry {
  const options = { timeoutMs: settings.requestTimeoutMs };
  const registry: ProviderRegistry = {};
  if (settings.qliro) registry.qliro = createQliroClient(settings.qliro, options);
  if (settings.klarna) registry.klarna = createKlarnaClient(settings.klarna, options);
  if (settings.walley) registry.walley = createWalleyClient(settings.walley, options);
  if (settings.svea) registry.svea = createSveaClient(settings.svea, options);
  return registry;
}
