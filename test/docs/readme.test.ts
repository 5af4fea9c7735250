/**
 * The README is part of the contract: alert rules are written from its event catalogue and
 * deployments from its settings table. These checks fail when code and README drift apart.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { describeFileSettings, describeSettings } from '../../src/config/load.js';
import { EVENT_CATALOGUE } from '../../src/observability/events.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

/** The commands of the first ```sh block under the heading `## <title>`, comments stripped. */
function shBlock(title: string): string[] {
  const section = readme.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  const block = section === undefined ? null : /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README has no \`\`\`sh block under "## ${title}"`);
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
}

/** A command's steps: `a && b` → ['a', 'b']. */
function steps(command: string): string[] {
  return command.split('&&').map((step) => step.trim().replace(/\s+/g, ' '));
}

/** The package.json script a step runs (`npm test` → test, `npm run build --silent` → build), or null. */
function npmScript(step: string): string | null {
  const match = /^npm (?:run(?:-script)? ([\w:-]+)|(test|start))(?: --?[\w-]+)*$/.exec(step);
  return match ? (match[1] ?? match[2] ?? null) : null;
}

describe('README', () => {
  it('documents every event of the catalogue with its level and alert flag', () => {
    for (const spec of EVENT_CATALOGUE) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${spec.event}\` | ${spec.level} |`));
      expect({ event: spec.event, row: row ?? null }).toEqual({ event: spec.event, row: expect.any(String) });
      if (spec.alert === 'conditional') expect(row).toContain('| when sent |');
      else expect(row!.includes('| yes |')).toBe(spec.alert);
    }
  });

  it('documents every setting and every JSON-only setting', () => {
    for (const setting of describeSettings()) expect(readme).toContain(`| \`${setting.env}\` |`);
    for (const setting of describeFileSettings()) expect(readme).toContain(`\`${setting.path}\``);
  });

  it("'The two commands' are exactly npm ci && npm run demo and npm ci && npm test, scripts package.json defines", () => {
    const commands = shBlock('The two commands');
    expect(commands).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
    // After the install, each runs one script of package.json: demo, test.
    expect(commands.map((command) => steps(command).map(npmScript))).toEqual([
      [null, 'demo'],
      [null, 'test'],
    ]);
    expect(commands.map((command) => steps(command)[0])).toEqual(['npm ci', 'npm ci']);
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['demo', 'test']));
    // Every other `npm run` the README mentions is a script too.
    const mentioned = [...readme.matchAll(/`npm run ([\w:-]+)`/g)].map((m) => m[1]!);
    expect(mentioned.length).toBeGreaterThan(0);
    for (const name of mentioned) expect(Object.keys(pkg.scripts)).toContain(name);
  });

  it('npm run demo builds dist/ and then runs dist/cli.js demo, the file the package installs as specter-sync', () => {
    const demo = steps(pkg.scripts.demo!);
    expect(demo.at(-1)).toBe('node dist/cli.js demo');
    const buildAt = demo.findIndex((step) => npmScript(step) === 'build');
    expect(buildAt).toBeGreaterThanOrEqual(0);
    expect(buildAt).toBeLessThan(demo.length - 1);
    expect(pkg.bin['specter-sync']).toBe('dist/cli.js');
    // The build script compiles src/ into dist/, so src/cli.ts becomes dist/cli.js.
    const build = /^tsc -p (\S+)$/.exec(pkg.scripts.build!);
    expect(build).not.toBeNull();
    const tsconfig = JSON.parse(fs.readFileSync(new URL(`../../${build![1]!}`, import.meta.url), 'utf8')) as {
      compilerOptions: { rootDir?: string; outDir?: string; noEmit?: boolean };
      include: string[];
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(tsconfig.compilerOptions.noEmit).not.toBe(true);
    expect(tsconfig.include).toContain('src');
    expect(fs.existsSync(new URL('../../src/cli.ts', import.meta.url))).toBe(true);
  });

  it('npm test type-checks sources and tests and builds dist/ before it runs Jest, as the README says', () => {
    const test = steps(pkg.scripts.test!);
    const jestAt = test.findIndex((step) => /(^|[\s/])jest(\.js)?(\s|$)/.test(step));
    const buildAt = test.findIndex((step) => npmScript(step) === 'build');
    const typecheckAt = test.findIndex((step) => npmScript(step) === 'typecheck');
    expect(jestAt).toBeGreaterThanOrEqual(0);
    // The end-to-end suites run dist/cli.js: a build after Jest (or none) would test a stale one.
    expect(buildAt).toBeGreaterThanOrEqual(0);
    expect(buildAt).toBeLessThan(jestAt);
    expect(typecheckAt).toBeGreaterThanOrEqual(0);
    expect(typecheckAt).toBeLessThan(jestAt);
    expect(pkg.scripts.typecheck).toBe('tsc -p tsconfig.json --noEmit');
    const tsconfig = JSON.parse(fs.readFileSync(new URL('../../tsconfig.json', import.meta.url), 'utf8')) as { include: string[] };
    expect(tsconfig.include).toEqual(expect.arrayContaining(['src', 'test']));
  });

  it('.ci/run runs the README test command', () => {
    const ci = fs.readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
