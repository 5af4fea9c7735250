/**
 * The demo's story, one small function per step. Each step does to the sandbox what a person or a
 * provider would do, runs one or two real cycles, and tells what the worker did from the cycle's
 * report and the store. A step whose outcome differs from what it is about to tell throws
 * DemoStoryError: a demo that goes off script says so instead of telling a made-up story.
 */
import { configuredProviders } from '../config/types.js';
import { buildStatusReport } from '../store/status.js';
import { formatTable } from '../format.js';
import { getJob, listJobs } from '../store/jobs.js';
import { countTrackedByStatus } from '../store/status.js';
import { formatStockholm } from '../sandbox/specter/seed.js';
import { lastPaymentRead } from '../store/paymentReads.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import { needsPerson, type CycleAction } from '../worker/cycle.js';
import type { Cast, CastOrder, OrderMix } from './cast.js';
import { describeDispatch, describeConfirm, money, orderLabel, plural, PROVIDER_TITLE, type Narrator } from './narrate.js';
import { DemoStoryError, type CompletedReport, type DemoStage } from './stage.js';

function ensure(condition: boolean, whatWentWrong: string): asserts condition {
  if (!condition) throw new DemoStoryError(whatWentWrong);
}

/** Every request the four provider sandboxes have received so far. */
function providerRequestCount(stage: DemoStage): number {
  const { qliro, klarna, walley, svea } = stage.world;
  return qliro.requests.length + klarna.requests.length + walley.requests.length + svea.requests.length;
}

/** How the provider's own sandbox sees the order now (its side of the story). */
function stateAtProvider(stage: DemoStage, order: CastOrder): string {
  const { qliro, klarna, walley, svea } = stage.world;
  switch (order.provider) {
    case 'qliro':
      return qliro.orderState(order.providerRef);
    case 'klarna':
      return klarna.orderState(order.providerRef);
    case 'walley':
      return walley.orderState(order.providerRef);
    case 'svea':
      return svea.orderState(order.providerRef);
  }
}

function dispatchOf(report: CompletedReport, orderNo: string): Extract<CycleAction, { action: 'dispatch' }> | undefined {
  return report.actions.find((a): a is Extract<CycleAction, { action: 'dispatch' }> => a.action === 'dispatch' && a.orderNo === orderNo);
}

/** "Run 3:" — the cycle's number, so the account can be matched to sync_runs and the log. */
function runLabel(stage: DemoStage): string {
  return `Run ${stage.runs}`;
}

/** One line per provider request and status read of a cycle, in the order they happened. */
function tellProviderTraffic(n: Narrator, report: CompletedReport): void {
  for (const action of report.actions) {
    if (action.action === 'dispatch') n.quote(`→ ${describeDispatch(action)}`);
    else if (action.action === 'confirm') n.quote(`✓ ${describeConfirm(action)}`);
  }
}

export function tellOpening(n: Narrator, stage: DemoStage, mix: OrderMix): void {
  const w = stage.world;
  n.line('specter-sync demo: the real worker (poll, diff, outbox, provider clients, SQLite) against a simulated');
  n.line('Specter and simulated Qliro, Klarna, Walley and Svea, all on 127.0.0.1 with made-up credentials.');
  n.line('');
  n.line(`The Specter sandbox (${w.specter.url}) holds ${mix.total} orders from the last two weeks: ${mix.byProvider.qliro} paid with Qliro,`);
  n.line(
    `${mix.byProvider.klarna} with Klarna, ${mix.byProvider.walley} with Walley, ${mix.handledBySpecter} with Svea (handled by Specter itself), ` +
      `${mix.unrouted} with Swish (no provider to cancel at), ${mix.withoutPayment} old ones without payment.`,
  );
  n.line(`The worker's database is a fresh SQLite file: ${stage.dbPath}`);
}

/** Step 1: the first run records what exists and forwards nothing, not even old cancellations. */
async function baselineStep(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  n.step('Baseline: the first run records what exists and forwards nothing');
  const old = cast.cancelledBeforeBaseline;
  stage.world.specter.cancel(old.orderNo);
  n.say('Before specter-sync was installed, someone cancelled this order in Specter:');
  n.quote(orderLabel(old));

  const report = await stage.cycle();
  const jobs = await listJobs(stage.store);
  const requests = providerRequestCount(stage);
  ensure(report.outcome === 'baseline', `run 1 was expected to be the baseline, but was "${report.outcome}"`);
  ensure(jobs.length === 0 && requests === 0, `the baseline forwarded something: ${jobs.length} jobs, ${requests} provider requests`);

  const tracked = await countTrackedByStatus(stage.store);
  n.say(`${runLabel(stage)} (baseline): ${plural(report.counts.listed, 'order')} recorded, ${tracked.cancelled} of them already cancelled in Specter.`);
  n.say(`Forwarded: nothing (${plural(jobs.length, 'job')}, ${plural(requests, 'request')} to providers).`);
  n.say(`Cancellations from before the worker existed are history; ${old.orderNo} is left alone at ${PROVIDER_TITLE[old.provider]}.`);
}

/** Step 2: one cancellation per provider; Klarna answers at once, Qliro and Walley confirm later. */
async function cancellationsStep(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  n.step('A cancellation at each provider');
  const orders = [cast.qliroCancel, cast.klarnaCancel, cast.walleyCancel];
  for (const order of orders) stage.world.specter.cancel(order.orderNo);
  n.say('In Specter, a person cancels three orders:');
  for (const order of orders) n.quote(orderLabel(order));

  const first = await stage.cycle();
  const created = first.actions.filter((a) => a.action === 'cancel_job_created');
  ensure(created.length === 3, `run ${stage.runs} was expected to create 3 cancellation jobs, but created ${created.length}`);
  n.say(`${runLabel(stage)}: sees ${plural(first.counts.cancelled, 'order')} turn cancelled and commits ${plural(created.length, 'cancellation job')}`);
  n.say('before sending anything (the outbox), then sends them:');
  tellProviderTraffic(n, first);

  // Qliro and Walley work asynchronously: the worker reads their status once per cycle until final.
  let runs = 0;
  while ((await listJobs(stage.store, { state: 'accepted' })).length > 0 && runs < 3) {
    runs += 1;
    const next = await stage.cycle();
    n.say(`${runLabel(stage)}: nothing new in Specter; the worker asks about the accepted cancellations:`);
    tellProviderTraffic(n, next);
  }

  for (const order of orders) {
    const jobs = (await listJobs(stage.store)).filter((j) => j.orderNo === order.orderNo);
    ensure(jobs.length === 1 && jobs[0]?.state === 'done', `the cancellation of order ${order.orderNo} at ${order.provider} did not end done`);
  }
  ensure(dispatchOf(first, cast.klarnaCancel.orderNo)?.result === 'succeeded', 'Klarna was expected to cancel at once');
  n.say('What the providers now hold for these orders:');
  for (const o of orders) n.quote(`${PROVIDER_TITLE[o.provider]} ${o.providerRef}: ${stateAtProvider(stage, o)}`);
}

/** Klarna's default: an authorisation lapses 28 days after it was made. */
const KLARNA_AUTHORIZATION_DAYS = 28;

/** "2026-12-30 09:00:00 UTC": for people, and in the form the demo's own test blanks out as a date. */
function utcText(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * Step 3: two orders deleted in Specter leave no trace; the worker notices, asks each payment's
 * provider about the money, and flags only the one whose money is still reserved.
 */
async function deletedOrderStep(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  n.step('Deleted orders: the provider is asked, a person only where money is still reserved');
  const order = cast.deleted;
  const portal = cast.deletedCancelledInPortal;
  // The reservations as the providers hold them: the order's amount, authorised when it was placed.
  // Specter's dates are Stockholm local time: the UTC instant that formats back to it (CET or CEST).
  const asUtc = Date.parse(`${order.orderDate.replace(' ', 'T')}Z`);
  const placedMs = [asUtc - 3_600_000, asUtc - 7_200_000].find((ms) => formatStockholm(ms) === order.orderDate) ?? asUtc;
  const minorUnits = order.amount === null ? undefined : Math.round(Number(order.amount) * 100);
  stage.world.klarna.setOrder(order.providerRef, 'authorized', {
    ...(minorUnits === undefined ? {} : { orderAmount: minorUnits }),
    expiresAt: new Date(placedMs + KLARNA_AUTHORIZATION_DAYS * 86_400_000),
  });
  stage.world.qliro.setOrder(portal.providerRef, 'cancelled', portal.amount === null ? undefined : { amount: Number(portal.amount) });
  for (const o of [order, portal]) ensure(stage.world.specter.delete(o.orderNo), `order ${o.orderNo} was not in the sandbox to delete`);
  n.say('In Specter, a person deletes two orders with the trash icon:');
  n.quote(orderLabel(order));
  n.quote(orderLabel(portal));
  n.say(`(Earlier, someone had already cancelled the second one's payment in the Qliro portal.)`);
  n.say("Specter's API keeps no trace of a deletion: no status change, no event; the orders are simply not there.");

  const report = await stage.cycle();
  const flagged = (orderNo: string) => report.actions.some((a) => a.action === 'vanished_flagged' && a.orderNo === orderNo);
  ensure(flagged(order.orderNo) && flagged(portal.orderNo) && report.counts.vanished === 2, `run ${stage.runs} did not find both deleted orders gone`);
  n.say(`${runLabel(stage)}: both are missing from the listing. Missing is only a question, so the worker asks Specter`);
  n.say(`for each (getOrder): not found. They are gone. Only the provider knows what happened to the money, so`);
  n.say('the worker asks it (one order read each, the way each provider documents it):');

  const portalRead = await lastPaymentRead(stage.store, portal.orderNo);
  ensure(portalRead?.state === 'cancelled', `Qliro was expected to say the payment of order ${portal.orderNo} is cancelled`);
  const awaiting = await listVanishedAwaiting(stage.store);
  ensure(!awaiting.some((v) => v.orderNo === portal.orderNo), `order ${portal.orderNo} was not resolved automatically`);
  n.quote(`Qliro ${portal.providerRef}: already cancelled. Nothing is reserved, nothing to do: order ${portal.orderNo} is resolved`);
  n.quote('by itself (vanished.auto_resolved), and nobody is asked.');

  const vanished = awaiting.find((v) => v.orderNo === order.orderNo);
  ensure(vanished !== undefined && vanished.provider !== null, `order ${order.orderNo} is not awaiting a person`);
  ensure(
    vanished.paymentState === 'reserved' && vanished.expiresAt !== null,
    `Klarna was expected to say order ${order.orderNo} is still reserved, with an expiry`,
  );
  const provider = PROVIDER_TITLE[vanished.provider];
  const until = utcText(vanished.expiresAt);
  n.quote(`${provider} ${vanished.providerRef ?? ''}: still reserved, ${money(vanished.reservedAmount, vanished.currency)} until ${until}.`);
  n.say('The message a person acts on:');
  n.quote(
    [
      '',
      `Order ${vanished.orderNo} (placed ${vanished.orderDate}) was deleted from Specter;`,
      `${provider} says its payment is still reserved: ${money(vanished.reservedAmount, vanished.currency)}, until ${until}.`,
      `  Provider:            ${vanished.provider}`,
      `  Provider reference:  ${vanished.providerRef ?? '-'}`,
      `  Amount:              ${money(vanished.amount, vanished.currency)}`,
      `  Still reserved:      ${money(vanished.reservedAmount, vanished.currency)}`,
      `  Reserved until:      ${until} (then it lapses on its own)`,
      `Release the customer's money now by cancelling the reservation at ${provider}:`,
      `  specter-sync vanished cancel ${vanished.orderNo}`,
      `or, if it has been dealt with, mark it so:`,
      `  specter-sync vanished resolve ${vanished.orderNo} --note "cancelled in the ${provider} portal"`,
      '',
    ].join('\n'),
  );
  n.say(`Nothing was sent to ${provider} (VANISHED_ACTION=flag, the default). The worker logged the same as an`);
  n.say('order.vanished alert, and `specter-sync vanished list` shows it, soonest expiry first, until a person acts.');
}

/** Step 4: a captured payment cannot be cancelled; it needs a refund, which is a person's decision. */
async function capturedOrderStep(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  n.step('A captured order: needs a refund, a person must decide');
  const order = cast.captured;
  const minorUnits = order.amount === null ? undefined : Math.round(Number(order.amount) * 100);
  stage.world.klarna.setOrder(order.providerRef, 'captured', minorUnits === undefined ? undefined : { orderAmount: minorUnits });
  stage.world.specter.cancel(order.orderNo);
  n.say(`This order was delivered, and Klarna captured its payment when it shipped:`);
  n.quote(orderLabel(order));
  n.say('Now a person cancels the order in Specter (a return, say).');

  const report = await stage.cycle();
  const sent = dispatchOf(report, order.orderNo);
  ensure(sent !== undefined, `run ${stage.runs} sent nothing for order ${order.orderNo}`);
  n.say(`${runLabel(stage)}: sees the cancellation, commits a job and sends it:`);
  tellProviderTraffic(n, report);
  const job = await getJob(stage.store, sent.jobId);
  ensure(job?.state === 'failed' && job.failureReason === 'captured', `the job of order ${order.orderNo} was expected to fail with reason captured`);
  n.say(`The money has been taken, so cancelling cannot give it back: it needs a refund, a person must decide.`);
  n.say(`Job ${job.id} failed for good with reason captured; it is never retried on its own (cancel.failed alert).`);
}

/** Step 5: an order left out of one listing is not taken as deleted: getOrder still finds it. */
async function listingGapStep(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  n.step('A listing gap: missing once is not deleted');
  const order = cast.listingGap;
  stage.world.specter.hideFromListing(order.orderNo);
  n.say('Specter leaves this order out of one listing, as a busy server sometimes does, but still has it:');
  n.quote(orderLabel(order));

  const report = await stage.cycle();
  ensure(
    report.counts.missing === 1 && report.counts.listingGaps === 1 && report.counts.vanished === 0,
    `run ${stage.runs} did not treat order ${order.orderNo} as a listing gap`,
  );
  n.say(`${runLabel(stage)}: order ${order.orderNo} is missing from the listing; getOrder finds it: Specter still has it.`);
  n.say('Not flagged, nothing sent. Only an order getOrder cannot find counts as deleted.');
}

/** Step 6: what `specter-sync status` and `specter-sync jobs list` would show now. */
async function finalStatusStep(n: Narrator, stage: DemoStage): Promise<void> {
  n.step('Where things stand (what `specter-sync status` and `jobs list` show)');
  const status = await buildStatusReport(stage.store, configuredProviders(stage.config));
  const t = status.trackedOrders;
  const j = status.jobs;
  const inAll = (counts: Record<string, number>) => `${Object.values(counts).reduce((a, b) => a + b, 0)} in all`;
  n.quote(formatTable(['tracked orders', 'open', 'cancelled', 'delivered'], [[inAll(t), t.open, t.cancelled, t.delivered]]));
  n.quote('');
  n.quote(formatTable(['jobs', 'pending', 'sending', 'accepted', 'done', 'failed'], [[inAll(j), j.pending, j.sending, j.accepted, j.done, j.failed]]));
  n.quote('');
  n.quote(`Vanished orders awaiting a person: ${status.vanishedAwaitingPerson}`);
  n.quote('');
  const jobs = await listJobs(stage.store);
  n.quote(
    formatTable(
      ['job', 'order', 'provider', 'provider ref', 'amount', 'reason', 'state', 'attempts', 'failure'],
      jobs.map((job) => [
        job.id,
        job.orderNo,
        job.provider,
        job.providerRef,
        money(job.amount, job.currency),
        job.reason,
        job.state,
        job.attempts,
        job.failureReason,
      ]),
    ),
  );
  const awaiting = { vanishedOrders: status.vanishedAwaitingPerson, failedJobs: j.failed, jobsWithoutProvider: 0, guardTripped: false };
  if (needsPerson(awaiting)) {
    n.say('');
    n.say(
      `A person is needed for ${plural(awaiting.vanishedOrders, 'vanished order')} and ${plural(awaiting.failedJobs, 'failed job')}: ` +
        '`specter-sync once` would exit 3 until they are dealt with.',
    );
  }
}

/** The whole story, in order. */
export async function tellStory(n: Narrator, stage: DemoStage, cast: Cast): Promise<void> {
  await baselineStep(n, stage, cast);
  await cancellationsStep(n, stage, cast);
  await deletedOrderStep(n, stage, cast);
  await capturedOrderStep(n, stage, cast);
  await listingGapStep(n, stage, cast);
  await finalStatusStep(n, stage);
}
