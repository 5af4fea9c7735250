/**
 * Debian's Chromium driven by playwright-core (no browser download): where it is, how it is
 * launched, and what a machine without it does — fail where a browser is required (CI, or
 * SPECTER_SYNC_REQUIRE_BROWSER=1; .ci/run installs it), else skip, loudly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from '../support/cli.js';

const CHROMIUM = '/usr/bin/chromium';
/** Screenshots the browser tests leave for a person to look at (the README names the folder). */
export const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts', 'console');

export type BrowserAvailability = { available: true } | { available: false; required: boolean; why: string };

export function browserAvailability(): BrowserAvailability {
  if (fs.existsSync(CHROMIUM)) return { available: true };
  const required = process.env.CI === 'true' || process.env.SPECTER_SYNC_REQUIRE_BROWSER === '1';
  return { available: false, required, why: `${CHROMIUM} is missing (apt-get install -y chromium)` };
}

/**
 * A fresh profile per launch (playwright's launch() makes a new temporary --user-data-dir and
 * refuses one passed in args), nothing background reaching for the network.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
}
