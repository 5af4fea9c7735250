/**
 * The model-based test of "Rules over time" (docs/money-safety.md; issue 8, "What must be shown"): seeded
 * random histories of create, cancel, re-open, deliver, pay again, share a payment, delete,
 * restore, hide from a listing, change the lookback, change routing, VANISHED_ACTION, provider
 * 503s and captures, failing listings, and cycles — run against the real store (a fresh SQLite
 * file per history) and the real cycle, over HTTP to the sandbox world, and checked after every
 * cycle against the reference model (reference.ts; the invariants are listed in checks.ts).
 * Every history ends with its faults cleared and three healthy cycles, so whatever is owed must
 * be settled by its end.
 *
 * Environment:
 *   MODEL_HISTORIES=<n>      how many histories (default 500)
 *   MODEL_SEED=<n>           replay a run (the seed is printed first, and again on failure)
 *   MODEL_PATH=<path>        with MODEL_SEED and MODEL_REPLAY_PATH: replay exactly the shrunk
 *   MODEL_REPLAY_PATH=<rp>   counterexample fast-check printed ({ seed, path } and /*replayPath="rp"*\/)
 *   MODEL_INVARIANTS=1,3     check only these (0, cycles completing, is always checked)
 *   MODEL_EXCLUDE=share,SW   leave these command kinds (commands.ts COMMAND_KINDS) or payment
 *                           methods (K, QL, CL, SP, SW) out, e.g. to find a second story
 *   MODEL_MAX_COMMANDS=<n>   longest history before the settling cycles (default 40; about a third are skipped
 *                           when their order does not exist or is in the wrong state)
 *   MODEL_TIME_LIMIT_S=<n>   stop generating and shrinking after this long (default 480)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { startSandboxWorld, type SandboxWorld } from '../../src/sandbox/world.js';
import { INVARIANT_NAMES, Real, SETTLE_CYCLES, type Invariant } from './checks.js';
import { COMMAND_KINDS, METHODS, historyArbitrary } from './commands.js';
import { ReferenceModel } from './reference.js';
import { SystemUnderTest } from './system.js';

function integerSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

function listSetting(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const HISTORIES = integerSetting('MODEL_HISTORIES', 500);
const SEED = integerSetting('MODEL_SEED', Math.floor(Math.random() * 2 ** 31));
const PATH = process.env['MODEL_PATH'] || undefined;
const REPLAY_PATH = process.env['MODEL_REPLAY_PATH'] || undefined;
const MAX_COMMANDS = integerSetting('MODEL_MAX_COMMANDS', 40);
const TIME_LIMIT_MS = integerSetting('MODEL_TIME_LIMIT_S', 480) * 1000;

const ALL_INVARIANTS = Object.keys(INVARIANT_NAMES).map(Number) as Invariant[];
const chosen = listSetting('MODEL_INVARIANTS').map(Number);
for (const n of chosen) if (!ALL_INVARIANTS.includes(n as Invariant)) throw new Error(`MODEL_INVARIANTS: no invariant ${n}`);
const INVARIANTS = new Set<Invariant>(chosen.length > 0 ? (chosen as Invariant[]) : ALL_INVARIANTS);
const EXCLUDE = new Set(listSetting('MODEL_EXCLUDE'));
for (const kind of EXCLUDE) {
  if (!COMMAND_KINDS.includes(kind) && !(METHODS as readonly string[]).includes(kind))
    throw new Error(`MODEL_EXCLUDE: no command kind or payment method ${kind}`);
}

/** The settings that shape the generated histories: a replay needs the same ones. */
const SHAPING = ['MODEL_HISTORIES', 'MODEL_INVARIANTS', 'MODEL_EXCLUDE', 'MODEL_MAX_COMMANDS']
  .flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : []))
  .join(' ');
const REPLAY_WITH = `${SHAPING ? `${SHAPING} ` : ''}MODEL_SEED=${SEED}`;

// Announced before the run, so even a crash or a hang leaves the seed in the output.
process.stderr.write(`[model] history.test: seed ${SEED}, ${HISTORIES} histories (replay with ${REPLAY_WITH})\n`);

let world: SandboxWorld;
let dir: string;
let sut: SystemUnderTest;
let real: Real;
let historyNo = 0;

beforeAll(async () => {
  world = await startSandboxWorld({ orders: [] });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-model-'));
  sut = new SystemUnderTest(world, dir, SystemUnderTest.baseConfig(world, dir));
  real = new Real(sut, INVARIANTS);
}, 60_000);

afterAll(async () => {
  await world?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('money safety over time (model-based)', () => {
  it(
    `holds the rules over time for ${HISTORIES} random histories`,
    async () => {
      let ran = 0;
      let cycles = 0;
      let steps = 0;
      const property = fc.asyncProperty(historyArbitrary(EXCLUDE, MAX_COMMANDS, REPLAY_PATH), async (commands) => {
        historyNo += 1;
        const model = new ReferenceModel(historyNo);
        await sut.beginHistory(historyNo);
        real.resetHistory();
        try {
          await fc.asyncModelRun(() => ({ model, real }), commands);
          // The end of every history: nothing scripted any more, and time to settle.
          model.listingFault = null;
          model.pendingFaults.klarna = model.pendingFaults.qliro = model.pendingFaults.walley = 0;
          sut.clearFaults();
          model.changed(`settle: faults cleared, ${SETTLE_CYCLES} healthy cycles`);
          for (let i = 0; i < SETTLE_CYCLES; i += 1) await real.cycle(model);
        } finally {
          ran += 1;
          cycles += model.cyclesRun;
          // The settling step and its cycles are not the history's own commands.
          steps += model.changes - 1 + Math.max(0, model.cyclesRun - SETTLE_CYCLES);
          await sut.endHistory();
        }
      });
      const started = Date.now();
      try {
        await fc.assert(property, {
          numRuns: HISTORIES,
          seed: SEED,
          ...(PATH !== undefined ? { path: PATH, endOnFailure: true } : {}),
          interruptAfterTimeLimit: TIME_LIMIT_MS,
          markInterruptAsFailure: false,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const path = /path: "([^"]+)"/.exec(message)?.[1];
        const replayPath = /replayPath="([^"]+)"/.exec(message)?.[1];
        if (path && replayPath) {
          process.stderr.write(`[model] replay the shrunk history with: ${REPLAY_WITH} MODEL_PATH=${path} MODEL_REPLAY_PATH='${replayPath}'\n`);
        }
        throw error;
      }
      process.stderr.write(
        `[model] ${ran} histories (${(steps / Math.max(1, ran)).toFixed(1)} commands each on average), ${cycles} cycles in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      const t = real.tally;
      process.stderr.write(
        `[model] put to the test: ${t.causes} watched cancellations/disappearances, ${t.cancelsSeen} cancel requests, ` +
          `${t.owedChecked} owed payments checked settled, ${t.reopenedAfterCancel} re-opened after their cancel, ${t.failedListings} failed listings\n`,
      );
      // An interrupted run (time limit) must still have tried a meaningful number of histories.
      if (PATH === undefined) expect(ran).toBeGreaterThanOrEqual(Math.min(HISTORIES, 50));
    },
    TIME_LIMIT_MS + 120_000,
  );
});
