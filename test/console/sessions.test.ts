/** Sessions and the sign-in limiter on a clock the test moves (plain values, no waiting). */
import { describe, expect, it } from '@jest/globals';
import { sameSecret, SessionStore, SigninLimiter } from '../../src/console/sessions.js';

const MINUTE = 60_000;

describe('SessionStore', () => {
  it('a session is found by its id until an hour passes without a request, and never after 12 hours', () => {
    let now = 0;
    const sessions = new SessionStore(() => now);
    const session = sessions.create();
    expect(session.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.csrf).not.toBe(session.id);
    for (let i = 0; i < 12; i += 1) {
      now += 59 * MINUTE;
      expect(sessions.find(session.id)).toBe(session);
    }
    now += 59 * MINUTE + 1;
    expect(sessions.find(session.id)).toBeNull();

    const idle = sessions.create();
    now += 61 * MINUTE;
    expect(sessions.find(idle.id)).toBeNull();
    expect(sessions.find(null)).toBeNull();
    expect(sessions.find('forged')).toBeNull();
  });

  it('signing out ends the session; at most 200 are kept, the oldest dropped first', () => {
    const sessions = new SessionStore(() => 0);
    const first = sessions.create();
    const second = sessions.create();
    sessions.end(second.id);
    expect(sessions.find(second.id)).toBeNull();
    for (let i = 0; i < 200; i += 1) sessions.create();
    expect(sessions.find(first.id)).toBeNull();
  });
});

describe('SigninLimiter', () => {
  it('blocks an address after 5 failures within 10 minutes, per address, and forgets them after the window', () => {
    let now = 0;
    const limiter = new SigninLimiter(() => now);
    for (let i = 1; i <= 5; i += 1) {
      expect(limiter.blocked('10.0.0.1')).toBe(false);
      expect(limiter.fail('10.0.0.1')).toBe(i);
      now += MINUTE;
    }
    expect(limiter.blocked('10.0.0.1')).toBe(true);
    expect(limiter.blocked('10.0.0.2')).toBe(false);
    // The first failure (at 0) leaves the window at 10 minutes.
    now = 10 * MINUTE + 1;
    expect(limiter.blocked('10.0.0.1')).toBe(false);
  });
});

describe('sameSecret', () => {
  it('true only for the same text, whatever the lengths', () => {
    expect(sameSecret('a-token-0123456789', 'a-token-0123456789')).toBe(true);
    expect(sameSecret('a-token-0123456788', 'a-token-0123456789')).toBe(false);
    expect(sameSecret('', 'a-token-0123456789')).toBe(false);
    expect(sameSecret('a-token-0123456789-and-more', 'a-token-0123456789')).toBe(false);
  });
});
