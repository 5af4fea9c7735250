/**
 * Kill -9 at every stage of a cycle, then restart: nothing lost, nothing doubled, no second
 * idempotency key, no false vanish, an intact database (docs/architecture.md: outbox, at-least-once,
 * idempotent; never act on an incomplete view).
 *
 * The kills are deterministic: SPECTER_SYNC_CRASH_AT makes the child SIGKILL itself at a named
 * point (src/crashpoint.ts), and the mid-listing kill waits for the sandbox to record the page-2
 * request (held back by a `delay` fault) before killing the child from outside. No sleeps decide
 * where a process dies.
 *
 * Every case: a baseline; then in Specter five orders are cancelled (Qliro, 2× Klarna, Walley,
 * Svea), one order Specter handles itself is cancelled, and one live Walley order is deleted; the
 * crashing run; then `once` until every job is final (Qliro and Walley confirm on a later cycle).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { isListing, listingPage, PROVIDERS, type Provider } from '../support/sandbox.js';
import { ENGINES } from '../support/postgres.js';
import { Scenario } from './scenario.js';

interface CrashCase {
  name: string;
  env?: Record<string, string>;
  /** Arms an external kill for the crashing run (returns the kill condition). */
  arm?: (s: Scenario) => () => boolean;
  /** What the database must look like right after the kill (before any restart). */
  atCrash: (s: Scenario, before: string) => void;
  /**
   * Makes this provider answer first in the crashing run (the others answer 1.5 s later), so a
   * crash at the first answer lands on its job: its answer was seen, its outcome never recorded.
   */
  firstToAnswer?: Provider;
  /** Optional second crashing run before the good restarts. */
  second?: { env: Record<string, string> };
}

const nothingCommitted = (s: Scenario, before: string): void => {
  // The dead cycle committed nothing: the database is exactly as the baseline left it.
  expect(s.dump()).toBe(before);
};

const committedNotSent = (s: Scenario): void => {
  const jobs = s.jobs();
  expect(jobs.map((j) => j.order_no).sort()).toEqual([...s.cancelled].filter((no) => s.routed(no)).sort());
  expect(jobs.every((j) => j.state === 'pending' && j.attempts === 0)).toBe(true);
  expect(s.vanishedOrderNos()).toEqual([...s.deleted]);
  for (const o of s.fixture) if (o.provider && o.providerRef) expect(s.cancelRequestsAt(o.provider, o.providerRef)).toHaveLength(0);
};

const leftInFlight = (s: Scenario): void => {
  // The kill landed with a request on its way: its row says `sending`, committed before the send.
  const sending = s.jobs().filter((j) => j.state === 'sending');
  expect(sending.length).toBeGreaterThanOrEqual(1);
  expect(sending.every((j) => j.attempts >= 1)).toBe(true);
};

const answeredNotRecorded = (s: Scenario): void => {
  // The provider carried the cancel out, but the row still says `sending`: the answer died with us.
  const sending = s.jobs().filter((j) => j.state === 'sending');
  expect(sending.length).toBeGreaterThanOrEqual(1);
  const applied = sending.filter((j) => s.cancelsApplied(j.provider as Provider, j.provider_ref!) === 1);
  expect(applied.length).toBeGreaterThanOrEqual(1);
};

const CASES: CrashCase[] = [
  { name: 'cycle.listing (after the listing, before the diff)', env: { SPECTER_SYNC_CRASH_AT: 'cycle.listing' }, atCrash: nothingCommitted },
  {
    name: 'killed from outside while listing page 2 is in flight',
    arm: (s) => {
      const seen = s.world.specter.requestsFor().length;
      s.world.specter.faults.add({ kind: 'delay', ms: 20_000 }, { matches: (r) => isListing(r) && listingPage(r) === 2 });
      return () =>
        s.world.specter
          .requestsFor()
          .slice(seen)
          .some((r) => listingPage(r) === 2);
    },
    atCrash: (s, before) => {
      nothingCommitted(s, before);
      // It died waiting for page 2: page 3 was never asked for.
      const listing = s.world.specter.requestsFor();
      expect(listing[listing.length - 1] && listingPage(listing[listing.length - 1]!)).toBe(2);
    },
  },
  {
    name: 'cycle.before_commit (after the getOrder confirmations)',
    env: { SPECTER_SYNC_CRASH_AT: 'cycle.before_commit' },
    atCrash: (s, before) => {
      nothingCommitted(s, before);
      // The deleted order was confirmed gone with getOrder, and still nothing was written.
      const confirmed = s.world.specter.requestsFor('getOrder').map((r) => r.query.get('orderNo'));
      expect(confirmed).toEqual(expect.arrayContaining([...s.deleted]));
    },
  },
  { name: 'cycle.after_commit (before dispatch)', env: { SPECTER_SYNC_CRASH_AT: 'cycle.after_commit' }, atCrash: committedNotSent },
  { name: 'dispatch.in_flight (first request)', env: { SPECTER_SYNC_CRASH_AT: 'dispatch.in_flight' }, atCrash: leftInFlight },
  {
    name: 'dispatch.in_flight (4th request, earlier ones answered)',
    env: { SPECTER_SYNC_CRASH_AT: 'dispatch.in_flight', SPECTER_SYNC_CRASH_AFTER: '3' },
    atCrash: leftInFlight,
  },
  {
    name: 'dispatch.after_answer (3rd answer)',
    env: { SPECTER_SYNC_CRASH_AT: 'dispatch.after_answer', SPECTER_SYNC_CRASH_AFTER: '2' },
    atCrash: answeredNotRecorded,
  },
  ...PROVIDERS.map((provider): CrashCase => ({
    name: `dispatch.after_answer (${provider} answered, the outcome was never recorded)`,
    env: { SPECTER_SYNC_CRASH_AT: 'dispatch.after_answer' },
    firstToAnswer: provider,
    atCrash: (s) => {
      const sending = s.jobs().filter((j) => j.state === 'sending');
      expect(sending.map((j) => j.provider)).toContain(provider);
      // Its answer came (the sandbox applied it) for one of its jobs in flight; which one, when it
      // has two, is the scheduler's affair.
      const applied = sending.filter((j) => j.provider === provider).map((j) => s.cancelsApplied(provider, j.provider_ref!));
      expect(applied).toContain(1);
    },
  })),
  {
    name: 'dispatch.after_answer, then the restart killed in flight too',
    env: { SPECTER_SYNC_CRASH_AT: 'dispatch.after_answer' },
    atCrash: answeredNotRecorded,
    second: { env: { SPECTER_SYNC_CRASH_AT: 'dispatch.in_flight' } },
  },
];

// One suite on both engines (test/support/postgres.ts).
describe.each(ENGINES)('kill -9 at each stage of a cycle, then restart, on %s', (engine) => {
  let scenario: Scenario | null = null;
  afterEach(async () => {
    await scenario?.close();
    scenario = null;
  });

  test.each(CASES)(
    '$name',
    async (c) => {
      const s = (scenario = await Scenario.startAfterBaseline({}, engine));
      // Walley shows an accepted cancel after a short time, as the real one does ("it can take a few
      // seconds"), not after a status read: a restarted process must not depend on having read it.
      s.world.walley.setCancelLag({ reads: 0, ms: 100 });
      expect(s.jobs()).toHaveLength(0);

      s.cancel(s.order('qliro', 0), s.order('klarna', 0), s.order('klarna', 1), s.order('walley', 0), s.order('svea', 0));
      s.cancel(s.fixture.find((o) => o.provider === null && o.orderNo)!); // handled by Specter: nothing to send
      s.delete(s.order('walley', 1));
      const before = s.dump();

      const killWhen = c.arm?.(s);
      const slowed = PROVIDERS.filter((p) => c.firstToAnswer && p !== c.firstToAnswer);
      for (const p of slowed) s.world[p].setLatency(1500);
      const crashed = await s.run({ env: c.env, ...(killWhen ? { killWhen } : {}) });
      for (const p of slowed) s.world[p].setLatency(0);
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: 'SIGKILL' });
      expect(s.integrity()).toBe('ok');
      c.atCrash(s, before);

      if (c.second) {
        const again = await s.run({ env: c.second.env });
        expect({ code: again.code, signal: again.signal }).toEqual({ code: null, signal: 'SIGKILL' });
        expect(s.integrity()).toBe('ok');
      }

      // The restart: a fresh process finds the database as the dead one left it.
      const restart = await s.runOk();
      expect(restart.report?.outcome).toBe('succeeded');
      await s.settle();
      s.assertInvariants();
      // Orders cancelled with a job that did not die mid-request were sent exactly once per attempt
      // chain; the vanished live order waits for a person (exit 3), it was not cancelled.
      expect(s.runs[s.runs.length - 1]!.code).toBe(3);
    },
    180_000,
  );
});
