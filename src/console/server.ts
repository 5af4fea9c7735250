/**
 * The operator console's requests (docs/interface.md, "The console"), served by `run` beside its
 * health routes. Every page is built with the escaping `html` tag; every state-changing request
 * is a POST that needs a live session (401 otherwise) and that session's CSRF token (403
 * otherwise), and is checked before anything is read or changed. The actions are the CLI's own
 * functions (src/actions), and each is logged as `console.action`.
 */
import type http from 'node:http';
import { cancelVanishedPayment } from '../actions/cancelVanished.js';
import { dismissJob } from '../actions/dismissJob.js';
import { resolveVanishedOrder } from '../actions/resolveVanished.js';
import { retryFailedJob } from '../actions/retryJob.js';
import type { ActionDeps, ActionResult } from '../actions/types.js';
import { getJob } from '../store/jobs.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import { loadOverview } from './data.js';
import { CSRF_FORM, FormError, JOB_ID, NOTE_FORM, ORDER_NO, parseForm, readForm, SIGNIN_FORM } from './forms.js';
import { toText, type SafeHtml } from './html.js';
import { overviewPage } from './overview.js';
import { sameSecret, SessionStore, SigninLimiter, SIGNIN_MAX_FAILURES, SIGNIN_WINDOW_MS, type Session } from './sessions.js';
import { STYLESHEET } from './style.js';
import { confirmCancelPage, confirmRetryPage, messagePage, signinPage, type Viewer } from './views.js';

export interface ConsoleOptions {
  /** CONSOLE_TOKEN: never written to a page, a log line or a header. */
  token: string;
  /** CONSOLE_SECURE_COOKIE: the session cookie is `Secure` (the console is reached over HTTPS). */
  secureCookie: boolean;
  /** What the actions need (the store and logger the pages read and log with, too). */
  deps: ActionDeps;
  now?: () => Date;
}

export interface ConsoleHandler {
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
  /**
   * Resolves once no request is being answered: `run` awaits it before closing the store, since an
   * action (a send to a provider) goes on after its connection is closed and must record its answer.
   */
  idle: () => Promise<void>;
}

const COOKIE_NAME = 'specter_console';

/**
 * No script at all, styles only from our own stylesheet, forms only to ourselves, never framed
 * (clickjacking a Cancel payment button), no <base> rewriting.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const COMMON_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res: http.ServerResponse, status: number, body: SafeHtml, headers: Record<string, string> = {}): void {
  const text = toText(body);
  res.writeHead(status, { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function redirect(res: http.ServerResponse, location: string, headers: Record<string, string> = {}): void {
  // 303: the browser follows with a GET, so reloading the page never repeats the action.
  res.writeHead(303, { ...COMMON_HEADERS, location, 'content-length': '0', ...headers });
  res.end();
}

function cookieValue(req: http.IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return null;
}

type Route =
  | { kind: 'cancel'; orderNo: string }
  | { kind: 'resolve'; orderNo: string }
  | { kind: 'retry'; jobId: number }
  | { kind: 'dismiss'; jobId: number }
  | { kind: 'signout' };

function matchRoute(path: string): Route | null {
  if (path === '/signout') return { kind: 'signout' };
  const order = /^\/vanished\/([^/]+)\/(cancel|resolve)$/.exec(path);
  if (order && ORDER_NO.test(order[1] ?? '')) return { kind: order[2] === 'cancel' ? 'cancel' : 'resolve', orderNo: order[1] ?? '' };
  const job = /^\/jobs\/([^/]+)\/(retry|dismiss)$/.exec(path);
  if (job && JOB_ID.test(job[1] ?? '')) return { kind: job[2] === 'retry' ? 'retry' : 'dismiss', jobId: Number(job[1]) };
  return null;
}

export function createConsole(options: ConsoleOptions): ConsoleHandler {
  const { deps, token } = options;
  const { logger, store } = deps;
  const clock = options.now ?? (() => new Date());
  const sessions = new SessionStore(() => clock().getTime());
  const limiter = new SigninLimiter(() => clock().getTime());
  const cookieFlags = `HttpOnly; SameSite=Strict; Path=/${options.secureCookie ? '; Secure' : ''}`;

  const viewerOf = (session: Session): Viewer => {
    const viewer = { csrf: session.csrf, notice: session.notice };
    session.notice = null;
    return viewer;
  };

  async function signIn(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const address = req.socket.remoteAddress ?? 'unknown';
    if (limiter.blocked(address)) {
      logger.event(
        'console.signin_failed',
        `console sign-in refused: ${SIGNIN_MAX_FAILURES} wrong tokens from ${address} within ${SIGNIN_WINDOW_MS / 60_000} minutes`,
        {
          address,
          rateLimited: true,
        },
      );
      send(res, 429, signinPage('Too many wrong tokens from this address; wait a few minutes and try again.'), {
        'retry-after': String(SIGNIN_WINDOW_MS / 1000),
      });
      return;
    }
    const form = parseForm(SIGNIN_FORM, await readForm(req));
    if (!sameSecret(form.token, token)) {
      const failures = limiter.fail(address);
      logger.event('console.signin_failed', `a wrong console token was tried from ${address} (${failures} within ${SIGNIN_WINDOW_MS / 60_000} minutes)`, {
        address,
        failures,
        rateLimited: false,
      });
      send(res, 401, signinPage('That is not the console token.'));
      return;
    }
    // A new session on every sign-in: an id planted before sign-in (session fixation) is never promoted.
    const session = sessions.create();
    redirect(res, '/', { 'set-cookie': `${COOKIE_NAME}=${session.id}; ${cookieFlags}; Max-Age=${12 * 3600}` });
  }

  async function act(route: Route, session: Session, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const fields = await readForm(req);
    // The CSRF token before anything else of the form is looked at: a forged request changes nothing.
    const csrf = CSRF_FORM.safeParse(fields);
    if (!csrf.success || !sameSecret(csrf.data.csrf, session.csrf)) {
      send(
        res,
        403,
        messagePage('Refused', 'This form is not from this console session (its CSRF token is missing or wrong). Nothing was changed.', viewerOf(session)),
      );
      return;
    }
    if (route.kind === 'signout') {
      sessions.end(session.id);
      redirect(res, '/', { 'set-cookie': `${COOKIE_NAME}=; ${cookieFlags}; Max-Age=0` });
      return;
    }
    let outcome: ActionResult;
    let note: string | null = null;
    switch (route.kind) {
      case 'cancel':
        outcome = await cancelVanishedPayment(deps, route.orderNo);
        break;
      case 'retry':
        outcome = await retryFailedJob(deps, route.jobId);
        break;
      case 'resolve':
        note = parseForm(NOTE_FORM, fields).note;
        outcome = await resolveVanishedOrder(deps, route.orderNo, note);
        break;
      case 'dismiss':
        note = parseForm(NOTE_FORM, fields).note;
        outcome = await dismissJob(deps, route.jobId, note);
        break;
    }
    const subject = 'orderNo' in route ? { orderNo: route.orderNo } : { jobId: route.jobId };
    logger.event(
      'console.action',
      `a person chose ${route.kind} for ${'orderNo' in route ? `order ${route.orderNo}` : `job ${route.jobId}`}: ${outcome.message}`,
      {
        action: route.kind,
        ...subject,
        note,
        status: outcome.status,
      },
    );
    session.notice = { ok: outcome.status === 'ok', text: outcome.message };
    redirect(res, '/');
  }

  async function confirmPage(route: Route, session: Session, res: http.ServerResponse): Promise<void> {
    if (route.kind === 'cancel') {
      const order = (await listVanishedAwaiting(store)).find((v) => v.orderNo === route.orderNo);
      if (order === undefined) {
        send(res, 404, messagePage('Not awaiting a person', `Order ${route.orderNo} is not a vanished order awaiting a person.`, viewerOf(session)));
        return;
      }
      send(res, 200, confirmCancelPage(order, viewerOf(session)));
      return;
    }
    if (route.kind === 'retry') {
      const job = await getJob(store, route.jobId);
      if (job === null || job.state !== 'failed') {
        send(res, 404, messagePage('Not a failed job', `Job ${route.jobId} is not a failed job; only a failed job can be retried.`, viewerOf(session)));
        return;
      }
      send(res, 200, confirmRetryPage(job, viewerOf(session)));
      return;
    }
    send(res, 405, messagePage('Use the form', 'This is done with the form on the overview.', viewerOf(session)), { allow: 'POST' });
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    if (path === '/console.css' && method === 'GET') {
      res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/css; charset=utf-8', 'content-length': String(Buffer.byteLength(STYLESHEET)) });
      res.end(STYLESHEET);
      return;
    }
    if (path === '/signin' && method === 'POST') return signIn(req, res);
    const session = sessions.find(cookieValue(req, COOKIE_NAME));
    if (path === '/' && method === 'GET') {
      if (session === null) send(res, 200, signinPage(null));
      else send(res, 200, overviewPage(await loadOverview(store, clock()), viewerOf(session)));
      return;
    }
    const matched = matchRoute(path);
    if (matched === null) {
      send(res, 404, messagePage('Not found', 'There is no such page.', session ? viewerOf(session) : null));
      return;
    }
    if (session === null) {
      send(res, 401, signinPage('Sign in first.'));
      return;
    }
    if (method === 'POST') return act(matched, session, req, res);
    if (method === 'GET') return confirmPage(matched, session, res);
    send(res, 405, messagePage('Method not allowed', 'Only GET and POST are used here.', viewerOf(session)), { allow: 'GET, POST' });
  }

  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    inFlight += 1;
    try {
      await route(req, res);
    } catch (error) {
      if (error instanceof FormError) {
        if (!res.headersSent) send(res, error.status, messagePage('Not accepted', `${error.message}. Nothing was changed.`, null), { connection: 'close' });
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      logger.event('console.request_failed', `console ${req.method ?? '?'} ${(req.url ?? '').split('?')[0] ?? ''} failed: ${reason}`, { reason, error });
      if (!res.headersSent) send(res, 500, messagePage('Something went wrong', 'The request failed; the log has the details (console.request_failed).', null));
      else res.destroy();
    } finally {
      inFlight -= 1;
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  };
  return {
    handle,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
  };
}
