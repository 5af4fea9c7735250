/**
 * Shared fixtures for the dispatch tests: a real SQLite file in a temp dir, jobs created the way
 * the cycle creates them (commitCycle), scripted fake provider clients that record every call, and
 * a fake clock whose sleep moves time forward.
 */
import { afterEach, beforeEach } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DispatchSettings } from '../../src/config/types.js';
import type { ProviderName, TrackedOrder } from '../../src/domain.js';
import type {
  CancelOutcome,
  CancelRequest,
  ConfirmOutcome,
  ConfirmRequest,
  PaymentRead,
  PaymentReadRequest,
  ProviderClient,
} from '../../src/providers/types.js';
import { openStore, type Store } from '../../src/store/database.js';
import { getJob, type CancellationJob } from '../../src/store/jobs.js';
import { commitCycle } from '../../src/store/commit.js';
import { memoryLogger } from '../../src/observability/logger.js';

export interface DispatchFixture {
  db: TestDb;
  clock: FakeClock;
  logger: ReturnType<typeof memoryLogger>;
}

/** A fresh database file, clock and recording logger for every test, removed after it. */
export function useDispatchFixture(onEach: (fixture: DispatchFixture) => void): void {
  let db: TestDb | undefined;
  beforeEach(async () => {
    db = await openTestStore();
    onEach({ db, clock: new FakeClock(), logger: memoryLogger() });
  });
  afterEach(async () => {
    await db?.cleanup();
  });
}

export const SETTINGS: DispatchSettings = {
  maxAttempts: 4,
  retryMinMs: 1_000,
  retryMaxMs: 60_000,
  confirmDeadlineMs: 3_600_000,
};

export interface TestDb {
  store: Store;
  dir: string;
  cleanup(): Promise<void>;
}

async function openTestStore(): Promise<TestDb> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-dispatch-'));
  const testDb: TestDb = {
    store: await openStore(path.join(dir, 'sync.db')),
    dir,
    // Closes whatever store the test ended with (a "restart" test reopens the file).
    cleanup: async () => {
      await testDb.store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return testDb;
}

let orderCounter = 1000;

export interface SeedOptions {
  provider?: ProviderName;
  providerRef?: string;
  orderNo?: string;
  amount?: string | null;
  currency?: string | null;
  at?: string;
  /** Default `cancelled`; `vanished` as a person's `vanished cancel` (or VANISHED_ACTION=cancel) makes it. */
  reason?: 'cancelled' | 'vanished';
}

/** An order cancelled in Specter and its job, committed in one cycle exactly as the worker does. */
export async function seedJob(store: Store, options: SeedOptions = {}): Promise<{ id: number; orderNo: string; idempotencyKey: string }> {
  orderCounter += 1;
  const orderNo = options.orderNo ?? String(orderCounter);
  const provider = options.provider ?? 'klarna';
  const providerRef = options.providerRef ?? `ref-${orderNo}`;
  const amount = options.amount === undefined ? '1249.00' : options.amount;
  const currency = options.currency === undefined ? 'SEK' : options.currency;
  const at = options.at ?? '2026-01-01T00:00:00.000Z';
  const order: TrackedOrder = {
    orderNo,
    orderDate: '2025-12-31 10:00:00',
    status: 'cancelled',
    statusId: '5',
    deliveryStatus: null,
    payTypeIdentifier: 'K',
    payTypeReference: providerRef,
    route: { kind: 'provider', provider, providerRef },
    paymentKey: `${provider}:${providerRef}`,
    amount,
    currency,
    contentHash: `hash-${orderNo}`,
  };
  const { createdJobs } = await commitCycle(store, {
    holder: 'test',
    startedAt: at,
    at,
    baseline: false,
    window: { fromDate: '2025-11-01', toDate: '2026-01-01' },
    upserts: [order],
    reentered: [],
    cancelledFacts: [orderNo],
    vanished: [],
    reappeared: [],
    leftWindow: [],
    jobs: [
      {
        orderNo,
        paymentKey: `${provider}:${providerRef}`,
        provider,
        providerRef,
        payTypeIdentifier: 'K',
        payTypeReference: providerRef,
        amount,
        currency,
        reason: options.reason ?? 'cancelled',
      },
    ],
    voids: [],
    reroutes: [],
    releases: [],
    unsettles: [],
    counts: { listed: 1, newOrders: 0, changed: 1, cancelled: 1, missing: 0, guardTripped: false },
  });
  const job = createdJobs[0];
  if (!job) throw new Error('no job created');
  return { id: job.id, orderNo, idempotencyKey: job.idempotencyKey };
}

export async function mustGetJob(store: Store, id: number): Promise<CancellationJob> {
  const job = await getJob(store, id);
  if (!job) throw new Error(`job ${id} not found`);
  return job;
}

/** A clock that only moves when told to (or when the fake sleep waits). */
export class FakeClock {
  private ms: number;
  readonly sleeps: number[] = [];
  constructor(start = '2026-01-01T00:00:00.000Z') {
    this.ms = Date.parse(start);
  }
  now = (): Date => new Date(this.ms);
  advance(ms: number): void {
    this.ms += ms;
  }
  /** Records the wait and moves time forward by it, at once. */
  sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.ms += ms;
  };
}

export type CancelScript = (request: CancelRequest, call: number) => CancelOutcome | Promise<CancelOutcome>;
export type ConfirmScript = (request: ConfirmRequest, call: number) => ConfirmOutcome | Promise<ConfirmOutcome>;

export interface FakeClient extends ProviderClient {
  cancelCalls: CancelRequest[];
  readCalls: PaymentReadRequest[];
  confirmCalls: ConfirmRequest[];
}

/**
 * A plain object implementing ProviderClient. `cancel` answers from the script (a list is played
 * in order, its last entry repeated); `confirm` is present only when a confirm script is given.
 */
export function fakeClient(
  name: ProviderName,
  cancel: CancelScript | CancelOutcome[],
  options: { confirm?: ConfirmScript | ConfirmOutcome[]; maxConcurrency?: number; read?: PaymentRead } = {},
): FakeClient {
  const cancelCalls: CancelRequest[] = [];
  const readCalls: PaymentReadRequest[] = [];
  const confirmCalls: ConfirmRequest[] = [];
  const play = <R, O>(script: ((request: R, call: number) => O | Promise<O>) | O[], request: R, call: number): O | Promise<O> => {
    if (typeof script === 'function') return script(request, call);
    const answer = script[Math.min(call, script.length - 1)];
    if (answer === undefined) throw new Error('empty script');
    return answer;
  };
  const client: FakeClient = {
    name,
    maxConcurrency: options.maxConcurrency ?? 4,
    cancelCalls,
    confirmCalls,
    readCalls,
    // Unscripted, a read is what a failed one is: unknown, so the job is sent as before.
    readPayment: async (request) => {
      readCalls.push(request);
      return options.read ?? { state: 'unknown', reservedAmount: null, currency: null, expiresAt: null, detail: 'fake client: no read scripted' };
    },
    cancel: async (request) => {
      cancelCalls.push(request);
      return play(cancel, request, cancelCalls.length - 1);
    },
  };
  const confirmScript = options.confirm;
  if (confirmScript !== undefined) {
    client.confirm = async (request) => {
      confirmCalls.push(request);
      return play(confirmScript, request, confirmCalls.length - 1);
    };
  }
  return client;
}

export const SUCCEEDED: CancelOutcome = { kind: 'succeeded', alreadyCancelled: false };
export const ALREADY: CancelOutcome = { kind: 'succeeded', alreadyCancelled: true };
export const TOO_MANY = (retryAfterMs?: number): CancelOutcome =>
  retryAfterMs === undefined
    ? { kind: 'transient', code: 'HTTP_429', message: 'too many requests' }
    : { kind: 'transient', code: 'HTTP_429', message: 'too many requests', retryAfterMs };
export const UNAVAILABLE: CancelOutcome = { kind: 'transient', code: 'HTTP_503', message: 'temporarily unavailable' };
export const CAPTURED: CancelOutcome = {
  kind: 'permanent',
  reason: 'captured',
  code: 'CANCEL_NOT_ALLOWED',
  message: 'Order has previous captures. Cancel not possible.',
};
