/**
 * Loads and validates the configuration once, at start; every other module takes its slice of
 * the resulting AppConfig as plain values. The engine (config/engine.ts) reads the settings table
 * (config/settings.ts); this file adds the rules that span settings and the secrets list.
 *
 * Sources, later wins: the table's built-in defaults; `<configDir>/default.json` (ships with the
 * package: Specter action names, status map, routing); `<configDir>/<NODE_ENV>.json`, if present;
 * environment variables.
 */
import { fileURLToPath } from 'node:url';
import { BUILT_IN_DEFAULT, describeFileTable, describeTable, loadTable, loadTablePart, type Loaded, type SettingDescription } from './engine.js';
import { ConfigError } from './errors.js';
import { SETTINGS, WALLEY_PRODUCTION_HOST, WALLEY_PRODUCTION_SCOPE } from './settings.js';
import type { ScalarSetting } from './table.js';
import type { AppConfig } from './types.js';

export { ConfigError } from './errors.js';
export type { SettingDescription } from './engine.js';

/** The package's own config/ folder: src/config/load.ts and dist/config/load.js are both two levels down. */
function packageConfigDir(): string {
  return fileURLToPath(new URL('../../config/', import.meta.url));
}

export function loadConfig(options: { env?: NodeJS.ProcessEnv; configDir?: string } = {}): AppConfig {
  const loaded = loadTable(SETTINGS, { ...options, defaultConfigDir: packageConfigDir() });
  const { config } = loaded;
  const { specter, dispatch, providers } = SETTINGS;
  checkOrder(loaded, specter.retryMinMs, config.specter.retryMinMs, specter.retryMaxMs, config.specter.retryMaxMs);
  checkOrder(loaded, dispatch.retryMinMs, config.dispatch.retryMinMs, dispatch.retryMaxMs, config.dispatch.retryMaxMs);

  const walley = config.providers.walley;
  if (walley !== null && loaded.sourceOf(providers.walley.members.scope) === BUILT_IN_DEFAULT && new URL(walley.baseUrl).host === WALLEY_PRODUCTION_HOST) {
    walley.scope = WALLEY_PRODUCTION_SCOPE;
  }
  return { ...config, secrets: withDerivedForms(loaded.secrets, config) };
}

/** What the query commands (`status`, `vanished list`, `jobs list`) need: the database, the log, and which providers are on. */
export type QueryConfig = Pick<AppConfig, 'sync' | 'providers' | 'log' | 'secrets'>;

/**
 * The settings of the query commands only: they read the database and nothing else, so they work
 * where only the database settings are set (no Specter or provider credentials — a support shell).
 */
export function loadQueryConfig(options: { env?: NodeJS.ProcessEnv; configDir?: string } = {}): QueryConfig {
  const { config, secrets } = loadTablePart(SETTINGS, ['sync', 'providers', 'log'], { ...options, defaultConfigDir: packageConfigDir() });
  return { ...config, secrets: withDerivedForms(secrets, config) };
}

function checkOrder(loaded: Loaded<typeof SETTINGS>, min: ScalarSetting, low: number, max: ScalarSetting, high: number): void {
  if (low > high) {
    throw new ConfigError(min.env, `${low} is greater than ${max.env} (${high}, from ${loaded.sourceOf(max) ?? 'unknown'})`, loaded.sourceOf(min) ?? 'unknown');
  }
}

/**
 * The secret values, plus the forms a leak would take that redaction cannot derive by itself:
 * HTTP Basic credentials are base64 of "user:password", which contains neither part literally.
 */
function withDerivedForms(secrets: string[], config: Pick<Loaded<typeof SETTINGS>['config'], 'providers'>): string[] {
  const { klarna, walley } = config.providers;
  const basic = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString('base64');
  const derived = [
    klarna && basic(klarna.username, klarna.password),
    // Walley's token endpoint also accepts client credentials as Basic auth.
    walley && basic(walley.clientId, walley.clientSecret),
  ];
  return [...new Set([...secrets, ...derived].filter((v): v is string => typeof v === 'string' && v !== ''))];
}

/** Every environment variable, as the README documents them. */
export function describeSettings(): SettingDescription[] {
  return describeTable(SETTINGS);
}

/** Settings that live only in the JSON files (structure rather than deployment values). */
export function describeFileSettings(): Array<{ path: string; description: string }> {
  return describeFileTable(SETTINGS);
}
