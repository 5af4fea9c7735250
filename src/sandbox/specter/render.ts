/**
 * The sandbox's XML: each order's <order> element, escaped so that one cached fragment serves both
 * encodings. Kept apart from the parser it feeds (src/specter/xml.ts): the two must not share code,
 * or a mistake in one would be agreed on by the other.
 */
import type { SandboxOrder } from './types.js';

// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /[&<>"'\u0000-\u001f\u007f-\u009f\u0100-\uffff]/;

/**
 * Attribute/text escaping. Characters beyond Latin-1 become numeric references, so one cached
 * fragment serves both encodings; å ä ö stay raw bytes (the point of the encoding tests).
 */
export function esc(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += `&#${cp};`;
    else if (cp < 0x20) out += '&#xFFFD;';
    else if (cp >= 0x7f && cp <= 0x9f) out += `&#${cp};`;
    else if (cp > 0xff) out += `&#${cp};`;
    else out += ch;
  }
  return out;
}

function attr(name: string, value: string | null): string {
  return value === null ? '' : ` ${name}="${esc(value)}"`;
}

/** The <order> element the sandbox serves for `o` (exported for round-trip tests of the parser). */
export function renderSandboxOrder(o: SandboxOrder): string {
  let xml = `<order${attr('orderNo', o.orderNo)}${attr('externalOrderNo', o.externalOrderNo)}${attr('orderDate', o.orderDate)}${attr('lastChanged', o.lastChanged)}>`;
  xml += `<orderstatus${attr('statusId', o.statusId)}${attr('deliveryStatus', o.deliveryStatus)}/>`;
  const p = o.payment;
  if (p !== null) {
    xml +=
      `<payment${attr('payTypeIdentifier', p.payTypeIdentifier)}${attr('payTypeReference', p.payTypeReference)}` +
      `${attr('payTypeIdentifierPaySystemUser', p.payTypeIdentifierPaySystemUser)}${attr('currency', p.currency)}` +
      `${attr('totalIncVat', p.totalIncVat)}/>`;
  }
  if (o.customerName !== null) xml += `<customer${attr('name', o.customerName)}/>`;
  if (o.extraXml !== undefined) xml += o.extraXml;
  return `${xml}</order>`;
}
