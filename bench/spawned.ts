/**
 * Processes timed from spawn to exit, as a user (or cron) runs them: `node -e 0`, the CLI's
 * `--version` and `--help`, and `specter-sync once`. Each preloads probe.js, which writes the
 * process's CPU time and peak RSS where this side can read them after the exit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

export interface SpawnSample {
  ms: number;
  cpuMs: number;
  peakKb: number;
  code: number | null;
}

function spawnTimed(probe: string, args: readonly string[], env: Record<string, string | undefined> = {}): Promise<SpawnSample> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-probe-'));
  const file = path.join(dir, 'probe.json');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', pathToFileURL(probe).href, ...args], {
      env: { ...process.env, ...env, BENCH_PROBE_FILE: file },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      try {
        const probed = JSON.parse(fs.readFileSync(file, 'utf8')) as { userMs: number; systemMs: number; maxRssKb: number };
        resolve({ ms, cpuMs: probed.userMs + probed.systemMs, peakKb: probed.maxRssKb, code });
      } catch {
        reject(new Error(`${args.join(' ')} exited ${code} without a probe report: ${stderr.slice(0, 2000)}`));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

export interface StartupResult {
  reps: number;
  nodeE0: SpawnSample[];
  version: SpawnSample[];
  help: SpawnSample[];
}

/** `node -e 0`, `--version`, `--help`, round-robin, so load hits all three alike. */
export async function measureStartup(probe: string, cli: string, reps: number): Promise<StartupResult> {
  const result: StartupResult = { reps, nodeE0: [], version: [], help: [] };
  await spawnTimed(probe, ['-e', '0']); // warm the file cache
  await spawnTimed(probe, [cli, '--version']);
  for (let rep = 0; rep < reps; rep += 1) {
    result.nodeE0.push(await spawnTimed(probe, ['-e', '0']));
    result.version.push(await spawnTimed(probe, [cli, '--version']));
    result.help.push(await spawnTimed(probe, [cli, '--help']));
  }
  for (const s of [...result.version, ...result.help]) if (s.code !== 0) throw new Error(`the CLI exited ${s.code} on --version/--help`);
  return result;
}

export interface OnceResult {
  once: SpawnSample[];
  nodeE0: SpawnSample[];
}

/**
 * `specter-sync once` on a database that already holds a baseline (and a warm-up run), so each
 * timed run is a steady-state cycle as cron would start it, alternating with `node -e 0`.
 */
export async function measureOnce(probe: string, cli: string, env: Record<string, string>, reps: number): Promise<OnceResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-sync-once-'));
  const runEnv = { ...env, SYNC_DB_PATH: path.join(dir, 'sync.db') };
  const ok = (s: SpawnSample) => {
    // 0: done; 3: done, something awaits a person (the bench's cancelled orders may leave some).
    if (s.code !== 0 && s.code !== 3) throw new Error(`specter-sync once exited ${s.code}`);
    return s;
  };
  try {
    ok(await spawnTimed(probe, [cli, 'once'], runEnv)); // the baseline
    ok(await spawnTimed(probe, [cli, 'once'], runEnv)); // warm-up (dispatches whatever the 1 % runs left)
    const result: OnceResult = { once: [], nodeE0: [] };
    for (let rep = 0; rep < reps; rep += 1) {
      result.nodeE0.push(await spawnTimed(probe, ['-e', '0']));
      result.once.push(ok(await spawnTimed(probe, [cli, 'once'], runEnv)));
    }
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
