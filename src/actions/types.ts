/**
 * What a person's action answers, the same for the CLI and the console: a sentence to show, and
 * how it ended. The CLI turns `status` into its exit code and stream; the console into a notice.
 */
import type { AppConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Store } from '../store/database.js';
import type { SharedLease } from '../worker/keeper.js';

export interface ActionDeps {
  config: AppConfig;
  store: Store;
  logger: Logger;
  now?: () => Date;
  /** In `run` (the console): the worker's held lease, which a send-now goes out under (worker/sendNow.ts). */
  sharedLease?: SharedLease;
}

export type ActionStatus =
  /** Done (or queued to be done): exit 0. */
  | 'ok'
  /** Tried, and the provider's answer was a failure, or Specter could not be asked: exit 1, on stdout. */
  | 'send_failed'
  /** Nothing to act on (no such order, not awaiting a person): exit 1, on stderr. */
  | 'refused'
  /** The request itself was wrong (a job that cannot be dismissed): exit 2, on stderr. */
  | 'usage';

export interface ActionResult {
  status: ActionStatus;
  /** One or two sentences for a person; never a secret (it is built from stored facts only). */
  message: string;
}

export function result(status: ActionStatus, message: string): ActionResult {
  return { status, message };
}
