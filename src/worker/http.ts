/**
 * Health and metrics over HTTP for `run`, on node:http (three read-only routes need no framework),
 * and the operator console on every other path when it is on:
 *   GET /healthz → 200 {"status":"ok"} while the process runs (liveness);
 *   GET /readyz  → 200 {"ready":true,…} or 503 {"ready":false,"reason":…} (readiness);
 *   GET /metrics → Prometheus text.
 * Nothing here touches the database: readiness and metrics read values the worker keeps in memory.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReadinessAnswer {
  ready: boolean;
  /** Why not ready (and, when ready, a short description of the last success). */
  reason: string;
  lastSuccessAt: string | null;
  /** This process's lease holder id ("<hostname>:<pid>:<random>"): which replica answers. */
  replica?: string;
  /**
   * The lease as last seen (after this process's last tick): who holds it now (null between
   * cycles: each cycle takes it and frees it), and who ran the last successful cycle.
   */
  lease?: { holder: string | null; lastCycleBy: string | null; checkedAt: string };
}

export interface HealthServerOptions {
  host: string;
  port: number;
  readiness: () => ReadinessAnswer;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /**
   * Every other path, when the operator console is on (src/console): it answers its own methods
   * and never throws. The probe routes above stay as they are, without a session.
   */
  console?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;
}

const PROBE_PATHS = ['/healthz', '/readyz', '/metrics'];

export interface HealthServer {
  /** Resolves once listening (rejects on EADDRINUSE and the like). */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, and ends open connections (idle keep-alive ones would hold the process). */
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createHealthServer(options: HealthServerOptions): HealthServer {
  const server = http.createServer((req, res) => {
    // Only the path counts: probes sometimes add a query string (?verbose, cache busters).
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (options.console && !PROBE_PATHS.includes(path)) {
      void options.console(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const answer = options.readiness();
      sendJson(res, answer.ready ? 200 : 503, answer);
    } else if (path === '/metrics') {
      options.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          res.end(body);
        },
        (error: unknown) => sendJson(res, 500, { error: `metrics unavailable: ${error instanceof Error ? error.message : String(error)}` }),
      );
    } else {
      sendJson(res, 404, { error: 'not found', paths: PROBE_PATHS });
    }
  });
  // A probe that hangs mid-request must not hold a socket (and the stop) for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 5_000;

  return {
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen(options.port, options.host, () => {
          server.removeListener('error', onError);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        // close() waits for every open connection; a scraper's keep-alive socket would keep it
        // (and the process) open until the scraper hangs up.
        server.closeAllConnections();
      }),
  };
}
