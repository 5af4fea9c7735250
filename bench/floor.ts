/**
 * The honest floor for one cycle over N orders (issue 13): the same pages fetched with the same
 * HTTP client settings (raw bytes, at most one request ahead), parsed by saxes in strict mode with
 * handlers that only collect the fields the worker keeps, and the snapshot index read (orderNo →
 * content hash, one raw statement). That is the steady floor: an unchanged cycle writes nothing.
 * The 1 % floor adds writing only the changed rows, with ONE raw prepared upsert in ONE
 * transaction. No validation, no hashing, no diff, no ORM: anything the cycle costs above this is
 * the price of its checks and bookkeeping.
 */
import { performance } from 'node:perf_hooks';
import axios, { type AxiosInstance } from 'axios';
import SqliteDatabase from 'better-sqlite3';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { SpecterSettings } from '../src/config/types.js';
import { computeSpecterKey, newBatchNo } from '../src/specter/auth.js';
import type { OrderWindow } from '../src/diff/window.js';

/** The fields the worker keeps per order (what the floor parser collects). */
export interface FloorRow {
  orderNo: string;
  orderDate: string;
  statusId: string | null;
  deliveryStatus: string | null;
  payTypeIdentifier: string | null;
  payTypeReference: string | null;
  currency: string | null;
  amount: string | null;
}

export interface FloorTimes {
  totalMs: number;
  /** Waiting for the next page (what parsing did not hide). */
  fetchMs: number;
  parseMs: number;
  indexMs: number;
  writeMs: number;
  rows: number;
  /** Orders in the index read. */
  indexed: number;
}

/** One raw GET of a listing page, signed like the client signs it, with the client's axios options. */
export function makeRawFetcher(settings: SpecterSettings): (window: OrderWindow, page: number) => Promise<Buffer> {
  const http: AxiosInstance = axios.create();
  const endpoint = `${settings.baseUrl}getInfo.asp`;
  return async (window, page) => {
    const batchNo = newBatchNo();
    const query = new URLSearchParams({
      Action: settings.actions.listOrders,
      sbmId: String(settings.sbmId),
      apiUserId: settings.apiUserId,
      useXML: '2',
      batchNo,
      key: computeSpecterKey(settings, batchNo),
      fromDate: window.fromDate,
      toDate: window.toDate,
      page: String(page),
      pageSize: String(settings.pageSize),
    });
    const response = await http.request({
      method: 'GET',
      url: `${endpoint}?${query.toString()}`,
      responseType: 'arraybuffer',
      timeout: settings.timeoutMs,
      signal: AbortSignal.timeout(settings.timeoutMs),
      validateStatus: () => true,
      maxRedirects: 0,
      maxContentLength: 256 * 1024 * 1024,
      headers: { Accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
    });
    if (response.status !== 200) throw new Error(`floor fetch: page ${page} answered HTTP ${response.status}`);
    const data = response.data as ArrayBuffer | Buffer;
    return Buffer.isBuffer(data) ? data : Buffer.from(data);
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const TOTAL_PAGES = /totalPages="([0-9]+)"/;

/** saxes, strict and streaming, with the least work that still yields every field kept. */
function floorParse(body: Buffer, into: FloorRow[]): void {
  const parser = new SaxesParser({ xmlns: false, position: false });
  let row: FloorRow | null = null;
  parser.on('error', (error) => {
    throw error;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const a = tag.attributes;
    switch (tag.name) {
      case 'order':
        row = {
          orderNo: a['orderNo'] ?? '',
          orderDate: a['orderDate'] ?? '',
          statusId: null,
          deliveryStatus: null,
          payTypeIdentifier: null,
          payTypeReference: null,
          currency: null,
          amount: null,
        };
        break;
      case 'orderstatus':
        if (row) {
          row.statusId = a['statusId'] ?? null;
          row.deliveryStatus = a['deliveryStatus'] ?? null;
        }
        break;
      case 'payment':
        if (row) {
          row.payTypeIdentifier = a['payTypeIdentifier'] ?? null;
          row.payTypeReference = a['payTypeReference'] ?? null;
          row.currency = a['currency'] ?? null;
          row.amount = a['totalIncVat'] ?? null;
        }
        break;
    }
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'order' && row) {
      into.push(row);
      row = null;
    }
  });
  const text = utf8.decode(body);
  // The sandbox answers "<?xml …?>" at byte 0; the product parser skips leading whitespace too.
  parser.write(text).close();
}

/** A table of order_snapshots' shape (from the real migration), and the one upsert statement. */
export class FloorTable {
  private readonly db: SqliteDatabase.Database;
  private readonly upsert: SqliteDatabase.Statement;

  constructor(file: string, migrationSql: string) {
    this.db = new SqliteDatabase(file);
    // The worker's pragmas (src/store/database.ts).
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(migrationSql);
    this.upsert = this.db.prepare(`
      INSERT INTO order_snapshots (order_no, order_date, status, status_id, delivery_status,
        pay_type_identifier, pay_type_reference, route_kind, provider, provider_ref, route_note,
        amount, currency, content_hash, first_seen_at, last_seen_at)
      VALUES (?, ?, 'open', ?, ?, ?, ?, 'provider', ?, ?, NULL, ?, ?, ?, ?, ?)
      ON CONFLICT (order_no) DO UPDATE SET
        order_date = excluded.order_date, status = excluded.status, status_id = excluded.status_id,
        delivery_status = excluded.delivery_status, pay_type_identifier = excluded.pay_type_identifier,
        pay_type_reference = excluded.pay_type_reference, route_kind = excluded.route_kind,
        provider = excluded.provider, provider_ref = excluded.provider_ref, route_note = excluded.route_note,
        amount = excluded.amount, currency = excluded.currency, content_hash = excluded.content_hash,
        last_seen_at = excluded.last_seen_at, left_window_at = NULL`);
  }

  /** All rows, one transaction. A 28-character stand-in hash keeps the row size the worker's. */
  write(rows: readonly FloorRow[], at: string): void {
    const hash = 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=';
    const upsert = this.upsert;
    this.db.transaction(() => {
      for (const r of rows) {
        upsert.run(
          r.orderNo,
          r.orderDate,
          r.statusId,
          r.deliveryStatus,
          r.payTypeIdentifier,
          r.payTypeReference,
          r.payTypeIdentifier,
          r.payTypeReference,
          r.amount,
          r.currency,
          hash,
          at,
          at,
        );
      }
    })();
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The snapshot index at its least: orderNo → stored content hash of every tracked order, read
 * with one raw prepared statement from the worker's own database (what any diff must read).
 */
function readFloorIndex(sqlite: SqliteDatabase.Database): number {
  const index = new Map<string, string>();
  const rows = sqlite.prepare('SELECT order_no, content_hash FROM order_snapshots WHERE left_window_at IS NULL').raw(true).all() as Array<[string, string]>;
  for (const [orderNo, hash] of rows) index.set(orderNo, hash);
  return index.size;
}

export interface FloorWork {
  /** The worker's database: the index is read from it (never written). */
  sqlite: SqliteDatabase.Database;
  /** Write these orders' rows (the 1 % floor: only the rows that changed), in one transaction. */
  write?: { table: FloorTable; orderNos: ReadonlySet<string> | 'all' };
  keepBodies?: Buffer[];
}

/**
 * One floor run: fetch page by page with at most one request ahead (the next page is requested
 * when this one arrives, as the client does: Specter never sees more than two in flight), parse
 * each page as it arrives, read the index, then write what `write` asks for (nothing, for the
 * steady floor).
 */
export async function runFloor(fetchPage: (window: OrderWindow, page: number) => Promise<Buffer>, window: OrderWindow, work: FloorWork): Promise<FloorTimes> {
  const rows: FloorRow[] = [];
  let fetchMs = 0;
  let parseMs = 0;
  const start = performance.now();
  let totalPages = 1;
  let next: Promise<Buffer> | null = fetchPage(window, 1);
  for (let page = 1; next !== null; page += 1) {
    const t0 = performance.now();
    const body: Buffer = await next;
    const t1 = performance.now();
    if (page === 1) {
      const m = TOTAL_PAGES.exec(body.toString('latin1', 0, 512));
      totalPages = m ? Number(m[1]) : 1;
    }
    next = page < totalPages ? fetchPage(window, page + 1) : null;
    floorParse(body, rows);
    const t2 = performance.now();
    fetchMs += t1 - t0;
    parseMs += t2 - t1;
    work.keepBodies?.push(body);
  }
  const t3 = performance.now();
  const indexed = readFloorIndex(work.sqlite);
  const t4 = performance.now();
  if (work.write) {
    const only = work.write.orderNos;
    work.write.table.write(only === 'all' ? rows : rows.filter((r) => only.has(r.orderNo)), new Date().toISOString());
  }
  const end = performance.now();
  return { totalMs: end - start, fetchMs, parseMs, indexMs: t4 - t3, writeMs: end - t4, rows: rows.length, indexed };
}
