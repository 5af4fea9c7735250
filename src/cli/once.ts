/** `specter-sync once [--dry-run] [--json]`: one whole cycle, then exit (docs/interface.md). */
import { buildCycleDeps } from '../worker/deps.js';
import { needsPerson, runCycle, type CycleReport } from '../worker/cycle.js';
import { describeAction } from './describe.js';
import { openContext } from './context.js';
import { EXIT, type ExitCode } from './exit.js';
import { formatTable, printJson } from '../format.js';

export interface OnceOptions {
  dryRun?: boolean;
  json?: boolean;
}

export async function onceCommand(options: OnceOptions): Promise<ExitCode> {
  const ctx = await openContext({ json: options.json });
  const { config, logger, store } = ctx;
  // SIGTERM/SIGINT during a one-shot run: let the request in flight finish and stop there; the
  // outbox keeps everything else for the next run.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    const report = await runCycle(
      // SIGTERM/SIGINT: the request in flight finishes, nothing new starts.
      { ...buildCycleDeps(config, store, logger), signal: stop.signal },
      { dryRun: options.dryRun ?? false },
    );
    if (options.json) printJson(ctx.out, report);
    else ctx.out.write(`${humanReport(report)}\n`);
    return exitCodeFor(report);
  } finally {
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    await ctx.close();
  }
}

function exitCodeFor(report: CycleReport): ExitCode {
  if (report.outcome === 'failed') return EXIT.failed;
  // Another process holds the lease: this run did nothing and cannot vouch for anything.
  if (report.outcome === 'skipped') return EXIT.failed;
  return needsPerson(report.awaitingPerson) ? EXIT.needsPerson : EXIT.ok;
}

function humanReport(report: CycleReport): string {
  if (report.outcome === 'failed') return `\nRun FAILED: ${report.reason}`;
  if (report.outcome === 'skipped')
    return `\nRun skipped: ${report.reason === 'lease_busy' ? 'another specter-sync process holds the database lease' : report.reason}`;
  const lines: string[] = [''];
  const c = report.counts;
  lines.push(
    `${report.dryRun ? 'Dry run (nothing written, nothing sent)' : report.outcome === 'baseline' ? 'Baseline run' : 'Run'} for orders dated ${report.window.fromDate}..${report.window.toDate}`,
  );
  lines.push(
    formatTable(
      ['listed', 'new', 'changed', 'cancelled', 'missing', 'vanished', 'reappeared', 'left window', 'jobs'],
      [[c.listed, c.newOrders, c.changed, c.cancelled, c.missing, c.vanished, c.reappeared, c.leftWindow, c.jobsCreated]],
    ),
  );
  if (report.actions.length > 0) {
    lines.push('', report.dryRun ? 'Would do:' : 'Actions:');
    for (const action of report.actions) lines.push(`  - ${describeAction(action)}`);
  }
  const a = report.awaitingPerson;
  if (needsPerson(a)) {
    lines.push('', 'Awaiting a person:');
    if (a.vanishedOrders) lines.push(`  - ${a.vanishedOrders} vanished order(s): see \`specter-sync vanished list\``);
    if (a.failedJobs) lines.push(`  - ${a.failedJobs} failed job(s): see \`specter-sync jobs list --state failed\``);
    if (a.jobsWithoutProvider) lines.push(`  - ${a.jobsWithoutProvider} job(s) wait for a provider that is not configured: see \`specter-sync status\``);
    if (a.guardTripped) lines.push('  - the vanish guard tripped: too many orders vanished at once; none were flagged');
  }
  return lines.join('\n');
}
