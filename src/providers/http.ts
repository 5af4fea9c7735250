/**
 * HTTP plumbing every provider client shares: an axios instance that never throws for a status
 * code (each client classifies every status itself), a hard deadline per request, and the
 * mapping of transport failures — timeouts, resets, refused connections — to a transient outcome.
 * Error texts built here never include headers or bodies we sent: those carry credentials.
 */
import axios, { type AxiosInstance } from 'axios';
import type { Redactor } from '../outbound/redact.js';
import { retryAfterMs } from '../outbound/retryAfter.js';
import type { CancelOutcome, ConfirmOutcome } from './types.js';

export function createProviderHttp(baseUrl: string, timeoutMs: number): AxiosInstance {
  return axios.create({
    baseURL: baseUrl.replace(/\/+$/, ''),
    timeout: timeoutMs,
    // Every status is an answer to classify, not an exception.
    validateStatus: () => true,
    // Never follow a redirect with our Authorization header to somewhere else.
    maxRedirects: 0,
    // Parse JSON ourselves: a provider's HTML error page must not throw inside axios.
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
    proxy: false,
  });
}

/**
 * A signal that fires after `timeoutMs` in total (axios' own timeout only notices an idle socket,
 * so a body that trickles in slowly would otherwise hold a request open for ever), or when the
 * caller's signal fires.
 */
export function requestDeadline(timeoutMs: number, outer?: AbortSignal): AbortSignal {
  const deadline = AbortSignal.timeout(timeoutMs);
  return outer ? AbortSignal.any([deadline, outer]) : deadline;
}

/** The transient outcome for a request that got no HTTP answer. */
export function transportFailure(error: unknown): { kind: 'transient'; code: string; message: string } {
  if (axios.isAxiosError(error)) {
    const code = error.code ?? 'NETWORK_ERROR';
    // error.message is axios' own ("timeout of 5000ms exceeded", "socket hang up"): no request data.
    return { kind: 'transient', code, message: `no answer from provider: ${error.message}` };
  }
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) {
    return { kind: 'transient', code: 'TIMEOUT', message: 'no answer from provider before the deadline' };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'transient', code: 'UNEXPECTED', message: `request failed: ${message}` };
}

/** A transient outcome with the answer's Retry-After (outbound/retryAfter.ts), when it sent one. */
export function withRetryAfter<T extends { kind: 'transient'; retryAfterMs?: number }>(outcome: T, headers: { readonly [name: string]: unknown }): T {
  const after = retryAfterMs(headers);
  return after === undefined ? outcome : { ...outcome, retryAfterMs: after };
}

/**
 * The outcome with its code and message redacted: both may carry text the provider (or a proxy in
 * front of it) sent back, and they are stored with the job and logged.
 */
export function redactOutcome<O extends CancelOutcome | ConfirmOutcome>(outcome: O, redactor: Redactor): O {
  if (outcome.kind !== 'transient' && outcome.kind !== 'permanent') return outcome;
  return { ...outcome, code: redactor(outcome.code), message: redactor(outcome.message) };
}

/** JSON body of an answer, or null when it is empty or not JSON (an HTML error page, say). */
export function parseJsonBody(data: unknown): unknown {
  if (typeof data !== 'string' || data.trim() === '') return null;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return null;
  }
}

/** A short, secret-free description of an unexpected answer, for a job's last error. */
export function describeAnswer(status: number, data: unknown): string {
  const text = typeof data === 'string' ? data.replace(/\s+/g, ' ').trim() : '';
  return text ? `HTTP ${status}: ${text.slice(0, 200)}` : `HTTP ${status}`;
}
