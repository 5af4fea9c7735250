/**
 * The generic loading engine: reads every setting of a table (config/table.ts) from its sources,
 * later wins — the built-in default, `default.json`, `<NODE_ENV>.json`, the environment —, parses
 * each with its zod schema, and remembers where each value came from.
 *
 * Secrets come only from the environment, or from the file named by `<NAME>_FILE`, never from a
 * JSON file: config files get committed, copied and attached to tickets. Every error names the
 * setting and where the value came from (or every place looked in), and never prints a secret's
 * value.
 */
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { envValue, openSources, readSecretFile, valueAt, type SourceOptions, type Sources } from './sources.js';
import { FileSetting, joinPath, leaves, ScalarSetting, SwitchGroup, type ConfigOf, type Group, type TableNode } from './table.js';

export const BUILT_IN_DEFAULT = 'built-in default';

export interface Loaded<T extends Group> {
  config: ConfigOf<T>;
  /** Where a scalar's value was read from (e.g. `environment variable SYNC_LOOKBACK_DAYS`); null when unset. */
  sourceOf(setting: ScalarSetting): string | null;
  /** Every secret value that is set, in table order, each once. */
  secrets: string[];
}

export function loadTable<T extends Group>(table: T, options: SourceOptions): Loaded<T> {
  const ctx: Context = { ...openSources(table, options), seen: new Map(), secrets: [] };
  // The one cast: readNode builds, key by key, the shape ConfigOf<T> describes.
  const config = readNode(table, '', ctx) as ConfigOf<T>;
  return { config, sourceOf: (s) => ctx.seen.get(s) ?? null, secrets: [...new Set(ctx.secrets)] };
}

/**
 * Only the top-level groups `keys` of the table are read (the files are still checked against the
 * whole table): a command that needs only the database must not fail on Specter's settings.
 */
export function loadTablePart<T extends Group, K extends keyof ConfigOf<T> & string>(
  table: T,
  keys: readonly K[],
  options: SourceOptions,
): { config: Pick<ConfigOf<T>, K>; secrets: string[] } {
  const ctx: Context = { ...openSources(table, options), seen: new Map(), secrets: [] };
  const children = new Map<string, TableNode>(Object.entries(table));
  const config = Object.fromEntries(
    keys.map((key) => {
      const child = children.get(key);
      if (child === undefined) throw new Error(`the settings table has no group "${key}"`);
      return [key, readNode(child, key, ctx)];
    }),
  );
  // The one cast, as in loadTable: readNode builds what ConfigOf describes, key by key.
  return { config: config as Pick<ConfigOf<T>, K>, secrets: [...new Set(ctx.secrets)] };
}

interface Context extends Sources {
  /** The source of every scalar read so far. */
  seen: Map<ScalarSetting, string>;
  secrets: string[];
}

function readNode(node: TableNode, path: string, ctx: Context): unknown {
  if (node instanceof ScalarSetting) {
    return node.required || node.defaultValue !== null ? readRequired(node, path, ctx).value : (read(node, path, ctx)?.value ?? null);
  }
  if (node instanceof FileSetting) return readFileSetting(node, path, ctx);
  if (node instanceof SwitchGroup) return readSwitch(node, path, ctx);
  return Object.fromEntries(Object.entries(node).map(([key, child]) => [key, readNode(child, joinPath(path, key), ctx)]));
}

// ---------------------------------------------------------------------------------------------
// One scalar.

interface Found {
  raw: string;
  source: string;
}

interface Resolved {
  value: unknown;
  source: string;
}

/** A JSON value for a scalar, in the string form an environment variable would have. */
const JSON_SCALAR = z
  .union([z.string(), z.number()], {
    error: (issue) => `must be a string or a number, not ${issue.input === null ? 'null' : Array.isArray(issue.input) ? 'an array' : typeof issue.input}`,
  })
  .transform(String);

function findRaw(def: ScalarSetting, path: string, ctx: Context): Found | null {
  const fromEnv = envValue(ctx.env, def.env);
  if (!def.secret && envValue(ctx.env, `${def.env}_FILE`) !== undefined) {
    // Ignoring it would run with a value the operator did not mean.
    throw new ConfigError(
      `${def.env}_FILE`,
      `${def.env} is not a secret and is not read from a file; set ${def.env} itself`,
      `environment variable ${def.env}_FILE`,
    );
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
      const value = valueAt(layer.data, path);
      if (value === undefined) continue;
      const source = `${layer.file}: ${path}`;
      const scalar = JSON_SCALAR.safeParse(value);
      if (!scalar.success) throw new ConfigError(def.env, scalar.error.issues[0]?.message ?? 'is invalid', source);
      return { raw: scalar.data, source };
    }
  }
  if (def.defaultValue !== null) return { raw: def.defaultValue, source: BUILT_IN_DEFAULT };
  return null;
}

/** Every place a missing setting was looked for, for the error message. */
function where(def: ScalarSetting, path: string, ctx: Context): string {
  if (def.secret) return `environment variables ${def.env} and ${def.env}_FILE`;
  const files = ctx.layers.map((layer) => `${layer.file}: ${path}`);
  return [`environment variable ${def.env}`, ...files].join(', ');
}

function read(def: ScalarSetting, path: string, ctx: Context): Resolved | null {
  const found = findRaw(def, path, ctx);
  if (found === null) return null;
  const result = def.schema.safeParse(found.raw);
  if (!result.success) {
    const shown = def.secret ? '(value hidden)' : JSON.stringify(found.raw);
    throw new ConfigError(def.env, `${shown} ${result.error.issues[0]?.message ?? 'is invalid'}`, found.source);
  }
  ctx.seen.set(def, found.source);
  if (def.secret) ctx.secrets.push(String(result.data));
  return { value: result.data, source: found.source };
}

function readRequired(def: ScalarSetting, path: string, ctx: Context): Resolved {
  const resolved = read(def, path, ctx);
  if (resolved === null) throw new ConfigError(def.env, 'required but not set', where(def, path, ctx), 'looked in');
  return resolved;
}

// ---------------------------------------------------------------------------------------------
// Structure (JSON only) and switch groups.

function readFileSetting(def: FileSetting, path: string, ctx: Context): unknown {
  for (let i = ctx.layers.length - 1; i >= 0; i--) {
    const layer = ctx.layers[i];
    if (layer === undefined) continue;
    const value = valueAt(layer.data, path);
    if (value === undefined) continue;
    const result = def.schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const at = `${path}${(issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
    throw new ConfigError(at, issue?.message ?? 'is invalid', `${layer.file}: ${at}`);
  }
  const files = ctx.layers.length === 0 ? 'no config file was found' : ctx.layers.map((layer) => layer.file).join(', ');
  throw new ConfigError(path, 'required but not set (it belongs in default.json)', files, 'looked in');
}

/** On only when every switch member is set; null when none is; some but not all is an error. */
function readSwitch(group: SwitchGroup, path: string, ctx: Context): Record<string, unknown> | null {
  const members = Object.entries(group.members).map(([key, def]) => {
    const memberPath = joinPath(path, key);
    const isSwitch = !def.required && def.defaultValue === null;
    return { key, def, path: memberPath, isSwitch, resolved: isSwitch ? read(def, memberPath, ctx) : readRequired(def, memberPath, ctx) };
  });
  const switches = members.filter((m) => m.isSwitch);
  const present = switches.find((m) => m.resolved !== null);
  if (present === undefined) return null;
  const missing = switches.find((m) => m.resolved === null);
  if (missing !== undefined) {
    throw new ConfigError(
      missing.def.env,
      `required because ${present.def.env} is set (from ${present.resolved?.source ?? 'unknown'}); set every ${group.label} credential to turn ${group.label} on, or none to leave it off`,
      where(missing.def, missing.path, ctx),
      'looked in',
    );
  }
  return Object.fromEntries(members.map((m) => [m.key, m.resolved?.value]));
}

// ---------------------------------------------------------------------------------------------
// Descriptions, for the README (test/docs/readme.test.ts holds it to them).

export interface SettingDescription {
  env: string;
  /** JSON path in the config files; null for settings read only from the environment (secrets). */
  path: string | null;
  default: string | null;
  secret: boolean;
  description: string;
}

/** Every scalar of the table in table order, then the engine's own variables. */
export function describeTable(table: Group): SettingDescription[] {
  const scalars: SettingDescription[] = [];
  for (const { path, leaf } of leaves(table)) {
    if (!(leaf instanceof ScalarSetting)) continue;
    scalars.push({
      env: leaf.env,
      path: leaf.secret ? null : path,
      default: leaf.defaultValue,
      secret: leaf.secret,
      description: leaf.secret ? `${leaf.description} Also read from the file named by ${leaf.env}_FILE.` : leaf.description,
    });
  }
  return [
    ...scalars,
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

/** The settings that live only in the JSON files (structure rather than deployment values). */
export function describeFileTable(table: Group): Array<{ path: string; description: string }> {
  return [...leaves(table)].filter(({ leaf }) => leaf instanceof FileSetting).map(({ path, leaf }) => ({ path, description: leaf.description }));
}
