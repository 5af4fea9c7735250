/**
 * The import direction written in docs/architecture.md ("Layers"), checked on the source: every
 * relative import of every file in src/ must point at its own folder or at one the table allows.
 * A layer that imports a higher one fails here, naming the file and the import.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const ARCHITECTURE = fs.readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

/** The table in docs/architecture.md: `| \`module\` | may import |`. */
function allowedImports(): Map<string, Set<string>> {
  const section = ARCHITECTURE.split('## Layers')[1]?.split('\n## ')[0] ?? '';
  const rows = section.split('\n').filter((line) => /^\| `[a-z.]+` \|/.test(line));
  return new Map(
    rows.map((row) => {
      const [, name, deps] = /^\| `([a-z.]+)` \|[^|]*\| ([^|]*) \|/.exec(row) ?? [];
      const list = (deps ?? '').match(/`[a-z.]+`/g)?.map((d) => d.slice(1, -1)) ?? [];
      return [name ?? '', new Set(list)];
    }),
  );
}

/** `src/store/jobs.ts` → `store`; `src/domain.ts` → `domain`; `src/cli.ts` → `cli.ts`. */
function moduleOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel.length === 1) return rel[0] === 'cli.ts' ? 'cli.ts' : rel[0]!.replace(/\.ts$/, '');
  return rel[0]!;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(full) : e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('layers (docs/architecture.md)', () => {
  const allowed = allowedImports();
  const files = sourceFiles(SRC);

  it('the table names every module of src/', () => {
    const modules = new Set(files.map(moduleOf));
    expect([...modules].filter((m) => !allowed.has(m)).sort()).toEqual([]);
    expect(allowed.size).toBeGreaterThan(10);
  });

  it('no module imports one the table does not allow', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = moduleOf(file);
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
        const target = moduleOf(path.resolve(path.dirname(file), match[1]!.replace(/\.js$/, '.ts')));
        if (target !== from && !allowed.get(from)?.has(target)) violations.push(`${path.relative(SRC, file)} imports ${match[1]} (${from} → ${target})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the check can fail: an upward import is caught', () => {
    // The table says store may not import worker; a line that did would be a violation.
    expect(allowed.get('store')?.has('worker')).toBe(false);
    expect(allowed.get('dispatch')?.has('worker')).toBe(false);
  });
});

describe('file size (issue: a file over 350 lines must say why it is one thing)', () => {
  it('every file in src/ over 350 lines says in its header why it is one file', () => {
    const long = sourceFiles(SRC)
      .map((file) => ({ file, text: fs.readFileSync(file, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 350)
      .filter(({ text }) => !/One file because/i.test(text.slice(0, 2000)))
      .map(({ file, text }) => `${path.relative(SRC, file)} (${text.split('\n').length} lines)`);
    expect(long).toEqual([]);
  });
});

describe('folders', () => {
  it('docs/architecture.md gives every folder of src/ its purpose in one line', () => {
    const folders = fs
      .readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const missing = folders.filter((f) => !new RegExp(`^\\| \`${f}\` \\| [^|]{10,} \\|`, 'm').test(ARCHITECTURE));
    expect(missing).toEqual([]);
  });
});
