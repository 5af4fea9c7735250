import { describe, expect, test } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { createLogger, memoryLogger, silentLogger, type LoggerOptions } from '../../src/observability/logger.js';

/** A logger writing into a PassThrough, and the raw text it wrote once closed. */
function capture(options: Partial<LoggerOptions> = {}, isTTY = false) {
  const stream = Object.assign(new PassThrough(), isTTY ? { isTTY: true } : {});
  let raw = '';
  stream.on('data', (chunk: Buffer) => {
    raw += chunk.toString('utf8');
  });
  const logger = createLogger({ level: 'info', format: 'json', secrets: [], ...options, stream });
  return {
    logger,
    async output(): Promise<string> {
      await logger.close();
      return raw;
    },
    async lines(): Promise<Array<Record<string, unknown>>> {
      await logger.close();
      return raw
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

describe('JSON lines', () => {
  test('one object per line: timestamp, level, event, message first, then the fields', async () => {
    const { logger, output } = capture();
    logger.event('cancel.sent', 'Sent the cancellation to Klarna', {
      orderNo: '100234',
      provider: 'klarna',
      providerRef: 'abc-1',
      amount: '1249.00',
      currency: 'SEK',
    });
    logger.event('sync.started', 'Cycle started');
    const raw = await output();
    const lines = raw.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['timestamp', 'level', 'event', 'message', 'orderNo', 'provider', 'providerRef', 'amount', 'currency']);
    expect(first).toMatchObject({ level: 'info', event: 'cancel.sent', message: 'Sent the cancellation to Klarna', orderNo: '100234', amount: '1249.00' });
    expect(first.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(JSON.parse(lines[1] ?? '')).toMatchObject({ event: 'sync.started', message: 'Cycle started' });
  });

  test('a conditional event (order.reopened) is an alert exactly on the lines that say so, and `alert` is no field of its own', async () => {
    const { logger, lines } = capture();
    logger.event('order.reopened', 'open again, its cancellation went out', { orderNo: '1', cancellationSent: true, alert: true });
    logger.event('order.reopened', 'open again, nothing went out', { orderNo: '2', cancellationSent: false, alert: false });
    const [sent, quiet] = await lines();
    expect(sent).toMatchObject({ level: 'warn', event: 'order.reopened', alert: true, orderNo: '1' });
    expect(quiet).toMatchObject({ level: 'warn', event: 'order.reopened', orderNo: '2' });
    expect(quiet).not.toHaveProperty('alert');
    for (const line of [sent, quiet]) expect(line).not.toHaveProperty('_alert');
    const memory = memoryLogger();
    memory.event('order.reopened', 'x', { alert: true });
    memory.event('order.reopened', 'y', {});
    expect(memory.events.map((e) => [e.alert, 'alert' in e.fields])).toEqual([
      [true, false],
      [false, false],
    ]);
  });

  test('level and alert come from the catalogue; alert only on alert events', async () => {
    const { logger, lines } = capture();
    logger.event('order.vanished', 'Order 7 is gone from Specter', { orderNo: '7' });
    logger.event('cancel.failed', 'Klarna refused', { reason: 'captured' });
    logger.event('cancel.retry_scheduled', 'Will retry');
    logger.event('cancel.succeeded', 'Done');
    const [vanished, failed, retry, done] = await lines();
    expect(vanished).toMatchObject({ level: 'warn', alert: true });
    expect(failed).toMatchObject({ level: 'error', alert: true, reason: 'captured' });
    expect(retry).toMatchObject({ level: 'warn' });
    expect(retry).not.toHaveProperty('alert');
    expect(done).toMatchObject({ level: 'info' });
    expect(done).not.toHaveProperty('alert');
  });

  test('events below the level are not written', async () => {
    const info = capture({ level: 'info' });
    info.logger.event('order.left_window', 'debug detail');
    info.logger.event('sync.completed', 'done');
    expect((await info.lines()).map((l) => l.event)).toEqual(['sync.completed']);

    const error = capture({ level: 'error' });
    error.logger.event('order.vanished', 'warn');
    error.logger.event('sync.failed', 'error');
    expect((await error.lines()).map((l) => l.event)).toEqual(['sync.failed']);

    const debug = capture({ level: 'debug' });
    debug.logger.event('order.left_window', 'debug detail');
    expect(await debug.lines()).toEqual([expect.objectContaining({ level: 'debug', event: 'order.left_window' })]);
  });

  test("child fields are added to every line; the call's own fields win", async () => {
    const { logger, lines } = capture();
    const order = logger.child({ orderNo: '55', provider: 'svea' }).child({ providerRef: '8906830' });
    order.event('cancel.sent', 'sent');
    order.event('cancel.accepted', 'accepted', { provider: 'qliro' });
    expect(await lines()).toEqual([
      expect.objectContaining({ orderNo: '55', provider: 'svea', providerRef: '8906830' }),
      expect.objectContaining({ orderNo: '55', provider: 'qliro', providerRef: '8906830' }),
    ]);
  });

  test("fields cannot overwrite the line's own keys", async () => {
    const { logger, lines } = capture();
    logger.event('sync.completed', 'the real message', { message: 'impostor', level: 'debug', event: 'x.y', alert: true });
    const [line] = await lines();
    expect(line).toMatchObject({
      message: 'the real message',
      level: 'info',
      event: 'sync.completed',
      _message: 'impostor',
      _level: 'debug',
      _event: 'x.y',
      _alert: true,
    });
    expect(line).not.toHaveProperty('alert');
  });

  test('values that JSON cannot hold as they are', async () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const shared = { a: 1 };
    logger.event('sync.completed', 'odd values', {
      cyclic,
      twice: [shared, shared],
      big: 12345678901234567890n,
      when: new Date('2026-01-02T03:04:05Z'),
      tags: new Set(['x']),
      gone: undefined,
    });
    const [line] = await lines();
    expect(line).toMatchObject({
      cyclic: { name: 'loop', self: '[Circular]' },
      twice: [{ a: 1 }, { a: 1 }],
      big: '12345678901234567890',
      when: '2026-01-02T03:04:05.000Z',
      tags: ['x'],
    });
    expect(line).not.toHaveProperty('gone');
  });
});

describe('the error field', () => {
  test('an Error is written with name, message and code; the stack only at debug', async () => {
    const error = Object.assign(new TypeError('socket hang up'), { code: 'ECONNRESET' });
    const info = capture({ level: 'info' });
    info.logger.event('sync.failed', 'Specter unreachable', { error });
    const [atInfo] = await info.lines();
    expect(atInfo?.error).toEqual({ name: 'TypeError', message: 'socket hang up', code: 'ECONNRESET' });

    const debug = capture({ level: 'debug' });
    debug.logger.event('sync.failed', 'Specter unreachable', { error });
    const [atDebug] = await debug.lines();
    expect(atDebug?.error).toMatchObject({ name: 'TypeError', message: 'socket hang up', code: 'ECONNRESET' });
    expect((atDebug?.error as { stack: string }).stack).toContain('TypeError: socket hang up\n    at ');
  });

  test('the cause is kept: it often holds the real reason', async () => {
    const { logger, lines } = capture();
    logger.event('sync.failed', 'failed', {
      error: new Error('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }),
    });
    const [line] = await lines();
    expect(line?.error).toEqual({ name: 'Error', message: 'fetch failed', cause: { name: 'Error', message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' } });
  });

  test('a thrown non-Error still has a name and a message', async () => {
    const { logger, lines } = capture();
    logger.event('sync.failed', 'failed', { error: 'plain string' });
    logger.event('sync.failed', 'failed', { error: { status: 500 } });
    const [text, object] = await lines();
    expect(text?.error).toEqual({ name: 'NonError', message: 'plain string' });
    expect(object?.error).toEqual({ name: 'NonError', message: '{"status":500}' });
  });

  test('an Error nested anywhere in the fields is not written as {}', async () => {
    const { logger, lines } = capture();
    logger.event('cancel.failed', 'failed', { attempts: [{ error: new RangeError('bad amount') }] });
    const [line] = await lines();
    expect(line?.attempts).toEqual([{ error: { name: 'RangeError', message: 'bad amount' } }]);
  });
});

describe('redaction of the written line', () => {
  const SECRETS = ['SPECTER-KEY-4711', 'kl"arna\\pw', 'abc123'];
  const basic = Buffer.from('PK0001:kl"arna\\pw').toString('base64');

  test('secrets vanish from messages, errors and stacks, nested fields, URLs and escaped JSON', async () => {
    const { logger, output } = capture({ level: 'debug', secrets: [...SECRETS, basic] });
    const error = new Error('request with SPECTER-KEY-4711 refused');
    logger.event('sync.failed', 'using key SPECTER-KEY-4711 failed', {
      error,
      request: { url: 'https://api.specter.se/getInfo.asp?Action=getOrder&key=abc123&sbmId=1', headers: { Authorization: `Basic ${basic}` } },
      nested: { deeper: [{ value: 'kl"arna\\pw' }] },
      body: JSON.stringify({ password: 'kl"arna\\pw', user: 'PK0001' }),
      form: `client_secret=${encodeURIComponent('kl"arna\\pw')}`,
    });
    const raw = await output();
    expect(raw).toContain(REDACTED_MARK);
    for (const secret of [...SECRETS, basic]) {
      expect(raw).not.toContain(secret);
      expect(raw).not.toContain(JSON.stringify(secret).slice(1, -1));
      expect(raw).not.toContain(encodeURIComponent(secret));
    }
    // The stack was written (debug) and masked, not dropped.
    expect(raw).toContain('"stack":"Error: request with [REDACTED] refused\\n');
    expect(raw).toContain('PK0001');
  });

  test('pretty lines are redacted too', async () => {
    const { logger, output } = capture({ format: 'pretty', secrets: SECRETS });
    logger.event('cancel.failed', 'abc123 leaked?', { error: new Error('SPECTER-KEY-4711'), url: '/x?key=zz9' });
    const raw = await output();
    for (const secret of [...SECRETS, 'zz9']) expect(raw).not.toContain(secret);
  });
});
const REDACTED_MARK = '[REDACTED]';

describe('pretty format', () => {
  test('one readable line per event, no colour when the stream is not a terminal', async () => {
    const { logger, output } = capture({ format: 'pretty' });
    logger.event('order.vanished', 'Order 100234 is gone\nfrom Specter', {
      orderNo: '100234',
      provider: 'klarna',
      amount: '1249.00',
      note: 'two words',
      error: new TypeError('boom'),
    });
    logger.event('sync.completed', 'done', { counts: { seen: 3 } });
    const raw = await output();
    const lines = raw.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(2);
    expect(raw).not.toContain('\x1b[');
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z WARN {2}order\.vanished ALERT Order 100234 is gone\\nfrom Specter orderNo=100234 provider=klarna amount=1249\.00 note="two words" error="TypeError: boom"$/,
    );
    expect(lines[1]).toMatch(/INFO {2}sync\.completed done counts=\{"seen":3\}$/);
  });

  test('colours on a terminal', async () => {
    const { logger, output } = capture({ format: 'pretty' }, true);
    logger.event('sync.failed', 'down');
    expect(await output()).toContain('\x1b[31mERROR\x1b[0m');
  });
});

describe('close', () => {
  test('every line is written before close() resolves; later events are dropped', async () => {
    const { logger, output } = capture();
    for (let i = 0; i < 3000; i++) logger.child({ orderNo: String(i) }).event('cancel.sent', 'sent');
    const closing = logger.close();
    logger.event('sync.completed', 'after close');
    await closing;
    const raw = await output();
    const lines = raw.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(3000);
    expect(JSON.parse(lines[2999] ?? '')).toMatchObject({ orderNo: '2999' });
    expect(raw).not.toContain('after close');
  });

  test('close() gives up on a stream that never drains', async () => {
    const stalled = new PassThrough({ highWaterMark: 1 });
    const logger = createLogger({ level: 'info', format: 'json', secrets: [], stream: stalled, closeTimeoutMs: 50 });
    for (let i = 0; i < 100; i++) logger.event('cancel.sent', 'x'.repeat(100));
    const started = Date.now();
    await logger.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('silent and memory loggers', () => {
  test('silentLogger writes nothing and closes', async () => {
    const logger = silentLogger();
    logger.child({ orderNo: '1' }).event('sync.started', 'x');
    await expect(logger.close()).resolves.toBeUndefined();
  });

  test('memoryLogger records events with catalogue level and alert', () => {
    const logger = memoryLogger();
    logger.child({ orderNo: '9' }).event('order.vanished', 'gone', { provider: 'walley' });
    expect(logger.events).toEqual([{ event: 'order.vanished', level: 'warn', alert: true, message: 'gone', fields: { orderNo: '9', provider: 'walley' } }]);
  });
});
