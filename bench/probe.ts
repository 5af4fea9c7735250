/**
 * Preloaded (`node --import …/probe.js`) into every process the bench spawns — `node -e 0`,
 * `specter-sync --version`, `specter-sync once` alike, so its own small cost is in numerator and
 * divisor — to report what a parent cannot see of a child on Node: its CPU time and peak RSS.
 * On exit it writes {userMs, systemMs, maxRssKb} to the file named by BENCH_PROBE_FILE.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_PROBE_FILE;
if (file) {
  process.on('exit', () => {
    const r = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ userMs: r.userCPUTime / 1000, systemMs: r.systemCPUTime / 1000, maxRssKb: r.maxRSS }));
  });
}
