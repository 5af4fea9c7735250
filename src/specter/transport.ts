/**
 * One request to Specter's getInfo.asp, with its own retries: signed, bounded in time, never
 * following a redirect, and classified into an answer or a SpecterError (errors.ts), whose message
 * never holds a credential. Every assumed detail of the exchange (docs/specter.md, "Assumed": the
 * endpoint, the parameters, the error codes) lives here and in xml.ts; what the answers mean for a
 * listing or an order is client.ts's.
 */
import axios, { type AxiosResponse } from 'axios';
import type { SpecterSettings } from '../config/types.js';
import { redact } from '../outbound/redact.js';
import { retry } from '../outbound/retry.js';
import { retryAfterMs } from '../outbound/retryAfter.js';
import { computeSpecterKey, keySchemeOf, newBatchNo } from './auth.js';
import { SpecterError } from './errors.js';
import { decodeSpecterBody, parseSpecterDocument, type ParsedOrdersPage } from './xml.js';

export interface SpecterRetryInfo {
  /** The configured action name, e.g. "getOrders". */
  action: string;
  /** The attempt that just failed (1-based). */
  attempt: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** The failed attempt's error message (never holds a secret). */
  reason: string;
}

export interface SpecterClientHooks {
  onRetry?: (info: SpecterRetryInfo) => void;
}

/** Specter's <APIresponse> codes (docs/specter.md, "Assumed"). */
const CODE_AUTH = 10;
const CODE_NOT_FOUND = 20;
const CODE_TOO_MANY_REQUESTS = 30;

export const NOT_FOUND = Symbol('not found');
/** What one request came to: a page (or an order) as parsed, or getOrder's not-found answer. */
export type Answer = ParsedOrdersPage | typeof NOT_FOUND;

export interface PreparedRequest {
  action: string;
  /** e.g. "getOrders 2026-10-01..2026-11-26 page 2": the prefix of every error message. */
  where: string;
  params: Record<string, string>;
  page?: number;
  /** getOrder only: code 20 is an answer, not an error. */
  notFoundIsAnswer: boolean;
  /**
   * Called with the raw body of an HTTP 200 the moment it has arrived, before it is decoded and
   * parsed: the listing uses it to request the next page while this one is parsed. A hint only;
   * the answer is still judged by the strict parse.
   */
  onBody?: (body: Buffer) => void;
}

export interface SpecterTransport {
  send: (request: PreparedRequest) => Promise<Answer>;
}

export function createSpecterTransport(settings: SpecterSettings, hooks: SpecterClientHooks): SpecterTransport {
  const endpoint = `${settings.baseUrl}getInfo.asp`;
  const host = hostOf(settings.baseUrl);
  const scheme = keySchemeOf(settings);
  const http = axios.create();

  async function fetchOnce(request: PreparedRequest): Promise<Answer> {
    const batchNo = newBatchNo();
    const key = computeSpecterKey(settings, batchNo);
    const query = new URLSearchParams({
      Action: request.action,
      sbmId: String(settings.sbmId),
      apiUserId: settings.apiUserId,
      useXML: '2',
      batchNo,
      key,
      ...request.params,
    });
    // Text that came from outside (Specter's messages, parse errors) could echo a secret back.
    const scrub = (text: string): string => redact(text, [settings.apiUserKey, settings.integrationKey, key]);

    let response: AxiosResponse<unknown>;
    try {
      response = await http.request({
        method: 'GET',
        url: `${endpoint}?${query.toString()}`,
        responseType: 'arraybuffer',
        // axios' timeout only fires on an idle socket; the signal bounds the whole exchange, so
        // a body that trickles in a byte at a time still ends within timeoutMs.
        timeout: settings.timeoutMs,
        signal: AbortSignal.timeout(settings.timeoutMs),
        validateStatus: () => true,
        // A redirect would carry the signed query to another location (a login page, another
        // host): never follow one.
        maxRedirects: 0,
        maxContentLength: 256 * 1024 * 1024,
        headers: { Accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
      });
    } catch (error) {
      // Never rethrow an axios error: its config holds the URL with `key`.
      throw transportError(error, request);
    }

    if (response.status === 200 && request.onBody) {
      try {
        request.onBody(toBuffer(response.data));
      } catch {
        // A hint that fails changes nothing: the answer is judged below as always.
      }
    }
    try {
      return interpret(response, request);
    } catch (error) {
      if (error instanceof SpecterError) throw withMessage(error, scrub(error.message));
      throw new SpecterError('malformed', scrub(`${request.where}: could not read the answer (${describe(error)})`), {
        action: request.action,
        page: request.page,
      });
    }
  }

  function interpret(response: AxiosResponse<unknown>, request: PreparedRequest): Answer {
    const { where, action, page } = request;
    const status = response.status;
    const common = { action, page, httpStatus: status, retryAfterMs: retryAfterMs(response.headers) };
    if (status === 429) {
      throw new SpecterError('rate_limited', `${where}: Specter answered HTTP 429 (too many requests)`, common);
    }
    if (status >= 500 || status === 408) {
      throw new SpecterError('http', `${where}: Specter answered HTTP ${status}`, { ...common, retriable: true });
    }
    if (status >= 300 && status < 400) {
      throw new SpecterError('http', `${where}: Specter answered a redirect (HTTP ${status}); check SPECTER_BASE_URL`, common);
    }
    if (status < 200 || status >= 300) {
      const hint = status === 404 ? '; check SPECTER_BASE_URL' : '';
      throw new SpecterError('http', `${where}: Specter answered HTTP ${status}${hint}`, common);
    }

    const body = toBuffer(response.data);
    const notXml = sniffNotXml(body);
    if (notXml !== null) throw new SpecterError('not_xml', `${where}: the answer is not XML (${notXml})`, { action, page, httpStatus: status });

    let parsed: ParsedOrdersPage;
    try {
      parsed = parseSpecterDocument(decodeSpecterBody(body));
    } catch (error) {
      if (!(error instanceof SpecterError)) throw error;
      if (error.kind !== 'api' || error.code === undefined) {
        throw new SpecterError(error.kind, `${where}: ${error.message}`, { action, page });
      }
      return classifyApiCode(error.code, error.message, request);
    }
    return parsed;
  }

  function classifyApiCode(code: number, message: string, request: PreparedRequest): typeof NOT_FOUND {
    const { where, action, page } = request;
    if (code === CODE_NOT_FOUND && request.notFoundIsAnswer) return NOT_FOUND;
    if (code === CODE_AUTH) {
      throw new SpecterError(
        'auth',
        `${where}: Specter refused the credentials (code ${CODE_AUTH}); check SPECTER_SBM_ID, SPECTER_API_USER_ID, ` +
          `SPECTER_API_USER_KEY and SPECTER_INTEGRATION_KEY (this client signs with the ${scheme} key scheme: ` +
          `${scheme === 'v2' ? 'SPECTER_INTEGRATION_KEY is set' : 'SPECTER_INTEGRATION_KEY is not set'})`,
        { code, action, page },
      );
    }
    if (code === CODE_TOO_MANY_REQUESTS) {
      throw new SpecterError('rate_limited', `${where}: ${message} (too many requests)`, { code, action, page });
    }
    throw new SpecterError('api', `${where}: ${message}`, { code, action, page });
  }

  function transportError(error: unknown, request: PreparedRequest): SpecterError {
    const { where, action, page } = request;
    if (axios.isAxiosError(error)) {
      const code = error.code ?? 'unknown';
      // ERR_CANCELED: the only thing that aborts our requests is the AbortSignal.timeout above.
      if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED') {
        return new SpecterError('timeout', `${where}: no complete answer from ${host} within ${settings.timeoutMs} ms`, { action, page });
      }
      return new SpecterError('network', `${where}: network error ${code} talking to ${host}`, { action, page });
    }
    return new SpecterError('network', `${where}: request to ${host} failed (${error instanceof Error ? error.name : typeof error})`, {
      action,
      page,
    });
  }

  /** One request with its own retries: a failed page 7 repeats page 7, not the whole listing. */
  async function send(request: PreparedRequest): Promise<Answer> {
    const sent = await retry<Answer | SpecterError, SpecterError>({
      maxAttempts: settings.maxAttempts,
      // Retry-After is honoured, but never beyond retryMaxMs: a `once` run must end (bounded patience).
      bounds: settings,
      attempt: async () => {
        try {
          return { kind: 'final', value: await fetchOnce(request) };
        } catch (error) {
          const failure = error instanceof SpecterError ? error : new SpecterError('malformed', `${request.where}: ${describe(error)}`);
          return failure.retriable ? { kind: 'transient', failure, retryAfterMs: failure.retryAfterMs } : { kind: 'final', value: failure };
        }
      },
      beforeWait: ({ failure, attempt, delayMs }) => {
        try {
          hooks.onRetry?.({ action: request.action, attempt, delayMs, reason: failure.message });
        } catch {
          // A logging hook must not change the outcome of a request.
        }
        return true;
      },
    });
    const last = sent.kind === 'final' ? sent.value : sent.failure;
    if (!(last instanceof SpecterError)) return last;
    throw sent.attempts > 1 ? withMessage(last, `${last.message} (gave up after ${sent.attempts} attempts)`) : last;
  }

  return { send };
}

function sniffNotXml(body: Buffer): string | null {
  let i = 0;
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) i = 3;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0a || body[i] === 0x0d)) i += 1;
  if (i >= body.length) return 'the body is empty';
  if (body[i] !== 0x3c /* < */) return 'it does not start with "<"';
  // Content-Type is no evidence either way: classic ASP answers text/html unless told otherwise.
  const head = body.toString('latin1', i, Math.min(body.length, i + 512)).toLowerCase();
  if (head.startsWith('<!doctype html') || head.startsWith('<html') || /^<!--[\s\S]*?-->\s*<(?:!doctype html|html)/.test(head)) {
    return 'an HTML page';
  }
  return null;
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data, 'latin1');
  return Buffer.alloc(0);
}

function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return 'Specter';
  }
}

function withMessage(error: SpecterError, message: string): SpecterError {
  if (message === error.message) return error;
  return new SpecterError(error.kind, message, {
    retriable: error.retriable,
    code: error.code,
    httpStatus: error.httpStatus,
    action: error.action,
    page: error.page,
    retryAfterMs: error.retryAfterMs,
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
