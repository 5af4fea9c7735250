/**
 * Sending one job now, outside a cycle (`vanished cancel`, `jobs retry`, and the console's Cancel
 * payment and Retry through src/actions): a person has just
 * decided and waits for the provider's answer. It is a writer and a sender like any cycle, so it
 * works under the lease (worker/lease.ts), kept renewed while the provider takes its time, and it
 * sends only its own job: the rest of the outbox is the worker's, with the worker's checks.
 *
 * Inside `run` (the console) the worker keeps the lease across cycles (keeper.ts): the action
 * sends under that held lease, after the cycle in flight, never beside it; a fresh holder of its
 * own would always find the lease busy. A standby replica has no lease to lend and the CLI is
 * another process: the job is queued, and the holder's next cycle sends it (lease_busy).
 */
import type { AppConfig } from '../config/types.js';
import { dispatchDueJobs, type DispatchAction } from '../dispatch/dispatcher.js';
import type { ProviderName } from '../domain.js';
import type { Logger } from '../observability/logger.js';
import { compileStatusMap, trackOrder } from '../diff/track.js';
import { createProviderRegistry } from '../providers/registry.js';
import { compileRoutingRules } from '../routing/route.js';
import { createSpecterClient } from '../specter/client.js';
import { withFence, type Store } from '../store/database.js';
import { makeLeaseHolder } from '../store/lease.js';
import type { SharedLease } from './keeper.js';
import { takeLease, type HeldLease } from './lease.js';
import { cachedPaymentCheck } from './payments.js';
import { trackedGetOrder, verifyByGetOrder } from './truth.js';

export interface SendNowDeps {
  config: AppConfig;
  store: Store;
  logger: Logger;
  now?: () => Date;
  /** `run`'s held lease (the console's actions); absent in a CLI process, which takes its own. */
  sharedLease?: SharedLease;
}

export type SendNowOutcome =
  /** Its provider is configured off: the job waits, pending, until it is configured. */
  | { kind: 'provider_not_configured' }
  /** A running worker holds the lease: the job is committed, and that worker sends it. */
  | { kind: 'lease_busy' }
  /** The lease was lost before the request left: the new holder sends it. */
  | { kind: 'lease_lost' }
  /** Dispatched; null when there was nothing to do for it (it was no longer due). */
  | { kind: 'dispatched'; action: DispatchAction | null };

export async function sendJobNow(deps: SendNowDeps, job: { id: number; provider: ProviderName }): Promise<SendNowOutcome> {
  const { config, store, logger } = deps;
  const providers = createProviderRegistry(config.providers);
  if (!providers[job.provider]) return { kind: 'provider_not_configured' };

  const specter = createSpecterClient(config.specter, {
    onRetry: (info) =>
      logger.event('specter.retry', `Specter ${info.action} failed (attempt ${info.attempt}); retrying in ${info.delayMs} ms: ${info.reason}`, { ...info }),
  });
  const statusMap = compileStatusMap(config.specter.statusMap);
  const rules = compileRoutingRules(config.routing);
  const send = async (lease: HeldLease): Promise<SendNowOutcome> => {
    const report = await dispatchDueJobs({
      // Fenced like a cycle's writes: markSending fails if another process took the lease.
      store: withFence(store, lease.fence),
      providers,
      settings: config.dispatch,
      logger,
      now: deps.now,
      onlyJobIds: new Set([job.id]),
      canSend: () => lease.check(),
      // A vanished order's cancellation is sent on a person's behalf: the provider is asked first,
      // and a payment already cancelled, expired or captured is not sent.
      paymentCheck: cachedPaymentCheck({ store, providers }, new Map(), deps.now ?? (() => new Date())),
      // Send-time truth outside a cycle: Specter is asked (getOrder) whether the job's order still
      // calls for it — a retry days later must not cancel an order re-opened meanwhile.
      verify: verifyByGetOrder(
        trackedGetOrder(
          (orderNo) => specter.getOrder(orderNo),
          (order) => trackOrder(order, statusMap, rules),
        ),
      ),
    });
    const action = report.actions.find((a) => a.jobId === job.id) ?? null;
    if (action === null && lease.lost) return { kind: 'lease_lost' };
    return { kind: 'dispatched', action };
  };

  if (deps.sharedLease !== undefined) return (await deps.sharedLease.withHeldLease(send)) ?? { kind: 'lease_busy' };
  const lease = await takeLease(store, makeLeaseHolder(), { ttlMs: config.sync.leaseTtlMs, logger });
  if (lease === null) return { kind: 'lease_busy' };
  try {
    return await send(lease);
  } finally {
    await lease.release();
  }
}
