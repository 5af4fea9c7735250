/**
 * The console's requests over real HTTP against a real SQLite file: sign-in (right, wrong,
 * rate-limited), the session cookie, CSRF on every POST (refused with nothing changed), each
 * action through the CLI's own functions, escaping of text from Specter, and no secret in a page.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { CONTENT_SECURITY_POLICY } from '../../src/console/server.js';
import { rows, writeDb } from '../support/db.js';
import { post, signIn, startConsole, TOKEN, type ConsoleFixture } from './fixture.js';

let fixture: (ConsoleFixture & { failedJobId: number }) | null = null;
afterEach(async () => {
  await fixture?.close();
  fixture = null;
});

async function open(options: Parameters<typeof startConsole>[0] = {}) {
  fixture = await startConsole(options);
  return fixture;
}

const snapshot = (f: ConsoleFixture, orderNo: string) =>
  rows(f.store.location, 'SELECT vanish_status, vanish_note FROM order_snapshots WHERE order_no = ?', orderNo)[0] as {
    vanish_status: string;
    vanish_note: string | null;
  };
const jobs = (f: ConsoleFixture) => rows(f.store.location, 'SELECT id, order_no, state, person_note FROM cancellation_jobs ORDER BY id');

describe('sign-in', () => {
  it('without a session: a sign-in form with one password field, and the security headers', async () => {
    const f = await open();
    const res = await fetch(`${f.base}/`);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page.match(/<input [^>]*type="password"/g)).toHaveLength(1);
    expect(page).not.toContain('8001');
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script-src|unsafe-inline/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(page).not.toMatch(/<script/i);
  });

  it('the right token: 303 to / with an HttpOnly, SameSite=Strict cookie (not Secure unless configured), and the overview', async () => {
    const f = await open();
    const res = await post(`${f.base}/signin`, { token: TOKEN });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^specter_console=[A-Za-z0-9_-]{43}; /);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain('Path=/');
    expect(cookie).not.toContain('Secure');
    const { page } = await signIn(f.base);
    expect(page).toContain('Vanished orders (2)');
    expect(page).toContain('Failed jobs (1)');
    for (const button of ['Resolve', 'Cancel payment', 'Retry', 'Dismiss']) expect(page).toContain(`>${button}<`);
  });

  it('CONSOLE_SECURE_COOKIE=true marks the cookie Secure', async () => {
    const f = await open({ secureCookie: true });
    const res = await post(`${f.base}/signin`, { token: TOKEN });
    expect(res.headers.get('set-cookie')).toContain('; Secure');
  });

  it('a wrong token: 401, console.signin_failed (warn), no session, and the token named nowhere', async () => {
    const f = await open();
    const res = await post(`${f.base}/signin`, { token: 'not-the-token-at-all' });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.text()).toContain('not the console token');
    expect(f.events('console.signin_failed')).toEqual([expect.objectContaining({ level: 'warn', failures: 1, rateLimited: false })]);
    expect(JSON.stringify(f.lines())).not.toContain(TOKEN);
  });

  it('after 5 wrong tokens from one address, even the right one is answered 429 for a while', async () => {
    const f = await open();
    for (let i = 0; i < 5; i += 1) expect((await post(`${f.base}/signin`, { token: `wrong-${i}` })).status).toBe(401);
    const refused = await post(`${f.base}/signin`, { token: TOKEN });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect(f.events('console.signin_failed').at(-1)).toMatchObject({ rateLimited: true });
  });

  it('pages and actions without a session are 401 and change nothing', async () => {
    const f = await open();
    expect((await fetch(`${f.base}/vanished/8001/cancel`)).status).toBe(401);
    expect((await post(`${f.base}/vanished/8001/resolve`, { note: 'x', csrf: 'x' })).status).toBe(401);
    expect((await post(`${f.base}/vanished/8001/resolve`, { note: 'x', csrf: 'x' }, 'specter_console=forged')).status).toBe(401);
    expect(snapshot(f, '8001').vanish_status).toBe('awaiting');
  });

  it('health, readiness and metrics stay open beside the console', async () => {
    const f = await open();
    expect((await fetch(`${f.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${f.base}/readyz`)).status).toBe(200);
  });
});

describe('CSRF', () => {
  it('a POST without the CSRF token, or with another one, is 403 and changes nothing', async () => {
    const f = await open();
    const { cookie } = await signIn(f.base);
    const before = { snapshot: snapshot(f, '8001'), jobs: jobs(f) };
    for (const [path, fields] of [
      ['/vanished/8001/resolve', { note: 'forged' }],
      ['/vanished/8001/cancel', {}],
      [`/jobs/${f.failedJobId}/retry`, {}],
      [`/jobs/${f.failedJobId}/dismiss`, { note: 'forged', csrf: 'A'.repeat(43) }],
    ] as const) {
      const res = await post(`${f.base}${path}`, fields, cookie);
      expect({ path, status: res.status }).toEqual({ path, status: 403 });
    }
    expect({ snapshot: snapshot(f, '8001'), jobs: jobs(f) }).toEqual(before);
    expect(f.events('console.action')).toHaveLength(0);
  });
});

describe('actions', () => {
  it('Resolve with a note: the order stops awaiting, the note is kept, console.action is logged, and the next page says so', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    const res = await post(`${f.base}/vanished/8001/resolve`, { csrf, note: 'refunded by phone' }, cookie);
    expect(res.status).toBe(303);
    expect(snapshot(f, '8001')).toEqual({ vanish_status: 'resolved', vanish_note: 'refunded by phone' });
    expect(f.events('console.action')).toEqual([
      expect.objectContaining({ level: 'info', action: 'resolve', orderNo: '8001', note: 'refunded by phone', status: 'ok' }),
    ]);
    expect(f.events('vanished.resolved')).toHaveLength(1);
    const page = await (await fetch(`${f.base}/`, { headers: { cookie } })).text();
    expect(page).toContain('Order 8001 is resolved');
    expect(page).toContain('Vanished orders (1)');
  });

  it('Resolve without a note is 400 and changes nothing', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    expect((await post(`${f.base}/vanished/8001/resolve`, { csrf, note: '   ' }, cookie)).status).toBe(400);
    expect(snapshot(f, '8001').vanish_status).toBe('awaiting');
  });

  it('Cancel payment: a confirmation page first (GET changes nothing), then one job queued with the order no longer awaiting', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    const confirm = await fetch(`${f.base}/vanished/8002/cancel`, { headers: { cookie } });
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toMatch(/<form method="post" action="\/vanished\/8002\/cancel">/);
    expect(snapshot(f, '8002').vanish_status).toBe('awaiting');
    const res = await post(`${f.base}/vanished/8002/cancel`, { csrf }, cookie);
    expect(res.status).toBe(303);
    expect(snapshot(f, '8002').vanish_status).toBe('cancel_requested');
    expect(jobs(f)).toContainEqual(expect.objectContaining({ order_no: '8002', state: 'pending' }));
    // No provider is configured here: the job waits, and the person is told so.
    expect(f.events('console.action')).toEqual([expect.objectContaining({ action: 'cancel', orderNo: '8002', status: 'ok' })]);
    expect(String(f.events('console.action')[0]?.message)).toContain('klarna is not configured');
    // A second confirmation queues nothing new.
    await post(`${f.base}/vanished/8002/cancel`, { csrf }, cookie);
    expect(jobs(f).filter((j) => (j as { order_no: string }).order_no === '8002')).toHaveLength(1);
  });

  it('Retry: a confirmation page, then the failed job is queued again', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    expect((await fetch(`${f.base}/jobs/${f.failedJobId}/retry`, { headers: { cookie } })).status).toBe(200);
    expect(jobs(f)).toContainEqual(expect.objectContaining({ id: f.failedJobId, state: 'failed' }));
    expect((await post(`${f.base}/jobs/${f.failedJobId}/retry`, { csrf }, cookie)).status).toBe(303);
    expect(jobs(f)).toContainEqual(expect.objectContaining({ id: f.failedJobId, state: 'pending' }));
    expect(f.events('console.action')).toEqual([expect.objectContaining({ action: 'retry', jobId: f.failedJobId, status: 'ok' })]);
    // Not failed any more: no confirmation page for it.
    expect((await fetch(`${f.base}/jobs/${f.failedJobId}/retry`, { headers: { cookie } })).status).toBe(404);
  });

  it('Dismiss with a note closes the failed job without sending', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    expect((await post(`${f.base}/jobs/${f.failedJobId}/dismiss`, { csrf, note: 'refunded in the portal' }, cookie)).status).toBe(303);
    expect(jobs(f)).toContainEqual({ id: f.failedJobId, order_no: '9001', state: 'dismissed', person_note: 'refunded in the portal' });
    expect(f.events('job.dismissed')).toHaveLength(1);
  });

  it('a form over 16 KiB is 413 and changes nothing', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    const res = await post(`${f.base}/vanished/8001/resolve`, { csrf, note: 'x'.repeat(17 * 1024) }, cookie);
    expect(res.status).toBe(413);
    expect(snapshot(f, '8001').vanish_status).toBe('awaiting');
  });

  it('sign-out ends the session', async () => {
    const f = await open();
    const { cookie, csrf } = await signIn(f.base);
    expect((await post(`${f.base}/signout`, { csrf }, cookie)).status).toBe(303);
    expect((await post(`${f.base}/vanished/8001/resolve`, { csrf, note: 'after sign-out' }, cookie)).status).toBe(401);
  });
});

describe('what a page shows', () => {
  it('a reference like <script>alert(1)</script> and an error message with markup are shown as text', async () => {
    const f = await open({ references: { '8001': '<script>alert(1)</script>' } });
    const { page, cookie } = await signIn(f.base);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).toContain('the order is &lt;b&gt;captured&lt;/b&gt;');
    const confirm = await (await fetch(`${f.base}/vanished/8001/cancel`, { headers: { cookie } })).text();
    expect(confirm).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(confirm).not.toContain('<script>');
  });

  it('the overview: awaiting first, then jobs by state, recent runs with two SVG charts, and health with the lease holder', async () => {
    const f = await open();
    writeDb(f.store.location, (db) =>
      db
        .prepare(
          "INSERT OR REPLACE INTO worker_lease (name, holder, hostname, pid, acquired_at, expires_at_ms) VALUES ('sync', 'host-a:42:beef', 'host-a', 42, ?, ?)",
        )
        .run(new Date().toISOString(), Date.now() + 60_000),
    );
    const { page } = await signIn(f.base);
    const order = ['id="vanished"', 'id="failed"', 'id="jobs"', 'id="runs"', 'id="health"'].map((marker) => page.indexOf(marker));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    expect(page.match(/<svg /g)).toHaveLength(2);
    // Two runs: the first took 1 s, the second 2.5 s.
    expect(page).toMatch(/<td>1\.0 s<\/td>/);
    expect(page).toMatch(/<td>2\.5 s<\/td>/);
    expect(page).toContain('host-a:42:beef');
    expect(page).toMatch(/Last successful run<\/dt>\s*<dd>2026-11-26 11:00 UTC/);
  });

  it('no page carries the console token or a configured secret', async () => {
    const f = await open();
    const { cookie, page } = await signIn(f.base);
    const pages = [
      page,
      await (await fetch(`${f.base}/`)).text(),
      await (await fetch(`${f.base}/jobs/${f.failedJobId}/retry`, { headers: { cookie } })).text(),
    ];
    for (const text of pages) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('specter-key-secret');
    }
  });
});
