/** The one Retry-After rule, on plain values. */
import { describe, expect, it } from '@jest/globals';
import { parseRetryAfter, retryAfterMs } from '../../src/outbound/retryAfter.js';

const NOW = Date.parse('2026-01-01T00:00:00.000Z');

describe('parseRetryAfter', () => {
  it('delay-seconds: whole seconds, surrounding space allowed', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('7', NOW)).toBe(7_000);
    expect(parseRetryAfter(' 12 ', NOW)).toBe(12_000);
    expect(parseRetryAfter('3600', NOW)).toBe(3_600_000);
  });

  it('an HTTP-date in each of its three forms, relative to now', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Thursday, 01-Jan-26 00:01:00 GMT', NOW)).toBe(60_000);
    // asctime has no zone: it is UTC, whatever the machine's zone is.
    expect(parseRetryAfter('Thu Jan  1 00:00:05 2026', NOW)).toBe(5_000);
  });

  it('a date already past is now', () => {
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', NOW)).toBe(0);
  });

  it('anything else is no Retry-After: the backoff decides alone', () => {
    for (const value of ['', '   ', '1.5', '-3', '0x10', '1e3', 'soon', '2026-01-01T00:00:30Z', 'Thu, 99 Foo 2026 GMT']) {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    }
    for (const value of [undefined, null, 5, ['5']]) expect(parseRetryAfter(value, NOW)).toBeUndefined();
  });
});

describe('retryAfterMs', () => {
  it('reads the lower-cased header of an answer', () => {
    expect(retryAfterMs({ 'retry-after': '2', 'content-type': 'text/plain' }, NOW)).toBe(2_000);
    expect(retryAfterMs({ 'content-type': 'text/plain' }, NOW)).toBeUndefined();
  });
});
