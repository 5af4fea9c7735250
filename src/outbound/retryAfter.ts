/**
 * The one Retry-After rule of every outbound call (Specter and each provider), in milliseconds.
 *
 * RFC 9110 §10.2.3: `Retry-After = HTTP-date / delay-seconds`, delay-seconds being 1*DIGIT. So a
 * value is whole seconds, or a date in one of the three HTTP-date forms (IMF-fixdate and RFC 850
 * end in "GMT"; asctime carries no zone and is UTC by definition). Anything else ("1.5", "-3",
 * "0x10", "soon") is no Retry-After at all and the backoff decides alone: Date.parse would read
 * "1.5" as a day in 2001, Number would read "0x10" as 16. A date already past is 0 (now).
 * How long a caller is willing to wait is not decided here but by the backoff (backoff.ts).
 */

const DELAY_SECONDS = /^[0-9]+$/;
const ZONED_DATE = /^[A-Za-z]{3,9}, [0-9A-Za-z :-]+ GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} +[0-9]{1,2} [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$/;

/** The `retry-after` header of an answer (header names arrive lower-cased), or undefined. */
export function retryAfterMs(headers: { readonly [name: string]: unknown }, now: number = Date.now()): number | undefined {
  return parseRetryAfter(headers['retry-after'], now);
}

export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (DELAY_SECONDS.test(text)) return Number(text) * 1000;
  const at = ZONED_DATE.test(text) ? Date.parse(text) : ASCTIME_DATE.test(text) ? Date.parse(`${text} GMT`) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
