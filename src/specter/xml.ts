/**
 * Specter's XML answers, decoded and parsed. Pure: bytes or text in, validated values out.
 *
 * Parsing is most of a cycle's cost (100,000 orders ≈ 30 MB), so this is a single streaming
 * pass with saxes (strict) and hand-written checks per field; no schema library per order.
 * Every order is validated here, where it enters: a bad field fails the whole document with a
 * message naming the order, the field and the value, because acting on a half-understood order
 * (a statusId " 5" that does not match "5") would silently miss a cancellation.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { SpecterOrder, SpecterPayment } from '../domain.js';
import { SpecterError } from './errors.js';

export interface ParsedOrdersPage {
  page: number | null;
  pageSize: number | null;
  totalPages: number | null;
  totalCount: number | null;
  orders: SpecterOrder[];
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

const UTF8_NAMES = new Set(['utf-8', 'utf8']);
const LATIN1_NAMES = new Set(['iso-8859-1', 'iso8859-1', 'iso_8859-1', 'latin1', 'l1']);
const DECLARED_ENCODING = /^\s*<\?xml\s[^?]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/;
// fatal: a body that declares utf-8 but carries latin-1 bytes must fail, not turn "Åsa" into "�sa".
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes the body as its XML declaration says: utf-8 or iso-8859-1 (both occur on real
 * accounts). No declaration → utf-8, the XML default. Any other encoding → SpecterError('malformed').
 */
export function decodeSpecterBody(body: Buffer): string {
  let start = 0;
  const hasUtf8Bom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  if (hasUtf8Bom) start = 3;
  const head = body.toString('latin1', start, Math.min(body.length, start + 256));
  const declared = DECLARED_ENCODING.exec(head)?.[1]?.toLowerCase() ?? 'utf-8';
  if (UTF8_NAMES.has(declared)) {
    try {
      return utf8Decoder.decode(body.subarray(start));
    } catch {
      throw new SpecterError('malformed', 'the answer declares utf-8 but is not valid UTF-8');
    }
  }
  if (LATIN1_NAMES.has(declared)) {
    if (hasUtf8Bom) throw new SpecterError('malformed', 'the answer has a UTF-8 byte order mark but declares iso-8859-1');
    return body.toString('latin1', start);
  }
  throw new SpecterError('malformed', `the answer declares an unsupported encoding ${quote(declared)} (expected utf-8 or iso-8859-1)`);
}

// ---------------------------------------------------------------------------------------------
// Field checks (kept as precompiled regexes: a few µs per order is the budget)
// ---------------------------------------------------------------------------------------------

/** No leading zeros: order numbers are compared as numbers by length, then lexically. */
const ORDER_NO = /^[1-9][0-9]*$/;
const DATE_TIME = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])(?: (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?$/;
const STATUS_ID = /^[0-9]+$/;
const CODE_LIKE = /^[A-Za-z0-9_]+$/;
const CURRENCY = /^[A-Z]{3}$/;
const DECIMAL = /^-?[0-9]+(?:\.[0-9]+)?$/;
const NON_NEGATIVE_INT = /^[0-9]{1,9}$/;

function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

function malformed(message: string): SpecterError {
  return new SpecterError('malformed', message);
}

/**
 * One string instance per distinct short code (statusId "5", currency "SEK", method "K", …): a
 * listing of 100,000 orders otherwise keeps 400,000 copies of a handful of values (~10 MB).
 * Bounded, so a shop with unusual values costs at most this many entries.
 */
const interned = new Map<string, string>();
const MAX_INTERNED = 1024;
function intern(value: string | null): string | null {
  if (value === null) return null;
  const hit = interned.get(value);
  if (hit !== undefined) return hit;
  if (interned.size < MAX_INTERNED && value.length <= 16) interned.set(value, value);
  return value;
}

/** Optional attributes: missing and "" both mean "not given" (old orders carry either). */
function optional(value: string | undefined): string | null {
  return value === undefined || value === '' ? null : value;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Where the parser is; one entry per open element. */
const enum Ctx {
  Root,
  Orders,
  Order,
  ApiResponse,
  ApiCode,
  ApiMessage,
  /** Known leaf (<orderstatus>, <payment>, <customer>) or anything unknown: contents ignored. */
  Ignored,
}

interface OrderBuilder {
  /** 1-based position on the page, to name an order that has no usable orderNo. */
  position: number;
  attributes: Record<string, string>;
  status: Record<string, string> | null;
  payment: Record<string, string> | null;
  customer: Record<string, string> | null;
}

function label(order: OrderBuilder): string {
  const orderNo = order.attributes['orderNo'];
  return orderNo !== undefined && ORDER_NO.test(orderNo) ? `order ${orderNo}` : `order #${order.position} on the page`;
}

function parseHeaderNumber(attributes: Record<string, string>, name: string): number | null {
  const value = attributes[name];
  if (value === undefined || value === '') return null;
  if (!NON_NEGATIVE_INT.test(value)) throw malformed(`<orders> attribute ${name} ${quote(value)} is not a non-negative integer`);
  return Number(value);
}

function checkDate(where: string, field: string, value: string): void {
  if (!DATE_TIME.test(value)) throw malformed(`${where}: ${field} ${quote(value)} is not "YYYY-MM-DD HH:mm:ss"`);
  // The pattern allows day 31 in every month: a day that does not exist (2026-02-30) is as
  // broken as any other malformed value, and would sort into the window by text.
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  if (day > 28 && day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    throw malformed(`${where}: ${field} ${quote(value)} is not a calendar date`);
  }
}

function buildPayment(where: string, a: Record<string, string>): SpecterPayment {
  const payTypeIdentifier = optional(a['payTypeIdentifier']);
  if (payTypeIdentifier !== null && !CODE_LIKE.test(payTypeIdentifier)) {
    throw malformed(`${where}: payTypeIdentifier ${quote(payTypeIdentifier)} is not a payment method code`);
  }
  const currency = optional(a['currency']);
  if (currency !== null && !CURRENCY.test(currency)) {
    throw malformed(`${where}: currency ${quote(currency)} is not an ISO 4217 code`);
  }
  const totalIncVat = optional(a['totalIncVat']);
  if (totalIncVat !== null && !DECIMAL.test(totalIncVat)) {
    throw malformed(`${where}: totalIncVat ${quote(totalIncVat)} is not a decimal with a dot`);
  }
  return {
    payTypeIdentifier: intern(payTypeIdentifier),
    payTypeReference: optional(a['payTypeReference']),
    payTypeIdentifierPaySystemUser: intern(optional(a['payTypeIdentifierPaySystemUser'])),
    currency: intern(currency),
    totalIncVat,
  };
}

function buildOrder(b: OrderBuilder): SpecterOrder {
  const a = b.attributes;
  const orderNo = a['orderNo'];
  if (orderNo === undefined || orderNo === '') throw malformed(`order #${b.position} on the page has no orderNo`);
  if (!ORDER_NO.test(orderNo)) throw malformed(`order #${b.position} on the page: orderNo ${quote(orderNo)} is not a positive integer`);
  const where = `order ${orderNo}`;

  const orderDate = a['orderDate'];
  if (orderDate === undefined || orderDate === '') throw malformed(`${where}: orderDate is missing`);
  checkDate(where, 'orderDate', orderDate);
  const lastChanged = optional(a['lastChanged']);
  if (lastChanged !== null) checkDate(where, 'lastChanged', lastChanged);

  if (b.status === null) throw malformed(`${where}: <orderstatus> is missing`);
  const statusId = b.status['statusId'];
  if (statusId === undefined || statusId === '') throw malformed(`${where}: statusId is missing`);
  if (!STATUS_ID.test(statusId)) throw malformed(`${where}: statusId ${quote(statusId)} is not an integer`);
  const deliveryStatus = optional(b.status['deliveryStatus']);
  if (deliveryStatus !== null && !CODE_LIKE.test(deliveryStatus)) {
    throw malformed(`${where}: deliveryStatus ${quote(deliveryStatus)} is not a status code`);
  }

  return {
    orderNo,
    externalOrderNo: optional(a['externalOrderNo']),
    orderDate,
    lastChanged,
    statusId: intern(statusId) ?? statusId,
    deliveryStatus: intern(deliveryStatus),
    customerName: b.customer === null ? null : optional(b.customer['name']),
    payment: b.payment === null ? null : buildPayment(where, b.payment),
  };
}

/**
 * Parses one Specter answer. Throws SpecterError kind 'api' (with `code`) for an
 * <APIresponse>, and kind 'malformed' for anything else that is not a well-formed
 * <SBM><orders>…</orders></SBM> with valid orders. Unknown elements and attributes are ignored.
 * Header attributes that are missing come back null: completeness is the caller's judgement.
 */
export function parseSpecterDocument(xml: string): ParsedOrdersPage {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: Ctx[] = [];
  const orders: SpecterOrder[] = [];
  let header: Omit<ParsedOrdersPage, 'orders'> | null = null;
  let sawRoot = false;
  let current: OrderBuilder | null = null;
  let orderPosition = 0;
  let apiCode: string | null = null;
  let apiMessage: string | null = null;
  let text = '';

  parser.on('doctype', () => {
    // saxes does not expand DTD entities, but a DOCTYPE has no business in an API answer and is
    // the vehicle of entity-expansion attacks (billion laughs): refuse it outright.
    throw malformed('the answer contains a DOCTYPE declaration, which is not allowed');
  });
  parser.on('error', (error) => {
    throw malformed(`the answer is not well-formed XML (${error.message})`);
  });
  parser.on('text', (chunk) => {
    const top = stack[stack.length - 1];
    if (top === Ctx.ApiCode || top === Ctx.ApiMessage) text += chunk;
  });
  parser.on('cdata', (chunk) => {
    const top = stack[stack.length - 1];
    if (top === Ctx.ApiCode || top === Ctx.ApiMessage) text += chunk;
  });

  parser.on('opentag', (tag: SaxesTagPlain) => {
    const parent = stack[stack.length - 1];
    const name = tag.name;
    if (parent === undefined) {
      if (sawRoot) throw malformed('the answer has more than one root element');
      if (name !== 'SBM') throw malformed(`the root element is <${name}>, expected <SBM>`);
      sawRoot = true;
      stack.push(Ctx.Root);
      return;
    }
    switch (parent) {
      case Ctx.Root:
        if (name === 'orders') {
          if (header !== null) throw malformed('the answer has more than one <orders> element');
          const a = tag.attributes;
          header = {
            page: parseHeaderNumber(a, 'page'),
            pageSize: parseHeaderNumber(a, 'pageSize'),
            totalPages: parseHeaderNumber(a, 'totalPages'),
            totalCount: parseHeaderNumber(a, 'totalCount'),
          };
          stack.push(Ctx.Orders);
        } else if (name === 'APIresponse') {
          stack.push(Ctx.ApiResponse);
        } else {
          stack.push(Ctx.Ignored);
        }
        return;
      case Ctx.Orders:
        if (name === 'order') {
          orderPosition += 1;
          current = { position: orderPosition, attributes: tag.attributes, status: null, payment: null, customer: null };
          stack.push(Ctx.Order);
        } else {
          stack.push(Ctx.Ignored);
        }
        return;
      case Ctx.Order: {
        const order = current!;
        if (name === 'orderstatus') {
          if (order.status !== null) throw malformed(`${label(order)}: more than one <orderstatus>`);
          order.status = tag.attributes;
        } else if (name === 'payment') {
          if (order.payment !== null) throw malformed(`${label(order)}: more than one <payment>`);
          order.payment = tag.attributes;
        } else if (name === 'customer') {
          if (order.customer !== null) throw malformed(`${label(order)}: more than one <customer>`);
          order.customer = tag.attributes;
        }
        stack.push(Ctx.Ignored);
        return;
      }
      case Ctx.ApiResponse:
        if (name === 'code') {
          text = '';
          stack.push(Ctx.ApiCode);
        } else if (name === 'message') {
          text = '';
          stack.push(Ctx.ApiMessage);
        } else {
          stack.push(Ctx.Ignored);
        }
        return;
      default:
        stack.push(Ctx.Ignored);
    }
  });

  parser.on('closetag', () => {
    const ctx = stack.pop();
    if (ctx === Ctx.Order) {
      orders.push(buildOrder(current!));
      current = null;
    } else if (ctx === Ctx.ApiCode) {
      apiCode = text.trim();
    } else if (ctx === Ctx.ApiMessage) {
      apiMessage = text.trim();
    } else if (ctx === Ctx.ApiResponse) {
      throw apiError(apiCode, apiMessage);
    }
  });

  // Classic ASP pages often emit a line break before the XML declaration (from a <% %> block
  // above it); strict XML forbids anything before the declaration, so drop leading whitespace.
  let start = 0;
  while (start < xml.length && isXmlSpace(xml.charCodeAt(start))) start += 1;
  parser.write(start === 0 ? xml : xml.slice(start)).close();

  if (!sawRoot) throw malformed('the answer holds no XML element');
  if (header === null) throw malformed('the answer has neither <orders> nor <APIresponse>');
  const h: Omit<ParsedOrdersPage, 'orders'> = header;
  return { page: h.page, pageSize: h.pageSize, totalPages: h.totalPages, totalCount: h.totalCount, orders };
}

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xfeff;
}

function apiError(code: string | null, message: string | null): SpecterError {
  if (code === null || !/^[0-9]{1,9}$/.test(code)) {
    return malformed(`<APIresponse> without a numeric <code> (${code === null ? 'none' : quote(code)})`);
  }
  const detail = message === null || message === '' ? '' : `: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`;
  return new SpecterError('api', `Specter answered code ${code}${detail}`, { code: Number(code) });
}
