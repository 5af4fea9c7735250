/**
 * The real collaborators of a cycle, built one way for `once`, `run` and the demo: the Specter
 * client (its retries logged as `specter.retry`), the configured providers, and this process's
 * lease identity.
 */
import type { AppConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { createProviderRegistry } from '../providers/registry.js';
import { createSpecterClient } from '../specter/client.js';
import type { Store } from '../store/database.js';
import { makeLeaseHolder } from '../store/lease.js';
import type { CycleDeps } from './cycle.js';

export function buildCycleDeps(config: AppConfig, store: Store, logger: Logger): CycleDeps {
  const specter = createSpecterClient(config.specter, {
    onRetry: (info) =>
      logger.event('specter.retry', `Specter ${info.action} failed (attempt ${info.attempt}); retrying in ${info.delayMs} ms: ${info.reason}`, { ...info }),
  });
  return { config, store, specter, providers: createProviderRegistry(config.providers), logger, holder: makeLeaseHolder() };
}
