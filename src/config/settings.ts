/**
 * The app's settings table: every setting once — its environment variable, default, secrecy,
 * schema and description — in the shape of AppConfig (config/types.ts is derived from it), a
 * setting's place here being its JSON path in the config files. Read by config/engine.ts;
 * the rules across settings live in config/load.ts.
 */
import { z } from 'zod';
import {
  booleanText,
  consoleToken,
  cronExpression,
  httpUrl,
  integerIn,
  nonEmpty,
  oneOf,
  positiveInteger,
  postgresUrl,
  routingRule,
  statusIds,
} from './schemas.js';
import { fileSetting, setting, switchGroup } from './table.js';

// Walley's OAuth2 scopes are fixed per environment (the same values in Walley's own WooCommerce
// and Magento integrations); the UAT one is the default because the default base URL is UAT.
const WALLEY_UAT_SCOPE = '705798e0-8cef-427c-ae00-6023deba29af/.default';
export const WALLEY_PRODUCTION_SCOPE = 'a3f3019f-2be9-41cc-a254-7bb347238e89/.default';
export const WALLEY_PRODUCTION_HOST = 'api.walleypay.com';

export const SETTINGS = {
  // Specter first: without it nothing runs, so its errors are the ones to show first.
  specter: {
    /** Always ends with "/". */
    baseUrl: setting('SPECTER_BASE_URL', {
      default: 'https://api.specter.se/',
      schema: httpUrl(true),
      description: 'Specter API base URL (with or without a trailing slash).',
    }),
    sbmId: setting('SPECTER_SBM_ID', { required: true, schema: positiveInteger, description: 'The Specter account (SBM ID), a positive integer. Required.' }),
    apiUserId: setting('SPECTER_API_USER_ID', { required: true, schema: nonEmpty, description: 'Read API user id. Required.' }),
    apiUserKey: setting('SPECTER_API_USER_KEY', { required: true, secret: true, schema: nonEmpty, description: 'Read API user key. Secret; required.' }),
    /** Present → API v2 key scheme; null → v1. */
    integrationKey: setting('SPECTER_INTEGRATION_KEY', {
      secret: true,
      schema: nonEmpty,
      description: 'Integration key. Secret; present selects the API v2 key scheme, absent v1.',
    }),
    timeoutMs: setting('SPECTER_TIMEOUT_MS', { default: '30000', schema: positiveInteger, description: 'Timeout of one Specter request, in milliseconds.' }),
    maxAttempts: setting('SPECTER_MAX_ATTEMPTS', { default: '4', schema: positiveInteger, description: 'Attempts per Specter request before the run fails.' }),
    retryMinMs: setting('SPECTER_RETRY_MIN_MS', {
      default: '1000',
      schema: positiveInteger,
      description: 'Shortest backoff between Specter attempts, in milliseconds.',
    }),
    retryMaxMs: setting('SPECTER_RETRY_MAX_MS', {
      default: '15000',
      schema: positiveInteger,
      description: 'Longest backoff between Specter attempts, in milliseconds.',
    }),
    pageSize: setting('SPECTER_PAGE_SIZE', {
      default: '500',
      schema: integerIn(1, 500, 'an integer from 1 to 500'),
      description: "Orders asked for per listing page (1 to 500, Specter's maximum).",
    }),
    /** Action names: assumed (docs/specter.md), so configurable. */
    actions: {
      listOrders: fileSetting(z.string().min(1), 'Specter API action that lists orders.'),
      getOrder: fileSetting(z.string().min(1), 'Specter API action that reads one order.'),
    },
    /** How Specter's status fields map to ours (docs/specter.md, "Status map"). */
    statusMap: {
      cancelledStatusIds: fileSetting(statusIds.min(1), 'Specter statusId values that mean "cancelled".'),
      deliveredDeliveryStatuses: fileSetting(statusIds, 'Specter deliveryStatus values that mean "delivered".'),
    },
  },
  sync: {
    dbPath: setting('SYNC_DB_PATH', {
      default: './data/specter-sync.db',
      schema: nonEmpty,
      description: 'SQLite database file (relative paths are relative to the working directory).',
    }),
    databaseUrl: setting('SYNC_DATABASE_URL', {
      secret: true,
      schema: postgresUrl,
      description:
        'postgres://user:password@host:port/database (also postgresql://): use PostgreSQL instead of the SQLite file, for several replicas on one database. Secret: the whole value is redacted. Unset: SQLite at SYNC_DB_PATH.',
    }),
    schedule: setting('SYNC_SCHEDULE', {
      default: '*/5 * * * *',
      schema: cronExpression,
      description: 'Cron expression for `run` (5 fields, or 6 with seconds first).',
    }),
    lookbackDays: setting('SYNC_LOOKBACK_DAYS', { default: '60', schema: positiveInteger, description: 'Orders this many days old or newer are tracked.' }),
    vanishedAction: setting('VANISHED_ACTION', {
      default: 'flag',
      schema: oneOf('flag', 'cancel'),
      description: '`flag` (tell a person) or `cancel` (also send the cancellation) for a vanished order.',
    }),
    vanishGuardMaxPerRun: setting('VANISH_GUARD_MAX_PER_RUN', {
      default: '10',
      schema: positiveInteger,
      description: 'More vanished orders than this in one run: flag none, alert.',
    }),
    /** How long `run` waits for the cycle in flight after SIGTERM/SIGINT. */
    shutdownGraceMs: setting('SHUTDOWN_GRACE_MS', {
      default: '25000',
      schema: integerIn(0, 3_600_000, 'a whole number of milliseconds from 0 to 3600000'),
      description: 'On SIGTERM/SIGINT, `run` waits this long (ms) for the cycle in flight; 25 s fits inside the 30 s a container stop gives.',
    }),
    /** How long the single-writer lease lasts without renewal. */
    leaseTtlMs: setting('SYNC_LEASE_TTL_MS', {
      default: '120000',
      schema: positiveInteger,
      description:
        'How long the database lease lasts without renewal (ms); its holder renews it every quarter of this while it holds it (a `run` holds it until it stops). A holder that dies is replaced within this long plus one tick (one on this host at the next tick).',
    }),
  },
  dispatch: {
    maxAttempts: setting('DISPATCH_MAX_ATTEMPTS', {
      default: '8',
      schema: positiveInteger,
      description: 'Attempts per cancellation job before it fails permanently.',
    }),
    retryMinMs: setting('DISPATCH_RETRY_MIN_MS', {
      default: '1000',
      schema: positiveInteger,
      description: 'Shortest backoff between attempts of a job, in milliseconds.',
    }),
    retryMaxMs: setting('DISPATCH_RETRY_MAX_MS', {
      default: '300000',
      schema: positiveInteger,
      description: 'Longest backoff between attempts of a job, in milliseconds.',
    }),
    /** An accepted job not confirmed final within this long fails with an alert. */
    confirmDeadlineMs: setting('DISPATCH_CONFIRM_DEADLINE_MS', {
      default: '86400000',
      schema: positiveInteger,
      description: 'A cancellation the provider accepted but has not confirmed within this long (ms; 24 h) fails with an alert.',
    }),
  },
  /** A provider whose credentials are not set is off (null): its jobs wait, pending. */
  providers: {
    /** Timeout of one provider request. */
    requestTimeoutMs: setting('PROVIDER_TIMEOUT_MS', {
      default: '15000',
      schema: positiveInteger,
      description: 'Timeout of one request to a payment provider, in milliseconds.',
    }),
    // Every base URL has a default and so is validated even for a provider that is off: a typo
    // should fail now, not on the day the credentials are added.
    qliro: switchGroup('Qliro', {
      baseUrl: setting('QLIRO_BASE_URL', {
        default: 'https://pago.qit.nu',
        schema: httpUrl(false),
        description: 'Qliro One admin API base URL (test; production is https://payments.qit.nu).',
      }),
      merchantApiKey: setting('QLIRO_MERCHANT_API_KEY', {
        secret: true,
        schema: nonEmpty,
        description: 'Qliro merchant API key. Treated as a secret; set with the secret to turn Qliro on.',
      }),
      merchantApiSecret: setting('QLIRO_MERCHANT_API_SECRET', { secret: true, schema: nonEmpty, description: 'Qliro merchant API secret. Secret.' }),
    }),
    klarna: switchGroup('Klarna', {
      baseUrl: setting('KLARNA_BASE_URL', {
        default: 'https://api.playground.klarna.com',
        schema: httpUrl(false),
        description: 'Klarna Order Management base URL (playground; production is https://api.klarna.com).',
      }),
      username: setting('KLARNA_USERNAME', { schema: nonEmpty, description: 'Klarna API user name; set with the password to turn Klarna on.' }),
      password: setting('KLARNA_PASSWORD', { secret: true, schema: nonEmpty, description: 'Klarna API password. Secret.' }),
    }),
    walley: switchGroup('Walley', {
      baseUrl: setting('WALLEY_BASE_URL', {
        default: 'https://api.uat.walleydev.com',
        schema: httpUrl(false),
        description: 'Walley Management API base URL (UAT; production is https://api.walleypay.com).',
      }),
      clientId: setting('WALLEY_CLIENT_ID', { schema: nonEmpty, description: 'Walley OAuth2 client id; set with the client secret to turn Walley on.' }),
      clientSecret: setting('WALLEY_CLIENT_SECRET', { secret: true, schema: nonEmpty, description: 'Walley OAuth2 client secret. Secret.' }),
      /** Unset: chosen by the base URL's host (config/load.ts). */
      scope: setting('WALLEY_SCOPE', {
        default: WALLEY_UAT_SCOPE,
        schema: nonEmpty,
        description: `Walley OAuth2 scope. Unset: the UAT scope, or ${WALLEY_PRODUCTION_SCOPE} when WALLEY_BASE_URL is https://${WALLEY_PRODUCTION_HOST}.`,
      }),
    }),
    svea: switchGroup('Svea', {
      baseUrl: setting('SVEA_BASE_URL', {
        default: 'https://paymentadminapistage.svea.com',
        schema: httpUrl(false),
        description: 'Svea Payment Admin API base URL (stage; production is https://paymentadminapi.svea.com).',
      }),
      merchantId: setting('SVEA_MERCHANT_ID', { schema: nonEmpty, description: 'Svea checkout merchant id; set with the secret to turn Svea on.' }),
      secret: setting('SVEA_SECRET', { secret: true, schema: nonEmpty, description: 'Svea checkout secret. Secret.' }),
    }),
  },
  routing: fileSetting(
    z.array(routingRule),
    'Routing rules, first match wins: payTypeIdentifiers and/or referencePrefix → a provider, handledBySpecter, or elsewhere (settled outside specter-sync, quiet on purpose).',
  ),
  log: {
    level: setting('LOG_LEVEL', {
      default: 'info',
      schema: oneOf('debug', 'info', 'warn', 'error'),
      description: 'Least severe log level written: `debug`, `info`, `warn` or `error`.',
    }),
    format: setting('LOG_FORMAT', {
      default: 'json',
      schema: oneOf('json', 'pretty'),
      description: '`json` (one object per line, for machines) or `pretty` (for terminals).',
    }),
  },
  http: {
    port: setting('HTTP_PORT', {
      default: '9464',
      schema: integerIn(0, 65535, 'a port number from 0 to 65535'),
      description: 'Port of the health and metrics endpoint of `run` (`0` = off).',
    }),
    host: setting('HTTP_HOST', { default: '127.0.0.1', schema: nonEmpty, description: 'Address the health and metrics endpoint listens on.' }),
  },
  /** The operator console (src/console): off unless its token is set. */
  console: {
    token: setting('CONSOLE_TOKEN', {
      secret: true,
      schema: consoleToken,
      description:
        'When set, `run` serves the operator console at `/` on `HTTP_PORT` (which must not be `0`), signed in with this token (at least 16 characters). Secret; unset: no console.',
    }),
    secureCookie: setting('CONSOLE_SECURE_COOKIE', {
      default: 'false',
      schema: booleanText,
      description: '`true` marks the console session cookie `Secure`: set it when the console is reached over HTTPS (behind a TLS-terminating reverse proxy).',
    }),
  },
};
