/**
 * A tiny pool: run `work` over `items` with at most `limit` in flight. Used once per provider so
 * each provider's own rate limit holds while providers run side by side.
 */
import type { ProviderName } from '../domain.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderClient } from '../providers/types.js';

/**
 * `shouldStop` is asked before each new item is started (a stop was requested: in-flight items
 * finish, no new one starts). If `work` throws, this pool starts nothing more, lets the items
 * already in flight finish, and then rejects with the first error, so no promise is left running
 * unobserved behind a rejection.
 */
export async function runWithLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const width = Math.max(1, Math.min(items.length, Number.isFinite(limit) ? Math.floor(limit) : 1));
  let next = 0;
  const errors: unknown[] = [];

  async function lane(): Promise<void> {
    while (errors.length === 0 && !shouldStop()) {
      const index = next;
      next += 1;
      if (index >= items.length) return;
      try {
        await work(items[index] as T);
      } catch (error) {
        errors.push(error);
      }
    }
  }

  await Promise.all(Array.from({ length: width }, () => lane()));
  if (errors.length > 0) throw errors[0];
}

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
    [...byProvider].map(([client, queue]) =>
      runWithLimit(queue, client.maxConcurrency, (job) => handlers.work(client, job), handlers.shouldStop),
    ),
  );
  const errors = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${handlers.what} failed for ${errors.length} providers`);
}
