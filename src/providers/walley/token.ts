/**
 * Walley's OAuth2 client-credentials token, cached until shortly before it expires.
 *
 * One fetch at a time: with several cancels in flight, the first caller fetches and the others
 * wait for the same answer instead of each asking the token endpoint. A token the API refused (401)
 * is dropped only if it is still the cached one, so two callers that both saw the 401 of the same
 * old token cause one refresh, not two.
 */
import type { AxiosInstance, AxiosResponse } from 'axios';
import { z } from 'zod';
import type { WalleySettings } from '../../config/types.js';
import { describeAnswer, parseJsonBody, requestDeadline, transportFailure, withRetryAfter } from '../http.js';

const WALLEY_TOKEN_PATH = '/oauth2/v2.0/token';

/** Refresh this long before expiry (less for very short-lived tokens: half their lifetime). */
const TOKEN_REFRESH_MARGIN_MS = 60_000;

export type TokenFailure =
  { kind: 'transient'; code: string; message: string; retryAfterMs?: number } | { kind: 'permanent'; reason: 'auth'; code: string; message: string };

export type TokenResult = { ok: true; token: string } | { ok: false; failure: TokenFailure };

const tokenSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.union([
    z.number(),
    z
      .string()
      .regex(/^[0-9]+$/)
      .transform(Number),
  ]),
});

const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().nullish() });

export interface WalleyTokenSource {
  get(): Promise<TokenResult>;
  /** The API answered 401 to `token`: forget it (if still cached) and fetch a new one. */
  refreshAfterRejection(token: string): Promise<TokenResult>;
  /** The last few tokens issued, so messages can be scrubbed of them. */
  recent(): readonly string[];
}

export function createWalleyTokenSource(
  http: AxiosInstance,
  settings: WalleySettings,
  options: { timeoutMs: number; now: () => number; clean: (text: string) => string },
): WalleyTokenSource {
  let cached: { token: string; refreshAt: number } | null = null;
  let inflight: Promise<TokenResult> | null = null;
  const issued: string[] = [];

  function fetchShared(): Promise<TokenResult> {
    // The shared fetch has its own deadline, not one caller's signal: a caller giving up must not
    // fail the others waiting on the same token.
    inflight ??= fetchToken().finally(() => {
      inflight = null;
    });
    return inflight;
  }

  async function fetchToken(): Promise<TokenResult> {
    const form = new URLSearchParams({
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      grant_type: 'client_credentials',
      scope: settings.scope,
    }).toString();
    let response: AxiosResponse<unknown>;
    try {
      response = await http.post(WALLEY_TOKEN_PATH, form, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        signal: requestDeadline(options.timeoutMs),
      });
    } catch (error) {
      const failure = transportFailure(error);
      return { ok: false, failure: { ...failure, code: `TOKEN_${failure.code}`, message: options.clean(`token endpoint: ${failure.message}`) } };
    }
    const { status, data, headers } = response;
    const json = parseJsonBody(data);
    if (status >= 200 && status < 300) {
      const parsed = tokenSchema.safeParse(json);
      if (!parsed.success) {
        return {
          ok: false,
          failure: { kind: 'transient', code: 'TOKEN_UNEXPECTED_ANSWER', message: `token endpoint answered HTTP ${status} without an access_token` },
        };
      }
      const lifetimeMs = Math.max(0, parsed.data.expires_in * 1000);
      const margin = Math.min(TOKEN_REFRESH_MARGIN_MS, lifetimeMs / 2);
      issued.push(parsed.data.access_token);
      if (issued.length > 4) issued.shift();
      cached = { token: parsed.data.access_token, refreshAt: options.now() + lifetimeMs - margin };
      return { ok: true, token: parsed.data.access_token };
    }
    const oauthError = oauthErrorSchema.safeParse(json);
    // The error text may name the client; the secret is redacted in case anything echoes it.
    const description = options.clean(
      oauthError.success
        ? `token endpoint HTTP ${status}: ${oauthError.data.error}${oauthError.data.error_description ? ` (${oauthError.data.error_description.slice(0, 200)})` : ''}`
        : `token endpoint ${describeAnswer(status, data)}`,
    );
    // 401, 403 and an OAuth error at 400 (invalid_client, invalid_scope, unauthorized_client, …):
    // the credentials or scope in config are wrong; retrying cannot fix that.
    if (status === 401 || status === 403 || (status === 400 && oauthError.success)) {
      const code = oauthError.success ? `TOKEN_${oauthError.data.error.toUpperCase()}` : `TOKEN_HTTP_${status}`;
      return { ok: false, failure: { kind: 'permanent', reason: 'auth', code, message: description } };
    }
    return { ok: false, failure: withRetryAfter({ kind: 'transient', code: `TOKEN_HTTP_${status}`, message: description }, headers) };
  }

  return {
    async get() {
      if (cached && options.now() < cached.refreshAt) return { ok: true, token: cached.token };
      return fetchShared();
    },
    async refreshAfterRejection(token) {
      if (cached?.token === token) cached = null;
      if (cached && options.now() < cached.refreshAt) return { ok: true, token: cached.token };
      return fetchShared();
    },
    recent: () => issued,
  };
}
