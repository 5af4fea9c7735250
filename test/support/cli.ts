/**
 * Every child process whose output or effects a test judges goes through here: the REAL CLI
 * (`node dist/cli.js`, so build first) or a short node script, run to its end (`runCli`,
 * `runNode`) or kept running while the test reads its log lines as they arrive (`startCli`).
 * (Two unit tests spawn a bare `node -e` only to own a live or a dead pid; they need none of this.)
 *
 * The child is spawned asynchronously on purpose: the sandbox servers answer from this process's
 * event loop, so a spawnSync would deadlock them against the child. The child's environment is
 * built from nothing but PATH and HOME plus the world's variables (`childEnv`): a developer's own
 * SPECTER_* settings must never leak into a test run (or a test into their account).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built CLI of this checkout (`npm run build` makes it). */
export const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Variables to set (a string) or to leave out (undefined); later layers win. */
export type EnvLayer = Record<string, string | undefined>;

/** One JSON log line (anything else on a stream is the human report). */
export interface LogLine {
  timestamp: string;
  level: string;
  event: string;
  message: string;
  alert?: boolean;
  [field: string]: unknown;
}

export interface CliResult {
  /** What followed `node`: the CLI's arguments for a CLI run, the whole argv for a script. */
  args: readonly string[];
  /** How failure messages name the command (`specter-sync once`, `node -e …`). */
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** JSON log lines from stdout and stderr, in order per stream (stdout first). */
  lines: LogLine[];
  /** Lines of one event. */
  events(name: string): LogLine[];
  /** Non-JSON stdout text. */
  human: string;
  durationMs: number;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** When the process ended (its streams may have closed a little later). */
  atMs: number;
}

interface ChildOptions {
  /** The whole environment of the child: make it with `childEnv`. */
  env: Record<string, string>;
  cwd?: string;
  /** Polled every 10 ms while the child runs; when it returns true the child is SIGKILLed. */
  killWhen?: () => boolean;
}

interface RunOptions extends ChildOptions {
  /** The run is SIGKILLed and the promise rejected after this long (a run must always end). */
  timeoutMs?: number;
}

interface CliOptions {
  /** Another build of the CLI (the fault suite's FAULTS_CLI); default: this checkout's. */
  cli?: string;
}

/** One run may take this long on a slow shared machine before the harness gives up on it. */
export const RUN_TIMEOUT_MS = 60_000;

/**
 * A child's environment, built from nothing but PATH and HOME plus `layers` (later ones win;
 * undefined leaves a variable out): nothing of the test runner's own environment leaks in.
 */
export function childEnv(...layers: EnvLayer[]): Record<string, string> {
  const merged: EnvLayer = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir() };
  for (const layer of layers) Object.assign(merged, layer);
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) if (v !== undefined) clean[k] = v;
  return clean;
}

/** The log line `raw` carries, or null when it is not one (the human report, a stack trace). */
function parseLogLine(raw: string): LogLine | null {
  const trimmed = raw.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return null;
  try {
    const value = JSON.parse(trimmed) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as LogLine).event === 'string' ? (value as LogLine) : null;
  } catch {
    return null;
  }
}

function splitLog(text: string): { lines: LogLine[]; human: string[] } {
  const lines: LogLine[] = [];
  const human: string[] = [];
  for (const raw of text.split('\n')) {
    const line = parseLogLine(raw);
    if (line) lines.push(line);
    else human.push(raw);
  }
  return { lines, human };
}

function tail(text: string, max: number): string {
  return text.length <= max ? text : `…${text.slice(-max)}`;
}

/** A rendering of a result for failure messages (each stream's last `maxChars` only, if given). */
export function show(result: CliResult, maxChars = Infinity): string {
  return `${result.command} → code ${result.code} signal ${result.signal}\n--- stdout ---\n${tail(result.stdout, maxChars)}\n--- stderr ---\n${tail(result.stderr, maxChars)}`;
}

/** Asserts the exit code, showing the whole output when it is not the expected one. */
export function expectExit(result: CliResult, code: number): void {
  if (result.code !== code) throw new Error(`expected exit code ${code}\n${show(result)}`);
}

/**
 * Runs `assertions` about what a child did; when one fails, the failure carries the whole output
 * of `results` too (the log lines say why the worker did what it did).
 */
export function about(results: CliResult | readonly CliResult[], assertions: () => void): void {
  try {
    assertions();
  } catch (error) {
    const shown = (Array.isArray(results) ? results : [results]).map((r: CliResult) => show(r)).join('\n\n');
    const failure = error instanceof Error ? error : new Error(String(error));
    const wrapped = new Error(`${failure.message}\n\n${shown}`);
    wrapped.stack = `${wrapped.message}\n${(failure.stack ?? '')
      .split('\n')
      .filter((l) => /^\s+at /.test(l))
      .join('\n')}`;
    throw wrapped;
  }
}

/**
 * A child process as it runs: its stdout log lines as they arrive, and its end. `finished()` turns
 * it into a CliResult; `waitForLine` waits for a line without a fixed sleep.
 */
export class Child {
  /** Stdout's JSON log lines, as they arrive. */
  readonly lines: LogLine[] = [];
  /** Stdout's complete lines that are not log lines (a `run` worker must print none). */
  readonly notJson: string[] = [];
  /** Resolves once the process has ended and its streams are read to the end. */
  readonly exited: Promise<Exit>;
  readonly startedAtMs = Date.now();

  private readonly process: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private out = '';
  private err = '';
  private pending = '';
  private ended = false;

  /**
   * `argv` follows `node`; `args` and `command` name the run in results and failure messages
   * (the CLI's arguments and `specter-sync …`, or the script's argv and `node …`).
   */
  constructor(
    argv: readonly string[],
    readonly args: readonly string[],
    readonly command: string,
    options: ChildOptions,
  ) {
    this.process = spawn(process.execPath, argv, { env: options.env, cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.out += chunk;
      this.pending += chunk;
      let newline: number;
      while ((newline = this.pending.indexOf('\n')) >= 0) {
        this.take(this.pending.slice(0, newline));
        this.pending = this.pending.slice(newline + 1);
      }
      this.wake();
    });
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.err += chunk;
    });
    const poll = options.killWhen
      ? setInterval(() => {
          if (!this.ended && options.killWhen!()) this.process.kill('SIGKILL');
        }, 10)
      : null;
    let endedAtMs: number | null = null;
    this.process.on('exit', () => {
      endedAtMs = Date.now();
    });
    this.exited = new Promise<Exit>((resolve, reject) => {
      this.process.on('error', (error) => {
        if (poll) clearInterval(poll);
        this.ended = true;
        this.wake();
        reject(error);
      });
      this.process.on('close', (code, signal) => {
        if (poll) clearInterval(poll);
        if (this.pending !== '') this.take(this.pending);
        this.pending = '';
        this.ended = true;
        this.wake();
        resolve({ code, signal, atMs: endedAtMs ?? Date.now() });
      });
    });
    // A spawn error surfaces through whoever awaits `exited`; never as an unhandled rejection.
    this.exited.catch(() => undefined);
  }

  get running(): boolean {
    return !this.ended;
  }

  stdout(): string {
    return this.out;
  }

  stderr(): string {
    return this.err;
  }

  /** Sends `signal` (if the process still runs) without waiting for the end. */
  signal(signal: NodeJS.Signals): void {
    if (!this.ended) this.process.kill(signal);
  }

  /** Sends `signal` (if the process still runs) and waits for the end. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    this.signal(signal);
    return this.exited;
  }

  /** Resolves with the first stdout log line at index >= `from` that matches. */
  waitForLine(match: (line: LogLine) => boolean, options: { from?: number; timeoutMs?: number } = {}): Promise<LogLine> {
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<LogLine>((resolve, reject) => {
      const events = () => this.lines.map((l) => l.event).join(', ');
      const check = () => {
        const found = this.lines.slice(from).find(match);
        if (found) {
          done();
          resolve(found);
        } else if (this.ended) {
          done();
          reject(new Error(`${this.command} exited before the expected line; stderr: ${this.err}\nevents: ${events()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.command}: no such line within ${timeoutMs} ms; events so far: ${events()}; stderr: ${this.err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the end (SIGKILL and a rejection after `timeoutMs`: a run must always end). */
  async finished(timeoutMs = RUN_TIMEOUT_MS): Promise<CliResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        reject(new Error(`${this.command} did not end within ${timeoutMs} ms\nstdout:\n${tail(this.out, 8000)}\nstderr:\n${tail(this.err, 8000)}`));
      }, timeoutMs);
    });
    try {
      const exit = await Promise.race([this.exited, timedOut]);
      return this.result(exit);
    } finally {
      clearTimeout(timer);
    }
  }

  private result(exit: Exit): CliResult {
    const o = splitLog(this.out);
    const e = splitLog(this.err);
    const lines = [...o.lines, ...e.lines];
    return {
      args: this.args,
      command: this.command,
      code: exit.code,
      signal: exit.signal,
      stdout: this.out,
      stderr: this.err,
      lines,
      events: (name) => lines.filter((l) => l.event === name),
      human: o.human.join('\n'),
      durationMs: exit.atMs - this.startedAtMs,
    };
  }

  private take(text: string): void {
    const line = parseLogLine(text);
    if (line) this.lines.push(line);
    else this.notJson.push(text);
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }
}

/** Starts `node dist/cli.js ...args` (or `options.cli`) with exactly `options.env`. */
export function startCli(args: readonly string[], options: ChildOptions & CliOptions): Child {
  return new Child([options.cli ?? CLI, ...args], args, `specter-sync ${args.join(' ')}`, options);
}

/** Runs `node dist/cli.js ...args` to its end; never rejects on a non-zero exit. */
export function runCli(args: readonly string[], options: RunOptions & CliOptions): Promise<CliResult> {
  return startCli(args, options).finished(options.timeoutMs);
}

/** Runs `node ...argv` (a script of the test's own) to its end; never rejects on a non-zero exit. */
export function runNode(argv: readonly string[], options: RunOptions): Promise<CliResult> {
  return new Child(argv, argv, `node ${argv.map((a) => (a.length > 60 ? `${a.slice(0, 57)}…` : a)).join(' ')}`, options).finished(options.timeoutMs);
}

/** Polls `check` every 20 ms until it is true (no fixed sleeps); throws after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
