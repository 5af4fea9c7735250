/**
 * Realistic, deterministic Specter orders for the sandbox, the demo and the benchmark.
 *
 * Swedish customers (å ä ö, to exercise both encodings), SEK amounts with a dot, the payment
 * methods a Swedish web shop sees, and a few old orders without <payment>. Order dates are
 * Europe/Stockholm local time without offset, as Specter gives them, and rise with orderNo.
 * 100,000 orders take a few tens of milliseconds: no Intl per order (formatToParts alone would
 * take most of a second), the Stockholm offset comes from the EU summer-time rule.
 */
import type { SandboxOrder } from './types.js';

export interface SeedOptions {
  count: number;
  /** Default 100001. */
  firstOrderNo?: number;
  /** The newest order is just before this instant. Default: the current time. */
  now?: Date;
  /** Same seed, same orders. Default 1. */
  seed?: number;
  /** Orders are spread over this many days before `now`. Default 60. */
  lookbackDays?: number;
}

const DAY_MS = 86_400_000;

// Module-scope copies: under Jest the module runs in a vm context, where every lookup of a
// global such as `Math` goes through an interceptor and made seeding several times slower.
const { floor, imul, min } = Math;

const FIRST_NAMES = [
  'Åsa',
  'Björn',
  'Göran',
  'Sören',
  'Märta',
  'Örjan',
  'Jöns',
  'Ingrid',
  'Karl',
  'Lena',
  'Maja',
  'Per',
  'Elsa',
  'Håkan',
  'Linnéa',
  'Stina',
  'Ulf',
  'Agneta',
  'Bengt',
  'Kerstin',
  'Oskar',
  'Ebba',
  'Tove',
  'Nils',
] as const;
const LAST_NAMES = [
  'Öberg',
  'Åberg',
  'Ström',
  'Bäckström',
  'Lindqvist',
  'Sjöberg',
  'Sandström',
  'Nyström',
  'Andersson',
  'Johansson',
  'Karlsson',
  'Nilsson',
  'Eriksson',
  'Larsson',
  'Pettersson',
  'Söderberg',
  'Hägglund',
  'Wållberg',
  'Åkesson',
  'Lövgren',
] as const;

/** Every full name once: picking one allocates nothing. */
const FULL_NAMES = FIRST_NAMES.flatMap((first) => LAST_NAMES.map((last) => `${first} ${last}`));

type Method = 'QL' | 'K' | 'KG' | 'CL' | 'WA' | 'SP' | 'SS' | 'SCH' | 'SW' | null;

/** Cumulative shares of the payment mix; null = an old order without <payment>. */
const METHOD_MIX: ReadonlyArray<readonly [number, Method]> = [
  [0.24, 'QL'],
  [0.36, 'K'],
  [0.46, 'KG'],
  [0.52, 'CL'],
  [0.62, 'WA'],
  [0.7, 'SP'],
  [0.75, 'SS'],
  [0.79, 'SCH'],
  [0.98, 'SW'],
  [1, null],
];

/** The merchant's id at each provider (payTypeIdentifierPaySystemUser). */
const PAY_SYSTEM_USER: Record<Exclude<Method, null>, string> = {
  QL: '12345',
  K: 'PK04711_8f2c1d',
  KG: 'PK04711_8f2c1d',
  CL: '7001',
  WA: '7001',
  SP: '124842',
  SS: '124842',
  SCH: '124842',
  SW: '1231181189',
};

/** mulberry32: tiny, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The last Sunday of `month` (0-based) at 01:00 UTC: when EU clocks change. */
function lastSundayAt0100Utc(year: number, month: number): number {
  const lastDay = Date.UTC(year, month + 1, 0, 1);
  return lastDay - new Date(lastDay).getUTCDay() * DAY_MS;
}

/** The year last asked about, so consecutive timestamps need no Date object. */
let offsetYear = { from: 0, to: -1, summerFrom: 0, summerTo: 0 };

/** Europe/Stockholm: UTC+2 from the last Sunday of March to the last Sunday of October, else UTC+1. */
function stockholmOffsetMs(utcMs: number): number {
  if (utcMs < offsetYear.from || utcMs >= offsetYear.to) {
    const year = new Date(utcMs).getUTCFullYear();
    offsetYear = {
      from: Date.UTC(year, 0, 1),
      to: Date.UTC(year + 1, 0, 1),
      summerFrom: lastSundayAt0100Utc(year, 2),
      summerTo: lastSundayAt0100Utc(year, 9),
    };
  }
  return utcMs >= offsetYear.summerFrom && utcMs < offsetYear.summerTo ? 2 * 3_600_000 : 3_600_000;
}

/*
 * Strings are written as bytes into one scratch buffer and decoded once: a template literal
 * builds a tree of cons-strings per value, and keeping 100,000 orders' worth of those alive made
 * garbage collection most of the seeding time.
 */
const scratch = Buffer.alloc(64);
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const DIGIT_0 = 0x30;
const dayBytes = new Map<number, Buffer>();

function writeTwoDigits(at: number, n: number): void {
  scratch[at] = DIGIT_0 + floor(n / 10);
  scratch[at + 1] = DIGIT_0 + (n % 10);
}

/** "YYYY-MM-DD HH:mm:ss" in Stockholm local time, no offset (as Specter writes timestamps). */
export function formatStockholm(utcMs: number): string {
  const localMs = utcMs + stockholmOffsetMs(utcMs);
  const day = floor(localMs / DAY_MS);
  let date = dayBytes.get(day);
  if (date === undefined) {
    date = Buffer.from(`${new Date(day * DAY_MS).toISOString().slice(0, 10)} `, 'latin1');
    dayBytes.set(day, date);
  }
  scratch.set(date, 0);
  const seconds = floor((localMs - day * DAY_MS) / 1000);
  writeTwoDigits(11, floor(seconds / 3600));
  scratch[13] = 0x3a;
  writeTwoDigits(14, floor((seconds % 3600) / 60));
  scratch[16] = 0x3a;
  writeTwoDigits(17, seconds % 60);
  return scratch.toString('latin1', 0, 19);
}

/** Writes `nibbles` random hex digits at `at`, skipping the positions in `dashes` (written as "-"). */
function writeHex(random: () => number, at: number, length: number, dashes: readonly number[] = []): void {
  let word = 0;
  let left = 0;
  for (let i = 0; i < length; i += 1) {
    if (dashes.includes(i)) {
      scratch[at + i] = 0x2d;
      continue;
    }
    if (left === 0) {
      word = floor(random() * 4294967296);
      left = 8;
    }
    scratch[at + i] = HEX[word & 0xf]!;
    word >>>= 4;
    left -= 1;
  }
}

function hex32(random: () => number): string {
  writeHex(random, 0, 32);
  return scratch.toString('latin1', 0, 32);
}

const UUID_DASHES = [8, 13, 18, 23] as const;

function uuid(random: () => number): string {
  writeHex(random, 0, 36, UUID_DASHES);
  scratch[14] = 0x34; // version 4
  scratch[19] = HEX[8 + floor(random() * 4)]!; // variant 10xx
  return scratch.toString('latin1', 0, 36);
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[floor(random() * items.length)]!;
}

function amount(random: () => number): string {
  // Mostly everyday prices ending in 9 (e.g. 1249.00), a long tail up to ~15,000 SEK.
  const r = random();
  const kronor = floor(r * r * r * 1500) * 10 + 99 + (random() < 0.5 ? 150 : 0);
  const ore = random() < 0.85 ? '00' : random() < 0.5 ? '50' : '90';
  return `${kronor}.${ore}`;
}

function reference(method: Exclude<Method, null>, random: () => number): string {
  switch (method) {
    case 'QL':
      return `QLIRO-${3_000_000 + floor(random() * 6_000_000)}`;
    case 'K':
    case 'KG':
    case 'CL':
    case 'WA':
      return uuid(random);
    case 'SP':
    case 'SS':
    case 'SCH':
      return String(10_000_000 + floor(random() * 89_999_999));
    case 'SW':
      return hex32(random).toUpperCase();
  }
}

/**
 * `count` orders with consecutive orderNos from `firstOrderNo`, dated evenly (with jitter) over
 * the `lookbackDays` before `now`, oldest first. Deterministic for (options, seed).
 */
export function seedOrders(options: SeedOptions): SandboxOrder[] {
  const count = options.count;
  const firstOrderNo = options.firstOrderNo ?? 100001;
  const nowMs = (options.now ?? new Date()).getTime();
  const lookbackMs = (options.lookbackDays ?? 60) * DAY_MS;
  const random = prng(options.seed ?? 1);
  const startMs = nowMs - lookbackMs;
  const stepMs = count > 0 ? lookbackMs / count : 0;
  const orders: SandboxOrder[] = new Array<SandboxOrder>(count);

  for (let i = 0; i < count; i += 1) {
    // Jitter stays inside the step, so dates rise with orderNo like a real shop's.
    const placedMs = floor(startMs + (i + random() * 0.9) * stepMs);
    const ageDays = (nowMs - placedMs) / DAY_MS;
    const methodRoll = random();
    let method: Method = null;
    for (const [share, m] of METHOD_MIX) {
      if (methodRoll < share) {
        method = m;
        break;
      }
    }
    const old = method === null;
    const cancelled = !old && random() < 0.04;
    const delivered = !cancelled && (old || (ageDays > 3 && random() < 0.9));
    const statusId = cancelled ? '5' : delivered ? '4' : random() < 0.5 ? '1' : '2';
    const deliveryStatus = old ? null : delivered ? 'D' : 'N';
    const changedMs = min(nowMs - 1000, placedMs + floor(random() * 2 * DAY_MS));
    const currencyRoll = random();
    const currency = currencyRoll < 0.96 ? 'SEK' : currencyRoll < 0.98 ? 'NOK' : 'EUR';
    const customerName = i === 0 ? 'Åsa Öberg' : pick(FULL_NAMES, random);

    orders[i] = {
      orderNo: String(firstOrderNo + i),
      externalOrderNo: `WEB-${5000 + i}`,
      orderDate: formatStockholm(placedMs),
      lastChanged: formatStockholm(changedMs),
      statusId,
      deliveryStatus,
      customerName,
      payment:
        method === null
          ? null
          : {
              payTypeIdentifier: method,
              payTypeReference: reference(method, random),
              payTypeIdentifierPaySystemUser: PAY_SYSTEM_USER[method],
              currency,
              totalIncVat: amount(random),
            },
    };
  }
  return orders;
}
