/**
 * A console on a real SQLite file, served over real HTTP on 127.0.0.1 by the same server `run`
 * uses, with rows written the way the worker writes them (commitCycle, the outbox's transitions):
 * a vanished order per reference asked for, and one failed job. The log lines are kept to read.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { createConsole } from '../../src/console/server.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { commitCycle } from '../../src/store/commit.js';
import { openStore, type Store } from '../../src/store/database.js';
import { markFailed, markSending } from '../../src/store/outbox.js';
import { createHealthServer, type HealthServer } from '../../src/worker/http.js';
import { cycleRecord, klarnaJob, trackedOrder } from '../support/records.js';

export const TOKEN = 'console-token-0123456789abcdef';

export interface ConsoleFixture {
  base: string;
  store: Store;
  dbPath: string;
  /** Every JSON log line so far. */
  lines(): Array<Record<string, unknown>>;
  events(name: string): Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Vanished orders `vanishedOrderNos` (references as given), one failed Klarna job (order 9001, captured). */
export async function startConsole(
  options: { secureCookie?: boolean; references?: Record<string, string> } = {},
): Promise<ConsoleFixture & { failedJobId: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-console-'));
  const dbPath = path.join(dir, 'sync.db');
  const config = loadConfig({
    env: { SPECTER_SBM_ID: '1', SPECTER_API_USER_ID: 'user', SPECTER_API_USER_KEY: 'specter-key-secret', SYNC_DB_PATH: dbPath, CONSOLE_TOKEN: TOKEN },
  });
  const store = await openStore(dbPath);
  const output = new PassThrough();
  let text = '';
  output.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const logger: Logger = createLogger({ level: 'info', format: 'json', secrets: config.secrets, stream: output });

  const references = options.references ?? { '8001': 'ref-8001', '8002': 'ref-8002' };
  const orders = Object.entries(references).map(([orderNo, ref]) =>
    trackedOrder(orderNo, { payTypeReference: ref, route: { kind: 'provider', provider: 'klarna', providerRef: ref }, paymentKey: `klarna:${ref}` }),
  );
  const failedOrder = trackedOrder('9001', { status: 'cancelled', contentHash: 'h-9001-c' });
  await commitCycle(store, cycleRecord({ upserts: [...orders, failedOrder], cancelledFacts: ['9001'], jobs: [klarnaJob('9001', 'ref-9001')] }));
  await commitCycle(
    store,
    cycleRecord({
      startedAt: '2026-11-26T11:00:00.000Z',
      at: '2026-11-26T11:00:02.500Z',
      vanished: orders.map((o) => ({ orderNo: o.orderNo, status: 'awaiting' as const, note: null })),
    }),
  );
  const failedJobId = (await store.db.selectFrom('cancellation_jobs').select('id').where('order_no', '=', '9001').executeTakeFirstOrThrow()).id;
  await markSending(store, failedJobId, '2026-11-26T11:00:03.000Z');
  await markFailed(store, failedJobId, { reason: 'captured', code: 'CAPTURED', message: 'the order is <b>captured</b>', now: '2026-11-26T11:00:04.000Z' });

  const handler = createConsole({ token: TOKEN, secureCookie: options.secureCookie ?? false, deps: { config, store, logger } });
  const server: HealthServer = createHealthServer({
    host: '127.0.0.1',
    port: 0,
    readiness: () => ({ ready: true, reason: 'test', lastSuccessAt: null }),
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
    console: handler.handle,
  });
  const address = await server.listen();
  const lines = () =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    base: `http://127.0.0.1:${address.port}`,
    store,
    dbPath,
    failedJobId,
    lines,
    events: (name) => lines().filter((l) => l.event === name),
    close: async () => {
      await server.close();
      await logger.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A form POST, redirects not followed (the 303 is what a test looks at). */
export function post(url: string, fields: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Signs in; the cookie to send and the CSRF token of the first page. */
export async function signIn(base: string, token = TOKEN): Promise<{ cookie: string; csrf: string; page: string }> {
  const res = await post(`${base}/signin`, { token });
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const page = await (await fetch(`${base}/`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  if (!csrf) throw new Error('no CSRF token in the page');
  return { cookie, csrf, page };
}
