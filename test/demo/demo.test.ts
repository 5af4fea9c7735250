/**
 * `specter-sync demo` as a newcomer runs it: the built CLI as a real child process. It must exit 0
 * in under 30 s, tell each step of the story, leak no sandbox secret, and ignore whatever
 * SPECTER_* / SYNC_* / provider variables the caller happens to have set.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { describeSettings, loadConfig } from '../../src/config/load.js';
import { demoOrders, type Cast } from '../../src/demo/cast.js';
import { SANDBOX_SECRETS } from '../../src/sandbox/world.js';
import { childEnv, CLI, runCli, type CliResult } from '../support/cli.js';

/**
 * Settings a user might have exported for their real account. Had the demo read any of them, it
 * would fail (no such host, folder or file) or tell a different story.
 */
const HOSTILE_ENV: Record<string, string> = {
  SPECTER_BASE_URL: 'http://203.0.113.7/',
  SPECTER_SBM_ID: '999',
  SPECTER_API_USER_ID: 'real-user',
  SPECTER_API_USER_KEY: 'real-key',
  SPECTER_INTEGRATION_KEY: 'real-integration-key',
  SYNC_DB_PATH: '/nonexistent/specter-sync.db',
  SYNC_CONFIG_DIR: '/nonexistent/config',
  SYNC_LOOKBACK_DAYS: '1',
  VANISHED_ACTION: 'cancel',
  VANISH_GUARD_MAX_PER_RUN: '0',
  KLARNA_BASE_URL: 'http://203.0.113.7',
  KLARNA_USERNAME: 'real',
  KLARNA_PASSWORD: 'real',
  QLIRO_MERCHANT_API_KEY: 'real',
  QLIRO_MERCHANT_API_SECRET: 'real',
  LOG_FORMAT: 'pretty',
  LOG_LEVEL: 'debug',
  NODE_ENV: 'production',
};

/**
 * Every other setting the program knows, set too, to a value it would refuse (and each secret
 * also as <NAME>_FILE, which together with <NAME> is refused outright): so a demo that read any
 * setting from its environment fails, whichever setting it is.
 */
function everySettingHostile(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const setting of describeSettings()) {
    env[setting.env] = 'hostile value from the caller';
    if (setting.secret) env[`${setting.env}_FILE`] = '/nonexistent/secret';
  }
  return { ...env, ...HOSTILE_ENV };
}

function runDemo(): Promise<CliResult> {
  // A hung demo must fail this test, not the whole suite's timeout. The environment is built from
  // nothing but PATH and HOME plus the hostile settings (childEnv): what the test runner itself
  // has set (SPECTER_SYNC_CRASH_AT of a fault run, say) does not reach the demo.
  return runCli(['demo'], { env: childEnv(everySettingHostile()), timeoutMs: 60_000 });
}

function keptDir(output: string): string | null {
  return /kept in (\S+specter-sync-demo-\w+);/.exec(output)?.[1] ?? null;
}

/** The output with what changes between runs (ports, folders, dates, timings) blanked out. */
function normalised(output: string): string {
  return output
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/\S*specter-sync-demo-\w+/g, 'DIR')
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'DATE')
    .replace(/after [0-9.]+ s/g, 'after N s');
}

const runs: CliResult[] = [];
let cast: Cast;

beforeAll(async () => {
  // The test runs what a user runs: the built package. `npm test` builds before Jest starts; a
  // build here would rewrite dist/ under the other suites' child processes.
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  runs.push(await runDemo());
  runs.push(await runDemo());
  // The cast the demo picks, worked out independently of the child, from the same seed and routing.
  const config = loadConfig({ env: { SPECTER_SBM_ID: '1', SPECTER_API_USER_ID: 'u', SPECTER_API_USER_KEY: 'k' } });
  cast = demoOrders(config).cast;
}, 120_000);

afterAll(() => {
  for (const run of runs) {
    const dir = keptDir(run.stdout);
    if (dir !== null && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
});

describe('specter-sync demo', () => {
  it('exits 0 in under 30 s, with nothing on stderr', () => {
    const run = runs[0]!;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.durationMs).toBeLessThan(30_000);
  });

  it('tells the baseline: orders recorded, nothing forwarded', () => {
    const out = runs[0]!.stdout;
    expect(out).toMatch(/1\. Baseline/);
    expect(out).toMatch(/Run 1 \(baseline\): 60 orders recorded, \d+ of them already cancelled/);
    expect(out).toContain('Forwarded: nothing (0 jobs, 0 requests to providers)');
    expect(out).toContain(`order ${cast.cancelledBeforeBaseline.orderNo} `);
  });

  it('tells a cancellation sent to each of Qliro, Klarna and Walley, and the later confirmations', () => {
    const out = runs[0]!.stdout;
    expect(out).toMatch(/2\. A cancellation at each provider/);
    for (const order of [cast.qliroCancel, cast.klarnaCancel, cast.walleyCancel]) {
      expect(out).toContain(`order ${order.orderNo} `);
      expect(out).toContain(order.providerRef);
    }
    expect(out).toMatch(new RegExp(`→ Klarna: cancelled at once \\(job \\d+, order ${cast.klarnaCancel.orderNo} done\\)`));
    expect(out).toMatch(new RegExp(`→ Qliro: accepted.*order ${cast.qliroCancel.orderNo} accepted`));
    expect(out).toMatch(new RegExp(`→ Walley: accepted.*order ${cast.walleyCancel.orderNo} accepted`));
    // Confirmed on a following run, not the one that sent them.
    expect(out).toMatch(new RegExp(`Run 3: [^\\n]*\\n(?:.*\\n)*.*✓ Qliro: confirms[^\\n]*order ${cast.qliroCancel.orderNo} done`));
    expect(out).toMatch(new RegExp(`Run 3: [^\\n]*\\n(?:.*\\n)*.*✓ Walley: confirms[^\\n]*order ${cast.walleyCancel.orderNo} done`));
    expect(out).toMatch(new RegExp(`Qliro ${cast.qliroCancel.providerRef}: cancelled`));
    expect(out).toMatch(new RegExp(`Klarna ${cast.klarnaCancel.providerRef}: cancelled`));
    expect(out).toMatch(new RegExp(`Walley ${cast.walleyCancel.providerRef}: cancelled`));
  });

  it('flags the deleted order with everything a person needs to act, what is still reserved and until when', () => {
    const out = runs[0]!.stdout;
    const { orderNo, provider, providerRef, amount, currency } = cast.deleted;
    expect(out).toMatch(/3\. Deleted orders: the provider is asked/);
    expect(out).toContain(`Order ${orderNo} (placed`);
    expect(out).toMatch(new RegExp(`Provider:\\s+${provider}\\n`));
    expect(out).toMatch(new RegExp(`Provider reference:\\s+${providerRef}\\n`));
    expect(out).toMatch(new RegExp(`Amount:\\s+${amount} ${currency}\\n`));
    // What the provider (Klarna) says: still reserved, the amount, until when.
    expect(out).toContain(`Klarna says its payment is still reserved: ${amount} ${currency}, until `);
    expect(out).toMatch(new RegExp(`Still reserved:\\s+${amount} ${currency}\\n`));
    expect(out).toMatch(/Reserved until:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(then it lapses on its own\)\n/);
    expect(out).toContain(`specter-sync vanished cancel ${orderNo}`);
    expect(out).toContain(`specter-sync vanished resolve ${orderNo}`);
  });

  it('resolves a second deleted order, cancelled in the portal already, without a person', () => {
    const out = runs[0]!.stdout;
    const { orderNo, providerRef } = cast.deletedCancelledInPortal;
    expect(out).toContain(`Qliro ${providerRef}: already cancelled. Nothing is reserved, nothing to do: order ${orderNo} is resolved`);
    expect(out).not.toContain(`specter-sync vanished cancel ${orderNo}`);
    expect(out).toContain('Vanished orders awaiting a person: 1');
    const log = readFileSync(path.join(keptDir(out)!, 'worker.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string; orderNo?: string; reason?: string; paymentState?: string; expiresAt?: string });
    expect(log.filter((l) => l.event === 'vanished.auto_resolved')).toEqual([expect.objectContaining({ orderNo, reason: 'cancelled' })]);
    expect(log.filter((l) => l.event === 'order.vanished')).toEqual([
      expect.objectContaining({ orderNo: cast.deleted.orderNo, paymentState: 'reserved', expiresAt: expect.any(String) }),
    ]);
  });

  it('tells the captured order failing for good with reason captured', () => {
    const out = runs[0]!.stdout;
    expect(out).toMatch(/4\. A captured order: needs a refund, a person must decide/);
    expect(out).toMatch(new RegExp(`→ Klarna: FAILED for good, reason captured \\(job \\d+, order ${cast.captured.orderNo} failed\\)`));
  });

  it('tells the listing gap without flagging it', () => {
    const out = runs[0]!.stdout;
    expect(out).toMatch(/5\. A listing gap/);
    expect(out).toContain(`order ${cast.listingGap.orderNo} is missing from the listing; getOrder finds it: Specter still has it`);
  });

  it('ends with the status table and the list of jobs', () => {
    const out = runs[0]!.stdout;
    expect(out).toMatch(/6\. Where things stand/);
    expect(out).toMatch(/tracked orders\s+open\s+cancelled\s+delivered\n.*\n\s+60 in all\s+\d+\s+\d+\s+\d+\n/);
    expect(out).toMatch(/jobs\s+pending\s+sending\s+accepted\s+done\s+failed\n.*\n\s+4 in all\s+0\s+0\s+0\s+3\s+1\n/);
    expect(out).toContain('Vanished orders awaiting a person: 1');
    expect(out).toMatch(new RegExp(`\\s${cast.captured.orderNo}\\s+klarna\\s+${cast.captured.providerRef}\\s.*failed\\s+1\\s+captured`));
  });

  it('is text for people: no JSON log line on stdout; the log file is named and holds the alerts', () => {
    const out = runs[0]!.stdout;
    expect(out.split('\n').filter((line) => line.trimStart().startsWith('{'))).toEqual([]);
    const dir = keptDir(out);
    expect(dir).not.toBeNull();
    const log = readFileSync(path.join(dir!, 'worker.log'), 'utf8');
    const events = log
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events).toEqual(expect.arrayContaining(['sync.baseline', 'order.vanished', 'cancel.failed', 'order.listing_gap']));
  });

  it('leaks no sandbox secret, neither on the terminal nor in the log', () => {
    const run = runs[0]!;
    const log = readFileSync(path.join(keptDir(run.stdout)!, 'worker.log'), 'utf8');
    for (const secret of SANDBOX_SECRETS) {
      expect(run.stdout).not.toContain(secret);
      expect(run.stderr).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });

  it('tells the same story every time', () => {
    expect(runs[1]!.code).toBe(0);
    expect(normalised(runs[1]!.stdout)).toBe(normalised(runs[0]!.stdout));
  });
});
