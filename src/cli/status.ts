/** `specter-sync status [--json]`: what is tracked, what waits for a person, how fresh it is. */
import { JOB_STATES } from '../domain.js';
import { configuredProviders } from '../config/types.js';
import { buildStatusReport } from '../store/status.js';
import { openQueryContext } from './context.js';
import { EXIT, type ExitCode } from './exit.js';
import { formatAge, formatTable, printJson } from '../format.js';

export async function statusCommand(options: { json?: boolean }): Promise<ExitCode> {
  const ctx = await openQueryContext({ json: options.json });
  try {
    const report = await buildStatusReport(ctx.store, configuredProviders(ctx.config));
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
      ...report.vanishedOrders.map(
        (v) =>
          `  ${v.orderNo} ${v.provider ?? 'no provider'} ${v.providerRef ?? ''}: ${v.paymentState ?? 'not asked'}` +
          `${v.reservedAmount ? ` ${v.reservedAmount} ${v.currency ?? ''}`.trimEnd() : ''}${v.expiresAt ? `, expires ${v.expiresAt}` : ''}`,
      ),
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
      report.lease
        ? `Lease: held by ${report.lease.holder} until ${report.lease.expiresAt}, renewed while it runs (a \`run\` there does the cycles, or a \`once\` or a person's send is at work)`
        : `Lease: free (no \`run\` holds it; the next to start or tick takes it${last ? `; the last cycle was run by ${last.holder}` : ''})`,
    );
    ctx.out.write(`${lines.join('\n')}\n`);
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}
