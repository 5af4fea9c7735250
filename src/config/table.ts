/**
 * The vocabulary of a settings table (what a setting is) and the config type a table yields.
 *
 * A table is a tree shaped like the config object it produces: a plain object is a group, a
 * leaf is a setting, and a leaf's place in the tree is both its place in the config object and
 * its dotted JSON path in the config files. So a setting is written once, and the config type is
 * derived from the table (ConfigOf) instead of being restated beside it.
 */
import type { z } from 'zod';

/**
 * A schema for a scalar in the string form an operator writes (an environment variable is a
 * string; a JSON number is read as its string form). Its error message reads after the quoted
 * value: `"sixty" is not a positive integer`.
 */
export type StringSchema = z.ZodType<unknown, string>;

/** `always`: a default, or required (an error when unset). `optional`: null when unset. */
export type Presence = 'always' | 'optional';

interface ScalarSpec<S extends StringSchema> {
  schema: S;
  description: string;
  /** Read only from the environment or `<ENV>_FILE`, refused in a JSON file, redacted from logs. */
  secret?: boolean;
}

/** A scalar setting: one environment variable and (unless secret) one JSON path. */
export class ScalarSetting<S extends StringSchema = StringSchema, P extends Presence = Presence> {
  /** Type only: carries the presence into ConfigOf. */
  declare readonly presence: P;
  constructor(
    readonly env: string,
    /** In the string form an operator would write; null = no default. */
    readonly defaultValue: string | null,
    readonly required: boolean,
    readonly schema: S,
    readonly description: string,
    readonly secret: boolean,
  ) {}
}

/** Structure rather than a deployment value: JSON files only (no environment variable). */
export class FileSetting<S extends z.ZodType = z.ZodType> {
  constructor(
    readonly schema: S,
    readonly description: string,
  ) {}
}

/**
 * A group that is on only when its switch members (the ones with neither a default nor
 * `required`, e.g. a provider's credentials) are all set, and null when none is; some but not all
 * is an error. Its other members are read (and validated) either way.
 */
export class SwitchGroup<M extends Record<string, ScalarSetting> = Record<string, ScalarSetting>> {
  constructor(
    /** For the error message: "set every Klarna credential". */
    readonly label: string,
    readonly members: M,
  ) {}
}

export type TableNode = ScalarSetting | FileSetting | SwitchGroup | { readonly [key: string]: TableNode };
/** A node with children: a plain group or a switch group. */
export type Group = Exclude<TableNode, ScalarSetting | FileSetting>;

export function setting<S extends StringSchema>(env: string, spec: ScalarSpec<S> & { default: string }): ScalarSetting<S, 'always'>;
export function setting<S extends StringSchema>(env: string, spec: ScalarSpec<S> & { required: true }): ScalarSetting<S, 'always'>;
export function setting<S extends StringSchema>(env: string, spec: ScalarSpec<S>): ScalarSetting<S, 'optional'>;
export function setting<S extends StringSchema>(env: string, spec: ScalarSpec<S> & { default?: string; required?: true }): ScalarSetting<S> {
  return new ScalarSetting(env, spec.default ?? null, spec.required === true, spec.schema, spec.description, spec.secret === true);
}

export function fileSetting<S extends z.ZodType>(schema: S, description: string): FileSetting<S> {
  return new FileSetting(schema, description);
}

export function switchGroup<M extends Record<string, ScalarSetting>>(label: string, members: M): SwitchGroup<M> {
  return new SwitchGroup(label, members);
}

/** The config object a table yields. */
export type ConfigOf<T> =
  T extends ScalarSetting<infer S, infer P>
    ? P extends 'optional'
      ? z.output<S> | null
      : z.output<S>
    : T extends FileSetting<infer S>
      ? z.output<S>
      : T extends SwitchGroup<infer M>
        ? { -readonly [K in keyof M]: NonNullable<ConfigOf<M[K]>> } | null
        : { -readonly [K in keyof T]: ConfigOf<T[K]> };

export function isLeaf(node: TableNode): node is ScalarSetting | FileSetting {
  return node instanceof ScalarSetting || node instanceof FileSetting;
}

/** A group's children in table order. */
export function childrenOf(node: Group): Array<[string, TableNode]> {
  return node instanceof SwitchGroup ? Object.entries(node.members) : Object.entries(node);
}

export function joinPath(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

/** Every leaf with its dotted path, in table order. */
export function* leaves(node: TableNode, prefix = ''): Generator<{ path: string; leaf: ScalarSetting | FileSetting }> {
  if (isLeaf(node)) {
    yield { path: prefix, leaf: node };
    return;
  }
  for (const [key, child] of childrenOf(node)) yield* leaves(child, joinPath(prefix, key));
}
