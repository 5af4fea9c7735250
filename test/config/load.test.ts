import { afterEach, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, describeSettings, loadConfig } from '../../src/config/load.js';

const PACKAGE_DEFAULT = fileURLToPath(new URL('../../config/default.json', import.meta.url));

/** The minimum a real deployment sets. */
const REQUIRED = { SPECTER_SBM_ID: '1234', SPECTER_API_USER_ID: 'reader', SPECTER_API_USER_KEY: 'user-key-0001' };

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'specter-sync-config-'));
  dirs.push(dir);
  return dir;
}

/** A config folder holding the package's default.json plus the given files (objects are JSON-encoded). */
function configDir(files: Record<string, unknown> = {}): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'default.json'), readFileSync(PACKAGE_DEFAULT));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

/** Whether a file with mode 000 is unreadable here (it is not for root). */
function permissionsStopReads(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'specter-sync-config-probe-'));
  try {
    const file = join(dir, 'probe');
    writeFileSync(file, 'x');
    chmodSync(file, 0o000);
    try {
      readFileSync(file);
      return false;
    } catch {
      return true;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('sources and precedence', () => {
  test('the package defaults alone give the documented values', () => {
    const config = loadConfig({ env: { ...REQUIRED } });
    expect(config.specter).toMatchObject({
      baseUrl: 'https://api.specter.se/',
      sbmId: 1234,
      apiUserId: 'reader',
      apiUserKey: 'user-key-0001',
      integrationKey: null,
      timeoutMs: 30000,
      maxAttempts: 4,
      retryMinMs: 1000,
      retryMaxMs: 15000,
      pageSize: 500,
      actions: { listOrders: 'getOrders', getOrder: 'getOrder' },
      statusMap: { cancelledStatusIds: ['5'], deliveredDeliveryStatuses: ['D'] },
    });
    expect(config.sync).toEqual({
      dbPath: './data/specter-sync.db',
      databaseUrl: null,
      schedule: '*/5 * * * *',
      lookbackDays: 60,
      vanishedAction: 'flag',
      vanishGuardMaxPerRun: 10,
      shutdownGraceMs: 25000,
      leaseTtlMs: 120000,
    });
    expect(config.dispatch).toEqual({ maxAttempts: 8, retryMinMs: 1000, retryMaxMs: 300000, confirmDeadlineMs: 86400000 });
    expect(config.providers).toEqual({ qliro: null, klarna: null, walley: null, svea: null, requestTimeoutMs: 15000 });
    expect(config.log).toEqual({ level: 'info', format: 'json' });
    expect(config.http).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(config.routing).toEqual([
      { referencePrefix: 'QLIRO-', payTypeIdentifiers: ['QL'], provider: 'qliro', providerIdPattern: '^[0-9]+$' },
      { payTypeIdentifiers: ['K', 'KG'], provider: 'klarna' },
      { payTypeIdentifiers: ['CL', 'WA'], provider: 'walley' },
      { payTypeIdentifiers: ['SP', 'SS', 'SCH'], provider: 'handledBySpecter' },
    ]);
    expect(config.secrets).toEqual(['user-key-0001']);
  });

  test('default.json, then <NODE_ENV>.json, then the environment', () => {
    const dir = configDir({
      'production.json': { sync: { lookbackDays: 45, schedule: '0 * * * *' }, log: { format: 'pretty' } },
    });
    writeFileSync(
      join(dir, 'default.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(PACKAGE_DEFAULT, 'utf8')), sync: { lookbackDays: '30', dbPath: '/var/lib/s.db' } }),
    );

    const noNodeEnv = loadConfig({ configDir: dir, env: { ...REQUIRED } });
    expect(noNodeEnv.sync).toMatchObject({ lookbackDays: 30, dbPath: '/var/lib/s.db', schedule: '*/5 * * * *' });
    expect(noNodeEnv.log.format).toBe('json');

    const production = loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } });
    expect(production.sync).toMatchObject({ lookbackDays: 45, dbPath: '/var/lib/s.db', schedule: '0 * * * *' });
    expect(production.log.format).toBe('pretty');

    const withEnv = loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production', SYNC_LOOKBACK_DAYS: '50' } });
    expect(withEnv.sync.lookbackDays).toBe(50);
    expect(withEnv.sync.schedule).toBe('0 * * * *');

    // A NODE_ENV without a file of its own is fine.
    expect(loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'staging' } }).sync.lookbackDays).toBe(30);
  });

  test('an empty environment variable counts as unset', () => {
    const config = loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_LOOKBACK_DAYS: '', KLARNA_USERNAME: '' } });
    expect(config.sync.lookbackDays).toBe(60);
    expect(config.providers.klarna).toBeNull();
  });

  test('SYNC_CONFIG_DIR chooses the folder; the option wins over it', () => {
    const fromEnv = configDir({ 'test.json': { http: { port: 1111 } } });
    const fromOption = configDir({ 'test.json': { http: { port: 2222 } } });
    expect(loadConfig({ env: { ...REQUIRED, NODE_ENV: 'test', SYNC_CONFIG_DIR: fromEnv } }).http.port).toBe(1111);
    expect(loadConfig({ configDir: fromOption, env: { ...REQUIRED, NODE_ENV: 'test', SYNC_CONFIG_DIR: fromEnv } }).http.port).toBe(2222);
  });

  test('a config folder that does not exist is named', () => {
    const error = configError(() => loadConfig({ env: { ...REQUIRED, SYNC_CONFIG_DIR: '/nonexistent/specter-sync' } }));
    expect(error.setting).toBe('SYNC_CONFIG_DIR');
    expect(error.message).toContain('/nonexistent/specter-sync');
    expect(error.source).toBe('environment variable SYNC_CONFIG_DIR');
  });

  test('a NODE_ENV that is not a plain name is refused (it becomes a file name)', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, NODE_ENV: '../../etc/x' } }));
    expect(error.setting).toBe('NODE_ENV');
  });
});

describe('errors name the setting and where the value came from', () => {
  test('from the environment', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_LOOKBACK_DAYS: 'sixty' } }));
    expect(error.message).toBe('SYNC_LOOKBACK_DAYS: "sixty" is not a positive integer (from environment variable SYNC_LOOKBACK_DAYS)');
    expect(error.setting).toBe('SYNC_LOOKBACK_DAYS');
    expect(error.source).toBe('environment variable SYNC_LOOKBACK_DAYS');
  });

  test('from a JSON file, with the file and the JSON path', () => {
    const dir = configDir({ 'production.json': { sync: { lookbackDays: 'sixty' } } });
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } }));
    expect(error.message).toBe(`SYNC_LOOKBACK_DAYS: "sixty" is not a positive integer (from ${join(dir, 'production.json')}: sync.lookbackDays)`);
  });

  test.each([
    ['SPECTER_SBM_ID', '0', 'is not a positive integer'],
    ['SPECTER_SBM_ID', '12a', 'is not a positive integer'],
    ['SPECTER_TIMEOUT_MS', '1e3', 'is not a positive integer'],
    ['SPECTER_PAGE_SIZE', '501', 'is not an integer from 1 to 500'],
    ['HTTP_PORT', '70000', 'is not a port number from 0 to 65535'],
    ['VANISHED_ACTION', 'delete', 'is not one of "flag", "cancel"'],
    ['LOG_LEVEL', 'verbose', 'is not one of "debug", "info", "warn", "error"'],
    ['LOG_FORMAT', 'xml', 'is not one of "json", "pretty"'],
    ['SYNC_LEASE_TTL_MS', '0', 'is not a positive integer'],
    ['SYNC_LEASE_TTL_MS', '-5', 'is not a positive integer'],
    ['SYNC_LEASE_TTL_MS', '1.5', 'is not a positive integer'],
  ])('%s=%s', (name, value, problem) => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, [name]: value } }));
    expect(error.message).toBe(`${name}: ${JSON.stringify(value)} ${problem} (from environment variable ${name})`);
  });

  test('SYNC_LEASE_TTL_MS from the environment or a JSON file', () => {
    expect(loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_LEASE_TTL_MS: '1500' } }).sync.leaseTtlMs).toBe(1500);
    const dir = configDir({ 'production.json': { sync: { leaseTtlMs: 30000 } } });
    expect(loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } }).sync.leaseTtlMs).toBe(30000);
  });

  test('a required setting that is missing names every place looked in', () => {
    const dir = configDir();
    const error = configError(() => loadConfig({ configDir: dir, env: { SPECTER_API_USER_ID: 'u', SPECTER_API_USER_KEY: 'kkkk' } }));
    expect(error.setting).toBe('SPECTER_SBM_ID');
    expect(error.message).toBe(
      `SPECTER_SBM_ID: required but not set (looked in environment variable SPECTER_SBM_ID, ${join(dir, 'default.json')}: specter.sbmId)`,
    );
    const noKey = configError(() => loadConfig({ configDir: dir, env: { SPECTER_SBM_ID: '1', SPECTER_API_USER_ID: 'u' } }));
    expect(noKey.message).toContain(
      'SPECTER_API_USER_KEY: required but not set (looked in environment variables SPECTER_API_USER_KEY and SPECTER_API_USER_KEY_FILE)',
    );
  });

  test('non-secret required settings may come from a file', () => {
    const dir = configDir({ 'production.json': { specter: { sbmId: 77, apiUserId: 'from-file' } } });
    const config = loadConfig({ configDir: dir, env: { NODE_ENV: 'production', SPECTER_API_USER_KEY: 'kkkk' } });
    expect(config.specter.sbmId).toBe(77);
    expect(config.specter.apiUserId).toBe('from-file');
  });

  test('a JSON value of the wrong type', () => {
    const dir = configDir({ 'production.json': { http: { port: true } } });
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } }));
    expect(error.message).toBe(`HTTP_PORT: must be a string or a number, not boolean (from ${join(dir, 'production.json')}: http.port)`);
  });

  test('an unknown key in a JSON file is refused, with a suggestion', () => {
    const dir = configDir({ 'production.json': { sync: { lookbakDays: 30 } } });
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } }));
    expect(error.setting).toBe('sync.lookbakDays');
    expect(error.source).toBe(join(dir, 'production.json'));
    expect(error.message).toContain('unknown setting; did you mean "lookbackDays"?');

    const topLevel = configError(() => loadConfig({ configDir: configDir({ 'x.json': { synk: {} } }), env: { ...REQUIRED, NODE_ENV: 'x' } }));
    expect(topLevel.setting).toBe('synk');
  });

  test('"$comment" keys are allowed (JSON has no comments)', () => {
    const dir = configDir({ 'x.json': { $comment: 'why', sync: { $comment: 'hourly', schedule: '0 * * * *' } } });
    expect(loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } }).sync.schedule).toBe('0 * * * *');
  });

  test('a file that is not valid JSON is named without quoting its content', () => {
    const dir = configDir({ 'x.json': '{ "specter": { "apiUserId": "topsecretvalue" oops } }' });
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } }));
    expect(error.source).toBe(join(dir, 'x.json'));
    expect(error.message).toContain('is not valid JSON');
    expect(error.message).not.toContain('topsecretvalue');
  });

  test('an invalid cron expression is refused', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_SCHEDULE: '*/5 * *' } }));
    expect(error.setting).toBe('SYNC_SCHEDULE');
    expect(error.message).toContain('"*/5 * *" is not a valid cron expression');
    expect(loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_SCHEDULE: '30 */2 * * * *' } }).sync.schedule).toBe('30 */2 * * * *');
  });

  test('retry bounds must be in order', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, DISPATCH_RETRY_MIN_MS: '400000' } }));
    expect(error.setting).toBe('DISPATCH_RETRY_MIN_MS');
    expect(error.message).toContain('is greater than DISPATCH_RETRY_MAX_MS (300000, from built-in default)');
    expect(error.source).toBe('environment variable DISPATCH_RETRY_MIN_MS');
  });
});

describe('SYNC_DATABASE_URL', () => {
  const URL_TEXT = 'postgres://sync:s3cret-pw@db.internal:5432/specter';

  test('a postgres:// or postgresql:// URL is kept exactly as written, and is a secret (the whole value)', () => {
    for (const url of [URL_TEXT, 'postgresql://sync:pw@10.0.0.5/specter?sslmode=require']) {
      const config = loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_DATABASE_URL: url } });
      expect(config.sync.databaseUrl).toBe(url);
      expect(config.secrets).toContain(url);
    }
  });

  test('also from SYNC_DATABASE_URL_FILE (a container secret)', () => {
    const file = join(tempDir(), 'database-url');
    writeFileSync(file, `${URL_TEXT}\n`);
    const config = loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_DATABASE_URL_FILE: file } });
    expect(config.sync.databaseUrl).toBe(URL_TEXT);
    expect(config.secrets).toContain(URL_TEXT);
  });

  test.each([
    ['not a URL', 'host=db user=sync password=s3cret-pw', /is not a URL/],
    ['another scheme', 'mysql://sync:s3cret-pw@db/specter', /must start with postgres:\/\/ or postgresql:\/\//],
    ['no database', 'postgres://sync:s3cret-pw@db.internal:5432/', /names no database/],
  ])('%s: refused, naming the setting, never the value', (_what, url, problem) => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_DATABASE_URL: url } }));
    expect(error.setting).toBe('SYNC_DATABASE_URL');
    expect(error.message).toMatch(problem);
    expect(error.message).not.toContain('s3cret-pw');
    expect(error.message).not.toContain(url);
  });

  test('SYNC_DB_PATH stays the default when it is unset', () => {
    expect(loadConfig({ configDir: configDir(), env: REQUIRED }).sync.databaseUrl).toBeNull();
  });
});

describe('secrets', () => {
  test('a secret in a JSON file is refused and its value is not repeated', () => {
    const dir = configDir({ 'production.json': { providers: { klarna: { password: 'hunter2-in-json' } } } });
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'production' } }));
    expect(error.setting).toBe('KLARNA_PASSWORD');
    expect(error.source).toBe(`${join(dir, 'production.json')}: providers.klarna.password`);
    expect(error.message).toContain('secrets come only from the environment');
    expect(error.message).not.toContain('hunter2-in-json');

    const specterKey = configError(() =>
      loadConfig({ configDir: configDir({ 'x.json': { specter: { apiUserKey: 'k' } } }), env: { ...REQUIRED, NODE_ENV: 'x' } }),
    );
    expect(specterKey.setting).toBe('SPECTER_API_USER_KEY');
  });

  test('<NAME>_FILE: the content without one trailing newline', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'key'), 'file-key-9876\n');
    writeFileSync(join(dir, 'password'), 'pass word\n\n');
    const config = loadConfig({
      configDir: configDir(),
      env: {
        SPECTER_SBM_ID: '1',
        SPECTER_API_USER_ID: 'u',
        SPECTER_API_USER_KEY_FILE: join(dir, 'key'),
        KLARNA_USERNAME: 'PK0001',
        KLARNA_PASSWORD_FILE: join(dir, 'password'),
      },
    });
    expect(config.specter.apiUserKey).toBe('file-key-9876');
    expect(config.providers.klarna?.password).toBe('pass word\n');
  });

  test('an unreadable <NAME>_FILE names the variable and the path', () => {
    const missing = join(tempDir(), 'no-such-secret');
    const error = configError(() =>
      loadConfig({ configDir: configDir(), env: { SPECTER_SBM_ID: '1', SPECTER_API_USER_ID: 'u', SPECTER_API_USER_KEY_FILE: missing } }),
    );
    expect(error.setting).toBe('SPECTER_API_USER_KEY_FILE');
    expect(error.message).toBe(`SPECTER_API_USER_KEY_FILE: the file ${missing} cannot be read (ENOENT) (from environment variable SPECTER_API_USER_KEY_FILE)`);
  });

  test('an empty <NAME>_FILE is refused', () => {
    const empty = join(tempDir(), 'empty');
    writeFileSync(empty, '\n');
    expect(
      configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SPECTER_API_USER_KEY: undefined, SPECTER_API_USER_KEY_FILE: empty } }))
        .message,
    ).toContain(`the file ${empty} is empty`);
  });

  // As root, file modes do not stop reads: there is no unreadable file to make, and the test says
  // so by being skipped (it used to pass there without asserting anything).
  (permissionsStopReads() ? test : test.skip)('an unreadable (permission) <NAME>_FILE names the variable and the path, not the content', () => {
    const locked = join(tempDir(), 'locked');
    writeFileSync(locked, 'locked-secret-content');
    chmodSync(locked, 0o000);
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SVEA_MERCHANT_ID: 'm', SVEA_SECRET_FILE: locked } }));
    expect(error.setting).toBe('SVEA_SECRET_FILE');
    expect(error.message).toContain(locked);
    expect(error.message).not.toContain('locked-secret-content');
  });

  test('both NAME and NAME_FILE is refused', () => {
    const file = join(tempDir(), 's');
    writeFileSync(file, 'abcdef');
    const error = configError(() =>
      loadConfig({ configDir: configDir(), env: { ...REQUIRED, SPECTER_INTEGRATION_KEY: 'x', SPECTER_INTEGRATION_KEY_FILE: file } }),
    );
    expect(error.setting).toBe('SPECTER_INTEGRATION_KEY');
    expect(error.source).toBe('environment variables SPECTER_INTEGRATION_KEY and SPECTER_INTEGRATION_KEY_FILE');
  });

  test('<NAME>_FILE for a setting that is not a secret is refused, not ignored', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SYNC_LOOKBACK_DAYS_FILE: '/run/secrets/days' } }));
    expect(error.setting).toBe('SYNC_LOOKBACK_DAYS_FILE');
    expect(error.source).toBe('environment variable SYNC_LOOKBACK_DAYS_FILE');
  });

  test('an invalid secret is reported with its value hidden', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, SPECTER_API_USER_KEY: '   ' } }));
    expect(error.message).toBe('SPECTER_API_USER_KEY: (value hidden) is empty (from environment variable SPECTER_API_USER_KEY)');
  });

  test('secrets lists every configured secret and the Basic-auth forms', () => {
    const config = loadConfig({
      configDir: configDir(),
      env: {
        ...REQUIRED,
        SPECTER_INTEGRATION_KEY: 'integration-0002',
        QLIRO_MERCHANT_API_KEY: 'qliro-key-0003',
        QLIRO_MERCHANT_API_SECRET: 'qliro-secret-0004',
        KLARNA_USERNAME: 'PK12345_abc',
        KLARNA_PASSWORD: 'klarna-pw-0005',
        WALLEY_CLIENT_ID: 'walley-client',
        WALLEY_CLIENT_SECRET: 'walley-secret-0006',
        SVEA_MERCHANT_ID: '124842',
        SVEA_SECRET: 'svea-secret-0007',
      },
    });
    const basic = Buffer.from('PK12345_abc:klarna-pw-0005').toString('base64');
    expect(config.secrets).toEqual(
      expect.arrayContaining([
        'user-key-0001',
        'integration-0002',
        'qliro-key-0003',
        'qliro-secret-0004',
        'klarna-pw-0005',
        basic,
        'walley-secret-0006',
        'svea-secret-0007',
      ]),
    );
    // Not secrets: ids and user names appear in logs on purpose.
    expect(config.secrets).not.toContain('PK12345_abc');
    expect(config.secrets).not.toContain('124842');
  });
});

describe('providers', () => {
  test('a provider is on only when all its credentials are set', () => {
    const config = loadConfig({ configDir: configDir(), env: { ...REQUIRED, SVEA_MERCHANT_ID: '124842', SVEA_SECRET: 'svea-secret' } });
    expect(config.providers.svea).toEqual({ baseUrl: 'https://paymentadminapistage.svea.com', merchantId: '124842', secret: 'svea-secret' });
    expect(config.providers.qliro).toBeNull();
  });

  test('a partly configured provider is refused, naming the missing credential', () => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, KLARNA_USERNAME: 'PK1' } }));
    expect(error.setting).toBe('KLARNA_PASSWORD');
    expect(error.message).toContain('required because KLARNA_USERNAME is set (from environment variable KLARNA_USERNAME)');

    const secretOnly = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, QLIRO_MERCHANT_API_SECRET: 'qliro-secret' } }));
    expect(secretOnly.setting).toBe('QLIRO_MERCHANT_API_KEY');
    expect(secretOnly.message).not.toContain('qliro-secret');
  });

  test('Walley: the UAT scope by default, the production scope for the production host, an explicit scope wins', () => {
    const creds = { ...REQUIRED, WALLEY_CLIENT_ID: 'c', WALLEY_CLIENT_SECRET: 'walley-secret' };
    expect(loadConfig({ configDir: configDir(), env: creds }).providers.walley?.scope).toBe('705798e0-8cef-427c-ae00-6023deba29af/.default');
    expect(loadConfig({ configDir: configDir(), env: { ...creds, WALLEY_BASE_URL: 'https://api.walleypay.com/' } }).providers.walley).toEqual({
      baseUrl: 'https://api.walleypay.com',
      clientId: 'c',
      clientSecret: 'walley-secret',
      scope: 'a3f3019f-2be9-41cc-a254-7bb347238e89/.default',
    });
    expect(loadConfig({ configDir: configDir(), env: { ...creds, WALLEY_SCOPE: 'custom/.default' } }).providers.walley?.scope).toBe('custom/.default');
  });

  test('base URLs: Specter ends with "/", providers do not, either spelling accepted', () => {
    const env = {
      ...REQUIRED,
      SPECTER_BASE_URL: 'https://specter.example/api',
      KLARNA_USERNAME: 'u',
      KLARNA_PASSWORD: 'klarna-pw',
      KLARNA_BASE_URL: 'https://api.klarna.com/',
      QLIRO_MERCHANT_API_KEY: 'qliro-key',
      QLIRO_MERCHANT_API_SECRET: 'qliro-secret',
      QLIRO_BASE_URL: 'http://127.0.0.1:8080//',
    };
    const config = loadConfig({ configDir: configDir(), env });
    expect(config.specter.baseUrl).toBe('https://specter.example/api/');
    expect(config.providers.klarna?.baseUrl).toBe('https://api.klarna.com');
    expect(config.providers.qliro?.baseUrl).toBe('http://127.0.0.1:8080');
    expect(loadConfig({ configDir: configDir(), env: { ...REQUIRED, SPECTER_BASE_URL: 'https://specter.example/' } }).specter.baseUrl).toBe(
      'https://specter.example/',
    );
  });

  test.each([
    ['SPECTER_BASE_URL', 'ftp://specter.example/', 'is not an http(s) URL'],
    ['SPECTER_BASE_URL', 'specter.example', 'is not a URL'],
    ['KLARNA_BASE_URL', 'https://user:pw@api.klarna.com', 'must not contain a user name or password'],
    ['SVEA_BASE_URL', 'https://svea.example/?x=1', 'must not have a query or fragment'],
  ])('%s=%s is refused, even for a provider that is off', (name, value, problem) => {
    const error = configError(() => loadConfig({ configDir: configDir(), env: { ...REQUIRED, [name]: value } }));
    expect(error.setting).toBe(name);
    expect(error.message).toContain(problem);
  });
});

describe('routing and structure', () => {
  function routingError(routing: unknown): ConfigError {
    const dir = configDir({ 'x.json': { routing } });
    return configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } }));
  }

  test('a routing file replaces the default rules', () => {
    const dir = configDir({ 'x.json': { routing: [{ payTypeIdentifiers: ['SV'], provider: 'svea' }] } });
    expect(loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } }).routing).toEqual([{ payTypeIdentifiers: ['SV'], provider: 'svea' }]);
  });

  test('an unknown provider', () => {
    const error = routingError([{ payTypeIdentifiers: ['X'], provider: 'paypal' }]);
    expect(error.setting).toBe('routing[0].provider');
    expect(error.source).toMatch(/x\.json: routing\[0\]\.provider$/);
  });

  test('a rule that matches nothing in particular', () => {
    const error = routingError([{ payTypeIdentifiers: ['K'], provider: 'klarna' }, { provider: 'walley' }]);
    expect(error.setting).toBe('routing[1]');
    expect(error.message).toContain('needs payTypeIdentifiers or referencePrefix');
  });

  test('an invalid providerIdPattern', () => {
    const error = routingError([{ referencePrefix: 'Q-', provider: 'qliro', providerIdPattern: '([0-9]+' }]);
    expect(error.setting).toBe('routing[0].providerIdPattern');
    expect(error.message).toContain('is not a valid regular expression');
  });

  test('an unknown key in a rule', () => {
    expect(routingError([{ payTypeIdentifier: ['K'], provider: 'klarna' }]).setting).toBe('routing[0]');
  });

  test('a config folder without default.json lacks the structure, and says where it belongs', () => {
    const dir = tempDir();
    const error = configError(() => loadConfig({ configDir: dir, env: { ...REQUIRED } }));
    expect(error.setting).toBe('specter.actions.listOrders');
    expect(error.message).toContain('it belongs in default.json');
  });

  test('status ids given as numbers become strings', () => {
    const dir = configDir({ 'x.json': { specter: { statusMap: { cancelledStatusIds: [5, '7'] } } } });
    const config = loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } });
    expect(config.specter.statusMap).toEqual({ cancelledStatusIds: ['5', '7'], deliveredDeliveryStatuses: ['D'] });
  });
});

describe('describeSettings', () => {
  const described = describeSettings();

  test('documents every variable of the interface, with its default', () => {
    const interfaceVariables = [
      'SPECTER_BASE_URL',
      'SPECTER_SBM_ID',
      'SPECTER_API_USER_ID',
      'SPECTER_API_USER_KEY',
      'SPECTER_INTEGRATION_KEY',
      'SPECTER_TIMEOUT_MS',
      'SPECTER_MAX_ATTEMPTS',
      'SPECTER_RETRY_MIN_MS',
      'SPECTER_RETRY_MAX_MS',
      'SYNC_DB_PATH',
      'SYNC_CONFIG_DIR',
      'SYNC_SCHEDULE',
      'SYNC_LOOKBACK_DAYS',
      'VANISHED_ACTION',
      'VANISH_GUARD_MAX_PER_RUN',
      'DISPATCH_MAX_ATTEMPTS',
      'DISPATCH_RETRY_MIN_MS',
      'DISPATCH_RETRY_MAX_MS',
      'QLIRO_BASE_URL',
      'QLIRO_MERCHANT_API_KEY',
      'QLIRO_MERCHANT_API_SECRET',
      'KLARNA_BASE_URL',
      'KLARNA_USERNAME',
      'KLARNA_PASSWORD',
      'WALLEY_BASE_URL',
      'WALLEY_CLIENT_ID',
      'WALLEY_CLIENT_SECRET',
      'WALLEY_SCOPE',
      'SVEA_BASE_URL',
      'SVEA_MERCHANT_ID',
      'SVEA_SECRET',
      'LOG_LEVEL',
      'LOG_FORMAT',
      'HTTP_PORT',
      'HTTP_HOST',
      'PROVIDER_TIMEOUT_MS',
      'DISPATCH_CONFIRM_DEADLINE_MS',
      'SPECTER_PAGE_SIZE',
    ];
    expect(described.map((s) => s.env)).toEqual(expect.arrayContaining(interfaceVariables));
    for (const s of described) expect(s.description.length).toBeGreaterThan(10);
    expect(described.find((s) => s.env === 'SYNC_SCHEDULE')).toEqual(expect.objectContaining({ path: 'sync.schedule', default: '*/5 * * * *', secret: false }));
    expect(described.find((s) => s.env === 'HTTP_PORT')?.default).toBe('9464');
    expect(described.find((s) => s.env === 'SYNC_LEASE_TTL_MS')).toEqual(
      expect.objectContaining({ path: 'sync.leaseTtlMs', default: '120000', secret: false }),
    );
  });

  test('each variable and each JSON path is one setting', () => {
    const envs = described.map((s) => s.env);
    const paths = described.flatMap((s) => (s.path === null ? [] : [s.path]));
    expect(new Set(envs).size).toBe(envs.length);
    expect(new Set(paths).size).toBe(paths.length);
  });

  test('secrets have no JSON path', () => {
    const secrets = described
      .filter((s) => s.secret)
      .map((s) => s.env)
      .sort();
    expect(secrets).toEqual([
      'CONSOLE_TOKEN',
      'KLARNA_PASSWORD',
      'QLIRO_MERCHANT_API_KEY',
      'QLIRO_MERCHANT_API_SECRET',
      'SPECTER_API_USER_KEY',
      'SPECTER_INTEGRATION_KEY',
      'SVEA_SECRET',
      'SYNC_DATABASE_URL',
      'WALLEY_CLIENT_SECRET',
    ]);
    for (const s of described.filter((d) => d.secret)) expect(s.path).toBeNull();
  });

  test('every documented JSON path is accepted in a config file', () => {
    const dir = configDir();
    for (const s of described) {
      if (s.path === null || s.default === null) continue;
      const value: Record<string, unknown> = {};
      let node = value;
      const parts = s.path.split('.');
      parts.slice(0, -1).forEach((part) => {
        node[part] = {};
        node = node[part] as Record<string, unknown>;
      });
      node[parts[parts.length - 1] as string] = s.default;
      writeFileSync(join(dir, 'x.json'), JSON.stringify(value));
      expect(() => loadConfig({ configDir: dir, env: { ...REQUIRED, NODE_ENV: 'x' } })).not.toThrow();
    }
  });
});
