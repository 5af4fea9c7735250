/** `specter-sync jobs list|retry|dismiss`: the cancellation outbox. */
import { JOB_STATES, type JobState } from '../domain.js';
import { dismissJob } from '../actions/dismissJob.js';
import { retryFailedJob } from '../actions/retryJob.js';
import { listJobs } from '../store/jobs.js';
import { exitWith } from './action.js';
import { openContext, openQueryContext } from './context.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';
import { formatTable, printJson } from '../format.js';

function parseJobState(value: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(value)) return value as JobState;
  throw new UsageError(`--state must be one of ${JOB_STATES.join(', ')}; got "${value}"`);
}

function parseJobId(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw new UsageError(`JOB_ID must be a positive integer, got "${value}"`);
  return Number(value);
}

export async function jobsListCommand(options: { state?: string; json?: boolean }): Promise<ExitCode> {
  const state = options.state === undefined ? undefined : parseJobState(options.state);
  const ctx = await openQueryContext({ json: options.json });
  try {
    const jobs = await listJobs(ctx.store, { state });
    if (options.json) {
      printJson(ctx.out, jobs);
      return EXIT.ok;
    }
    if (jobs.length === 0) {
      ctx.out.write(`No ${state ?? ''} jobs.\n`.replace('  ', ' '));
      return EXIT.ok;
    }
    ctx.out.write(
      `${formatTable(
        ['id', 'order', 'provider', 'provider ref', 'reason', 'state', 'attempts', 'next attempt', 'failure', 'last error'],
        jobs.map((j) => [
          j.id,
          j.orderNo,
          j.provider,
          j.providerRef,
          j.reason,
          j.state,
          j.attempts,
          j.state === 'pending' ? j.nextAttemptAt : null,
          j.failureReason,
          j.lastErrorCode ? `${j.lastErrorCode}: ${j.lastErrorMessage ?? ''}`.slice(0, 80) : null,
        ]),
      )}\n`,
    );
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

/** A person re-queues a failed job and it is sent now (src/actions/retryJob.ts). */
export async function jobsRetryCommand(jobIdText: string): Promise<ExitCode> {
  const jobId = parseJobId(jobIdText);
  const ctx = await openContext();
  try {
    return exitWith(ctx.out, await retryFailedJob(ctx, jobId));
  } finally {
    await ctx.close();
  }
}

/** A person closes a failed job without sending anything (src/actions/dismissJob.ts). */
export async function jobsDismissCommand(jobIdText: string, options: { note?: string }): Promise<ExitCode> {
  const jobId = parseJobId(jobIdText);
  if ((options.note?.trim() ?? '') === '') throw new UsageError('--note TEXT is required: say why the job is closed without sending (it is kept with the job)');
  const ctx = await openContext();
  try {
    return exitWith(ctx.out, await dismissJob(ctx, jobId, options.note ?? ''));
  } finally {
    await ctx.close();
  }
}
