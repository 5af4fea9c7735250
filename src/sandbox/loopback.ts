/**
 * What every sandbox server shares: an HTTP server bound to 127.0.0.1 only, a record of the
 * requests it received (tests assert on them), and a plan of scripted faults, so a test can say
 * "the next two requests to /cancel answer 503" or "reset the connection once".
 */
import type { Socket } from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  receivedAt: number;
  /** Requests this server was serving when this one arrived, itself included (1: none other). */
  inFlight: number;
}

export type Fault =
  /** Answer with this status, body and headers instead of the real answer. */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Destroy the socket without an answer (a connection reset). */
  | { kind: 'reset' }
  /** Never answer: the client's timeout must fire. */
  | { kind: 'hang' }
  /** Answer normally, but only after this long. */
  | { kind: 'delay'; ms: number }
  /** Answer normally, after the handler ran (so the effect happened), but reset before the
   *  answer is written: the "sent but outcome unknown" case. */
  | { kind: 'resetAfterEffect' }
  /** Send the real answer's headers and first bytes, then the rest after this long. */
  | { kind: 'slowBody'; ms: number };

export type RequestMatcher = (request: RecordedRequest) => boolean;

interface PlannedFault {
  matches: RequestMatcher;
  fault: Fault;
  remaining: number;
}

/** Scripted faults, consumed in the order they were added. */
export class FaultPlan {
  private readonly planned: PlannedFault[] = [];

  /** The next `times` requests that match get `fault` (Infinity: until cleared). */
  add(fault: Fault, options: { matches?: RequestMatcher; times?: number } = {}): void {
    this.planned.push({ matches: options.matches ?? (() => true), fault, remaining: options.times ?? 1 });
  }

  clear(): void {
    this.planned.length = 0;
  }

  take(request: RecordedRequest): Fault | undefined {
    const index = this.planned.findIndex((p) => p.remaining > 0 && p.matches(request));
    if (index < 0) return undefined;
    const planned = this.planned[index]!;
    planned.remaining -= 1;
    if (planned.remaining <= 0) this.planned.splice(index, 1);
    return planned.fault;
  }
}

export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type SandboxHandler = (request: RecordedRequest) => SandboxResponse | Promise<SandboxResponse>;

export interface LoopbackServer {
  /** e.g. "http://127.0.0.1:41234" (no trailing slash). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  faults: FaultPlan;
  /** Every answer waits this long before the handler runs (the benchmark's 50 ms provider). */
  setLatency(ms: number): void;
  close(): Promise<void>;
}

/**
 * Starts `handler` on 127.0.0.1 (port 0 = any free port). Faults are applied around the handler;
 * every request is recorded before anything else happens.
 */
export async function startLoopbackServer(handler: SandboxHandler, port = 0, options: { latencyMs?: number } = {}): Promise<LoopbackServer> {
  let latencyMs = options.latencyMs ?? 0;
  const requests: RecordedRequest[] = [];
  const faults = new FaultPlan();
  const sockets = new Set<Socket>();
  // Slow-body timers are cleared on close, so a test that ends early does not keep Node alive.
  const timers = new Set<NodeJS.Timeout>();

  let inFlight = 0;
  const server = http.createServer((req, res) => {
    // Counted from arrival until the answer is sent (or the socket dies): what a client that
    // pipelines its requests has outstanding at once.
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks),
        receivedAt: Date.now(),
        inFlight,
      };
      requests.push(recorded);
      void serve(recorded, res);
    });
  });

  async function serve(request: RecordedRequest, res: http.ServerResponse): Promise<void> {
    const fault = faults.take(request);
    if (fault?.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, fault.headers ?? { 'content-type': 'text/plain' });
      res.end(fault.body ?? '');
      return;
    }
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    // Unref'd: a delayed answer to a client that died must not keep a closed sandbox's process alive.
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms).unref());
    let answer: SandboxResponse;
    try {
      answer = await handler(request);
    } catch (error) {
      answer = { status: 500, body: `sandbox handler error: ${(error as Error).message}` };
    }
    if (fault?.kind === 'resetAfterEffect') {
      res.socket?.destroy();
      return;
    }
    const body = answer.body ?? '';
    if (fault?.kind === 'slowBody') {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
      res.writeHead(answer.status, { ...answer.headers, 'content-length': String(bytes.length) });
      const half = Math.floor(bytes.length / 2);
      res.write(bytes.subarray(0, half));
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.end(bytes.subarray(half));
      }, fault.ms);
      timers.add(timer);
      return;
    }
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(body);
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    requests,
    faults,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Hanging requests would keep close() waiting for ever: end their sockets.
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
