/** `specter-sync status [--json]`: what is tracked, what waits for a person, how fresh it is. */
import { JOB_STATES, PROVIDER_NAMES, type JobState, type OrderStatus, type ProviderName } from '../domain.js';
import type { Store } from '../store/database.js';
import { countJobsByState, countOpenJobsByProvider } from '../store/jobs.js';
import { lastSuccessfulRun } from '../store/runs.js';
import { countTrackedByStatus } from '../store/status.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import type { AppConfig } from '../config/types.js';
import { EXIT, openContext, type ExitCode } from './context.js';
import { formatAge, formatTable, printJson } from './format.js';

export interface StatusReport {
  trackedOrders: Record<OrderStatus, number>;
  vanishedAwaitingPerson: number;
  jobs: Record<JobState, number>;
  /** Open jobs whose provider is configured off: they wait, pending, until it is configured. */
  jobsWaitingForProvider: Partial<Record<ProviderName, number>>;
  providersConfigured: ProviderName[];
  lastSuccessfulRun: { finishedAt: string; ageSeconds: number; outcome: string; guardTripped: boolean } | null;
}

export async function buildStatusReport(store: Store, config: AppConfig, now: Date = new Date()): Promise<StatusReport> {
  const [tracked, vanished, jobs, openByProvider, last] = await Promise.all([
    countTrackedByStatus(store),
    listVanishedAwaiting(store),
    countJobsByState(store),
    countOpenJobsByProvider(store),
    lastSuccessfulRun(store),
  ]);
  const configured = PROVIDER_NAMES.filter((p) => config.providers[p] !== null);
  const waiting: Partial<Record<ProviderName, number>> = {};
  for (const [provider, count] of Object.entries(openByProvider) as Array<[ProviderName, number]>) {
    if (!configured.includes(provider)) waiting[provider] = count;
  }
  return {
    trackedOrders: tracked,
    vanishedAwaitingPerson: vanished.length,
    jobs,
    jobsWaitingForProvider: waiting,
    providersConfigured: configured,
    lastSuccessfulRun: last
      ? {
          finishedAt: last.finished_at,
          ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(last.finished_at)) / 1000)),
          outcome: last.outcome,
          guardTripped: last.guard_tripped === 1,
        }
      : null,
  };
}

export async function statusCommand(options: { json?: boolean }): Promise<ExitCode> {
  const ctx = await openContext({ json: options.json });
  try {
    const report = await buildStatusReport(ctx.store, ctx.config);
    if (options.json) {
      printJson(ctx.out, report);
      return EXIT.ok;
    }
    const t = report.trackedOrders;
    const j = report.jobs;
    const lines = [
      formatTable(['tracked orders', 'open', 'cancelled', 'delivered'], [['', t.open, t.cancelled, t.delivered]]),
      '',
      formatTable(['jobs', ...JOB_STATES], [['', ...JOB_STATES.map((state) => j[state])]]),
      '',
      `Vanished orders awaiting a person: ${report.vanishedAwaitingPerson}${report.vanishedAwaitingPerson ? ' (specter-sync vanished list)' : ''}`,
      `Failed jobs awaiting a person: ${j.failed}${j.failed ? ' (specter-sync jobs list --state failed; then jobs retry or jobs dismiss)' : ''}`,
      `Providers configured: ${report.providersConfigured.join(', ') || 'none'}`,
    ];
    for (const [provider, count] of Object.entries(report.jobsWaitingForProvider)) {
      lines.push(`${count} job(s) for ${provider} wait: ${provider} is not configured (set its credentials to send them)`);
    }
    const last = report.lastSuccessfulRun;
    lines.push(
      last
        ? `Last successful run: ${last.finishedAt} (${formatAge(last.ageSeconds * 1000)} ago)${last.guardTripped ? ', the vanish guard tripped' : ''}`
        : 'Last successful run: never',
    );
    ctx.out.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
