/**
 * The log event catalogue: the alerting interface (docs/interface.md, "Log events").
 *
 * Operators' alert rules match these names, so a name is never renamed or removed without a
 * migration path in the README. Level and `alert` live here, not at the call sites, so one event
 * always has one severity wherever it is logged. The README's catalogue is checked against the
 * `when` sentences, and a hook greps the literal `event: '<name>'` form: keep one entry per line
 * group in that form.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EventSpec {
  readonly event: string;
  readonly level: LogLevel;
  /**
   * True only for events a person must act on; such events are always `warn` or `error`.
   * 'conditional': the call site decides, line by line, with the field `alert: true` (docs/interface.md:
   * `order.reopened` is an alert only when a cancellation already went out for its payment).
   */
  readonly alert: boolean | 'conditional';
  /** One sentence: when the event is logged. */
  readonly when: string;
}

export const EVENT_CATALOGUE = [
  // The cycle
  { event: 'sync.started', level: 'info', alert: false, when: 'A cycle starts.' },
  { event: 'sync.completed', level: 'info', alert: false, when: 'A cycle ends successfully, with its counts.' },
  { event: 'sync.baseline', level: 'info', alert: false, when: 'The first successful run recorded the orders that exist and forwarded nothing.' },
  { event: 'sync.failed', level: 'error', alert: true, when: 'A cycle could not complete; carries the reason and whether it will be retried.' },
  { event: 'sync.stale', level: 'error', alert: true, when: 'No cycle has succeeded for longer than 3 schedule periods (in `run`).' },
  { event: 'sync.skipped', level: 'info', alert: false, when: 'A scheduled tick found the previous cycle still running and did nothing.' },
  { event: 'sync.lease_busy', level: 'warn', alert: false, when: 'Another process holds the database lease, so this cycle did not start (`once`).' },
  {
    event: 'sync.standby',
    level: 'info',
    alert: false,
    when: 'A `run` tick found another replica holding the database lease (`heldBy`): this one stands by, runs no cycle, and asks again at its next tick.',
  },
  { event: 'specter.retry', level: 'warn', alert: false, when: 'A Specter request failed transiently and will be retried after a backoff.' },

  // Orders
  { event: 'order.cancel_detected', level: 'info', alert: false, when: 'An order turned cancelled in Specter and a cancellation job was created.' },
  {
    event: 'order.vanished',
    level: 'warn',
    alert: true,
    when: 'An order is confirmed gone from Specter; carries the order, provider, reference, amount, what its provider says of the money (`paymentState`, `reservedAmount`, `expiresAt`) and what a person must do.',
  },
  { event: 'order.reappeared', level: 'warn', alert: false, when: 'An order recorded as vanished is back in Specter.' },
  {
    event: 'order.unrouted',
    level: 'warn',
    alert: true,
    when: "A cancelled or vanished order's payment has no route (or its reference fails the route's rule): it awaits a person as a failed job with reason `unrouted`.",
  },
  {
    event: 'order.reopened',
    level: 'warn',
    alert: 'conditional',
    when: 'An order recorded as cancelled is open in Specter again; an alert when a cancellation was already sent for its payment.',
  },
  {
    event: 'order.listing_gap',
    level: 'info',
    alert: false,
    when: 'An order was missing from the listing but getOrder still found it, so it is not vanished.',
  },
  { event: 'order.left_window', level: 'debug', alert: false, when: 'An order became older than the lookback window and left tracking.' },

  // Vanished orders awaiting a person
  {
    event: 'vanish_guard.tripped',
    level: 'error',
    alert: true,
    when: 'More orders vanished in one run than VANISH_GUARD_MAX_PER_RUN allows, so none was flagged.',
  },
  { event: 'vanished.reminder', level: 'warn', alert: true, when: 'The daily list of vanished orders that still await a person.' },
  { event: 'vanished.resolved', level: 'info', alert: false, when: 'A person marked a vanished order as dealt with.' },
  {
    event: 'vanished.auto_resolved',
    level: 'info',
    alert: false,
    when: 'A vanished order needs nobody: its provider says the payment is already cancelled or expired (`reason`), so it is resolved automatically.',
  },
  {
    event: 'vanished.cancel_requested',
    level: 'info',
    alert: false,
    when: "A person confirmed that a vanished order's payment is to be cancelled, and a job was created.",
  },

  // Cancellation jobs
  { event: 'cancel.sent', level: 'info', alert: false, when: 'A cancellation request went to the provider.' },
  { event: 'cancel.succeeded', level: 'info', alert: false, when: 'The provider confirmed the cancellation, or the payment was already cancelled.' },
  { event: 'cancel.accepted', level: 'info', alert: false, when: 'The provider accepted the cancellation; its confirmation is pending.' },
  { event: 'cancel.confirm_pending', level: 'info', alert: false, when: 'An accepted cancellation was checked and the provider has not confirmed it yet.' },
  { event: 'cancel.retry_scheduled', level: 'warn', alert: false, when: 'A cancellation failed transiently; carries the time of the next attempt.' },
  {
    event: 'cancel.failed',
    level: 'error',
    alert: true,
    when: 'A cancellation failed permanently; `reason` is captured, not_found, auth, rejected or exhausted.',
  },
  { event: 'cancel.waiting_for_provider', level: 'warn', alert: false, when: "A job's provider is not configured, so the job stays pending until it is." },
  {
    event: 'cancel.voided',
    level: 'warn',
    alert: false,
    when: 'A job was not sent because what it was made from no longer holds (`reason`: reopened, reappeared, …).',
  },
  { event: 'job.dismissed', level: 'info', alert: false, when: 'A person closed a failed job without sending anything.' },
  {
    event: 'job.rerouted',
    level: 'info',
    alert: false,
    when: 'A payment that awaited a person for want of a route is covered by routing now: its job got its provider and is queued.',
  },
  { event: 'job.requeued', level: 'info', alert: false, when: 'A person put a failed job back in the queue with the same idempotency key.' },
  {
    event: 'job.recovered',
    level: 'warn',
    alert: false,
    when: 'A job found in state `sending` at start (after a crash) is sent again with the same idempotency key.',
  },
  // Its own event, not more entries in vanished.reminder: rules written for that one keep meaning
  // "vanished orders await a person" (docs/interface.md: change nothing, add freely).
  {
    event: 'jobs.reminder',
    level: 'warn',
    alert: true,
    when: 'The daily list of cancellation jobs that still await a person: failed ones (any reason, unrouted included) and those waiting more than a day for a provider that is not configured.',
  },

  // The lease (one writer)
  {
    event: 'lease.acquired',
    level: 'info',
    alert: false,
    when: 'This process took the database lease (`holder`; `token`, the fencing token, rises each time the lease changes hands); `run` keeps it until it stops, so this is logged when it changes hands.',
  },
  {
    event: 'lease.lost',
    level: 'warn',
    alert: false,
    when: 'This process lost the database lease (it expired and another process or replica, `heldBy`, holds it now, or a write found its fencing token moved on); it stops sending and writing.',
  },
  {
    event: 'lease.released',
    level: 'info',
    alert: false,
    when: 'A `run` that held the database lease freed it on a graceful stop; a standby replica takes it at its next tick.',
  },

  // The operator console (src/console)
  { event: 'console.signin_failed', level: 'warn', alert: false, when: 'A wrong console token was tried (or a client was refused for trying too many).' },
  {
    event: 'console.action',
    level: 'info',
    alert: false,
    when: 'A person acted through the console (`action`, `orderNo` or `jobId`, `note`, and how it ended).',
  },
  { event: 'console.request_failed', level: 'error', alert: false, when: 'A console page or action failed with an unexpected error; the person saw a 500.' },

  // The process
  { event: 'worker.started', level: 'info', alert: false, when: 'The `run` worker started and scheduled its cycles.' },
  { event: 'worker.stopping', level: 'info', alert: false, when: 'The worker received SIGTERM or SIGINT and is finishing the current cycle.' },
  { event: 'worker.stopped', level: 'info', alert: false, when: 'The worker stopped cleanly.' },
  { event: 'http.listening', level: 'info', alert: false, when: 'The health and metrics endpoint is listening.' },
  { event: 'db.migrated', level: 'info', alert: false, when: 'Database migrations were applied.' },
  {
    event: 'db.copied',
    level: 'info',
    alert: false,
    when: '`migrate --from-sqlite` copied a SQLite history into an empty PostgreSQL database (`snapshots`, `jobs`, `paymentReads`, `runs`: how many rows).',
  },
  { event: 'config.invalid', level: 'error', alert: true, when: 'The configuration is invalid; carries the setting and where it was read from.' },
  { event: 'dryrun.action', level: 'info', alert: false, when: 'A `--dry-run` would have taken this action but did nothing.' },
] as const satisfies readonly EventSpec[];

export type EventName = (typeof EVENT_CATALOGUE)[number]['event'];

const BY_NAME: ReadonlyMap<string, EventSpec> = new Map(EVENT_CATALOGUE.map((spec) => [spec.event, spec]));

/** The catalogue entry of an event; undefined only for a name that is not an EventName. */
export function eventSpec(name: string): EventSpec | undefined {
  return BY_NAME.get(name);
}
