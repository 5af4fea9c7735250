/** What the simulated Specter is made of and scripted with: its order record, faults, scripts and API. */
import type { SpecterSettings } from '../../config/types.js';
import type { SpecterOrder } from '../../domain.js';
import type { FaultPlan, RecordedRequest } from '../loopback.js';

/** The sandbox's order record: a SpecterOrder, plus raw XML for tests that need odd content. */
export interface SandboxOrder extends SpecterOrder {
  /** Placed inside <order> verbatim (unknown elements, deliberately broken content). */
  extraXml?: string;
}

export type SandboxEncoding = 'utf-8' | 'iso-8859-1';

/** How a missing order answers getOrder: both occur on real accounts. */
export type NotFoundAnswer = 'code20' | 'emptyOrders';

/**
 * Scripted damage to a getOrders page:
 * - truncate: the body is cut in half (an answer that ends mid-document)
 * - emptyPage: the page comes with its header but no <order> (a missing page)
 * - wrongTotalCount: totalCount one higher (totalPages computed from it, a consistent lie)
 * - wrongPageAttribute: page="N+1" on page N
 * - repeatPrevious: the page starts one order early, totals unchanged (a shift up the totals do
 *   not show; `betweenPages` makes the real thing)
 * - skipOne: the page starts one order late, totals unchanged (a shift down the totals do not show)
 * - noTotals: <orders> without totalPages and totalCount
 * - duplicateInPage: the page's second order is a copy of its first (a repeat inside one page)
 * - swapInPage: the page's first two orders swapped (descending orderNos)
 */
export type PageTamper =
  'truncate' | 'emptyPage' | 'wrongTotalCount' | 'wrongPageAttribute' | 'repeatPrevious' | 'skipOne' | 'noTotals' | 'duplicateInPage' | 'swapInPage';

/** What a between-pages script is told about the getOrders page just answered. */
export interface ServedPage {
  page: number;
  pageSize: number;
  totalPages: number;
  totalCount: number;
  /** The orderNos on the page, as served. */
  orderNos: readonly string[];
  /** page >= totalPages: no further page of this listing follows. */
  last: boolean;
}

/** A between-pages script, as `betweenPages` registered it. */
export interface BetweenPagesScript {
  /** How many times it has run (a test can show its script was not dead code). */
  readonly runs: number;
  /** What it threw; a throwing script never changes the answer it followed. */
  readonly errors: readonly unknown[];
}

export interface SpecterSandboxOptions {
  /** Default 4711. */
  sbmId?: number;
  /** Default "sandbox-reader". */
  apiUserId?: string;
  /** Default "sandbox-api-user-key". */
  apiUserKey?: string;
  /** Set → the sandbox expects the v2 key scheme. Default null (v1). */
  integrationKey?: string | null;
  orders?: readonly SandboxOrder[];
  /** Default 'utf-8'. */
  encoding?: SandboxEncoding;
  /** Default 'code20'. */
  notFound?: NotFoundAnswer;
  /** Default { listOrders: 'getOrders', getOrder: 'getOrder' }. */
  actions?: { listOrders: string; getOrder: string };
  /** Default 500, as docs/specter.md assumes; larger pageSize answers code 40. */
  maxPageSize?: number;
  /** Default 0: any free port. */
  port?: number;
}

/** The codes the sandbox answers. 10/20/30 are Specter's; 40/50 stand for "some other code". */

export interface SpecterSandbox {
  /** e.g. "http://127.0.0.1:41234/" — with the trailing slash, ready for SPECTER_BASE_URL. */
  url: string;
  port: number;
  /** Every request received, in order (query includes key and batchNo). */
  requests: RecordedRequest[];
  /** Transport-level faults (status/HTML page, reset, hang, delay, slow body): loopback.ts. */
  faults: FaultPlan;
  credentials: { sbmId: number; apiUserId: string; apiUserKey: string; integrationKey: string | null };
  actions: { listOrders: string; getOrder: string };
  /** SpecterSettings pointing at this sandbox with its credentials; small timeouts and retry delays. */
  settings(overrides?: Partial<SpecterSettings>): SpecterSettings;

  /** Adds orders; throws if an orderNo exists already. */
  add(...orders: SandboxOrder[]): void;
  /** Adds or replaces orders by orderNo. */
  upsert(...orders: SandboxOrder[]): void;
  /** Changes fields of an existing order. */
  update(orderNo: string, patch: Partial<Omit<SandboxOrder, 'orderNo'>>): void;
  /** statusId "5". */
  cancel(orderNo: string): void;
  /** deliveryStatus "D". */
  deliver(orderNo: string): void;
  /** The trash icon: gone from listings and getOrder, without a trace. Returns whether it existed. */
  delete(orderNo: string): boolean;
  /**
   * Leaves the order out of the next `times` listings (default 1), while getOrder still finds
   * it: a listing gap. A listing starts with a page-1 request; totals are computed without the
   * order, so the listing looks complete.
   */
  hideFromListing(orderNo: string, times?: number): void;
  /** The next `times` (default 1) requests (of `action`, if given) answer <APIresponse><code>. */
  failWithCode(code: number, options?: { times?: number; action?: string; message?: string }): void;
  /** Damages the next `times` (default 1) getOrders answers (for `page`, if given). */
  tamperListing(tamper: PageTamper, options?: { page?: number; times?: number }): void;
  /** The next `times` (default 1) requests answer an HTML error page (HTTP `status`, default 200). */
  serveHtmlPage(options?: { status?: number; times?: number }): void;
  /**
   * A busy shop: runs `script` right after a getOrders page is answered (its content fixed) and
   * before the next request is read, so what it does (add, cancel, delete, …: the methods above)
   * lands between two page requests of one listing. It runs after every page, the last one too
   * (`served.last`); `afterPage` limits it to one page number, `times` (default 1, Infinity:
   * until cleared) to a number of runs. Pages answered by a scripted code or transport fault
   * never reach it.
   */
  betweenPages(script: (served: ServedPage) => void, options?: { afterPage?: number; times?: number }): BetweenPagesScript;
  /** Forgets every scripted code, tamper, listing gap, between-pages script and transport fault not yet consumed. */
  clearScripts(): void;
  setEncoding(encoding: SandboxEncoding): void;
  setNotFoundAnswer(answer: NotFoundAnswer): void;

  /** A copy of the order as the sandbox holds it, or undefined. */
  order(orderNo: string): SandboxOrder | undefined;
  /** Copies of all orders, sorted by orderNo. */
  orders(): SandboxOrder[];
  /** The recorded requests of one action (default: the listing action). */
  requestsFor(action?: string): RecordedRequest[];
  close(): Promise<void>;
}
