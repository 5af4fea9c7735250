/**
 * The dispatcher's and the confirmation pass's fan-out: each provider's jobs in that provider's
 * own pool (outbound/pool.ts), so each provider's rate limit holds while providers run side by side.
 */
import type { ProviderName } from '../domain.js';
import { runWithLimit } from '../outbound/pool.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderClient } from '../providers/types.js';

/**
 * Runs `work` over the jobs of each provider in that provider's own pool (its maxConcurrency),
 * providers side by side. A job whose provider is not configured goes to `unconfigured` instead.
 * allSettled: a provider whose pool hit an unexpected error (the database, a bug) stops only
 * itself; the others finish their queues before the error is reported.
 */
export async function runPerProvider<J extends { provider: ProviderName }>(
  jobs: readonly J[],
  providers: ProviderRegistry,
  handlers: {
    unconfigured: (job: J) => Promise<void>;
    work: (client: ProviderClient, job: J) => Promise<void>;
    shouldStop: () => boolean;
    /** e.g. "dispatch", for the error message when several providers failed. */
    what: string;
  },
): Promise<void> {
  const byProvider = new Map<ProviderClient, J[]>();
  for (const job of jobs) {
    const client = providers[job.provider];
    if (!client) {
      await handlers.unconfigured(job);
      continue;
    }
    const queue = byProvider.get(client) ?? [];
    queue.push(job);
    byProvider.set(client, queue);
  }
  const settled = await Promise.allSettled(
    [...byProvider].map(([client, queue]) => runWithLimit(queue, client.maxConcurrency, (job) => handlers.work(client, job), handlers.shouldStop)),
  );
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${handlers.what} failed for ${errors.length} providers`);
}
