/**
 * HTML escaped by construction: a page is built only with the `html` tag, which escapes every
 * interpolated value unless it is already SafeHtml (made by this tag, or by `svg`). There is no
 * "raw" escape hatch, so text from Specter or a provider (a reference, an error message) can only
 * ever reach a page as text — forgetting to escape is not possible, only impossible to write.
 */

const BRAND: unique symbol = Symbol('SafeHtml');

export interface SafeHtml {
  readonly [BRAND]: true;
  readonly text: string;
}

/** What may be interpolated: text (escaped), numbers, nothing (null/undefined/false → empty), SafeHtml, or lists of them. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function safe(text: string): SafeHtml {
  return { [BRAND]: true, text };
}

function isSafe(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && (value as Partial<SafeHtml>)[BRAND] === true;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes for text and for quoted attribute values alike (both quote kinds, and the backtick old browsers honoured). */
function escapeText(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (isSafe(value)) return value.text;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  if (typeof value === 'string') return escapeText(value);
  if (typeof value === 'number' || typeof value === 'boolean') return escapeText(String(value));
  // Not reachable through the types: an object that is not SafeHtml is refused, never stringified.
  throw new TypeError('html: only text, numbers, SafeHtml and lists of them can be interpolated');
}

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return safe(out);
}

/** The text to send. */
export function toText(page: SafeHtml): string {
  return page.text;
}
