/**
 * The outbound kit and observability sit at the bottom: the kit imports nothing of the app, and
 * observability only the kit and domain.ts. Read from the sources, so a new import that points
 * back up (observability → dispatch, as metrics.ts once did for a type) fails here.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve('src');

/** Every relative import of every .ts file in `folder`, resolved to a path under src/. */
function importsOf(folder: string): Array<{ file: string; target: string }> {
  const dir = path.join(SRC, folder);
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const text = fs.readFileSync(path.join(dir, name), 'utf8');
      return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gm)].map((m) => ({
        file: `${folder}/${name}`,
        target: path.relative(SRC, path.resolve(dir, m[1]!)),
      }));
    });
}

describe('import direction', () => {
  it('the outbound kit imports nothing outside itself', () => {
    const imports = importsOf('outbound');
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((i) => !i.target.startsWith(`outbound${path.sep}`))).toEqual([]);
  });

  it('observability imports only itself, the kit and domain.ts', () => {
    const imports = importsOf('observability');
    expect(imports.some((i) => i.target.startsWith(`outbound${path.sep}`))).toBe(true);
    const allowed = (target: string): boolean =>
      target.startsWith(`observability${path.sep}`) || target.startsWith(`outbound${path.sep}`) || target === 'domain.js';
    expect(imports.filter((i) => !allowed(i.target))).toEqual([]);
  });
});
