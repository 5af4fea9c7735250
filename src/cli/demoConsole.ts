/**
 * `specter-sync demo --console`: after the story, the stage stays up — the sandbox, the real
 * worker (`run`'s loop, on the demo's database) and the operator console on an ephemeral port of
 * 127.0.0.1 — until Ctrl-C (SIGINT) or SIGTERM, so a newcomer can click through what awaits a
 * person. The sign-in token is made here, at random, and printed: it is the demo's own.
 */
import { randomBytes } from 'node:crypto';
import { createConsole } from '../console/server.js';
import type { DemoStage } from '../demo/stage.js';
import { createWorkerMetrics } from '../observability/metrics.js';
import { buildCycleDeps } from '../worker/deps.js';
import { createHealthServer } from '../worker/http.js';
import { createWorker } from '../worker/runner.js';

/** Resolves once a stop signal came and the worker and the console are stopped (the stage is the caller's). */
export async function keepConsoleUp(stage: DemoStage, line: (text: string) => void): Promise<void> {
  const { config, store, logger } = stage;
  const metrics = createWorkerMetrics();
  const worker = createWorker({ ...buildCycleDeps(config, store, logger), metrics });
  const token = randomBytes(18).toString('base64url');
  const consoleHandler = createConsole({ token, secureCookie: false, deps: { config, store, logger, sharedLease: worker.lease } });
  const server = createHealthServer({
    host: '127.0.0.1',
    port: 0,
    readiness: () => worker.readiness(),
    metrics: () => metrics.render(),
    console: consoleHandler.handle,
  });
  const address = await server.listen();
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.start();
    line('');
    line(`The operator console is up: http://127.0.0.1:${address.port}/`);
    line(`Sign in with the token: ${token}`);
    line(`The worker keeps running on the sandbox (a cycle every few minutes, "${config.sync.schedule}"). Press Ctrl-C to stop.`);
    const signal = await stopped;
    line('');
    line(`${signal}: stopping the worker and the console.`);
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await worker.stop(config.sync.shutdownGraceMs);
    await server.close();
    await consoleHandler.idle();
  }
}
