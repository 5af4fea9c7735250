/** The console's settings, and the query commands' settings that need only the database. */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadQueryConfig } from '../../src/config/load.js';

const REQUIRED = { SPECTER_SBM_ID: '1234', SPECTER_API_USER_ID: 'reader', SPECTER_API_USER_KEY: 'user-key-0001' };
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('CONSOLE_TOKEN', () => {
  test('unset: no console; the cookie is not Secure by default', () => {
    const config = loadConfig({ env: REQUIRED });
    expect(config.console).toEqual({ token: null, secureCookie: false });
  });

  test('set: the token, counted as a secret for redaction; CONSOLE_SECURE_COOKIE=true', () => {
    const config = loadConfig({ env: { ...REQUIRED, CONSOLE_TOKEN: 'a-long-enough-console-token', CONSOLE_SECURE_COOKIE: 'true' } });
    expect(config.console).toEqual({ token: 'a-long-enough-console-token', secureCookie: true });
    expect(config.secrets).toContain('a-long-enough-console-token');
  });

  test('read from CONSOLE_TOKEN_FILE like every secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'specter-sync-console-config-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'token'), 'token-from-a-file-0123\n');
    expect(loadConfig({ env: { ...REQUIRED, CONSOLE_TOKEN_FILE: join(dir, 'token') } }).console.token).toBe('token-from-a-file-0123');
  });

  test('shorter than 16 characters: a configuration error naming the setting, never the value', () => {
    const error = configError(() => loadConfig({ env: { ...REQUIRED, CONSOLE_TOKEN: 'short-token' } }));
    expect(error.setting).toBe('CONSOLE_TOKEN');
    expect(error.message).toContain('shorter than 16 characters');
    expect(error.message).not.toContain('short-token');
  });

  test('CONSOLE_SECURE_COOKIE must be true or false', () => {
    expect(configError(() => loadConfig({ env: { ...REQUIRED, CONSOLE_SECURE_COOKIE: 'yes' } })).setting).toBe('CONSOLE_SECURE_COOKIE');
  });
});

describe('loadQueryConfig (status, vanished list, jobs list)', () => {
  test('needs no Specter setting at all', () => {
    const config = loadQueryConfig({ env: { SYNC_DB_PATH: '/tmp/x.db' } });
    expect(config.sync.dbPath).toBe('/tmp/x.db');
    expect(config.providers.klarna).toBeNull();
    expect('specter' in config).toBe(false);
  });

  test('still refuses what it reads when it is wrong, and still redacts provider secrets', () => {
    expect(configError(() => loadQueryConfig({ env: { LOG_LEVEL: 'loud' } })).setting).toBe('LOG_LEVEL');
    const config = loadQueryConfig({ env: { KLARNA_USERNAME: 'PK1', KLARNA_PASSWORD: 'klarna-pass-1' } });
    expect(config.secrets).toEqual(expect.arrayContaining(['klarna-pass-1', Buffer.from('PK1:klarna-pass-1').toString('base64')]));
  });
});
