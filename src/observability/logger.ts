/**
 * The logger: one line per event, JSON for machines (the alerting interface) or `pretty` for
 * terminals, every line redacted as a whole just before it is written.
 *
 * Built on winston, with three of its habits worked around:
 *  - winston prints an Error inside the metadata as `{}` (its properties are not enumerable):
 *    every Error anywhere in the fields is serialised here, by serialiseError;
 *  - `logger.info(msg, meta)` merges `meta` into the line, so a field called `message` or
 *    `level` would rewrite them: fields travel under a private symbol and are laid out here;
 *  - winston's own 'finish' fires before its transports have written: close() waits for our
 *    transport, which completes a line only once the stream has taken it.
 */
import winston from 'winston';
// Types only (erased): winston's own declarations are built on this package.
import type TransportStream from 'winston-transport';
import { eventSpec, type EventName, type EventSpec, type LogLevel } from './events.js';
import { createRedactor, type Redactor } from '../outbound/redact.js';

export interface LogFields {
  orderNo?: string;
  provider?: string;
  providerRef?: string;
  amount?: string | null;
  currency?: string | null;
  error?: unknown;
  [key: string]: unknown;
}

export interface Logger {
  event(name: EventName, message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (the call's own fields win). */
  child(fields: LogFields): Logger;
  /** Waits until every line has been handed to the stream (bounded); later events are dropped. */
  close(): Promise<void>;
}

export interface LoggerOptions {
  level: LogLevel;
  format: 'json' | 'pretty';
  /** AppConfig.secrets: masked wherever they appear. */
  secrets: readonly string[];
  /** Default process.stdout. */
  stream?: NodeJS.WritableStream;
  /** How long close() waits for a stalled stream before giving up; default 5000 ms. */
  closeTimeoutMs?: number;
}

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
/** winston (via triple-beam) reads the finished line from this key. */
const MESSAGE = Symbol.for('message');
/** Our entry, carried through winston untouched. */
const ENTRY = Symbol('specter-sync.entry');
/** Keys every line starts with; a field of the same name is written as `_<name>` instead. */
const RESERVED = new Set(['timestamp', 'level', 'event', 'message', 'alert']);
const MAX_DEPTH = 8;

interface Entry {
  timestamp: string;
  level: LogLevel;
  event: string;
  message: string;
  alert: boolean;
  fields: LogFields;
}

// ---------------------------------------------------------------------------------------------
// Turning arbitrary values into JSON-safe ones.

interface SerialisedError {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
  cause?: unknown;
}

function serialiseError(error: Error, withStack: boolean, seen: WeakSet<object>, depth: number): SerialisedError {
  const out: SerialisedError = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  if (withStack && typeof error.stack === 'string') out.stack = error.stack;
  // Node's fetch and many wrappers hide the real reason (ECONNREFUSED, …) in `cause`.
  if (error.cause !== undefined) out.cause = toPlain(error.cause, withStack, seen, depth + 1);
  return out;
}

function toPlain(value: unknown, withStack: boolean, seen: WeakSet<object>, depth: number): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'undefined' || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (seen.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[Too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return serialiseError(value, withStack, seen, depth);
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (ArrayBuffer.isView(value)) return `[${value.constructor.name} ${value.byteLength} bytes]`;
    if (Array.isArray(value)) return value.map((item) => toPlain(item, withStack, seen, depth + 1) ?? null);
    if (value instanceof Map) return toPlain(Object.fromEntries(value), withStack, seen, depth + 1);
    if (value instanceof Set) return toPlain([...value], withStack, seen, depth + 1);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return toPlain(toJSON.call(value), withStack, seen, depth + 1);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const plain = toPlain(item, withStack, seen, depth + 1);
      if (plain !== undefined) out[key] = plain;
    }
    return out;
  } finally {
    // Only cycles are circular; the same object twice side by side is written twice.
    seen.delete(value);
  }
}

/** The `error` field is always an object with a name and a message, even when a string was thrown. */
function plainError(value: unknown, withStack: boolean): unknown {
  if (value instanceof Error) return serialiseError(value, withStack, new WeakSet(), 0);
  if (value === undefined) return undefined;
  const plain = toPlain(value, withStack, new WeakSet(), 0);
  return { name: 'NonError', message: typeof plain === 'string' ? plain : JSON.stringify(plain) };
}

function plainFields(fields: LogFields, withStack: boolean): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(fields)) {
    const plain = key === 'error' ? plainError(value, withStack) : toPlain(value, withStack, new WeakSet(), 0);
    if (plain === undefined) continue;
    out.push([RESERVED.has(key) ? `_${key}` : key, plain]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Line formats.

function jsonLine(entry: Entry, withStack: boolean): string {
  const line: Record<string, unknown> = {
    timestamp: entry.timestamp,
    level: entry.level,
    event: entry.event,
    message: entry.message,
  };
  if (entry.alert) line.alert = true;
  for (const [key, value] of plainFields(entry.fields, withStack)) line[key] = value;
  return JSON.stringify(line);
}

const ANSI = { reset: '\x1b[0m', dim: '\x1b[2m', bold: '\x1b[1m', red: '\x1b[31m', yellow: '\x1b[33m', green: '\x1b[32m', cyan: '\x1b[36m' };
const LEVEL_COLOUR: Record<LogLevel, string> = { error: ANSI.red, warn: ANSI.yellow, info: ANSI.green, debug: ANSI.dim };

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"'=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === 'object' && 'message' in value && 'name' in value) {
    // A serialised error: "TypeError: boom" reads better than its JSON.
    const { name, message, code } = value as { name: unknown; message: unknown; code?: unknown };
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error-shaped value from anywhere: its fields are shown as text, whatever they are
    return JSON.stringify(`${String(name)}: ${String(message)}${code === undefined ? '' : ` [${String(code)}]`}`);
  }
  return JSON.stringify(value);
}

function prettyLine(entry: Entry, colour: boolean): string {
  const paint = (code: string, text: string): string => (colour ? `${code}${text}${ANSI.reset}` : text);
  const parts = [
    paint(ANSI.dim, entry.timestamp),
    paint(LEVEL_COLOUR[entry.level], entry.level.toUpperCase().padEnd(5)),
    paint(ANSI.bold + ANSI.cyan, entry.event),
  ];
  if (entry.alert) parts.push(paint(ANSI.bold + ANSI.red, 'ALERT'));
  // One line per event, whatever the message holds.
  parts.push(entry.message.replace(/\r?\n/g, '\\n'));
  for (const [key, value] of plainFields(entry.fields, false)) parts.push(`${paint(ANSI.dim, `${key}=`)}${prettyValue(value)}`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------
// The transport: completes a line only when the stream has taken it, so close() can wait for it.

// winston exports the base class as `Transport` at runtime but types it as `transport`.
const TransportBase = (winston as unknown as { Transport: typeof TransportStream }).Transport;

class StreamTransport extends TransportBase {
  private broken = false;
  private readonly onError = (): void => {
    // EPIPE and the like (stdout piped into `head`): stop writing rather than crash the worker.
    this.broken = true;
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    super();
    stream.on('error', this.onError);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const line = info[MESSAGE];
    if (this.broken || typeof line !== 'string') {
      next();
      return;
    }
    try {
      this.stream.write(`${line}\n`, () => next());
    } catch {
      this.broken = true;
      next();
    }
  }

  detach(): void {
    this.stream.removeListener('error', this.onError);
  }
}

// ---------------------------------------------------------------------------------------------

export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const redactor: Redactor = createRedactor(options.secrets);
  const withStack = options.level === 'debug';
  const colour = (stream as { isTTY?: boolean }).isTTY === true;
  const render = options.format === 'pretty' ? (entry: Entry) => prettyLine(entry, colour) : (entry: Entry) => jsonLine(entry, withStack);

  const lineFormat = winston.format((info) => {
    const entry = info[ENTRY] as Entry | undefined;
    if (entry === undefined) return false;
    // Redaction on the finished line: whatever path a secret took into it, it is masked here.
    info[MESSAGE] = redactor(render(entry));
    return info;
  });

  const transport = new StreamTransport(stream);
  const winstonLogger = winston.createLogger({
    levels: LEVELS,
    level: options.level,
    // errors(): for anything logged through winston directly with an Error as the message.
    format: winston.format.combine(winston.format.errors({ stack: withStack }), lineFormat()),
    transports: [transport],
    exitOnError: false,
  });

  let closing: Promise<void> | null = null;

  const write = (name: EventName, message: string, fields: LogFields): void => {
    if (closing !== null) return;
    const spec = eventSpec(name);
    // A name outside the catalogue can only come from untyped code: log it rather than lose it.
    const level: LogLevel = spec?.level ?? 'info';
    const alert = alertOf(spec, fields);
    const entry: Entry = {
      timestamp: new Date().toISOString(),
      level,
      event: name,
      message,
      alert,
      // A conditional event's `alert` field is the line's alert flag, not a field of its own.
      fields: spec?.alert === 'conditional' ? withoutAlert(fields) : fields,
    };
    winstonLogger.log({ level, message, [ENTRY]: entry });
  };

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(done, options.closeTimeoutMs ?? 5000);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        transport.detach();
        resolve();
      }
      // Ending the logger ends the piped transport; its 'finish' comes after its last write.
      transport.once('finish', done);
      transport.once('close', done);
      winstonLogger.end();
    });
    return closing;
  };

  const make = (base: LogFields): Logger => ({
    event: (name, message, fields) => write(name, message, fields === undefined ? base : { ...base, ...fields }),
    child: (fields) => make({ ...base, ...fields }),
    close,
  });
  return make({});
}

/** The catalogue decides, except for a 'conditional' event, where the line's `alert: true` does. */
function alertOf(spec: EventSpec | undefined, fields: LogFields): boolean {
  if (spec?.alert === 'conditional') return fields.alert === true;
  return spec?.alert ?? false;
}

function withoutAlert(fields: LogFields): LogFields {
  const { alert: _alert, ...rest } = fields;
  return rest;
}

/** A logger that writes nothing: for tests and library use. */
export function silentLogger(): Logger {
  const logger: Logger = {
    event: () => undefined,
    child: () => logger,
    close: () => Promise.resolve(),
  };
  return logger;
}

export interface RecordedEvent {
  event: EventName;
  level: LogLevel;
  alert: boolean;
  message: string;
  fields: LogFields;
}

/** A logger that keeps events in memory, for tests that assert what was logged. */
export function memoryLogger(): Logger & { readonly events: RecordedEvent[] } {
  const events: RecordedEvent[] = [];
  const make = (base: LogFields): Logger => ({
    event: (name, message, fields) => {
      const spec = eventSpec(name);
      const all = { ...base, ...fields };
      events.push({
        event: name,
        level: spec?.level ?? 'info',
        alert: alertOf(spec, all),
        message,
        fields: spec?.alert === 'conditional' ? withoutAlert(all) : all,
      });
    },
    child: (fields) => make({ ...base, ...fields }),
    close: () => Promise.resolve(),
  });
  return Object.assign(make({}), { events });
}
