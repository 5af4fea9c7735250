/**
 * Where settings are read from: the config folder's JSON files (`default.json`, then
 * `<NODE_ENV>.json`), checked key by key against the settings table, and the environment
 * (an empty variable counts as unset, as docker-compose's `FOO=` is; `<NAME>_FILE` secrets).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { childrenOf, isLeaf, joinPath, ScalarSetting, type Group } from './table.js';

interface Layer {
  file: string;
  data: Record<string, unknown>;
}

/** The environment and the files found, earliest (lowest precedence) first. */
export interface Sources {
  env: NodeJS.ProcessEnv;
  layers: Layer[];
}

export interface SourceOptions {
  env?: NodeJS.ProcessEnv;
  /** Wins over SYNC_CONFIG_DIR. */
  configDir?: string;
  /** Used when neither the option nor SYNC_CONFIG_DIR names a folder. */
  defaultConfigDir: string;
}

export function openSources(table: Group, options: SourceOptions): Sources {
  const env = options.env ?? process.env;
  const dirFromEnv = envValue(env, 'SYNC_CONFIG_DIR');
  const [configDir, dirSource] =
    options.configDir !== undefined
      ? [resolve(options.configDir), 'the configDir option']
      : dirFromEnv !== undefined
        ? [resolve(dirFromEnv), 'environment variable SYNC_CONFIG_DIR']
        : [options.defaultConfigDir, "the package's own config/ folder"];
  let isDirectory: boolean;
  try {
    isDirectory = statSync(configDir).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory) throw new ConfigError('SYNC_CONFIG_DIR', `${configDir} is not a folder`, dirSource);

  const nodeEnv = checkNodeEnv(env);
  const layers: Layer[] = [];
  const defaults = readLayer(join(configDir, 'default.json'), table);
  if (defaults !== null) layers.push(defaults);
  if (nodeEnv !== null && nodeEnv !== 'default') {
    const overrides = readLayer(join(configDir, `${nodeEnv}.json`), table);
    if (overrides !== null) layers.push(overrides);
  }
  return { env, layers };
}

export function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

// It becomes part of a file name: no separators, no "..".
const PLAIN_NAME = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'is not a plain name (letters, digits, "-", "_")');

function checkNodeEnv(env: NodeJS.ProcessEnv): string | null {
  const nodeEnv = envValue(env, 'NODE_ENV');
  if (nodeEnv === undefined) return null;
  const result = PLAIN_NAME.safeParse(nodeEnv);
  if (!result.success) {
    throw new ConfigError('NODE_ENV', `${JSON.stringify(nodeEnv)} ${result.error.issues[0]?.message ?? 'is invalid'}`, 'environment variable NODE_ENV');
  }
  return nodeEnv;
}

/** The secret in the file `fileVar` names. */
export function readSecretFile(fileVar: string, file: string): string {
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

/** The value at a dotted path of a file; undefined when absent. */
export function valueAt(data: Record<string, unknown>, path: string): unknown {
  let node: unknown = data;
  for (const part of path.split('.')) {
    if (!isPlainObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Files.

/** A missing file is no layer; an unreadable or malformed one is an error. */
function readLayer(file: string, table: Group): Layer | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
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
  checkKeys(data, table, '', file);
  return { file, data };
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position).split('\n');
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** A key for people, allowed anywhere: JSON has no comments. */
const COMMENT_KEY = '$comment';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Known keys are the table's: anything else in a file is a typo and refused. */
function checkKeys(value: Record<string, unknown>, node: Group, prefix: string, file: string): void {
  const children = new Map(childrenOf(node));
  for (const [key, child] of Object.entries(value)) {
    if (key === COMMENT_KEY) continue;
    const path = joinPath(prefix, key);
    const known = children.get(key);
    if (known === undefined) {
      const hint = closestKey(key, [...children.keys()]);
      throw new ConfigError(path, `unknown setting${hint === null ? '' : `; did you mean "${hint}"?`}`, file);
    }
    if (!isLeaf(known)) {
      if (!isPlainObject(child)) throw new ConfigError(path, 'must be an object', `${file}: ${path}`);
      checkKeys(child, known, path, file);
    } else if (known instanceof ScalarSetting && known.secret) {
      // Refused even when the value looks harmless: the file is the leak, not the value.
      throw new ConfigError(
        known.env,
        `secrets come only from the environment (value hidden); set ${known.env} or ${known.env}_FILE and remove it from the file`,
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
