/**
 * `specter-sync run`: the long-running worker (docs/interface.md). Wires the worker, the health and
 * metrics server and the signals together, and stops in this order: no new tick, dispatch told to
 * stop, the cycle in flight awaited (up to the grace), HTTP closed, store closed, logs flushed.
 * The process then ends by itself: nothing here calls process.exit() on the normal path, since
 * winston would lose the lines it has not written yet.
 */
import { ConfigError } from '../config/errors.js';
import { createConsole, type ConsoleHandler } from '../console/server.js';
import { createWorkerMetrics } from '../observability/metrics.js';
import { createHealthServer, type HealthServer } from '../worker/http.js';
import { buildCycleDeps } from '../worker/deps.js';
import { createWorker } from '../worker/runner.js';
import { openContext } from './context.js';
import { EXIT, type ExitCode } from './exit.js';

/** 128 + the signal number: what a shell reports for a process ended by that signal. */
const SIGNAL_EXIT: Record<'SIGINT' | 'SIGTERM', number> = { SIGINT: 130, SIGTERM: 143 };

export async function runCommand(): Promise<ExitCode> {
  const ctx = await openContext();
  const { config, logger, store } = ctx;
  if (config.console.token !== null && config.http.port === 0) {
    await ctx.close();
    // The console is served on the HTTP port: a token with no port would be a console nobody can reach.
    throw new ConfigError(
      'HTTP_PORT',
      'is 0 (HTTP off), but CONSOLE_TOKEN is set: the console is served on HTTP_PORT; set a port or unset CONSOLE_TOKEN',
      'environment variables HTTP_PORT and CONSOLE_TOKEN',
    );
  }
  // 25 s by default: a margin inside the 30 s that Kubernetes (terminationGracePeriodSeconds) and
  // `docker stop --time 30` / compose `stop_grace_period: 30s` give before SIGKILL.
  const graceMs = config.sync.shutdownGraceMs;
  const metrics = createWorkerMetrics();
  const worker = createWorker({ ...buildCycleDeps(config, store, logger), metrics });

  let server: HealthServer | null = null;
  let consoleHandler: ConsoleHandler | undefined;
  if (config.http.port !== 0) {
    consoleHandler =
      config.console.token === null
        ? undefined
        : createConsole({ token: config.console.token, secureCookie: config.console.secureCookie, deps: { config, store, logger, sharedLease: worker.lease } });
    server = createHealthServer({
      host: config.http.host,
      port: config.http.port,
      readiness: () => worker.readiness(),
      metrics: () => metrics.render(),
      console: consoleHandler?.handle,
    });
    try {
      const address = await server.listen();
      logger.event(
        'http.listening',
        `health and metrics on http://${address.address}:${address.port} (/healthz, /readyz, /metrics)${consoleHandler ? `; the operator console at http://${address.address}:${address.port}/` : ''}`,
        { address: address.address, port: address.port, console: consoleHandler !== undefined },
      );
    } catch (error) {
      // EADDRINUSE and the like: a worker nobody can probe would be restarted by its
      // orchestrator in a loop anyway; better to fail now and say why.
      await ctx.close();
      throw new Error(`cannot listen on ${config.http.host}:${config.http.port} (HTTP_HOST/HTTP_PORT): ${(error as Error).message}`, { cause: error });
    }
  }

  let stopRequested: (signal: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    stopRequested = resolve;
  });
  let signals = 0;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    signals += 1;
    if (signals === 1) {
      stopRequested(signal);
      return;
    }
    // A second signal: the operator wants it gone now. Safe because every fact is committed in
    // one transaction before anything is sent, and a job left `sending` is sent again on the next
    // start with the same idempotency key, so the provider sees a repeat, never a second
    // cancellation. The only place process.exit() is used: waiting is exactly what was refused.
    logger.event('worker.stopping', `second ${signal}: stopping at once, without waiting for the cycle in flight`, { signal, forced: true });
    // A moment for winston to hand the line over (stdout to a pipe is synchronous on Linux).
    setTimeout(() => process.exit(SIGNAL_EXIT[signal]), 50).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await worker.start();
  } catch (error) {
    // Reading the database before the first tick failed: nothing was scheduled to wait for.
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await server?.close();
    await ctx.close();
    throw error;
  }

  const signal = await stopSignal;
  logger.event('worker.stopping', `${signal} received: no new cycle starts; waiting up to ${graceMs} ms for the cycle in flight`, { signal, graceMs });
  const stopped = await worker.stop(graceMs);
  await server?.close();
  // A person's action still in flight (its provider answering) records its answer before the store closes.
  await consoleHandler?.idle();

  if (!stopped.cycleFinished) {
    // The grace ran out. The store stays open for the cycle still running (closing it under the
    // cycle would make its lease renewal throw from a timer); dispatch was told to stop, so only
    // requests already in flight remain, each bounded by its timeout, and the process ends when
    // they do (or when the orchestrator's SIGKILL comes). Exit 1: this was not a clean stop.
    logger.event('worker.stopped', `the grace period of ${graceMs} ms ran out with a cycle in flight; the process ends when its requests time out`, {
      signal,
      graceExpired: true,
      exitCode: EXIT.failed,
    });
    await logger.close();
    // The store closes once the abandoned cycle has ended, however it ends.
    void stopped.inFlight
      ?.then(
        () => store.close(),
        () => store.close(),
      )
      .catch(() => undefined);
    return EXIT.failed;
  }

  await store.close();
  logger.event('worker.stopped', 'worker stopped cleanly', { signal, exitCode: EXIT.ok });
  await logger.close();
  // The listeners stay until here, so a second signal during the wait is the forced stop; after
  // this, nothing is left that could keep the process alive.
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
  return EXIT.ok;
}
