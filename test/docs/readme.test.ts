/**
 * The README is part of the contract: alert rules are written from its event catalogue and
 * deployments from its settings table. These checks fail when code and README drift apart.
 */
import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { describeFileSettings, describeSettings } from '../../src/config/load.js';
import { EVENT_CATALOGUE } from '../../src/observability/events.js';

const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

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

  it('shows the two commands, and they exist', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    expect(pkg.scripts.demo).toContain('demo');
    expect(pkg.scripts.test).toContain('jest');
  });

  it('.ci/run runs the README test command', () => {
    const ci = fs.readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
