/**
 * Deterministic crash points for the fault-injection suite (test/faults/). When the environment
 * variable SPECTER_SYNC_CRASH_AT names a point, the process kills itself with SIGKILL the moment it
 * reaches that point — no cleanup, no flushing, exactly like `kill -9` or a power cut at that line.
 * SPECTER_SYNC_CRASH_AFTER=N lets the point pass N times first (e.g. crash on the 3rd request).
 * Unset in production: the check is one string comparison.
 *
 * Points: cycle.listing, cycle.before_commit, cycle.after_commit, dispatch.in_flight,
 *         dispatch.after_answer.
 */
export type CrashPointName = 'cycle.listing' | 'cycle.before_commit' | 'cycle.after_commit' | 'dispatch.in_flight' | 'dispatch.after_answer';

const target = process.env.SPECTER_SYNC_CRASH_AT;
let passesLeft = Number(process.env.SPECTER_SYNC_CRASH_AFTER ?? '0') || 0;

export function crashPoint(name: CrashPointName): void {
  if (target !== name) return;
  if (passesLeft > 0) {
    passesLeft -= 1;
    return;
  }
  process.kill(process.pid, 'SIGKILL');
}
