/**
 * Fuzzing the Specter boundary end to end: hostile bodies served over real HTTP on 127.0.0.1 by
 * the sandbox Specter, read by the real client, inside a real cycle on a real SQLite file.
 *
 * A completed baseline is recorded once; every case runs one cycle on a fresh copy of it, with
 * one listing page (or one getOrder answer, for an order missing from the listing) replaced by a
 * generated body. Properties, every case:
 *  - the cycle either fails cleanly (outcome 'failed', sync.failed logged) and leaves
 *    order_snapshots, cancellation_jobs and sync_runs exactly as they were, or succeeds;
 *  - no order ever gets vanished_at (the sandbox still holds every order), and no baseline order
 *    is lost — except where the served body is one of the contract's "not found" answers;
 *  - nothing throws out of the cycle and nothing escapes as an uncaught exception;
 * and, where the generator knows the answer: a damaged or incomplete page must fail (in
 * particular a valid-looking but shorter page: the completeness checks, not luck, must catch it),
 * and a harmless respelling must succeed with nothing changed.
 *
 * Seeded: FUZZ_SEED=<n> reproduces a run (the seed is printed first).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/load.js';
import type { AppConfig } from '../../src/config/types.js';
import { windowFor } from '../../src/diff/window.js';
import { memoryLogger, type RecordedEvent } from '../../src/observability/logger.js';
import { createProviderRegistry, type ProviderRegistry } from '../../src/providers/registry.js';
import { startSandboxWorld, type SandboxWorld } from '../../src/sandbox/world.js';
import { rows } from '../support/db.js';
import { computeSpecterKey, newBatchNo } from '../../src/specter/auth.js';
import { createSpecterClient } from '../../src/specter/client.js';
import { openStore, type Store } from '../../src/store/database.js';
import { makeLeaseHolder } from '../../src/store/lease.js';
import { runCycle, type CycleReport } from '../../src/worker/cycle.js';
import {
  BAD_VALUES,
  EXTERNAL_ENTITY_DOCTYPES,
  INVALID_UTF8,
  WRONG_ROOTS,
  announceSeed,
  billionLaughs,
  escapeAttr,
  fuzzSeed,
  ordersElement,
  showBytes,
} from './hostile.js';

const SEED = fuzzSeed(20261126);
announceSeed('cycle.fuzz', SEED);

const PAGE_SIZE = 12;
const ORDER_COUNT = 40; // 4 pages: 12, 12, 12, 4
const NOW = new Date();

let world: SandboxWorld;
let config: AppConfig;
let providers: ProviderRegistry;
let dir: string;
let basePath: string;
let baseDump: Dump;
/** The sandbox's real answers, as bytes: page number → body, orderNo → getOrder body. */
const pages = new Map<number, string>();
const orderAnswers = new Map<string, string>();
let listedOrderNos: string[] = [];
const uncaught: unknown[] = [];
const onUncaught = (error: unknown) => uncaught.push(error);

interface Dump {
  snapshots: Array<Record<string, unknown>>;
  jobs: Array<Record<string, unknown>>;
  runs: Array<Record<string, unknown>>;
}

function dump(store: Store): Dump {
  const all = (sql: string) => rows(store.location, sql);
  return {
    snapshots: all('SELECT * FROM order_snapshots ORDER BY order_no'),
    jobs: all('SELECT * FROM cancellation_jobs ORDER BY id'),
    runs: all('SELECT * FROM sync_runs ORDER BY id'),
  };
}

async function raw(params: Record<string, string>): Promise<string> {
  const batchNo = newBatchNo();
  const query = new URLSearchParams({
    sbmId: String(config.specter.sbmId),
    apiUserId: config.specter.apiUserId,
    useXML: '2',
    batchNo,
    key: computeSpecterKey(config.specter, batchNo),
    ...params,
  });
  const response = await fetch(`${config.specter.baseUrl}getInfo.asp?${query.toString()}`);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer()).toString('utf8');
}

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  world = await startSandboxWorld({ seedCount: ORDER_COUNT, seed: 17 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-fuzz-'));
  basePath = path.join(dir, 'baseline.db');
  config = loadConfig({
    env: { ...world.env, SYNC_DB_PATH: basePath, SPECTER_MAX_ATTEMPTS: '1', SPECTER_PAGE_SIZE: String(PAGE_SIZE), NODE_ENV: 'test' },
  });
  providers = createProviderRegistry(config.providers);

  const store = await openStore(basePath);
  const deps = () => ({
    config,
    store,
    specter: createSpecterClient(config.specter),
    providers,
    logger: memoryLogger(),
    holder: makeLeaseHolder(),
    now: () => NOW,
  });
  const first = await runCycle(deps(), { dispatch: false });
  expect(first.outcome).toBe('baseline');
  const second = await runCycle(deps(), { dispatch: false });
  expect(second.outcome).toBe('succeeded');
  baseDump = dump(store);
  await store.close();
  listedOrderNos = baseDump.snapshots.map((s) => String(s['order_no']));
  expect(listedOrderNos.length).toBeGreaterThan(2 * PAGE_SIZE);

  const window = windowFor(NOW, config.sync.lookbackDays);
  const pageCount = Math.ceil(listedOrderNos.length / PAGE_SIZE);
  for (let page = 1; page <= pageCount; page += 1) {
    pages.set(page, await raw({ Action: 'getOrders', ...window, page: String(page), pageSize: String(PAGE_SIZE) }));
  }
  for (const orderNo of listedOrderNos) orderAnswers.set(orderNo, await raw({ Action: 'getOrder', orderNo }));
  world.specter.requests.length = 0;
}, 60_000);

afterAll(async () => {
  process.removeListener('uncaughtException', onUncaught);
  process.removeListener('unhandledRejection', onUncaught);
  await world?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Running one case
// ---------------------------------------------------------------------------------------------

type Expect = 'fail' | 'same' | 'found' | 'any';

interface Served {
  family: string;
  bytes: Buffer;
  expect: Expect;
  /** 'same': how many orders the listing may miss (getOrder finds each: listing gaps). Default 0. */
  gaps?: number;
}

function served(family: string, bytes: Buffer | string, expectation: Expect, gaps?: number): Served {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  return { family, bytes: b, expect: expectation, gaps, [fc.toStringMethod]: () => `${family} (${expectation}) ${showBytes(b)}` } as Served;
}

interface Outcome {
  report: CycleReport;
  events: RecordedEvent[];
  after: Dump;
  hit: boolean;
}

let caseNo = 0;
const tally = new Map<string, number>();

async function runCase(target: { action: 'getOrders'; page: number } | { action: 'getOrder'; orderNo: string }, body: Buffer): Promise<Outcome> {
  caseNo += 1;
  const casePath = path.join(dir, `case-${caseNo}.db`);
  fs.copyFileSync(basePath, casePath);
  const store = await openStore(casePath);
  const specter = world.specter;
  specter.clearScripts();
  specter.requests.length = 0;
  const matches =
    target.action === 'getOrders'
      ? (r: { query: URLSearchParams }) => r.query.get('Action') === 'getOrders' && r.query.get('page') === String(target.page)
      : (r: { query: URLSearchParams }) => r.query.get('Action') === 'getOrder' && r.query.get('orderNo') === target.orderNo;
  // The fault plan types bodies as strings; a Buffer goes to res.end() byte for byte.
  specter.faults.add({ kind: 'status', status: 200, body: body as unknown as string, headers: { 'content-type': 'text/xml' } }, { times: 1, matches });
  if (target.action === 'getOrder') specter.hideFromListing(target.orderNo, 1);
  const logger = memoryLogger();
  try {
    const report = await runCycle(
      { config, store, specter: createSpecterClient(config.specter), providers, logger, holder: makeLeaseHolder(), now: () => NOW },
      { dispatch: false },
    );
    return { report, events: logger.events, after: dump(store), hit: specter.requests.some(matches) };
  } finally {
    specter.clearScripts();
    await store.close();
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${casePath}${suffix}`, { force: true });
  }
}

const withoutLastSeen = (rows: Dump['snapshots']) => rows.map(({ last_seen_at: _seen, ...rest }) => rest);

/**
 * The contract's "not found" answers (docs/specter.md, getOrder): code 20, or an <orders> that
 * holds no order and claims none (no totalCount, or totalCount="0"), with nothing else in the
 * document. Only such an answer licenses a vanish; anything looser found here is a false vanish.
 */
function isContractNotFound(bytes: Buffer): boolean {
  const text = bytes.toString('latin1').replace(/^\xEF\xBB\xBF/, '');
  if (/^\s*(<\?xml[^>]*\?>)?\s*<SBM>\s*<APIresponse>\s*<code>\s*20\s*<\/code>[\s\S]*<\/APIresponse>\s*<\/SBM>\s*$/.test(text)) return true;
  const m = /^\s*(<\?xml[^>]*\?>)?\s*<SBM>\s*<orders((?:\s+[A-Za-z]+="[^"]*")*)\s*(\/>|>\s*<\/orders>)\s*<\/SBM>\s*$/.exec(text);
  if (m === null) return false;
  const totalCount = / totalCount="([^"]*)"/.exec(m[2] ?? '')?.[1];
  return totalCount === undefined || totalCount === '0';
}

function verify(s: Served, o: Outcome, kind: 'listing' | 'getOrder'): void {
  tally.set(`${kind}:${s.family}:${o.report.outcome}`, (tally.get(`${kind}:${s.family}:${o.report.outcome}`) ?? 0) + 1);
  if (uncaught.length > 0) throw new Error(`uncaught exception during the cycle: ${String(uncaught[0])}`);
  if (!o.hit) throw new Error(`${s.family}: the hostile body was never requested (the case tested nothing)`);
  const { report, after } = o;
  if (report.outcome !== 'failed' && report.outcome !== 'succeeded') throw new Error(`${s.family}: unexpected outcome ${report.outcome}`);

  // No false vanish, ever; no baseline order dropped.
  const notFound = kind === 'getOrder' && isContractNotFound(s.bytes);
  const vanished = after.snapshots.filter((r) => r['vanished_at'] !== null);
  if (vanished.length > 0 && !notFound) {
    throw new Error(`${s.family}: FALSE VANISH of order(s) ${vanished.map((r) => String(r['order_no'])).join(', ')} (cycle ${report.outcome})`);
  }
  const present = new Set(after.snapshots.map((r) => String(r['order_no'])));
  for (const orderNo of listedOrderNos) if (!present.has(orderNo)) throw new Error(`${s.family}: order ${orderNo} is no longer tracked`);
  // VANISHED_ACTION is flag: a vanished order is a person's decision, never a queued send. (Its
  // payment may await that person as a failed `unrouted` job when no route covers it.)
  const queuedForVanish = after.jobs.filter((j) => j['reason'] === 'vanished' && !(j['state'] === 'failed' && j['failure_reason'] === 'unrouted'));
  if (queuedForVanish.length > 0) throw new Error(`${s.family}: a cancellation for a vanished order was queued`);
  if (after.jobs.some((j) => j['reason'] === 'vanished') && !notFound) throw new Error(`${s.family}: a job for an order not confirmed gone`);

  if (report.outcome === 'failed') {
    if (!o.events.some((e) => e.event === 'sync.failed')) throw new Error(`${s.family}: failed without sync.failed`);
    if (report.kind === 'internal') throw new Error(`${s.family}: failed with a non-Specter error: ${report.reason}`);
    expect(after).toEqual(baseDump);
    if (s.expect === 'same' || s.expect === 'found') throw new Error(`${s.family}: a harmless answer failed the cycle: ${report.reason}`);
    return;
  }
  if (s.expect === 'fail')
    throw new Error(
      `${s.family}: the cycle accepted an answer that must fail it (listed ${report.counts.listed}, missing ${report.counts.missing}, gaps ${report.counts.listingGaps})`,
    );
  const c = report.counts;
  // Whatever was missing from the listing, getOrder found: a gap is never a vanish.
  if (notFound) {
    expect({ vanished: c.vanished, gaps: c.listingGaps, missing: c.missing }).toEqual({ vanished: 1, gaps: 0, missing: 1 });
    return;
  }
  expect(c.vanished).toBe(0);
  expect(c.listingGaps).toBe(c.missing);
  expect(after.runs.length).toBe(baseDump.runs.length + 1);
  if (s.expect === 'same' || s.expect === 'found') {
    expect({ newOrders: c.newOrders, changed: c.changed, cancelled: c.cancelled, jobs: c.jobsCreated }).toEqual({
      newOrders: 0,
      changed: 0,
      cancelled: 0,
      jobs: 0,
    });
    expect(c.missing).toBe(s.expect === 'found' ? 1 : (s.gaps ?? 0));
    expect(withoutLastSeen(after.snapshots)).toEqual(withoutLastSeen(baseDump.snapshots));
    expect(after.jobs).toEqual(baseDump.jobs);
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations of a real answer (text as the sandbox served it, utf-8)
// ---------------------------------------------------------------------------------------------

const ORDER_RE = /<order [\s\S]*?<\/order>/g;
const fragments = (text: string) => text.match(ORDER_RE) ?? [];
function replaceOrders(text: string, orders: string[]): string {
  const first = text.search(ORDER_RE);
  const lastClose = text.lastIndexOf('</order>') + '</order>'.length;
  if (first < 0) return text.replace('</orders>', `${orders.join('\n')}</orders>`);
  return `${text.slice(0, first)}${orders.join('\n')}${text.slice(lastClose)}`;
}
function setHeader(text: string, name: string, value: string | null): string {
  const re = new RegExp(` ${name}="[^"]*"`);
  const attr = value === null ? '' : ` ${name}="${value}"`;
  return re.test(text) ? text.replace(re, attr) : text.replace('<orders', `<orders${attr}`);
}
const afterDeclaration = (text: string) => text.indexOf('?>') + 2;

const FIELDS = ['orderNo', 'orderDate', 'lastChanged', 'statusId', 'deliveryStatus', 'currency', 'totalIncVat', 'payTypeIdentifier'] as const;
const NOISE = [
  '<!-- <order orderNo="1" orderDate="2026-01-01 00:00:00"><orderstatus statusId="5"/></order> -->',
  '<?specter-cache hit="yes"?>',
  '<![CDATA[<order orderNo="2"/>]]>',
  '<unknown><order orderNo="3" orderDate="2026-01-01 00:00:00"><orderstatus statusId="5"/></order></unknown>',
  '\n\t ',
];

/** Mutations shared by listing pages and getOrder answers. */
function mutationsOf(text: string, kind: 'listing' | 'getOrder'): fc.Arbitrary<Served> {
  const harmless: Expect = kind === 'listing' ? 'same' : 'found';
  const bytes = Buffer.from(text, 'utf8');
  const rootEnd = bytes.lastIndexOf('</SBM>') + '</SBM>'.length;
  const orders = fragments(text);
  const n = orders.length;
  const headerValue = (name: string) => Number(new RegExp(` ${name}="([^"]*)"`).exec(text)?.[1] ?? NaN);
  // A listing page's own place: the client judges every page by its own totals (a busy shop).
  const isLastPage = headerValue('page') >= headerValue('totalPages');
  const list: Array<fc.Arbitrary<Served>> = [
    fc.nat(bytes.length).map((at) => served('truncate', bytes.subarray(0, at), at >= rootEnd ? harmless : 'fail')),
    fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((flips) => {
      const copy = Buffer.from(bytes);
      for (const [at, value] of flips) copy[at] = value;
      return served('byteFlips', copy, copy.equals(bytes) ? harmless : 'any');
    }),
    fc.tuple(fc.constantFrom(...FIELDS), fc.nat(), fc.nat()).map(([field, which, k]) => {
      const values = BAD_VALUES[field];
      const value = values[k % values.length]!;
      const i = n === 0 ? 0 : which % n;
      const re = new RegExp(` ${field}="[^"]*"`);
      const damaged =
        n === 0
          ? orders
          : orders.map((o, j) => (j === i ? o.replace(re, ` ${field}="${escapeAttr(value, { quote: '"', rawNonAscii: true, encoding: 'utf-8' })}"`) : o));
      const changed = damaged.some((o, j) => o !== orders[j]);
      return served(`wrongType:${field}`, replaceOrders(text, damaged), changed ? 'fail' : harmless);
    }),
    fc.tuple(fc.constantFrom('page', 'pageSize', 'totalPages', 'totalCount'), fc.constantFrom('drop', 'plus1', 'minus1', 'bad')).map(([name, how]) => {
      const current = new RegExp(` ${name}="([^"]*)"`).exec(text)?.[1] ?? '0';
      const value = how === 'drop' ? null : how === 'bad' ? '1.0' : String(Number(current) + (how === 'plus1' ? 1 : -1));
      // A listing's totalCount one off on a page that is not its last, totalPages still fitting,
      // is what a busy shop does between two requests (an order created or deleted): the
      // listing is complete and must pass. Anything else wrong in a listing header must fail.
      const drift = kind === 'listing' && name === 'totalCount' && how !== 'drop' && how !== 'bad';
      if (drift && !isLastPage && Math.ceil(Number(value) / PAGE_SIZE) === headerValue('totalPages')) {
        return served(`header:${name}:${how}`, setHeader(text, name, value), 'same');
      }
      // The client checks pageSize only where the answer states it (an optional attribute).
      if (kind === 'listing' && name === 'pageSize' && how === 'drop') return served(`header:${name}:${how}`, setHeader(text, name, value), 'same');
      // getOrder judges only the order it holds: a wrong page header there is harmless or fatal.
      return served(`header:${name}:${how}`, setHeader(text, name, value), kind === 'listing' || how === 'bad' ? 'fail' : 'any');
    }),
    fc.tuple(fc.oneof(fc.constant(billionLaughs(8, 10)), fc.constantFrom(...EXTERNAL_ENTITY_DOCTYPES)), fc.boolean()).map(([attack, useRef]) => {
      const at = afterDeclaration(text);
      let out = `${text.slice(0, at)}\n${attack.doctype}${text.slice(at)}`;
      if (useRef && attack.ref !== '') out = out.replace('</orders>', `${attack.ref}</orders>`);
      return served('doctype', out, 'fail');
    }),
    fc
      .nat(WRONG_ROOTS.length - 1)
      .map((i) => served(`wrongRoot#${i}`, `<?xml version="1.0" encoding="utf-8"?>\n${WRONG_ROOTS[i]!(ordersElement(text))}`, 'fail')),
    fc
      .tuple(fc.nat(INVALID_UTF8.length - 1), fc.nat(bytes.length))
      .map(([which, at]) => served('invalidUtf8', Buffer.concat([bytes.subarray(0, at), INVALID_UTF8[which]!, bytes.subarray(at)]), 'fail')),
    fc.constantFrom('latin1', 'latin1-bytes-utf8-declared').map((how) => {
      if (how === 'latin1') return served('encoding:latin1', Buffer.from(text.replace('encoding="utf-8"', 'encoding="iso-8859-1"'), 'latin1'), harmless);
      // eslint-disable-next-line no-control-regex
      return served('encoding:utf8-declared-latin1-bytes', Buffer.from(text, 'latin1'), /[^\x00-\x7f]/.test(text) ? 'fail' : harmless);
    }),
    fc.tuple(fc.array(fc.tuple(fc.nat(), fc.nat(NOISE.length - 1)), { minLength: 1, maxLength: 5 }), fc.boolean()).map(([inserts, bom]) => {
      // Noise only at element boundaries ("><") of the served answer, never inside a tag, the
      // declaration or earlier noise (a comment inside a comment is malformed, not harmless).
      const boundaries: number[] = [];
      const openSbm = text.indexOf('<SBM>') + '<SBM>'.length;
      const closeSbm = text.lastIndexOf('</SBM>');
      for (let i = text.indexOf('><', afterDeclaration(text)); i >= 0; i = text.indexOf('><', i + 1)) {
        if (i + 1 >= openSbm && i + 1 <= closeSbm) boundaries.push(i + 1);
      }
      const chosen = inserts
        .map(([where, which]) => ({ at: boundaries.length === 0 ? openSbm : boundaries[where % boundaries.length]!, noise: NOISE[which]! }))
        .sort((a, b) => b.at - a.at);
      let out = text;
      for (const { at, noise } of chosen) out = `${out.slice(0, at)}${noise}${out.slice(at)}`;
      const body = Buffer.from(`\n${out}`, 'utf8');
      return served('noise', bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body, harmless);
    }),
    fc
      .constantFrom(10, 30, 40, 99)
      .map((code) =>
        served(
          `apiCode:${code}`,
          `<?xml version="1.0" encoding="utf-8"?>\n<SBM><APIresponse><code>${code}</code><message>Error ${code}</message></APIresponse></SBM>`,
          'fail',
        ),
      ),
    fc
      .constantFrom('', '   \n', '<!DOCTYPE html><html><body>Service Unavailable</body></html>', '{"orders":[]}', 'OK')
      .map((body) => served('notXml', body, 'fail')),
    fc.constant(null).map(() => served('hugeAttribute', text.replace('<SBM>', `<SBM junk="${'A'.repeat(1024 * 1024)}">`), harmless)),
  ];
  if (n >= 2) {
    // Duplicated or swapped orders: never strictly ascending any more.
    list.push(
      fc.tuple(fc.integer({ min: 1, max: n - 1 }), fc.boolean()).map(([i, swap]) => {
        const copy = [...orders];
        if (swap) [copy[i - 1], copy[i]] = [copy[i]!, copy[i - 1]!];
        else copy[i] = copy[i - 1]!;
        return served(swap ? 'swapped' : 'duplicated', replaceOrders(text, copy), 'fail');
      }),
    );
  }
  if (n >= 1) {
    // A valid-looking but shorter answer: orders dropped, header as served, adjusted, or gone.
    list.push(
      fc.tuple(fc.subarray([...orders.keys()], { minLength: 1 }), fc.constantFrom('keep', 'adjust', 'noTotals')).map(([drop, header]) => {
        const kept = orders.filter((_, j) => !drop.includes(j));
        let out = replaceOrders(text, kept);
        if (header !== 'keep') {
          const total = Number(/ totalCount="(\d+)"/.exec(text)?.[1] ?? '0') - drop.length;
          out = setHeader(out, 'totalCount', header === 'noTotals' ? null : String(total));
          out = setHeader(out, 'totalPages', header === 'noTotals' ? null : String(Math.ceil(total / PAGE_SIZE)));
        }
        // The last listing page without some orders, its totals lowered to match, is what a busy
        // shop deleting its newest orders after the page before looks like: it passes, and each
        // dropped order is a listing gap getOrder answers. Short anywhere else is refused.
        // For getOrder, an answer without its order that claims none IS the contract's "not found".
        if (kind === 'listing' && header === 'adjust' && isLastPage) return served(`shorter:${header}`, out, 'same', drop.length);
        return served(`shorter:${header}`, out, kind === 'listing' || header === 'keep' ? 'fail' : 'any');
      }),
    );
  }
  return fc.oneof(...list);
}

/** The harmless respellings must also include the sandbox's own answer, untouched. */
function listingCases(): fc.Arbitrary<{ page: number; body: Served }> {
  const numbers = [...pages.keys()];
  return fc.constantFrom(...numbers).chain((page) => {
    const text = pages.get(page)!;
    const extra: Array<fc.Arbitrary<Served>> = [fc.constant(served('untouched', text, 'same'))];
    if (page === 1) {
      // Consistent lies the completeness checks cannot see: a smaller total on page 1, so the
      // listing ends early (or is empty). Only getOrder stands between these and a vanish.
      extra.push(
        fc.constantFrom(0, 1, 5, 12).map((keep) => {
          const kept = fragments(text).slice(0, keep);
          let out = replaceOrders(text, kept);
          out = setHeader(out, 'totalCount', String(keep));
          out = setHeader(out, 'totalPages', String(Math.ceil(keep / PAGE_SIZE)));
          return served(`consistentLie:${keep}`, out, 'any');
        }),
      );
    }
    return fc.oneof({ weight: 10, arbitrary: mutationsOf(text, 'listing') }, { weight: 2, arbitrary: fc.oneof(...extra) }).map((body) => ({ page, body }));
  });
}

function getOrderCases(): fc.Arbitrary<{ orderNo: string; body: Served }> {
  return fc.constantFrom(...listedOrderNos).chain((orderNo) => {
    const text = orderAnswers.get(orderNo)!;
    const other = listedOrderNos.find((o) => o !== orderNo)!;
    const specific: Array<fc.Arbitrary<Served>> = [
      fc.constant(served('untouched', text, 'found')),
      // Another order's answer, or two orders: never taken as this order.
      fc.constant(served('otherOrder', orderAnswers.get(other)!, 'fail')),
      fc.constant(served('twoOrders', replaceOrders(text, [...fragments(text), ...fragments(orderAnswers.get(other)!)]), 'fail')),
    ];
    return fc
      .oneof({ weight: 10, arbitrary: mutationsOf(text, 'getOrder') }, { weight: 1, arbitrary: fc.oneof(...specific) })
      .map((body) => ({ orderNo, body }));
  });
}

// ---------------------------------------------------------------------------------------------

describe('Specter boundary end to end under fuzzing (seeded, real HTTP and SQLite)', () => {
  afterAll(() => {
    const lines = [...tally.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  ${k.padEnd(56)} ${v}`);
    // The per-family tally only with FUZZ_VERBOSE=1: CI output stays readable.
    process.stderr.write(`[fuzz] cycle.fuzz: ${caseNo} cycles (seed ${SEED})\n${process.env.FUZZ_VERBOSE ? `${lines.join('\n')}\n` : ''}`);
  });

  it('control: a real deletion is seen as a vanish (so the "no vanish" checks below can fail)', async () => {
    const orderNo = listedOrderNos[3]!;
    const before = world.specter.order(orderNo)!;
    world.specter.delete(orderNo);
    try {
      fs.copyFileSync(basePath, path.join(dir, 'control-copy.db'));
      const copy = await openStore(path.join(dir, 'control-copy.db'));
      const report = await runCycle(
        { config, store: copy, specter: createSpecterClient(config.specter), providers, logger: memoryLogger(), holder: makeLeaseHolder(), now: () => NOW },
        { dispatch: false },
      );
      const row = dump(copy).snapshots.find((r) => r['order_no'] === orderNo);
      await copy.close();
      expect(report.outcome).toBe('succeeded');
      expect(row?.['vanished_at']).not.toBeNull();
    } finally {
      world.specter.add(before);
    }
  });

  it('a hostile listing page fails the cycle cleanly or parses correctly; no false vanish, database untouched on failure (190 cycles)', async () => {
    await fc.assert(
      fc.asyncProperty(listingCases(), async ({ page, body }) => {
        verify(body, await runCase({ action: 'getOrders', page }, body.bytes), 'listing');
      }),
      { seed: SEED + 10, numRuns: 190 },
    );
  }, 120_000);

  it('a hostile getOrder answer for an order missing from the listing never turns into a vanish (110 cycles)', async () => {
    await fc.assert(
      fc.asyncProperty(getOrderCases(), async ({ orderNo, body }) => {
        verify(body, await runCase({ action: 'getOrder', orderNo }, body.bytes), 'getOrder');
      }),
      { seed: SEED + 11, numRuns: 110 },
    );
  }, 120_000);
});
