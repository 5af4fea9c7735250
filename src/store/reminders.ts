/**
 * What the `run` reminder lists besides vanished orders: cancellation jobs that await a person
 * (docs/interface.md, "Awaiting a person"). A failed job, whatever its reason (`unrouted` included),
 * waits for someone to act on it; a job whose provider is not configured waits for someone to set
 * the credentials, but only after a day is that worth a reminder (a provider configured off on
 * purpose, for a short while, is not news).
 *
 * Only columns every schema version has are read (the lead's migration 0003 adds more and makes
 * `provider` nullable for unrouted jobs), and only through Kysely, so the queries hold on SQLite
 * and on PostgreSQL alike. Each list is bounded, and its count is always the full count.
 */
import type { ProviderName } from '../domain.js';
import type { Store } from './database.js';

export interface FailedJobReminder {
  jobId: number;
  orderNo: string;
  /** Null for a payment with no route (failure reason `unrouted`). */
  provider: string | null;
  providerRef: string | null;
  amount: string | null;
  currency: string | null;
  /** captured, not_found, auth, rejected, exhausted, unrouted, … as stored. */
  failureReason: string | null;
  code: string | null;
  /** The last error, cut to a bounded length (a reminder line must stay small). */
  message: string | null;
}

export interface WaitingJobReminder {
  jobId: number;
  orderNo: string;
  provider: string;
  providerRef: string | null;
  amount: string | null;
  currency: string | null;
  /** When the job was created: it has waited since then. */
  waitingSince: string;
}

export interface Bounded<T> {
  /** Every matching job. */
  count: number;
  /** At most `limit` of them, oldest first. */
  jobs: T[];
}

/** A stored error message in a reminder is cut to this many characters. */
export const REMINDER_MESSAGE_MAX_CHARS = 200;

export async function listFailedJobsForReminder(store: Store, limit: number): Promise<Bounded<FailedJobReminder>> {
  const counted = await store.db
    .selectFrom('cancellation_jobs')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('count'))
    .where('state', '=', 'failed')
    .executeTakeFirst();
  const rows = await store.db
    .selectFrom('cancellation_jobs')
    .select(['id', 'order_no', 'provider', 'provider_ref', 'amount', 'currency', 'failure_reason', 'last_error_code', 'last_error_message'])
    .where('state', '=', 'failed')
    .orderBy('id')
    .limit(limit)
    .execute();
  return {
    count: Number(counted?.count ?? 0),
    jobs: rows.map((r) => ({
      jobId: r.id,
      orderNo: r.order_no,
      // Typed non-null by this branch's schema; NULL once 0003 allows unrouted jobs.
      provider: (r.provider as string | null) ?? null,
      providerRef: r.provider_ref ?? null,
      amount: r.amount,
      currency: r.currency,
      failureReason: (r.failure_reason as string | null) ?? null,
      code: r.last_error_code,
      message: r.last_error_message === null ? null : r.last_error_message.slice(0, REMINDER_MESSAGE_MAX_CHARS),
    })),
  };
}

/**
 * Open jobs of providers outside `configured`, created before `createdBefore` (ISO 8601 UTC, the
 * format every stored time has, so text order is time order). `sending` counts too: a row left in
 * flight by a crash is put back to pending by the next dispatch, and waits just the same.
 */
export async function listJobsWaitingForProvider(
  store: Store,
  options: { configured: readonly ProviderName[]; createdBefore: string; limit: number },
): Promise<Bounded<WaitingJobReminder>> {
  const { configured, createdBefore, limit } = options;
  let base = store.db
    .selectFrom('cancellation_jobs')
    .where('state', 'in', ['pending', 'sending'])
    .where('created_at', '<', createdBefore)
    // NULL provider (an unrouted job) is never "waiting for a provider": it awaits a person as failed.
    .where('provider', 'is not', null);
  // `NOT IN ()` is not valid SQL: with nothing configured, every provider is unconfigured.
  if (configured.length > 0) base = base.where('provider', 'not in', [...configured]);
  const counted = await base.select((eb) => eb.fn.countAll<number | string | bigint>().as('count')).executeTakeFirst();
  const rows = await base
    .select(['id', 'order_no', 'provider', 'provider_ref', 'amount', 'currency', 'created_at'])
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return {
    count: Number(counted?.count ?? 0),
    // The query excludes NULL providers; the filter says so to the type system too.
    jobs: rows.flatMap((r) =>
      r.provider === null
        ? []
        : [
            {
              jobId: r.id,
              orderNo: r.order_no,
              provider: r.provider,
              providerRef: r.provider_ref ?? null,
              amount: r.amount,
              currency: r.currency,
              waitingSince: r.created_at,
            },
          ],
    ),
  };
}
