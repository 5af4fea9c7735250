/**
 * The system under test of the model-based test: the real store (a fresh SQLite file per history)
 * and the real cycle, run in-process against the sandbox world over HTTP on 127.0.0.1. One world
 * serves every history of the file; each history uses its own order numbers and references and
 * removes its orders when it ends, so histories never see each other.
 *
 * Everything read back is read the way an outsider would: the requests each provider sandbox
 * received, the rows of the database (SELECT *, columns looked up by name, so the test runs on the
 * schema before and after migration 0003), and the log events of each cycle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { AppConfig, RoutingRule } from '../../src/config/types.js';
import { memoryLogger, type RecordedEvent } from '../../src/observability/logger.js';
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { rows } from '../support/db.js';
import { openStore, type Store } from '../../src/store/database.js';
import { runCycle, type CycleReport } from '../../src/worker/cycle.js';
import { buildCycleDeps } from '../../src/worker/deps.js';
import { TODAY, statusOf, type ListingFault, type ModelOrder, type Payment, type ProviderName, type Routing, type VanishedAction } from './reference.js';

/** The cycle's clock: noon in Stockholm on TODAY, one step per cycle (≤ 60 steps stay on TODAY). */
const CLOCK_START_MS = Date.UTC(TODAY.year, TODAY.month - 1, TODAY.day, 11, 0, 0);
const CYCLE_STEP_MS = 10 * 60_000;

/** A cancel request as a provider sandbox received it. */
export interface SeenCancel {
  provider: ProviderName;
  /** The provider's id of the payment (Klarna/Walley/Svea order id, Qliro OrderId). */
  id: string;
  /** Klarna-Idempotency-Key, Walley-Idempotency-Key, Qliro RequestId; Svea has none. */
  key: string | null;
}

export type Row = Record<string, unknown>;

export interface CycleObservation {
  report: CycleReport;
  /** Cancel requests received during this cycle. */
  cancels: SeenCancel[];
  events: RecordedEvent[];
  jobs: Row[];
  snapshots: Row[];
  /** Every table but the lease, as JSON, before and after: a failed cycle changes nothing. */
  dumpBefore: string;
  dump: string;
}

function header(request: RecordedRequest, name: string): string | null {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

const KLARNA_CANCEL = /^\/ordermanagement\/v1\/orders\/([^/]+)\/cancel$/;
const WALLEY_CANCEL = /^\/manage\/orders\/([^/]+)\/cancel$/;
const SVEA_ORDER = /^\/api\/v1\/orders\/([^/]+)$/;
const QLIRO_CANCEL = '/checkout/adminapi/v2/cancelOrder';

/** The cancel request in `request`, if it is one (reads, tokens and confirmations are not). */
function cancelIn(provider: ProviderName, request: RecordedRequest): SeenCancel | null {
  switch (provider) {
    case 'klarna': {
      const m = request.method === 'POST' ? KLARNA_CANCEL.exec(request.path) : null;
      return m ? { provider, id: decodeURIComponent(m[1]!), key: header(request, 'klarna-idempotency-key') } : null;
    }
    case 'walley': {
      const m = request.method === 'POST' ? WALLEY_CANCEL.exec(request.path) : null;
      return m ? { provider, id: decodeURIComponent(m[1]!), key: header(request, 'walley-idempotency-key') } : null;
    }
    case 'svea': {
      const m = request.method === 'PATCH' ? SVEA_ORDER.exec(request.path) : null;
      return m ? { provider, id: decodeURIComponent(m[1]!), key: null } : null;
    }
    case 'qliro': {
      if (request.method !== 'POST' || request.path !== QLIRO_CANCEL) return null;
      try {
        const body = JSON.parse(request.body.toString('utf8')) as { OrderId?: unknown; RequestId?: unknown };
        return { provider, id: String(body.OrderId), key: typeof body.RequestId === 'string' ? body.RequestId : null };
      } catch {
        return { provider, id: '(unreadable body)', key: null };
      }
    }
  }
}

const PROVIDERS: readonly ProviderName[] = ['klarna', 'qliro', 'walley', 'svea'];

/** The routing rules the model's Routing stands for (built here, not read from config/default.json). */
function routingRules(routing: Routing): RoutingRule[] {
  const rules: RoutingRule[] = [{ referencePrefix: 'QLIRO-', payTypeIdentifiers: ['QL'], provider: 'qliro', providerIdPattern: '^[0-9]+$' }];
  if (routing.klarnaRule) rules.push({ payTypeIdentifiers: ['K', 'KG'], provider: 'klarna' });
  rules.push({ payTypeIdentifiers: ['CL', 'WA'], provider: 'walley' });
  rules.push({ payTypeIdentifiers: ['SP', 'SS', 'SCH'], provider: 'handledBySpecter' });
  // `elsewhere` is the second wave's routing target (docs/interface.md, "Payments with no route");
  // the cast lets this test name it before the config type does.
  if (routing.swishElsewhere) rules.push({ payTypeIdentifiers: ['SW'], provider: 'elsewhere' });
  return rules;
}

function orderDate(daysBack: number): string {
  const day = new Date(Date.UTC(TODAY.year, TODAY.month - 1, TODAY.day - daysBack));
  return `${day.toISOString().slice(0, 10)} 10:00:00`;
}

function sandboxOrder(order: ModelOrder): SandboxOrder {
  const status = statusOf(order);
  return {
    orderNo: order.orderNo,
    externalOrderNo: `WEB-${order.orderNo}`,
    orderDate: orderDate(order.daysBack),
    lastChanged: orderDate(order.daysBack),
    statusId: status === 'cancelled' ? '5' : status === 'delivered' ? '4' : '1',
    deliveryStatus: order.delivered ? 'D' : 'N',
    customerName: `Kund ${order.label}`,
    payment:
      order.payment === null
        ? null
        : {
            payTypeIdentifier: order.payment.method,
            payTypeReference: order.payment.reference,
            payTypeIdentifierPaySystemUser: null,
            currency: 'SEK',
            totalIncVat: '1249.00',
          },
  };
}

export interface CycleSettings {
  lookback: number;
  vanishedAction: VanishedAction;
  routing: Routing;
  listingFault: ListingFault | null;
}

export class SystemUnderTest {
  private store: Store | null = null;
  private dbPath = '';
  private readonly orderNos = new Set<string>();
  private cyclesRun = 0;

  constructor(
    readonly world: SandboxWorld,
    private readonly dir: string,
    private readonly base: AppConfig,
  ) {}

  static baseConfig(world: SandboxWorld, dir: string): AppConfig {
    return loadConfig({
      env: {
        ...world.env,
        SYNC_DB_PATH: path.join(dir, 'unused.db'),
        NODE_ENV: 'test',
        // A failed Specter request fails the cycle at once (listing faults are scripted whole).
        SPECTER_MAX_ATTEMPTS: '1',
        // A transient provider answer always waits for a later cycle (never retried within one),
        // and every later cycle (one clock step on) finds it due: faults span cycles.
        DISPATCH_RETRY_MIN_MS: '60000',
        DISPATCH_RETRY_MAX_MS: '120000',
        VANISH_GUARD_MAX_PER_RUN: '1000',
      },
    });
  }

  async beginHistory(history: number): Promise<void> {
    this.dbPath = path.join(this.dir, `history-${history}.db`);
    this.store = await openStore(this.dbPath);
    this.cyclesRun = 0;
    this.clearFaults();
    this.world.specter.clearScripts();
    for (const server of this.servers()) server.requests.length = 0;
  }

  async endHistory(): Promise<void> {
    for (const orderNo of this.orderNos) this.world.specter.delete(orderNo);
    this.orderNos.clear();
    this.world.specter.clearScripts();
    this.clearFaults();
    await this.store?.close();
    this.store = null;
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${this.dbPath}${suffix}`, { force: true });
  }

  private servers(): Array<{ requests: RecordedRequest[] }> {
    const { specter, klarna, qliro, walley, svea } = this.world;
    return [specter, klarna, qliro, walley, svea];
  }

  // ---------------------------------------------------------------------------------------------
  // Changing the world.

  put(order: ModelOrder): void {
    this.orderNos.add(order.orderNo);
    this.world.specter.upsert(sandboxOrder(order));
  }

  delete(order: ModelOrder): void {
    this.world.specter.delete(order.orderNo);
  }

  hide(order: ModelOrder): void {
    this.world.specter.hideFromListing(order.orderNo, 1);
  }

  failCancels(provider: 'klarna' | 'qliro' | 'walley', times: number): void {
    this.world[provider].faults.add(
      { kind: 'status', status: 503, body: 'Service Unavailable', headers: { 'content-type': 'text/plain' } },
      { times, matches: (request) => cancelIn(provider, request) !== null },
    );
  }

  clearFaults(): void {
    for (const provider of ['klarna', 'qliro', 'walley', 'svea'] as const) this.world[provider].faults.clear();
    this.world.specter.faults.clear();
  }

  /** The payment's state at its provider: has a cancellation taken effect? */
  cancelledAtProvider(payment: Payment): boolean {
    if (payment.providerId === null) return false;
    switch (payment.provider) {
      case 'klarna':
        return this.world.klarna.orderState(payment.providerId) === 'cancelled';
      case 'qliro':
        return this.world.qliro.orderState(payment.providerId) === 'cancelled';
      case 'walley':
        return ['cancelled', 'cancelling'].includes(this.world.walley.orderState(payment.providerId));
      default:
        return false;
    }
  }

  /** The money is taken: a cancel from now on must fail with reason `captured`. False: not capturable. */
  capture(payment: Payment): boolean {
    if (payment.providerId === null || this.cancelledAtProvider(payment)) return false;
    switch (payment.provider) {
      case 'klarna':
        this.world.klarna.setOrder(payment.providerId, 'captured');
        return true;
      case 'qliro':
        this.world.qliro.setOrder(payment.providerId, 'captured');
        return true;
      case 'walley':
        this.world.walley.setOrder(payment.providerId, 'captured');
        return true;
      default:
        return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One cycle.

  cycleConfig(settings: CycleSettings): AppConfig {
    return {
      ...this.base,
      sync: { ...this.base.sync, dbPath: this.dbPath, lookbackDays: settings.lookback, vanishedAction: settings.vanishedAction },
      routing: routingRules(settings.routing),
    };
  }

  async cycle(settings: CycleSettings): Promise<CycleObservation> {
    const store = this.mustStore();
    const specter = this.world.specter;
    if (settings.listingFault !== null) {
      // The whole listing fails (every attempt, however the client retries); cleared after.
      const isListing = (r: RecordedRequest): boolean => r.query.get('Action') === 'getOrders';
      const fault =
        settings.listingFault === '503'
          ? ({ kind: 'status', status: 503, body: 'Service Unavailable' } as const)
          : settings.listingFault === 'reset'
            ? ({ kind: 'reset' } as const)
            : ({
                kind: 'status',
                status: 200,
                body: '<!DOCTYPE html><html><body>Underhåll pågår</body></html>',
                headers: { 'content-type': 'text/html' },
              } as const);
      specter.faults.add(fault, { times: Infinity, matches: isListing });
    }
    const before = PROVIDERS.map((p) => this.world[p].requests.length);
    const dumpBefore = this.dump();
    const logger = memoryLogger();
    this.cyclesRun += 1;
    const now = new Date(CLOCK_START_MS + this.cyclesRun * CYCLE_STEP_MS);
    let report: CycleReport;
    try {
      report = await runCycle({ ...buildCycleDeps(this.cycleConfig(settings), store, logger), now: () => now });
    } finally {
      if (settings.listingFault !== null) specter.faults.clear();
    }
    const cancels = PROVIDERS.flatMap((p, i) =>
      this.world[p].requests.slice(before[i]).flatMap((r) => {
        const seen = cancelIn(p, r);
        return seen ? [seen] : [];
      }),
    );
    return { report, cancels, events: logger.events, jobs: this.jobs(), snapshots: this.snapshots(), dumpBefore, dump: this.dump() };
  }

  jobs(): Row[] {
    return rows(this.dbPath, 'SELECT * FROM cancellation_jobs ORDER BY id');
  }

  snapshots(): Row[] {
    return rows(this.dbPath, 'SELECT * FROM order_snapshots ORDER BY order_no');
  }

  dump(): string {
    return JSON.stringify({
      snapshots: this.snapshots(),
      jobs: this.jobs(),
      // A failed cycle may be recorded as such; it must not look like a successful one.
      runs: rows(this.dbPath, 'SELECT * FROM sync_runs ORDER BY id').filter((r) => r['outcome'] !== 'failed'),
    });
  }

  private mustStore(): Store {
    if (!this.store) throw new Error('no history is running');
    return this.store;
  }
}
