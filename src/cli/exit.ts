/**
 * Exit codes and the usage error: what program.ts needs before it knows which command runs, kept
 * apart from context.ts so `--version` and `--help` load no configuration, logger or store.
 */

/** Exit codes (docs/interface.md, "Exit codes"): a contract with operators' scripts. */
export const EXIT = {
  ok: 0,
  /** The run failed: Specter unreachable or refused, database error, … */
  failed: 1,
  /** Usage or configuration error. */
  usage: 2,
  /** `once` succeeded, but something awaits a person. */
  needsPerson: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A wrong argument: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
