/**
 * The console in a real headless Chromium, against a real `run` child process with the sandbox
 * Specter and providers on 127.0.0.1: sign in (a wrong token refused first), see what awaits a
 * person, and act — Resolve, Cancel payment, Retry, Dismiss — with the effects checked where they
 * land (the CLI in a child process, the provider sandbox, the database). A forged POST and a
 * hostile reference change nothing and run nothing. Screenshots go to test-artifacts/console/.
 */
import fs from 'node:fs';
import { freePort } from '../support/ports.js';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSandboxWorld, type SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit, type Child } from '../support/cli.js';
import { makeOrder, providerRefOf } from '../support/orders.js';
import { cancelRequestsAt } from '../support/sandbox.js';
import { Workspace } from '../support/world.js';
import { ARTIFACTS, browserAvailability, launchChromium } from './browser.js';

jest.setTimeout(120_000);

const TOKEN = 'browser-test-token-5f1c9a7e2b';
const availability = browserAvailability();

if (!availability.available && !availability.required) {
  // Loud, and only where a browser is not required: CI and .ci/run set SPECTER_SYNC_REQUIRE_BROWSER=1.
  process.stderr.write(`\n*** SKIPPING the console browser tests: ${availability.why} ***\n\n`);
}
const suite = availability.available || availability.required ? describe : describe.skip;

suite('the console in Chromium, against `run`', () => {
  let world: SandboxWorld;
  let ws: Workspace;
  let worker: Child;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  const dialogs: string[] = [];
  const orders = {
    resolve: makeOrder({ method: 'K' }),
    cancel: makeOrder({ method: 'K' }),
    hostile: makeOrder({ method: 'K', reference: '<script>alert(1)</script>' }),
    captured: makeOrder({ method: 'K' }),
    refused: makeOrder({ method: 'K' }),
  };
  const jobOf = (orderNo: string) => ws.jobs(orderNo)[0];
  /**
   * Clicks a form's button and waits for the POST's own answer (303) and the overview it leads to:
   * waiting for the URL alone would return at once when the form is on the overview already.
   */
  const submit = async (click: () => Promise<void>): Promise<void> => {
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), click()]);
    expect(answer.status()).toBe(303);
    await page.waitForURL(`${base}/`);
    await page.waitForLoadState('load');
  };
  const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!availability.available) throw new Error(`the browser tests are required here (CI or SPECTER_SYNC_REQUIRE_BROWSER=1), but ${availability.why}`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    world = await startSandboxWorld({ orders: Object.values(orders) });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // One cycle at start, then none within the test: every send is the console's own.
    ws = new Workspace(world, { CONSOLE_TOKEN: TOKEN, HTTP_PORT: String(port), SYNC_SCHEDULE: '0 0 1 1 *' });
    expectExit(await ws.run(['once']), 0);
    // Three orders deleted in Specter (their payments still reserved at Klarna); two cancelled whose
    // cancellations fail: one captured (a refund is a person's call), one refused credentials once.
    for (const o of [orders.resolve, orders.cancel, orders.hostile]) world.specter.delete(o.orderNo);
    world.klarna.setOrder(providerRefOf(orders.captured), 'captured');
    const refusedRef = providerRefOf(orders.refused);
    world.klarna.faults.add(
      {
        kind: 'status',
        status: 401,
        headers: { 'content-type': 'application/json' },
        body: '{"error_code":"UNAUTHORIZED","error_messages":["bad credentials"]}',
      },
      { matches: (r) => r.method === 'POST' && r.path.endsWith(`/${refusedRef}/cancel`) },
    );
    world.specter.cancel(orders.captured.orderNo);
    world.specter.cancel(orders.refused.orderNo);
    expectExit(await ws.run(['once']), 3);
    expect(jobOf(orders.captured.orderNo)).toMatchObject({ state: 'failed', failure_reason: 'captured' });
    expect(jobOf(orders.refused.orderNo)).toMatchObject({ state: 'failed', failure_reason: 'auth' });

    worker = ws.start(['run']);
    await worker.waitForLine((l) => l.event === 'http.listening');
    await worker.waitForLine((l) => l.event === 'sync.completed', { timeoutMs: 30_000 });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });

  afterAll(async () => {
    await browser?.close();
    await ws?.cleanup();
    await world?.close();
  });

  it('refuses a wrong token, then signs in and shows the vanished orders and failed jobs', async () => {
    await page.goto(`${base}/`);
    await page.fill('input[name="token"]', 'not-the-right-token');
    const refused = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/signin')), page.click('button[type="submit"]')]);
    expect(refused[0].status()).toBe(401);
    expect(await page.textContent('[role="alert"]')).toContain('not the console token');
    await worker.waitForLine((l) => l.event === 'console.signin_failed');

    await page.fill('input[name="token"]', TOKEN);
    await submit(() => page.click('button[type="submit"]'));
    await expect(page.locator(`#order-${orders.resolve.orderNo}`).textContent()).resolves.toContain(providerRefOf(orders.resolve));
    const row = (await page.locator(`#order-${orders.cancel.orderNo}`).textContent()) ?? '';
    expect(row).toContain('1249.00 SEK');
    expect(row).toContain('reserved');
    await expect(page.locator(`#job-${jobOf(orders.captured.orderNo)!.id}`).textContent()).resolves.toContain('captured');
    expect(await page.content()).not.toContain(TOKEN);
    await shot('overview');
  });

  it('shows a <script>alert(1)</script> reference as text, and no dialog ever opens', async () => {
    const code = page.locator(`#order-${orders.hostile.orderNo} code`);
    expect(await code.textContent()).toBe('<script>alert(1)</script>');
    expect(await page.locator('script').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('Resolve with a note: the order is gone from `vanished list` (the CLI, in a child process)', async () => {
    const row = page.locator(`#order-${orders.resolve.orderNo}`);
    await row.locator('input[name="note"]').fill('refunded by phone, ticket 4711');
    await submit(() => row.locator('button', { hasText: 'Resolve' }).click());
    expect(await page.textContent('[role="status"]')).toContain(`Order ${orders.resolve.orderNo} is resolved`);
    const list = await ws.run(['vanished', 'list', '--json']);
    expectExit(list, 0);
    const orderNos = (JSON.parse(list.stdout) as Array<{ orderNo: string }>).map((v) => v.orderNo);
    expect(orderNos).not.toContain(orders.resolve.orderNo);
    expect(orderNos).toContain(orders.cancel.orderNo);
    await worker.waitForLine((l) => l.event === 'console.action' && l.action === 'resolve' && l.note === 'refunded by phone, ticket 4711');
  });

  it('Cancel payment asks first, then the provider sandbox receives exactly one cancel', async () => {
    const ref = providerRefOf(orders.cancel);
    await Promise.all([
      page.waitForURL(`${base}/vanished/${orders.cancel.orderNo}/cancel`),
      page.locator(`#order-${orders.cancel.orderNo} a`, { hasText: 'Cancel payment' }).click(),
    ]);
    expect(cancelRequestsAt(world, 'klarna', ref)).toHaveLength(0);
    await shot('confirm-cancel');
    await submit(() => page.click('button:has-text("Cancel payment")'));
    expect(await page.textContent('[role="status"]')).toContain(`order ${orders.cancel.orderNo} at klarna`);
    expect(cancelRequestsAt(world, 'klarna', ref)).toHaveLength(1);
    expect(world.klarna.orderState(ref)).toBe('cancelled');
    expect(jobOf(orders.cancel.orderNo)).toMatchObject({ state: 'done' });
    expect(await page.locator(`#order-${orders.cancel.orderNo}`).count()).toBe(0);
    // Sent at once under the lease `run` keeps between its cycles (taken once, at its first cycle),
    // not queued for a cycle that, on this schedule, would come in a year.
    expect(worker.lines.filter((l) => l.event === 'lease.acquired')).toHaveLength(1);
    expect(worker.lines.filter((l) => l.event === 'cancel.sent').map((l) => l.orderNo)).toEqual([orders.cancel.orderNo]);
  });

  it('Retry a failed job (confirmed first): sent again with the same key, and done', async () => {
    const job = jobOf(orders.refused.orderNo)!;
    await Promise.all([page.waitForURL(`${base}/jobs/${job.id}/retry`), page.locator(`#job-${job.id} a`, { hasText: 'Retry' }).click()]);
    await submit(() => page.click('button:has-text("Retry")'));
    expect(jobOf(orders.refused.orderNo)).toMatchObject({ state: 'done' });
    const sent = cancelRequestsAt(world, 'klarna', providerRefOf(orders.refused));
    expect(sent).toHaveLength(2);
    expect(sent[1]!.headers['klarna-idempotency-key']).toBe(sent[0]!.headers['klarna-idempotency-key']);
  });

  it('Dismiss a failed job with a note', async () => {
    const job = jobOf(orders.captured.orderNo)!;
    const row = page.locator(`#job-${job.id}`);
    await row.locator('input[name="note"]').fill('refunded in the Klarna portal');
    await submit(() => row.locator('button', { hasText: 'Dismiss' }).click());
    expect(jobOf(orders.captured.orderNo)).toMatchObject({ state: 'dismissed', person_note: 'refunded in the Klarna portal' });
    await shot('after-actions');
  });

  it('a POST with the session but without the CSRF token is refused, and nothing changes', async () => {
    const before = ws.dump();
    const forged = await context.request.post(`${base}/vanished/${orders.hostile.orderNo}/resolve`, { form: { note: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    const cancel = await context.request.post(`${base}/vanished/${orders.hostile.orderNo}/cancel`, { form: {}, maxRedirects: 0 });
    expect(cancel.status()).toBe(403);
    expect(ws.dump()).toEqual(before);
    expect(cancelRequestsAt(world, 'klarna', providerRefOf(orders.hostile))).toHaveLength(0);
    expect(dialogs).toEqual([]);
  });
});
