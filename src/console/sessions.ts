/**
 * Who is signed in, in memory: a restart signs everyone out, which for a token-protected console
 * of one process is the safe default (nothing to steal from the database). A session id is 32
 * random bytes; each session has its own CSRF token; both are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A session ends after this long without a request. */
const SESSION_IDLE_MS = 60 * 60 * 1000;
/** …and after this long whatever happens (a cookie left in a shared browser). */
const SESSION_MAX_MS = 12 * 60 * 60 * 1000;
/** Sessions kept at most; the oldest goes first (a script signing in in a loop cannot grow memory). */
const MAX_SESSIONS = 200;

export interface Session {
  id: string;
  csrf: string;
  createdAtMs: number;
  lastSeenAtMs: number;
  /** Shown once on the next page (post/redirect/get). */
  notice: { ok: boolean; text: string } | null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Constant time whatever the lengths: both sides are hashed first, so timingSafeEqual compares
 * two 32-byte digests and the time tells nothing about the token's length or prefix.
 */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number) {}

  create(): Session {
    const at = this.now();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      createdAtMs: at,
      lastSeenAtMs: at,
      notice: null,
    };
    this.sessions.set(session.id, session);
    while (this.sessions.size > MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    return session;
  }

  /** The live session with this id (its idle clock restarted), or null. */
  find(id: string | null): Session | null {
    if (id === null) return null;
    // A hash-map lookup on the whole id: with 256 random bits, no timing of it narrows a guess.
    const session = this.sessions.get(id);
    if (session === undefined) return null;
    const at = this.now();
    if (at - session.lastSeenAtMs > SESSION_IDLE_MS || at - session.createdAtMs > SESSION_MAX_MS) {
      this.sessions.delete(id);
      return null;
    }
    session.lastSeenAtMs = at;
    return session;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }
}

/** Sign-in failures allowed per client address within the window; more are answered 429. */
export const SIGNIN_MAX_FAILURES = 5;
export const SIGNIN_WINDOW_MS = 10 * 60 * 1000;
/** Addresses remembered at most (the oldest is forgotten first). */
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * Failed sign-ins per client address (the socket's address: X-Forwarded-For is not trusted, so
 * behind a proxy every client shares the proxy's budget — a lock-out, never a bypass).
 */
export class SigninLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number) {}

  private recent(address: string): number[] {
    const since = this.now() - SIGNIN_WINDOW_MS;
    const kept = (this.failures.get(address) ?? []).filter((at) => at > since);
    if (kept.length === 0) this.failures.delete(address);
    else this.failures.set(address, kept);
    return kept;
  }

  blocked(address: string): boolean {
    return this.recent(address).length >= SIGNIN_MAX_FAILURES;
  }

  fail(address: string): number {
    const kept = [...this.recent(address), this.now()];
    this.failures.delete(address);
    this.failures.set(address, kept);
    while (this.failures.size > MAX_TRACKED_ADDRESSES) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return kept.length;
  }
}
