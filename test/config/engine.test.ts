/**
 * The loading engine on a small table of its own (not the app's): the engine knows no app
 * setting, the config type is derived from the table, and the rules (precedence, sources,
 * switch groups, secrets, unknown keys) hold for any table. Real files in a temporary folder.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BUILT_IN_DEFAULT, describeFileTable, describeTable, loadTable } from '../../src/config/engine.js';
import { ConfigError } from '../../src/config/errors.js';
import { integerIn, nonEmpty } from '../../src/config/schemas.js';
import { fileSetting, setting, switchGroup, type ConfigOf } from '../../src/config/table.js';

const TABLE = {
  app: {
    name: setting('APP_NAME', { default: 'demo', schema: nonEmpty, description: 'The name of the app.' }),
    port: setting('APP_PORT', { required: true, schema: integerIn(1, 65535, 'a port'), description: 'The port to listen on.' }),
    token: setting('APP_TOKEN', { secret: true, schema: nonEmpty, description: 'An optional token.' }),
  },
  remote: switchGroup('Remote', {
    url: setting('REMOTE_URL', { default: 'https://remote.example', schema: nonEmpty, description: 'Where the remote is.' }),
    user: setting('REMOTE_USER', { schema: nonEmpty, description: 'The remote user name.' }),
    password: setting('REMOTE_PASSWORD', { secret: true, schema: nonEmpty, description: 'The remote password.' }),
  }),
  tags: fileSetting(z.array(z.string()), 'Tags, from the files only.'),
};

/** The type the table yields, written out: assignable both ways, so ConfigOf derives exactly this. */
interface Expected {
  app: { name: string; port: number; token: string | null };
  remote: { url: string; user: string; password: string } | null;
  tags: string[];
}
const derivedIsExpected = (config: ConfigOf<typeof TABLE>): Expected => config;
const expectedIsDerived = (config: Expected): ConfigOf<typeof TABLE> => config;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'specter-sync-engine-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), JSON.stringify(content));
  return dir;
}

function load(env: NodeJS.ProcessEnv, files: Record<string, unknown> = { 'default.json': { tags: ['a'] } }) {
  const dir = folder(files);
  return { dir, loaded: loadTable(TABLE, { env, defaultConfigDir: dir }) };
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

describe('the loading engine on any table', () => {
  test('the config object has the shape of the table, with parsed values', () => {
    const { loaded } = load({ APP_PORT: '8080' });
    expect(derivedIsExpected(loaded.config)).toEqual({ app: { name: 'demo', port: 8080, token: null }, remote: null, tags: ['a'] });
    expect(expectedIsDerived(derivedIsExpected(loaded.config))).toBe(loaded.config);
    expect(loaded.secrets).toEqual([]);
  });

  test('later wins: built-in default, default.json, <NODE_ENV>.json, the environment; each source is remembered', () => {
    const files = { 'default.json': { app: { name: 'from-default', port: 1 }, tags: [] }, 'prod.json': { app: { port: 2 } } };
    const { dir, loaded } = load({ NODE_ENV: 'prod', APP_NAME: 'from-env' }, files);
    expect(loaded.config.app).toEqual({ name: 'from-env', port: 2, token: null });
    expect(loaded.sourceOf(TABLE.app.name)).toBe('environment variable APP_NAME');
    expect(loaded.sourceOf(TABLE.app.port)).toBe(`${join(dir, 'prod.json')}: app.port`);
    expect(loaded.sourceOf(TABLE.remote.members.url)).toBe(BUILT_IN_DEFAULT);
    expect(loaded.sourceOf(TABLE.app.token)).toBeNull();
  });

  test('a switch group is null with none of its switches set, whole with all, an error naming the missing one with some', () => {
    expect(load({ APP_PORT: '1' }).loaded.config.remote).toBeNull();
    const on = load({ APP_PORT: '1', REMOTE_USER: 'u', REMOTE_PASSWORD: 'remote-pw', APP_TOKEN: 'app-token' }).loaded;
    expect(on.config.remote).toEqual({ url: 'https://remote.example', user: 'u', password: 'remote-pw' });
    expect(on.secrets).toEqual(['app-token', 'remote-pw']);

    const error = configError(() => load({ APP_PORT: '1', REMOTE_USER: 'u' }));
    expect(error.setting).toBe('REMOTE_PASSWORD');
    expect(error.message).toBe(
      'REMOTE_PASSWORD: required because REMOTE_USER is set (from environment variable REMOTE_USER); set every Remote credential to turn Remote on, or none to leave it off (looked in environment variables REMOTE_PASSWORD and REMOTE_PASSWORD_FILE)',
    );
  });

  test('errors name the setting, the value (never a secret) and the place', () => {
    const { dir } = load({ APP_PORT: '1' });
    expect(configError(() => loadTable(TABLE, { env: { APP_PORT: '0' }, defaultConfigDir: dir })).message).toBe(
      'APP_PORT: "0" is not a port (from environment variable APP_PORT)',
    );
    expect(configError(() => loadTable(TABLE, { env: { APP_PORT: '1', APP_TOKEN: ' ' }, defaultConfigDir: dir })).message).toBe(
      'APP_TOKEN: (value hidden) is empty (from environment variable APP_TOKEN)',
    );
    expect(configError(() => loadTable(TABLE, { env: {}, defaultConfigDir: dir })).message).toBe(
      `APP_PORT: required but not set (looked in environment variable APP_PORT, ${join(dir, 'default.json')}: app.port)`,
    );
  });

  test('the table is the list of known keys: a typo is refused with a suggestion, a secret in a file is refused', () => {
    const typo = configError(() => load({ APP_PORT: '1' }, { 'default.json': { tags: [], remote: { usr: 'u' } } }));
    expect(typo.setting).toBe('remote.usr');
    expect(typo.message).toContain('unknown setting; did you mean "user"?');

    const secret = configError(() => load({ APP_PORT: '1' }, { 'default.json': { tags: [], remote: { password: 'in-a-file' } } }));
    expect(secret.setting).toBe('REMOTE_PASSWORD');
    expect(secret.message).toContain('secrets come only from the environment');
    expect(secret.message).not.toContain('in-a-file');
  });

  test('descriptions come from the table, secrets without a JSON path', () => {
    const described = describeTable(TABLE);
    expect(described.map((d) => [d.env, d.path, d.default, d.secret])).toEqual([
      ['APP_NAME', 'app.name', 'demo', false],
      ['APP_PORT', 'app.port', null, false],
      ['APP_TOKEN', null, null, true],
      ['REMOTE_URL', 'remote.url', 'https://remote.example', false],
      ['REMOTE_USER', 'remote.user', null, false],
      ['REMOTE_PASSWORD', null, null, true],
      ['SYNC_CONFIG_DIR', null, null, false],
      ['NODE_ENV', null, null, false],
    ]);
    expect(described.find((d) => d.env === 'APP_TOKEN')?.description).toBe('An optional token. Also read from the file named by APP_TOKEN_FILE.');
    expect(describeFileTable(TABLE)).toEqual([{ path: 'tags', description: 'Tags, from the files only.' }]);
  });
});
