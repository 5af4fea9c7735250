/**
 * The zod schemas the settings are parsed with. A scalar's schema takes the string form an
 * operator writes; its message reads after the quoted value (`"sixty" is not a positive integer`).
 */
import { validate as isValidCron } from 'node-cron';
import { z } from 'zod';
import { PROVIDER_NAMES } from '../domain.js';

export function integerIn(min: number, max: number, what: string) {
  const message = `is not ${what}`;
  // Digits only: Number() would also accept "1e3", " 12 ", "0x10" and "" (as 0). z.int() is a
  // safe integer, so twenty digits are refused rather than rounded.
  return z
    .string()
    .regex(/^[0-9]+$/, message)
    .transform(Number)
    .pipe(z.int(message).min(min, message).max(max, message));
}

export const positiveInteger = integerIn(1, Number.MAX_SAFE_INTEGER, 'a positive integer');

export function oneOf<const V extends readonly [string, ...string[]]>(...values: V) {
  return z.enum(values, { error: `is not one of ${values.map((v) => `"${v}"`).join(', ')}` });
}

/** Any string with a character that is not white space (the value itself is kept as written). */
export const nonEmpty = z.string().regex(/\S/, 'is empty');

/**
 * Specter's base URL must END with "/" (paths are resolved against it); providers' base URLs must
 * NOT (their clients append "/path"). Accepting both spellings saves a support round-trip.
 */
export function httpUrl(trailingSlash: boolean) {
  return (
    z
      .string()
      .refine((raw) => URL.canParse(raw), { error: 'is not a URL', abort: true })
      .transform((raw) => new URL(raw))
      .refine((url) => url.protocol === 'http:' || url.protocol === 'https:', { error: 'is not an http(s) URL', abort: true })
      // Credentials in a URL would be logged with every request line.
      .refine((url) => url.username === '' && url.password === '', { error: 'must not contain a user name or password', abort: true })
      .refine((url) => url.search === '' && url.hash === '', { error: 'must not have a query or fragment', abort: true })
      .transform((url) => {
        const withoutSlash = url.href.replace(/\/+$/, '');
        return trailingSlash ? `${withoutSlash}/` : withoutSlash;
      })
  );
}

/**
 * A PostgreSQL connection URL, kept exactly as written: the whole value is a secret, and the
 * logger redacts it by its exact text. Problems are worded without echoing any part of it.
 */
export const postgresUrl = z
  .string()
  .refine((raw) => URL.canParse(raw), { error: 'is not a URL (expected postgres://user:password@host:port/database)', abort: true })
  .refine((raw) => ['postgres:', 'postgresql:'].includes(new URL(raw).protocol), { error: 'must start with postgres:// or postgresql://', abort: true })
  .refine((raw) => new URL(raw).hostname !== '', { error: 'names no host (expected postgres://user:password@host:port/database)', abort: true })
  .refine((raw) => new URL(raw).pathname.replace(/^\//, '') !== '', { error: 'names no database (expected postgres://user:password@host:port/database)' });

/** `true` or `false`, as written. */
export const booleanText = oneOf('true', 'false').transform((value) => value === 'true');

/** The console's sign-in token: long enough that guessing it through a rate-limited form is hopeless. */
export const consoleToken = z.string().refine((raw) => raw.trim().length >= 16, 'is shorter than 16 characters (use e.g. `openssl rand -hex 32`)');

export const cronExpression = z.string().refine((raw) => isValidCron(raw), 'is not a valid cron expression (e.g. "*/5 * * * *")');

// ---------------------------------------------------------------------------------------------
// Structure (JSON files only).

/** Specter status values, written as strings or numbers in the file, compared as strings. */
export const statusIds = z.array(z.union([z.string().min(1), z.number().int()]).transform(String));

export const routingRule = z
  .strictObject({
    /** Matches when the order's payTypeIdentifier is one of these … */
    payTypeIdentifiers: z.array(z.string().min(1)).min(1).optional(),
    /** … or its payTypeReference starts with this prefix (stripped to get the provider's id). */
    referencePrefix: z.string().min(1).optional(),
    /**
     * `handledBySpecter`: Specter releases the payment itself (Svea); `elsewhere`: the merchant
     * settles these payments outside specter-sync, so a cancelled or vanished order stays quiet.
     */
    provider: z.enum([...PROVIDER_NAMES, 'handledBySpecter', 'elsewhere']),
    /** The provider's id must match this (e.g. Qliro's OrderId is an integer: "^[0-9]+$"). */
    providerIdPattern: z
      .string()
      .refine((pattern) => {
        try {
          new RegExp(pattern);
          return true;
        } catch {
          return false;
        }
      }, 'is not a valid regular expression')
      .optional(),
  })
  .refine((rule) => rule.payTypeIdentifiers !== undefined || rule.referencePrefix !== undefined, {
    message: 'needs payTypeIdentifiers or referencePrefix (a rule matching everything would hide unrouted orders)',
  });
