/**
 * What every client's payment read shares: building a PaymentRead, amounts turned into the major
 * units people read ("1249.00"), times into ISO 8601 UTC, and the `unknown` answer for a read that
 * failed. A read that failed is never "nothing reserved" (docs/providers.md).
 */
import type { Redactor } from '../outbound/redact.js';
import { describeAnswer, transportFailure } from './http.js';
import type { PaymentRead } from './types.js';

type Settled = Exclude<PaymentRead['state'], 'reserved' | 'unknown'>;

export function reservedRead(values: { reservedAmount: string | null; currency: string | null; expiresAt: string | null; detail: string }): PaymentRead {
  return { state: 'reserved', ...values };
}

export function settledRead(state: Settled, detail: string, currency: string | null = null): PaymentRead {
  return { state, reservedAmount: null, currency, expiresAt: null, detail };
}

export function unknownRead(detail: string, redactor?: Redactor): PaymentRead {
  return { state: 'unknown', reservedAmount: null, currency: null, expiresAt: null, detail: redactor ? redactor(detail) : detail };
}

/** No HTTP answer (timeout, reset, refused): unknown, with axios' own secret-free words. */
export function unknownFromTransport(error: unknown, redactor?: Redactor): PaymentRead {
  return unknownRead(`the order read got no answer: ${transportFailure(error).message}`, redactor);
}

/** An answer the client cannot place: unknown, naming the status and the start of the body. */
export function unknownFromAnswer(what: string, status: number, data: unknown, redactor?: Redactor): PaymentRead {
  return unknownRead(`${what}: ${describeAnswer(status, data)}`, redactor);
}

/**
 * Minor units (Klarna, Svea: öre, cents) as a major-unit decimal string. Integers only: a
 * fraction of a minor unit is not an amount any of them sends, so it is refused (null).
 */
export function minorToMajor(minor: number): string | null {
  if (!Number.isSafeInteger(minor) || minor < 0) return null;
  const whole = Math.floor(minor / 100);
  const cents = minor % 100;
  return `${whole}.${String(cents).padStart(2, '0')}`;
}

/** A major-unit number (Walley, Qliro) with two decimals; rounded to the cent, since JSON numbers are floats. */
export function majorToString(major: number): string | null {
  if (!Number.isFinite(major) || major < 0) return null;
  return minorToMajor(Math.round(major * 100));
}

/** An ISO 8601 time as UTC ("…Z"), or null when it is not a time at all. */
export function isoUtc(value: string | null | undefined): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}
