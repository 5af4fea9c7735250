/** A person's action (src/actions) ends as the CLI's exit code, on the stream its status calls for. */
import type { ActionResult } from '../actions/types.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';

export function exitWith(out: NodeJS.WritableStream, outcome: ActionResult): ExitCode {
  switch (outcome.status) {
    case 'ok':
      out.write(`${outcome.message}\n`);
      return EXIT.ok;
    case 'send_failed':
      out.write(`${outcome.message}\n`);
      return EXIT.failed;
    case 'refused':
      process.stderr.write(`specter-sync: ${outcome.message}\n`);
      return EXIT.failed;
    case 'usage':
      throw new UsageError(outcome.message);
  }
}
