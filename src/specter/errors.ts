/**
 * The one error type the Specter client throws. Every failure — transport, HTTP, parse,
 * completeness, or an <APIresponse> code — ends up here, so callers branch on `kind` and
 * `retriable` and never see an axios error (which carries the URL with `key` in its query).
 *
 * Messages name the action, the page or order, and what went wrong; never a credential, the
 * computed key, or the request URL.
 */

export type SpecterErrorKind = 'auth' | 'rate_limited' | 'http' | 'not_xml' | 'malformed' | 'incomplete' | 'api' | 'network' | 'timeout';

export interface SpecterErrorOptions {
  /** Defaults per kind (see DEFAULT_RETRIABLE). */
  retriable?: boolean;
  /** Specter's <code> from an <APIresponse>. */
  code?: number;
  httpStatus?: number;
  /** The configured action name (e.g. "getOrders"). */
  action?: string;
  /** The listing page the failure belongs to. */
  page?: number;
  /** From a Retry-After header, already converted to milliseconds. */
  retryAfterMs?: number;
}

/**
 * "Retriable" means: repeating the same request later may succeed without anybody changing
 * anything. `incomplete` is retriable (the listing changed while it was paged; the next cycle
 * will likely see a consistent one), but the client never repeats a listing by itself.
 */
const DEFAULT_RETRIABLE: Record<SpecterErrorKind, boolean> = {
  auth: false,
  rate_limited: true,
  http: false,
  not_xml: true,
  malformed: false,
  incomplete: true,
  api: false,
  network: true,
  timeout: true,
};

export class SpecterError extends Error {
  override readonly name = 'SpecterError';
  readonly kind: SpecterErrorKind;
  readonly retriable: boolean;
  readonly code?: number;
  readonly httpStatus?: number;
  readonly action?: string;
  readonly page?: number;
  readonly retryAfterMs?: number;

  constructor(kind: SpecterErrorKind, message: string, options: SpecterErrorOptions = {}) {
    super(message);
    this.kind = kind;
    this.retriable = options.retriable ?? DEFAULT_RETRIABLE[kind];
    if (options.code !== undefined) this.code = options.code;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
    if (options.action !== undefined) this.action = options.action;
    if (options.page !== undefined) this.page = options.page;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** Error's own `message` is not enumerable: without this, JSON logs would lose it. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      retriable: this.retriable,
      code: this.code,
      httpStatus: this.httpStatus,
      action: this.action,
      page: this.page,
    };
  }
}
