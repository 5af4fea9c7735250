/**
 * A provider client's bug, as an outcome: what the dispatcher and the confirmation pass get when a
 * client throws or answers something that is not one of its outcomes.
 *
 * The contract (providers/types.ts) says a client never throws for what the provider did. So a
 * throw, or a value that is not an outcome, is a bug, handled as transient: the job is kept and
 * tried again with the same key, nothing is lost.
 */
import type { CancelOutcome, ConfirmOutcome } from '../providers/types.js';

export type ClientBug = { kind: 'transient'; code: 'CLIENT_ERROR'; message: string };

/** Every outcome kind of each call, listed once: a kind added to the contract must be added here. */
export const CANCEL_KINDS: Readonly<Record<CancelOutcome['kind'], true>> = { succeeded: true, accepted: true, transient: true, permanent: true };
export const CONFIRM_KINDS: Readonly<Record<ConfirmOutcome['kind'], true>> = { succeeded: true, pending: true, transient: true, permanent: true };

/**
 * Calls the client once. `inFlight` runs after the call was made and before its answer is awaited
 * (the dispatcher's crash point). A throw, a rejection, or an answer of a kind not in `kinds`
 * comes back as a ClientBug.
 */
export async function askClient<O extends { kind: string }>(
  call: () => Promise<O>,
  kinds: Readonly<Record<O['kind'], true>>,
  inFlight: () => void = () => undefined,
): Promise<O | ClientBug> {
  let pending: Promise<O>;
  try {
    pending = call();
  } catch (error) {
    return clientError(error);
  }
  inFlight();
  try {
    const outcome = await pending;
    const kind = (outcome as { kind?: unknown } | null | undefined)?.kind;
    return typeof kind === 'string' && Object.hasOwn(kinds, kind) ? outcome : clientError(outcome);
  } catch (error) {
    return clientError(error);
  }
}

/**
 * Only the error's name and first line are kept (bounded), as a stack or a dumped request object
 * has no place in the database.
 */
function clientError(error: unknown): ClientBug {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : `the client returned or threw ${describeValue(error)}`;
  const firstLine = text.split('\n', 1)[0] ?? '';
  return { kind: 'transient', code: 'CLIENT_ERROR', message: `provider client bug: ${firstLine.slice(0, 300)}` };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  return typeof value;
}
