/**
 * What every command needs, built the same way each time: the validated configuration, the
 * logger (to stdout, or to stderr when stdout carries a --json document), and the store.
 */
import { loadConfig, loadQueryConfig, type QueryConfig } from '../config/load.js';
import { type ConfigError } from '../config/errors.js';
import type { AppConfig } from '../config/types.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { openStore, storeTarget, type Store } from '../store/database.js';
import { EXIT, type ExitCode } from './exit.js';

export interface OutputOptions {
  /** stdout carries one JSON document; log lines go to stderr. */
  json?: boolean;
}

export interface CommandContext {
  config: AppConfig;
  logger: Logger;
  store: Store;
  /** Where the command's own output goes. */
  out: NodeJS.WritableStream;
  close(): Promise<void>;
}

export function loggerFor(config: Pick<AppConfig, 'log' | 'secrets'>, options: OutputOptions): Logger {
  return createLogger({
    level: config.log.level,
    format: config.log.format,
    secrets: config.secrets,
    stream: options.json ? process.stderr : process.stdout,
  });
}

export async function openContext(options: OutputOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<CommandContext> {
  return openWith(loadConfig({ env: options.env ?? process.env }), options);
}

/** A query command's context: only the database settings are needed (config/load.ts loadQueryConfig). */
export type QueryContext = Omit<CommandContext, 'config'> & { config: QueryConfig };

export async function openQueryContext(options: OutputOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<QueryContext> {
  return openWith(loadQueryConfig({ env: options.env ?? process.env }), options);
}

async function openWith<C extends QueryConfig>(config: C, options: OutputOptions): Promise<Omit<CommandContext, 'config'> & { config: C }> {
  const logger = loggerFor(config, options);
  let store: Store;
  try {
    store = await openStore(storeTarget(config.sync));
  } catch (error) {
    await logger.close();
    throw error;
  }
  return {
    config,
    logger,
    store,
    out: process.stdout,
    close: async () => {
      await store.close();
      await logger.close();
    },
  };
}

/** Logs a configuration error as `config.invalid` (operators alert on it) and returns exit 2. */
export async function reportConfigError(error: ConfigError, options: OutputOptions): Promise<ExitCode> {
  const format = process.env.LOG_FORMAT === 'pretty' ? 'pretty' : 'json';
  const logger = createLogger({ level: 'info', format, secrets: [], stream: options.json ? process.stderr : process.stdout });
  logger.event('config.invalid', `configuration error: ${error.message}`, { setting: error.setting, source: error.source });
  await logger.close();
  return EXIT.usage;
}
