/**
 * Loads and validates the configuration once, at start; every other module takes its slice of
 * the resulting AppConfig as plain values.
 *
 * Sources, later wins:
 *   1. the built-in defaults in SETTINGS below (the one table of every scalar setting);
 *   2. `<configDir>/default.json` (ships with the package: Specter action names, status map, routing);
 *   3. `<configDir>/<NODE_ENV>.json`, if present;
 *   4. environment variables (an empty variable counts as unset, as docker-compose's `FOO=` is).
 *
 * Secrets come only from the environment, or from the file named by `<NAME>_FILE`, never from a
 * JSON file: config files get committed, copied and attached to tickets. Every error names the
 * setting and where the value came from, and never prints a secret's value.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate as isValidCron } from 'node-cron';
import { z } from 'zod';
import { PROVIDER_NAMES } from '../domain.js';
import { ConfigError } from './errors.js';
import type { AppConfig, RoutingRule } from './types.js';

export { ConfigError } from './errors.js';

/** A parser's complaint about a value; the loader adds the setting, the value and the source. */
class Invalid extends Error {}

interface SettingDef<T> {
  /** Environment variable; secrets also accept `<env>_FILE`. */
  env: string;
  /** Dotted path in the JSON files. For a secret it is known only so that it can be refused. */
  path: string;
  /** In the string form an operator would write; null = no default (required or optional). */
  default: string | null;
  secret: boolean;
  description: string;
  parse: (raw: string) => T;
}

/** Identity helper: lets TypeScript infer each setting's parsed type in the SETTINGS table. */
function setting<T>(def: SettingDef<T>): SettingDef<T> {
  return def;
}

// ---------------------------------------------------------------------------------------------
// Parsers: each throws Invalid with a phrase that reads after the quoted value.

function integerIn(min: number, max: number, what: string): (raw: string) => number {
  return (raw) => {
    // Digits only: Number() would also accept "1e3", " 12 ", "0x10" and "" (as 0).
    if (!/^[0-9]+$/.test(raw)) throw new Invalid(`is not ${what}`);
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new Invalid(`is not ${what}`);
    return value;
  };
}
const positiveInteger = integerIn(1, Number.MAX_SAFE_INTEGER, 'a positive integer');

function oneOf<const V extends string>(...values: V[]): (raw: string) => V {
  return (raw) => {
    if ((values as string[]).includes(raw)) return raw as V;
    throw new Invalid(`is not one of ${values.map((v) => `"${v}"`).join(', ')}`);
  };
}

function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new Invalid('is empty');
  return raw;
}

/**
 * Specter's base URL must END with "/" (paths are resolved against it); providers' base URLs must
 * NOT (their clients append "/path"). Accepting both spellings saves a support round-trip.
 */
function httpUrl(trailingSlash: boolean): (raw: string) => string {
  return (raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Invalid('is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Invalid('is not an http(s) URL');
    // Credentials in a URL would be logged with every request line.
    if (url.username !== '' || url.password !== '') throw new Invalid('must not contain a user name or password');
    if (url.search !== '' || url.hash !== '') throw new Invalid('must not have a query or fragment');
    const withoutSlash = url.href.replace(/\/+$/, '');
    return trailingSlash ? `${withoutSlash}/` : withoutSlash;
  };
}

function cronExpression(raw: string): string {
  if (!isValidCron(raw)) throw new Invalid('is not a valid cron expression (e.g. "*/5 * * * *")');
  return raw;
}

// Walley's OAuth2 scopes are fixed per environment (the same values in Walley's own WooCommerce
// and Magento integrations); the UAT one is the default because the default base URL is UAT.
const WALLEY_UAT_SCOPE = '705798e0-8cef-427c-ae00-6023deba29af/.default';
const WALLEY_PRODUCTION_SCOPE = 'a3f3019f-2be9-41cc-a254-7bb347238e89/.default';
const WALLEY_PRODUCTION_HOST = 'api.walleypay.com';

// ---------------------------------------------------------------------------------------------
// The table: every scalar setting, its variable, JSON path, default, parser and secrecy.

const SETTINGS = {
  SPECTER_BASE_URL: setting({
    env: 'SPECTER_BASE_URL', path: 'specter.baseUrl', default: 'https://api.specter.se/', secret: false,
    description: 'Specter API base URL (with or without a trailing slash).', parse: httpUrl(true),
  }),
  SPECTER_SBM_ID: setting({
    env: 'SPECTER_SBM_ID', path: 'specter.sbmId', default: null, secret: false,
    description: 'The Specter account (SBM ID), a positive integer. Required.', parse: positiveInteger,
  }),
  SPECTER_API_USER_ID: setting({
    env: 'SPECTER_API_USER_ID', path: 'specter.apiUserId', default: null, secret: false,
    description: 'Read API user id. Required.', parse: nonEmpty,
  }),
  SPECTER_API_USER_KEY: setting({
    env: 'SPECTER_API_USER_KEY', path: 'specter.apiUserKey', default: null, secret: true,
    description: 'Read API user key. Secret; required.', parse: nonEmpty,
  }),
  SPECTER_INTEGRATION_KEY: setting({
    env: 'SPECTER_INTEGRATION_KEY', path: 'specter.integrationKey', default: null, secret: true,
    description: 'Integration key. Secret; present selects the API v2 key scheme, absent v1.', parse: nonEmpty,
  }),
  SPECTER_TIMEOUT_MS: setting({
    env: 'SPECTER_TIMEOUT_MS', path: 'specter.timeoutMs', default: '30000', secret: false,
    description: 'Timeout of one Specter request, in milliseconds.', parse: positiveInteger,
  }),
  SPECTER_MAX_ATTEMPTS: setting({
    env: 'SPECTER_MAX_ATTEMPTS', path: 'specter.maxAttempts', default: '4', secret: false,
    description: 'Attempts per Specter request before the run fails.', parse: positiveInteger,
  }),
  SPECTER_RETRY_MIN_MS: setting({
    env: 'SPECTER_RETRY_MIN_MS', path: 'specter.retryMinMs', default: '1000', secret: false,
    description: 'Shortest backoff between Specter attempts, in milliseconds.', parse: positiveInteger,
  }),
  SPECTER_RETRY_MAX_MS: setting({
    env: 'SPECTER_RETRY_MAX_MS', path: 'specter.retryMaxMs', default: '15000', secret: false,
    description: 'Longest backoff between Specter attempts, in milliseconds.', parse: positiveInteger,
  }),
  SPECTER_PAGE_SIZE: setting({
    env: 'SPECTER_PAGE_SIZE', path: 'specter.pageSize', default: '500', secret: false,
    description: 'Orders asked for per listing page (1 to 500, Specter\'s maximum).',
    parse: integerIn(1, 500, 'an integer from 1 to 500'),
  }),
  SYNC_DB_PATH: setting({
    env: 'SYNC_DB_PATH', path: 'sync.dbPath', default: './data/specter-sync.db', secret: false,
    description: 'SQLite database file (relative paths are relative to the working directory).', parse: nonEmpty,
  }),
  SYNC_SCHEDULE: setting({
    env: 'SYNC_SCHEDULE', path: 'sync.schedule', default: '*/5 * * * *', secret: false,
    description: 'Cron expression for `run` (5 fields, or 6 with seconds first).', parse: cronExpression,
  }),
  SYNC_LOOKBACK_DAYS: setting({
    env: 'SYNC_LOOKBACK_DAYS', path: 'sync.lookbackDays', default: '60', secret: false,
    description: 'Orders this many days old or newer are tracked.', parse: positiveInteger,
  }),
  VANISHED_ACTION: setting({
    env: 'VANISHED_ACTION', path: 'sync.vanishedAction', default: 'flag', secret: false,
    description: '`flag` (tell a person) or `cancel` (also send the cancellation) for a vanished order.',
    parse: oneOf('flag', 'cancel'),
  }),
  VANISH_GUARD_MAX_PER_RUN: setting({
    env: 'VANISH_GUARD_MAX_PER_RUN', path: 'sync.vanishGuardMaxPerRun', default: '10', secret: false,
    description: 'More vanished orders than this in one run: flag none, alert.', parse: positiveInteger,
  }),
  DISPATCH_MAX_ATTEMPTS: setting({
    env: 'DISPATCH_MAX_ATTEMPTS', path: 'dispatch.maxAttempts', default: '8', secret: false,
    description: 'Attempts per cancellation job before it fails permanently.', parse: positiveInteger,
  }),
  DISPATCH_RETRY_MIN_MS: setting({
    env: 'DISPATCH_RETRY_MIN_MS', path: 'dispatch.retryMinMs', default: '1000', secret: false,
    description: 'Shortest backoff between attempts of a job, in milliseconds.', parse: positiveInteger,
  }),
  DISPATCH_RETRY_MAX_MS: setting({
    env: 'DISPATCH_RETRY_MAX_MS', path: 'dispatch.retryMaxMs', default: '300000', secret: false,
    description: 'Longest backoff between attempts of a job, in milliseconds.', parse: positiveInteger,
  }),
  DISPATCH_CONFIRM_DEADLINE_MS: setting({
    env: 'DISPATCH_CONFIRM_DEADLINE_MS', path: 'dispatch.confirmDeadlineMs', default: '86400000', secret: false,
    description: 'A cancellation the provider accepted but has not confirmed within this long (ms; 24 h) fails with an alert.',
    parse: positiveInteger,
  }),
  PROVIDER_TIMEOUT_MS: setting({
    env: 'PROVIDER_TIMEOUT_MS', path: 'providers.requestTimeoutMs', default: '15000', secret: false,
    description: 'Timeout of one request to a payment provider, in milliseconds.', parse: positiveInteger,
  }),
  QLIRO_BASE_URL: setting({
    env: 'QLIRO_BASE_URL', path: 'providers.qliro.baseUrl', default: 'https://pago.qit.nu', secret: false,
    description: 'Qliro One admin API base URL (test; production is https://payments.qit.nu).', parse: httpUrl(false),
  }),
  QLIRO_MERCHANT_API_KEY: setting({
    env: 'QLIRO_MERCHANT_API_KEY', path: 'providers.qliro.merchantApiKey', default: null, secret: true,
    description: 'Qliro merchant API key. Treated as a secret; set with the secret to turn Qliro on.', parse: nonEmpty,
  }),
  QLIRO_MERCHANT_API_SECRET: setting({
    env: 'QLIRO_MERCHANT_API_SECRET', path: 'providers.qliro.merchantApiSecret', default: null, secret: true,
    description: 'Qliro merchant API secret. Secret.', parse: nonEmpty,
  }),
  KLARNA_BASE_URL: setting({
    env: 'KLARNA_BASE_URL', path: 'providers.klarna.baseUrl', default: 'https://api.playground.klarna.com', secret: false,
    description: 'Klarna Order Management base URL (playground; production is https://api.klarna.com).', parse: httpUrl(false),
  }),
  KLARNA_USERNAME: setting({
    env: 'KLARNA_USERNAME', path: 'providers.klarna.username', default: null, secret: false,
    description: 'Klarna API user name; set with the password to turn Klarna on.', parse: nonEmpty,
  }),
  KLARNA_PASSWORD: setting({
    env: 'KLARNA_PASSWORD', path: 'providers.klarna.password', default: null, secret: true,
    description: 'Klarna API password. Secret.', parse: nonEmpty,
  }),
  WALLEY_BASE_URL: setting({
    env: 'WALLEY_BASE_URL', path: 'providers.walley.baseUrl', default: 'https://api.uat.walleydev.com', secret: false,
    description: 'Walley Management API base URL (UAT; production is https://api.walleypay.com).', parse: httpUrl(false),
  }),
  WALLEY_CLIENT_ID: setting({
    env: 'WALLEY_CLIENT_ID', path: 'providers.walley.clientId', default: null, secret: false,
    description: 'Walley OAuth2 client id; set with the client secret to turn Walley on.', parse: nonEmpty,
  }),
  WALLEY_CLIENT_SECRET: setting({
    env: 'WALLEY_CLIENT_SECRET', path: 'providers.walley.clientSecret', default: null, secret: true,
    description: 'Walley OAuth2 client secret. Secret.', parse: nonEmpty,
  }),
  WALLEY_SCOPE: setting({
    env: 'WALLEY_SCOPE', path: 'providers.walley.scope', default: WALLEY_UAT_SCOPE, secret: false,
    description: `Walley OAuth2 scope. Unset: the UAT scope, or ${WALLEY_PRODUCTION_SCOPE} when WALLEY_BASE_URL is https://${WALLEY_PRODUCTION_HOST}.`,
    parse: nonEmpty,
  }),
  SVEA_BASE_URL: setting({
    env: 'SVEA_BASE_URL', path: 'providers.svea.baseUrl', default: 'https://paymentadminapistage.svea.com', secret: false,
    description: 'Svea Payment Admin API base URL (stage; production is https://paymentadminapi.svea.com).', parse: httpUrl(false),
  }),
  SVEA_MERCHANT_ID: setting({
    env: 'SVEA_MERCHANT_ID', path: 'providers.svea.merchantId', default: null, secret: false,
    description: 'Svea checkout merchant id; set with the secret to turn Svea on.', parse: nonEmpty,
  }),
  SVEA_SECRET: setting({
    env: 'SVEA_SECRET', path: 'providers.svea.secret', default: null, secret: true,
    description: 'Svea checkout secret. Secret.', parse: nonEmpty,
  }),
  LOG_LEVEL: setting({
    env: 'LOG_LEVEL', path: 'log.level', default: 'info', secret: false,
    description: 'Least severe log level written: `debug`, `info`, `warn` or `error`.',
    parse: oneOf('debug', 'info', 'warn', 'error'),
  }),
  LOG_FORMAT: setting({
    env: 'LOG_FORMAT', path: 'log.format', default: 'json', secret: false,
    description: '`json` (one object per line, for machines) or `pretty` (for terminals).', parse: oneOf('json', 'pretty'),
  }),
  HTTP_PORT: setting({
    env: 'HTTP_PORT', path: 'http.port', default: '9464', secret: false,
    description: 'Port of the health and metrics endpoint of `run` (`0` = off).',
    parse: integerIn(0, 65535, 'a port number from 0 to 65535'),
  }),
  HTTP_HOST: setting({
    env: 'HTTP_HOST', path: 'http.host', default: '127.0.0.1', secret: false,
    description: 'Address the health and metrics endpoint listens on.', parse: nonEmpty,
  }),
  SHUTDOWN_GRACE_MS: setting({
    env: 'SHUTDOWN_GRACE_MS', path: 'sync.shutdownGraceMs', default: '25000', secret: false,
    description: 'On SIGTERM/SIGINT, `run` waits this long (ms) for the cycle in flight; 25 s fits inside the 30 s a container stop gives.',
    parse: integerIn(0, 3_600_000, 'a whole number of milliseconds from 0 to 3600000'),
  }),
  SYNC_LEASE_TTL_MS: setting({
    env: 'SYNC_LEASE_TTL_MS', path: 'sync.leaseTtlMs', default: '120000', secret: false,
    description: 'How long the database lease lasts without renewal (ms); its holder renews it every quarter of this while it works. A holder that dies is replaced within this long (one on this host at once).',
    parse: positiveInteger,
  }),
} as const;

type SettingName = keyof typeof SETTINGS;
const ALL_SETTINGS: readonly SettingDef<unknown>[] = Object.values(SETTINGS);

// ---------------------------------------------------------------------------------------------
// Structured settings: JSON files only (no environment variable), validated with zod.

const statusIds = z.array(z.union([z.string().min(1), z.number().int()]).transform(String));

const routingRule = z
  .strictObject({
    payTypeIdentifiers: z.array(z.string().min(1)).min(1).optional(),
    referencePrefix: z.string().min(1).optional(),
    provider: z.enum([...PROVIDER_NAMES, 'handledBySpecter', 'elsewhere']),
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

const FILE_SETTINGS = {
  'specter.actions.listOrders': {
    schema: z.string().min(1),
    description: 'Specter API action that lists orders.',
  },
  'specter.actions.getOrder': {
    schema: z.string().min(1),
    description: 'Specter API action that reads one order.',
  },
  'specter.statusMap.cancelledStatusIds': {
    schema: statusIds.min(1),
    description: 'Specter statusId values that mean "cancelled".',
  },
  'specter.statusMap.deliveredDeliveryStatuses': {
    schema: statusIds,
    description: 'Specter deliveryStatus values that mean "delivered".',
  },
  routing: {
    schema: z.array(routingRule),
    description: 'Routing rules, first match wins: payTypeIdentifiers and/or referencePrefix → a provider, handledBySpecter, or elsewhere (settled outside specter-sync, quiet on purpose).',
  },
} as const;
type FileSettingPath = keyof typeof FILE_SETTINGS;

// ---------------------------------------------------------------------------------------------
// Known JSON keys, as a tree: anything else in a file is a typo and refused.

interface ObjectNode {
  kind: 'object';
  children: Map<string, KeyNode>;
}
type KeyNode =
  | ObjectNode
  | { kind: 'setting'; def: SettingDef<unknown> }
  | { kind: 'file-setting'; path: FileSettingPath };

const KEY_TREE: ObjectNode = buildKeyTree();

function buildKeyTree(): ObjectNode {
  const root: ObjectNode = { kind: 'object', children: new Map() };
  const add = (path: string, leaf: KeyNode): void => {
    const parts = path.split('.');
    let node: KeyNode = root;
    parts.forEach((part, i) => {
      if (node.kind !== 'object') throw new Error(`config table: ${path} nests under a leaf`);
      if (i === parts.length - 1) {
        node.children.set(part, leaf);
        return;
      }
      let next = node.children.get(part);
      if (next === undefined) {
        next = { kind: 'object', children: new Map() };
        node.children.set(part, next);
      }
      node = next;
    });
  };
  for (const def of ALL_SETTINGS) add(def.path, { kind: 'setting', def });
  for (const path of Object.keys(FILE_SETTINGS) as FileSettingPath[]) add(path, { kind: 'file-setting', path });
  return root;
}

/** A key for people, allowed anywhere: JSON has no comments. */
const COMMENT_KEY = '$comment';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(value: Record<string, unknown>, node: ObjectNode, prefix: string, file: string): void {
  for (const [key, child] of Object.entries(value)) {
    if (key === COMMENT_KEY) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const known = node.children.get(key);
    if (known === undefined) {
      const hint = closestKey(key, [...node.children.keys()]);
      throw new ConfigError(path, `unknown setting${hint === null ? '' : `; did you mean "${hint}"?`}`, file);
    }
    if (known.kind === 'object') {
      if (!isPlainObject(child)) throw new ConfigError(path, 'must be an object', `${file}: ${path}`);
      checkKeys(child, known, path, file);
    } else if (known.kind === 'setting' && known.def.secret) {
      // Refused even when the value looks harmless: the file is the leak, not the value.
      throw new ConfigError(
        known.def.env,
        `secrets come only from the environment (value hidden); set ${known.def.env} or ${known.def.env}_FILE and remove it from the file`,
        `${file}: ${path}`,
      );
    }
  }
}

/** The known key nearest to a typo (edit distance ≤ 3), for the error message. */
function closestKey(key: string, candidates: string[]): string | null {
  let best: string | null = null;
  let bestDistance = 4;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Files.

interface Layer {
  file: string;
  data: Record<string, unknown>;
}

/** The package's own config/ folder: src/config/load.ts and dist/config/load.js are both two levels down. */
function packageConfigDir(): string {
  return fileURLToPath(new URL('../../config/', import.meta.url));
}

function readLayer(file: string, required: boolean): Layer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return null;
    throw new ConfigError(basename(file), `cannot be read (${code ?? 'error'})`, file);
  }
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    // Only the position: newer V8 messages quote a snippet of the file, which may hold a secret.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new ConfigError(basename(file), `is not valid JSON${position === undefined ? '' : ` (${lineAndColumn(text, Number(position))})`}`, file);
  }
  if (!isPlainObject(data)) throw new ConfigError(basename(file), 'must hold a JSON object', file);
  checkKeys(data, KEY_TREE, '', file);
  return { file, data };
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function valueAt(data: Record<string, unknown>, path: string): unknown {
  let node: unknown = data;
  for (const part of path.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Reading one setting.

interface Found {
  raw: string;
  source: string;
}

const BUILT_IN_DEFAULT = 'built-in default';

interface Context {
  env: NodeJS.ProcessEnv;
  layers: Layer[];
}

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function findRaw(def: SettingDef<unknown>, ctx: Context): Found | null {
  const fromEnv = envValue(ctx.env, def.env);
  if (!def.secret && envValue(ctx.env, `${def.env}_FILE`) !== undefined) {
    // Ignoring it would run with a value the operator did not mean.
    throw new ConfigError(`${def.env}_FILE`, `${def.env} is not a secret and is not read from a file; set ${def.env} itself`, `environment variable ${def.env}_FILE`);
  }
  if (def.secret) {
    const fileVar = `${def.env}_FILE`;
    const file = envValue(ctx.env, fileVar);
    if (fromEnv !== undefined && file !== undefined) {
      throw new ConfigError(def.env, `is set both directly and through ${fileVar}; set only one`, `environment variables ${def.env} and ${fileVar}`);
    }
    if (file !== undefined) return { raw: readSecretFile(fileVar, file), source: `the file named by ${fileVar} (${file})` };
  }
  if (fromEnv !== undefined) return { raw: fromEnv, source: `environment variable ${def.env}` };
  if (!def.secret) {
    for (let i = ctx.layers.length - 1; i >= 0; i--) {
      const layer = ctx.layers[i];
      if (layer === undefined) continue;
      const value = valueAt(layer.data, def.path);
      if (value === undefined) continue;
      const source = `${layer.file}: ${def.path}`;
      if (typeof value === 'string') return { raw: value, source };
      if (typeof value === 'number' && Number.isFinite(value)) return { raw: String(value), source };
      throw new ConfigError(def.env, `must be a string or a number, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`, source);
    }
  }
  if (def.default !== null) return { raw: def.default, source: BUILT_IN_DEFAULT };
  return null;
}

function readSecretFile(fileVar: string, file: string): string {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(fileVar, `the file ${file} cannot be read (${code})`, `environment variable ${fileVar}`);
  }
  // Exactly one trailing newline is the editor's or `echo`'s, not the secret's.
  const secret = content.replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError(fileVar, `the file ${file} is empty`, `environment variable ${fileVar}`);
  return secret;
}

interface Resolved<T> {
  value: T;
  source: string;
}

function where(def: SettingDef<unknown>, ctx: Context): string {
  if (def.secret) return `environment variables ${def.env} and ${def.env}_FILE`;
  const files = ctx.layers.map((layer) => `${layer.file}: ${def.path}`);
  return [`environment variable ${def.env}`, ...files].join(', ');
}

function read<T>(def: SettingDef<T>, ctx: Context): Resolved<T> | null {
  const found = findRaw(def, ctx);
  if (found === null) return null;
  try {
    return { value: def.parse(found.raw), source: found.source };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    const shown = def.secret ? '(value hidden)' : JSON.stringify(found.raw);
    throw new ConfigError(def.env, `${shown} ${error.message}`, found.source);
  }
}

function readRequired<T>(def: SettingDef<T>, ctx: Context): Resolved<T> {
  const resolved = read(def, ctx);
  if (resolved === null) throw new ConfigError(def.env, 'required but not set', where(def, ctx), 'looked in');
  return resolved;
}

function readFileSetting<P extends FileSettingPath>(path: P, ctx: Context): z.output<(typeof FILE_SETTINGS)[P]['schema']> {
  for (let i = ctx.layers.length - 1; i >= 0; i--) {
    const layer = ctx.layers[i];
    if (layer === undefined) continue;
    const value = valueAt(layer.data, path);
    if (value === undefined) continue;
    const result = FILE_SETTINGS[path].schema.safeParse(value);
    if (result.success) return result.data as z.output<(typeof FILE_SETTINGS)[P]['schema']>;
    const issue = result.error.issues[0];
    const at = `${path}${(issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
    throw new ConfigError(at, issue?.message ?? 'is invalid', `${layer.file}: ${at}`);
  }
  const files = ctx.layers.length === 0 ? 'no config file was found' : ctx.layers.map((layer) => layer.file).join(', ');
  throw new ConfigError(path, 'required but not set (it belongs in default.json)', files, 'looked in');
}

// ---------------------------------------------------------------------------------------------
// Providers: on only when every credential is set.

function readProvider<C extends Record<string, string>>(
  label: string,
  credentials: { [K in keyof C]: SettingDef<string> },
  ctx: Context,
): C | null {
  const values = Object.entries(credentials as Record<string, SettingDef<string>>).map(([key, def]) => ({
    key,
    def,
    resolved: read(def, ctx),
  }));
  const present = values.find((v) => v.resolved !== null);
  if (present === undefined) return null;
  const missing = values.find((v) => v.resolved === null);
  if (missing !== undefined) {
    throw new ConfigError(
      missing.def.env,
      `required because ${present.def.env} is set (from ${present.resolved?.source ?? 'unknown'}); set every ${label} credential to turn ${label} on, or none to leave it off`,
      where(missing.def, ctx),
      'looked in',
    );
  }
  return Object.fromEntries(values.map((v) => [v.key, v.resolved?.value])) as C;
}

function checkOrder(min: SettingDef<number>, max: SettingDef<number>, ctx: Context): void {
  const low = readRequired(min, ctx);
  const high = readRequired(max, ctx);
  if (low.value > high.value) {
    throw new ConfigError(min.env, `${low.value} is greater than ${max.env} (${high.value}, from ${high.source})`, low.source);
  }
}

function checkNodeEnv(env: NodeJS.ProcessEnv): string | null {
  const nodeEnv = envValue(env, 'NODE_ENV');
  if (nodeEnv === undefined) return null;
  // It becomes part of a file name: no separators, no "..".
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(nodeEnv)) {
    throw new ConfigError('NODE_ENV', `${JSON.stringify(nodeEnv)} is not a plain name (letters, digits, "-", "_")`, 'environment variable NODE_ENV');
  }
  return nodeEnv;
}

// ---------------------------------------------------------------------------------------------

export function loadConfig(options: { env?: NodeJS.ProcessEnv; configDir?: string } = {}): AppConfig {
  const env = options.env ?? process.env;
  const dirFromEnv = envValue(env, 'SYNC_CONFIG_DIR');
  const [configDir, dirSource] =
    options.configDir !== undefined
      ? [resolve(options.configDir), 'the configDir option']
      : dirFromEnv !== undefined
        ? [resolve(dirFromEnv), 'environment variable SYNC_CONFIG_DIR']
        : [packageConfigDir(), "the package's own config/ folder"];
  let isDirectory = false;
  try {
    isDirectory = statSync(configDir).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new ConfigError('SYNC_CONFIG_DIR', `${configDir} is not a folder`, dirSource);

  const nodeEnv = checkNodeEnv(env);
  const layers: Layer[] = [];
  const defaults = readLayer(join(configDir, 'default.json'), false);
  if (defaults !== null) layers.push(defaults);
  if (nodeEnv !== null && nodeEnv !== 'default') {
    const overrides = readLayer(join(configDir, `${nodeEnv}.json`), false);
    if (overrides !== null) layers.push(overrides);
  }
  const ctx: Context = { env, layers };
  const get = <K extends SettingName>(name: K) => readRequired(SETTINGS[name] as SettingDef<ReturnType<(typeof SETTINGS)[K]['parse']>>, ctx).value;

  // Specter first: without it nothing runs, so its errors are the ones to show first.
  const specterBaseUrl = get('SPECTER_BASE_URL');
  const sbmId = get('SPECTER_SBM_ID');
  const apiUserId = get('SPECTER_API_USER_ID');
  const apiUserKey = get('SPECTER_API_USER_KEY');
  const integrationKey = read(SETTINGS.SPECTER_INTEGRATION_KEY, ctx)?.value ?? null;
  checkOrder(SETTINGS.SPECTER_RETRY_MIN_MS, SETTINGS.SPECTER_RETRY_MAX_MS, ctx);
  checkOrder(SETTINGS.DISPATCH_RETRY_MIN_MS, SETTINGS.DISPATCH_RETRY_MAX_MS, ctx);

  const qliro = readProvider<{ merchantApiKey: string; merchantApiSecret: string }>(
    'Qliro',
    { merchantApiKey: SETTINGS.QLIRO_MERCHANT_API_KEY, merchantApiSecret: SETTINGS.QLIRO_MERCHANT_API_SECRET },
    ctx,
  );
  const klarna = readProvider<{ username: string; password: string }>(
    'Klarna',
    { username: SETTINGS.KLARNA_USERNAME, password: SETTINGS.KLARNA_PASSWORD },
    ctx,
  );
  const walley = readProvider<{ clientId: string; clientSecret: string }>(
    'Walley',
    { clientId: SETTINGS.WALLEY_CLIENT_ID, clientSecret: SETTINGS.WALLEY_CLIENT_SECRET },
    ctx,
  );
  const svea = readProvider<{ merchantId: string; secret: string }>(
    'Svea',
    { merchantId: SETTINGS.SVEA_MERCHANT_ID, secret: SETTINGS.SVEA_SECRET },
    ctx,
  );

  // Validate every base URL even for a provider that is off: a typo should fail now, not on the
  // day the credentials are added.
  const qliroBaseUrl = get('QLIRO_BASE_URL');
  const klarnaBaseUrl = get('KLARNA_BASE_URL');
  const walleyBaseUrl = get('WALLEY_BASE_URL');
  const sveaBaseUrl = get('SVEA_BASE_URL');
  const walleyScope = read(SETTINGS.WALLEY_SCOPE, ctx);
  const scope =
    walleyScope !== null && walleyScope.source !== BUILT_IN_DEFAULT
      ? walleyScope.value
      : new URL(walleyBaseUrl).host === WALLEY_PRODUCTION_HOST
        ? WALLEY_PRODUCTION_SCOPE
        : WALLEY_UAT_SCOPE;

  const config: AppConfig = {
    specter: {
      baseUrl: specterBaseUrl,
      sbmId,
      apiUserId,
      apiUserKey,
      integrationKey,
      timeoutMs: get('SPECTER_TIMEOUT_MS'),
      maxAttempts: get('SPECTER_MAX_ATTEMPTS'),
      retryMinMs: get('SPECTER_RETRY_MIN_MS'),
      retryMaxMs: get('SPECTER_RETRY_MAX_MS'),
      pageSize: get('SPECTER_PAGE_SIZE'),
      actions: {
        listOrders: readFileSetting('specter.actions.listOrders', ctx),
        getOrder: readFileSetting('specter.actions.getOrder', ctx),
      },
      statusMap: {
        cancelledStatusIds: readFileSetting('specter.statusMap.cancelledStatusIds', ctx),
        deliveredDeliveryStatuses: readFileSetting('specter.statusMap.deliveredDeliveryStatuses', ctx),
      },
    },
    sync: {
      dbPath: get('SYNC_DB_PATH'),
      schedule: get('SYNC_SCHEDULE'),
      lookbackDays: get('SYNC_LOOKBACK_DAYS'),
      vanishedAction: get('VANISHED_ACTION'),
      vanishGuardMaxPerRun: get('VANISH_GUARD_MAX_PER_RUN'),
      shutdownGraceMs: get('SHUTDOWN_GRACE_MS'),
      leaseTtlMs: get('SYNC_LEASE_TTL_MS'),
    },
    dispatch: {
      maxAttempts: get('DISPATCH_MAX_ATTEMPTS'),
      retryMinMs: get('DISPATCH_RETRY_MIN_MS'),
      retryMaxMs: get('DISPATCH_RETRY_MAX_MS'),
      confirmDeadlineMs: get('DISPATCH_CONFIRM_DEADLINE_MS'),
    },
    providers: {
      qliro: qliro === null ? null : { baseUrl: qliroBaseUrl, ...qliro },
      klarna: klarna === null ? null : { baseUrl: klarnaBaseUrl, ...klarna },
      walley: walley === null ? null : { baseUrl: walleyBaseUrl, ...walley, scope },
      svea: svea === null ? null : { baseUrl: sveaBaseUrl, ...svea },
      requestTimeoutMs: get('PROVIDER_TIMEOUT_MS'),
    },
    routing: readFileSetting('routing', ctx) as RoutingRule[],
    log: { level: get('LOG_LEVEL'), format: get('LOG_FORMAT') },
    http: { port: get('HTTP_PORT'), host: get('HTTP_HOST') },
    secrets: [],
  };
  config.secrets = collectSecrets(config);
  return config;
}

/**
 * Every secret value, plus the forms a leak would take that redaction cannot derive by itself:
 * HTTP Basic credentials are base64 of "user:password", which contains neither part literally.
 */
function collectSecrets(config: AppConfig): string[] {
  const { specter, providers } = config;
  const basic = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');
  const values = [
    specter.apiUserKey,
    specter.integrationKey,
    providers.qliro?.merchantApiKey,
    providers.qliro?.merchantApiSecret,
    providers.klarna?.password,
    providers.klarna && basic(providers.klarna.username, providers.klarna.password),
    providers.walley?.clientSecret,
    // Walley's token endpoint also accepts client credentials as Basic auth.
    providers.walley && basic(providers.walley.clientId, providers.walley.clientSecret),
    providers.svea?.secret,
  ];
  return [...new Set(values.filter((v): v is string => typeof v === 'string' && v !== ''))];
}

// ---------------------------------------------------------------------------------------------
// Descriptions, for the README and `specter-sync --help`.

export interface SettingDescription {
  env: string;
  /** JSON path in the config files; null for settings read only from the environment (secrets). */
  path: string | null;
  default: string | null;
  secret: boolean;
  description: string;
}

export function describeSettings(): SettingDescription[] {
  return [
    ...ALL_SETTINGS.map((def) => ({
      env: def.env,
      path: def.secret ? null : def.path,
      default: def.default,
      secret: def.secret,
      description: def.secret ? `${def.description} Also read from the file named by ${def.env}_FILE.` : def.description,
    })),
    {
      env: 'SYNC_CONFIG_DIR',
      path: null,
      default: null,
      secret: false,
      description: "Folder of the configuration files (default.json, then <NODE_ENV>.json). Default: the package's own config/.",
    },
    {
      env: 'NODE_ENV',
      path: null,
      default: null,
      secret: false,
      description: 'Selects the extra configuration file <NODE_ENV>.json, read after default.json when present.',
    },
  ];
}

/** Settings that live only in the JSON files (structure rather than deployment values). */
export function describeFileSettings(): Array<{ path: string; description: string }> {
  return Object.entries(FILE_SETTINGS).map(([path, { description }]) => ({ path, description }));
}
