/**
 * Shared material for the Specter XML fuzz tests: a seed that reproduces, a renderer for valid
 * Specter documents (many spellings of the same content), the hostile values and fragments the
 * mutations splice in, and the validation rules an accepted order must satisfy — written here
 * independently of src/specter/xml.ts, so the parser is checked against the contract
 * (docs/specter.md), not against itself.
 */
import fc from 'fast-check';
import type { SpecterOrder } from '../../src/domain.js';

/** FUZZ_SEED=<n> reproduces a run; the default keeps CI deterministic. */
export function fuzzSeed(fallback: number): number {
  const raw = process.env['FUZZ_SEED'];
  if (raw === undefined || raw === '') return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(raw)}`);
  return seed;
}

/** Announces the seed before the run, so even a crash or a hang leaves it in the output. */
export function announceSeed(file: string, seed: number): void {
  process.stderr.write(`[fuzz] ${file}: seed ${seed} (reproduce with FUZZ_SEED=${seed})\n`);
}

// ---------------------------------------------------------------------------------------------
// The contract's validation rules (docs/specter.md), for every order the parser lets through
// ---------------------------------------------------------------------------------------------

const RULES = {
  orderNo: /^[1-9][0-9]*$/,
  dateTime: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])( ([01]\d|2[0-3]):[0-5]\d:[0-5]\d)?$/,
  statusId: /^[0-9]+$/,
  code: /^[A-Za-z0-9_]+$/,
  currency: /^[A-Z]{3}$/,
  decimal: /^-?[0-9]+(\.[0-9]+)?$/,
} as const;

/** Every violation of the rules in `order` (empty: the order is acceptable). */
export function ruleViolations(order: SpecterOrder): string[] {
  const v: string[] = [];
  const optional = (name: string, value: string | null, rule?: RegExp) => {
    if (value === null) return;
    if (value === '') v.push(`${name} is "" (must be null when not given)`);
    else if (rule && !rule.test(value)) v.push(`${name} ${JSON.stringify(value.slice(0, 60))} breaks ${rule}`);
  };
  if (typeof order.orderNo !== 'string' || !RULES.orderNo.test(order.orderNo)) v.push(`orderNo ${JSON.stringify(order.orderNo)} is not a positive integer`);
  if (typeof order.orderDate !== 'string' || !RULES.dateTime.test(order.orderDate)) v.push(`orderDate ${JSON.stringify(order.orderDate)}`);
  optional('lastChanged', order.lastChanged, RULES.dateTime);
  if (order.statusId === null || !RULES.statusId.test(order.statusId)) v.push(`statusId ${JSON.stringify(order.statusId)}`);
  optional('deliveryStatus', order.deliveryStatus, RULES.code);
  optional('externalOrderNo', order.externalOrderNo);
  optional('customerName', order.customerName);
  const p = order.payment;
  if (p !== null) {
    optional('payTypeIdentifier', p.payTypeIdentifier, RULES.code);
    optional('payTypeReference', p.payTypeReference);
    optional('payTypeIdentifierPaySystemUser', p.payTypeIdentifierPaySystemUser);
    optional('currency', p.currency, RULES.currency);
    optional('totalIncVat', p.totalIncVat, RULES.decimal);
  }
  return v;
}

export function headerViolations(header: Record<string, number | null>): string[] {
  return Object.entries(header)
    .filter(([, n]) => n !== null && !(Number.isSafeInteger(n) && n >= 0))
    .map(([name, n]) => `${name} ${String(n)} is not a non-negative integer`);
}

// ---------------------------------------------------------------------------------------------
// Valid orders and documents
// ---------------------------------------------------------------------------------------------

/** Characters names and references really carry, plus everything XML must escape. */
const TEXT_CHARS = [...'aZq09 -_./Åäöé€😀&<>"\'\n\t\r', '\u00a0', '\u2028', '\u{10348}'];
const text = fc.string({ unit: fc.constantFrom(...TEXT_CHARS), minLength: 1, maxLength: 16 });
const two = (n: number) => String(n).padStart(2, '0');

const dateTime = fc
  .record({
    y: fc.integer({ min: 1990, max: 2099 }),
    m: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 28 }),
    time: fc.option(fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 })), { freq: 6 }),
  })
  .map(({ y, m, d, time }) => `${y}-${two(m)}-${two(d)}${time === null ? '' : ` ${two(time[0])}:${two(time[1])}:${two(time[2])}`}`);

const paymentArb = fc.record({
  payTypeIdentifier: fc.option(fc.stringMatching(/^[A-Za-z0-9_]{1,4}$/)),
  payTypeReference: fc.option(text),
  payTypeIdentifierPaySystemUser: fc.option(text),
  currency: fc.option(fc.stringMatching(/^[A-Z]{3}$/)),
  totalIncVat: fc.option(fc.stringMatching(/^-?[0-9]{1,7}(\.[0-9]{1,2})?$/)),
});

/** An order without its orderNo (assigned in ascending order by `ordersArb`). */
const orderBodyArb = fc.record({
  externalOrderNo: fc.option(text),
  orderDate: dateTime,
  lastChanged: fc.option(dateTime),
  statusId: fc.stringMatching(/^[0-9]{1,3}$/),
  deliveryStatus: fc.option(fc.stringMatching(/^[A-Za-z0-9_]{1,3}$/)),
  customerName: fc.option(text),
  payment: fc.option(paymentArb, { freq: 5 }),
});

function compareOrderNos(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

const orderNoArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 99_999_999 }).map(String) },
  // Beyond 2^53: order numbers are strings and must survive as such.
  { weight: 1, arbitrary: fc.stringMatching(/^[1-9][0-9]{15,24}$/) },
);

/** Orders sorted by orderNo, unique, as a listing page holds them. */
export function ordersArb(maxLength = 8): fc.Arbitrary<SpecterOrder[]> {
  return fc
    .uniqueArray(orderNoArb, { maxLength })
    .chain((nos) => fc.tuple(fc.constant([...nos].sort(compareOrderNos)), fc.array(orderBodyArb, { minLength: nos.length, maxLength: nos.length })))
    .map(([nos, bodies]) => nos.map((orderNo, i) => ({ orderNo, ...bodies[i]! })));
}

export type Encoding = 'utf-8' | 'iso-8859-1' | 'none';

/** How a valid document is spelled: none of this may change what it means. */
export interface Style {
  encoding: Encoding;
  /** The name in the declaration, e.g. "UTF-8", "latin1". */
  encodingName: string;
  bom: boolean;
  quote: '"' | "'";
  /** Non-ASCII characters as raw bytes (else as character references). */
  rawNonAscii: boolean;
  /** Whitespace / comments / PIs / CDATA / unknown elements and attributes between elements. */
  noise: boolean;
  /** Index rotation for attribute order. */
  rotate: number;
  leadingWhitespace: string;
  /** Per boundary filler choices (consumed round-robin). */
  fillers: number[];
}

export const styleArb: fc.Arbitrary<Style> = fc
  .record({
    encoding: fc.constantFrom<Encoding>('utf-8', 'iso-8859-1', 'none'),
    utfName: fc.constantFrom('utf-8', 'UTF-8', 'utf8'),
    latinName: fc.constantFrom('iso-8859-1', 'ISO-8859-1', 'latin1'),
    bom: fc.boolean(),
    quote: fc.constantFrom<'"' | "'">('"', "'"),
    rawNonAscii: fc.boolean(),
    noise: fc.boolean(),
    rotate: fc.nat(7),
    leadingWhitespace: fc.constantFrom('', '\n', '\r\n', ' \t\n'),
    fillers: fc.array(fc.nat(99), { minLength: 1, maxLength: 8 }),
  })
  .map((s) => ({
    encoding: s.encoding,
    encodingName: s.encoding === 'iso-8859-1' ? s.latinName : s.utfName,
    // A UTF-8 BOM on a document that declares iso-8859-1 is a contradiction (rejected on purpose).
    bom: s.bom && s.encoding !== 'iso-8859-1',
    quote: s.quote,
    rawNonAscii: s.rawNonAscii,
    noise: s.noise,
    rotate: s.rotate,
    leadingWhitespace: s.leadingWhitespace,
    fillers: s.fillers,
  }));

export const PLAIN_STYLE: Style = {
  encoding: 'utf-8',
  encodingName: 'utf-8',
  bom: false,
  quote: '"',
  rawNonAscii: true,
  noise: false,
  rotate: 0,
  leadingWhitespace: '',
  fillers: [0],
};

export interface Header {
  page: string | null;
  pageSize: string | null;
  totalPages: string | null;
  totalCount: string | null;
}

export interface DocModel {
  header: Header;
  /** Extra attributes on <orders>, raw. */
  headerExtra?: string;
  orders: SpecterOrder[];
  style: Style;
}

export function headerFor(orders: readonly SpecterOrder[]): Header {
  return { page: '1', pageSize: '500', totalPages: orders.length === 0 ? '0' : '1', totalCount: String(orders.length) };
}

export const docArb: fc.Arbitrary<DocModel> = fc.tuple(ordersArb(), styleArb).map(([orders, style]) => ({ header: headerFor(orders), orders, style }));

/** What a valid document parses to. */
export function expectedHeader(h: Header): Record<keyof Header, number | null> {
  const n = (v: string | null) => (v === null ? null : Number(v));
  return { page: n(h.page), pageSize: n(h.pageSize), totalPages: n(h.totalPages), totalCount: n(h.totalCount) };
}

export function escapeAttr(value: string, style: Pick<Style, 'quote' | 'rawNonAscii' | 'encoding'>): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === style.quote) out += style.quote === '"' ? '&quot;' : '&apos;';
    // Literal tab/newline/CR in an attribute are normalised to a space by XML: send references.
    else if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += `&#${cp};`;
    else if (cp < 0x80) out += ch;
    else if (style.rawNonAscii && (style.encoding !== 'iso-8859-1' || cp <= 0xff)) out += ch;
    else out += cp % 2 === 0 ? `&#${cp};` : `&#x${cp.toString(16)};`;
  }
  return out;
}

/** Fillers that mean nothing inside an element; some look like orders and must not count. */
const INNER_FILLERS = [
  '\n  ',
  '<!-- an <order orderNo="424242" orderDate="2026-01-01"/> in a comment -->',
  '<?specter-cache hit="yes"?>',
  '<![CDATA[<order orderNo="31337" orderDate="2026-01-01"><orderstatus statusId="5"/></order>]]>',
  '<note kind="info">free text &amp; more</note>',
  '<wrapper><order orderNo="777" orderDate="2026-01-01"><orderstatus statusId="5"/></order></wrapper>',
  ' \t\r\n',
];
/** Fillers allowed outside the root element (no text, no CDATA). */
const OUTER_FILLERS = ['\n', '<!-- generated by SBM -->', '<?xml-stylesheet type="text/xsl" href="x.xsl"?>', '\r\n'];

export function renderDoc(model: DocModel): Buffer {
  const { style } = model;
  const q = style.quote;
  let fillerIndex = 0;
  const filler = (outer: boolean): string => {
    if (!style.noise) return '\n';
    const pick = style.fillers[fillerIndex++ % style.fillers.length]!;
    const list = outer ? OUTER_FILLERS : INNER_FILLERS;
    return list[pick % list.length]!;
  };
  const attrs = (pairs: Array<[string, string | null]>, extra = ''): string => {
    const present = pairs.filter((p): p is [string, string] => p[1] !== null);
    const r = present.length === 0 ? 0 : style.rotate % present.length;
    const rotated = [...present.slice(r), ...present.slice(0, r)];
    const unknown = style.noise ? ` x-unknown=${q}ignored${q}` : '';
    return rotated.map(([k, v]) => ` ${k}=${q}${escapeAttr(v, style)}${q}`).join('') + unknown + extra;
  };

  let body = '';
  for (const o of model.orders) {
    body += filler(false);
    body += `<order${attrs([
      ['orderNo', o.orderNo],
      ['externalOrderNo', o.externalOrderNo],
      ['orderDate', o.orderDate],
      ['lastChanged', o.lastChanged],
    ])}>`;
    body += filler(false);
    body += `<orderstatus${attrs([
      ['statusId', o.statusId],
      ['deliveryStatus', o.deliveryStatus],
    ])}/>`;
    const p = o.payment;
    if (p !== null) {
      body += filler(false);
      body += `<payment${attrs([
        ['payTypeIdentifier', p.payTypeIdentifier],
        ['payTypeReference', p.payTypeReference],
        ['payTypeIdentifierPaySystemUser', p.payTypeIdentifierPaySystemUser],
        ['currency', p.currency],
        ['totalIncVat', p.totalIncVat],
      ])}/>`;
    }
    if (o.customerName !== null) body += `<customer${attrs([['name', o.customerName]])}></customer>`;
    body += filler(false);
    body += '</order>';
  }
  const h = model.header;
  const headerAttrs = attrs(
    [
      ['page', h.page],
      ['pageSize', h.pageSize],
      ['totalPages', h.totalPages],
      ['totalCount', h.totalCount],
    ],
    model.headerExtra ?? '',
  );
  const declaration = style.encoding === 'none' ? '' : `<?xml version=${q}1.0${q} encoding=${q}${style.encodingName}${q}?>`;
  const xml =
    `${style.leadingWhitespace}${declaration}${filler(true)}<SBM>${filler(false)}<orders${headerAttrs}>${body}${filler(false)}</orders>` +
    `${filler(false)}</SBM>${filler(true)}`;
  const bytes = Buffer.from(xml, style.encoding === 'iso-8859-1' ? 'latin1' : 'utf8');
  return style.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]) : bytes;
}

// ---------------------------------------------------------------------------------------------
// Hostile material
// ---------------------------------------------------------------------------------------------

/** Values the contract forbids, per field. Each must make the whole document fail. */
export const BAD_VALUES = {
  orderNo: [
    '',
    '0',
    '00',
    '-1',
    '-100234',
    '1.5',
    '100234.0',
    'abc',
    ' 100234',
    '100234 ',
    '+1',
    '0100234',
    '1e5',
    '0x1F',
    '١٢٣',
    '12 34',
    'NaN',
    'Infinity',
    '100234\n',
    '１２３',
  ],
  orderDate: [
    '',
    '2026-13-01 10:00:00',
    '2026-11-20T10:15:00',
    '20/11/2026',
    '2026-11-20 24:00:00',
    '2026-11-20 10:15',
    '2026-11-20 10:15:00+01:00',
    '2026-1-5 10:00:00',
    '26-11-20 10:00:00',
    'yesterday',
    '2026-00-10 10:00:00',
    '2026-11-32 10:00:00',
    '2026-11-20 10:60:00',
    ' 2026-11-20 10:15:00',
    '2026-11-20  10:15:00',
    '2026-11-20 10:15:00.000',
    '2026/11/20',
  ],
  lastChanged: ['2026-13-01 10:00:00', '2026-11-20T10:15:00', 'never', '0000-00-00 00:00:00', '2026-11-20 10:15:00Z', '1700000000'],
  statusId: ['', '-1', '5.0', ' 5', '5 ', 'five', '+5', '0x5', '٥', '5,0'],
  deliveryStatus: ['D ', ' D', 'D-', 'ä', 'D,N', 'D/N'],
  currency: ['kr', 'sek', 'SEKK', 'SE', '€', 'S3K', ' SEK', 'SEK ', 'kr.', 'Sek'],
  totalIncVat: ['12,50', '1 249.00', 'NaN', 'Infinity', '1e3', '.5', '5.', '+5', '--5', '12.50 SEK', '0x10', '1,249.00', '١٢'],
  payTypeIdentifier: ['Q L', 'QL-', 'ÅÄ', 'K/KG', 'QL '],
  header: ['-1', '1.0', 'one', '1e2', '9999999999', ' 1', '0x1', '+1', '1 '],
} as const;

export type OrderField = Exclude<keyof typeof BAD_VALUES, 'header'>;

/** Entity-expansion and external-entity attacks, with a reference that would trigger them. */
export function billionLaughs(depth: number, width: number): { doctype: string; ref: string } {
  let doctype = '<!DOCTYPE SBM [\n  <!ENTITY lol0 "lol">\n';
  for (let i = 1; i <= depth; i += 1) doctype += `  <!ENTITY lol${i} "${`&lol${i - 1};`.repeat(width)}">\n`;
  return { doctype: `${doctype}]>`, ref: `&lol${depth};` };
}

export const EXTERNAL_ENTITY_DOCTYPES: ReadonlyArray<{ doctype: string; ref: string }> = [
  { doctype: '<!DOCTYPE SBM [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', ref: '&xxe;' },
  { doctype: '<!DOCTYPE SBM [<!ENTITY xxe PUBLIC "-//X//Y" "file:///etc/hostname">]>', ref: '&xxe;' },
  { doctype: '<!DOCTYPE SBM [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', ref: '' },
  { doctype: '<!DOCTYPE SBM SYSTEM "http://127.0.0.1:9/evil.dtd">', ref: '' },
  { doctype: '<!DOCTYPE SBM [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>', ref: '&xxe;' },
  { doctype: '<!DOCTYPE SBM>', ref: '' },
  { doctype: '<!DOCTYPE html>', ref: '' },
  { doctype: '<!DOCTYPE SBM [<!ENTITY a "&#38;#60;order orderNo=\'1\'/&#62;">]>', ref: '&a;' },
];

/** Byte sequences that are not UTF-8. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xfe]),
  Buffer.from([0xc3]), // lead byte without continuation
  Buffer.from([0x80]), // lone continuation
  Buffer.from([0xc0, 0xaf]), // overlong "/"
  Buffer.from([0xe0, 0x80, 0xaf]), // overlong
  Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
  Buffer.from([0xf4, 0x90, 0x80, 0x80]), // beyond U+10FFFF
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), // 5-byte form
  Buffer.from([0xe2, 0x82]), // truncated "€"
  Buffer.from([0xc5]), // Latin-1 "Å"
];

/** Structural damage whose every instance must be refused. */
export const WRONG_ROOTS: ReadonlyArray<(inner: string) => string> = [
  (inner) => `<sbm>${inner}</sbm>`,
  (inner) => `<SBMX>${inner}</SBMX>`,
  (inner) => `<x:SBM xmlns:x="urn:x">${inner}</x:SBM>`,
  (inner) => `<html><body>${inner}</body></html>`,
  (inner) => `<Root><SBM>${inner}</SBM></Root>`,
  (inner) => inner, // <orders> as the root
  (inner) => `<SBM>${inner}</SBM><SBM>${inner}</SBM>`,
  (inner) => `<SBM>${inner}</SBM>trailing text`,
  (inner) => `<SBM>${inner}</SBM><SBM/>`,
  (inner) => `<SBM>${inner}`,
  (inner) => `<SBM>${inner}</SBMX>`,
  (inner) => `<SBM>${inner}<orders page="1" pageSize="500" totalPages="0" totalCount="0"/></SBM>`,
  () => '<SBM></SBM>',
  () => '<SBM/>',
  () => '',
  () => '   ',
  () => 'not xml at all',
  () => '{"orders":[]}',
  (inner) => `<![CDATA[x]]><SBM>${inner}</SBM>`,
  (inner) => `<SBM>${inner}</SBM><?xml version="1.0"?>`,
  (inner) => `<SBM>${inner}<!-- unterminated comment </SBM>`,
  (inner) => `<SBM>${inner}<!-- bad -- comment --></SBM>`,
  (inner) => `<SBM>${inner}<?xml version="1.0"?></SBM>`,
];

/** `<orders>…</orders>` of a model, for the WRONG_ROOTS wrappers. */
export function ordersElement(xml: string): string {
  const start = xml.indexOf('<orders');
  const end = xml.lastIndexOf('</orders>');
  return start >= 0 && end >= 0 ? xml.slice(start, end + '</orders>'.length) : '<orders/>';
}

/** Prints bytes readably in a fast-check counterexample. */
export function showBytes(bytes: Buffer, max = 1500): string {
  const s = bytes.toString('latin1');
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…(${s.length} bytes)` : s);
}
