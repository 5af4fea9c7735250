/** `specter-sync vanished list|resolve|cancel`: vanished orders and what a person does about them. */
import { listVanishedAwaiting, resolveVanished } from '../store/vanished.js';
import { requestVanishedCancel } from '../store/jobWrites.js';
import { reportSentNow, sendJobNow } from '../worker/sendNow.js';
import { openContext } from './context.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';
import { formatTable, printJson } from '../format.js';

export async function vanishedListCommand(options: { json?: boolean }): Promise<ExitCode> {
  const ctx = await openContext({ json: options.json });
  try {
    const vanished = await listVanishedAwaiting(ctx.store);
    if (options.json) {
      printJson(ctx.out, vanished);
      return EXIT.ok;
    }
    if (vanished.length === 0) {
      ctx.out.write('No vanished orders await a person.\n');
      return EXIT.ok;
    }
    ctx.out.write(
      `${formatTable(
        ['order', 'order date', 'provider', 'provider ref', 'amount', 'payment', 'still reserved', 'expires', 'vanished at', 'note'],
        vanished.map((v) => [
          v.orderNo,
          v.orderDate,
          v.provider,
          v.providerRef,
          v.amount ? `${v.amount} ${v.currency ?? ''}`.trim() : null,
          v.paymentState ?? 'not asked',
          v.reservedAmount ? `${v.reservedAmount} ${v.currency ?? ''}`.trim() : null,
          v.expiresAt,
          v.vanishedAt,
          v.note,
        ]),
      )}\n\nSoonest expiry first. For each: cancel the reservation with \`specter-sync vanished cancel ORDER_NO\`, or, if it needs no action ` +
        `(a captured payment refunded, say), \`specter-sync vanished resolve ORDER_NO --note "why"\`.\n`,
    );
    return EXIT.ok;
  } finally {
    await ctx.close();
  }
}

export async function vanishedResolveCommand(orderNo: string, options: { note?: string }): Promise<ExitCode> {
  assertOrderNo(orderNo);
  const ctx = await openContext();
  try {
    const result = await resolveVanished(ctx.store, orderNo, options.note ?? null, new Date().toISOString());
    if (result === 'resolved') {
      ctx.logger.event('vanished.resolved', `vanished order ${orderNo} marked as dealt with`, { orderNo, note: options.note ?? null });
      ctx.out.write(`Order ${orderNo} is resolved and no longer reported.\n`);
      return EXIT.ok;
    }
    process.stderr.write(
      result === 'not_found' ? `specter-sync: no tracked order ${orderNo}\n` : `specter-sync: order ${orderNo} is not a vanished order awaiting a person\n`,
    );
    return EXIT.failed;
  } finally {
    await ctx.close();
  }
}

/**
 * A person confirms: queue the cancellation (one job, one idempotency key, whatever happens) and
 * send it now, so the person sees the provider's answer — under the lease, like any cycle, and
 * only this job (worker/sendNow.ts).
 */
export async function vanishedCancelCommand(orderNo: string): Promise<ExitCode> {
  assertOrderNo(orderNo);
  const ctx = await openContext();
  try {
    const result = requestVanishedCancel(ctx.store, orderNo, new Date().toISOString());
    switch (result.kind) {
      case 'not_found':
        process.stderr.write(`specter-sync: no tracked order ${orderNo}\n`);
        return EXIT.failed;
      case 'not_awaiting':
        process.stderr.write(`specter-sync: order ${orderNo} is not a vanished order awaiting a person\n`);
        return EXIT.failed;
      case 'no_provider':
        process.stderr.write(`specter-sync: order ${orderNo} has no provider to cancel at: ${result.reason}\n`);
        return EXIT.failed;
      case 'already_queued':
        ctx.out.write(`Order ${orderNo} already has a cancellation job; nothing new was queued.\n`);
        return EXIT.ok;
      case 'queued':
        break;
    }
    const { job } = result;
    ctx.logger.event('vanished.cancel_requested', `a person confirmed the cancellation of vanished order ${orderNo}; job ${job.id} queued`, {
      orderNo,
      provider: job.provider,
      providerRef: job.providerRef,
      amount: job.amount,
      currency: job.currency,
      jobId: job.id,
    });
    // Sending is the lease holder's work (one writer): if a worker holds it right now, the job is
    // committed and that worker sends it within its current or next cycle.
    const sent = await sendJobNow(ctx, job);
    switch (sent.kind) {
      case 'provider_not_configured':
        ctx.out.write(`Job ${job.id} is queued; ${job.provider} is not configured, so it will be sent once it is.\n`);
        return EXIT.ok;
      case 'lease_busy':
        ctx.out.write(`Job ${job.id} is queued; a running specter-sync holds the database lease and will send it.\n`);
        return EXIT.ok;
      case 'lease_lost':
        ctx.out.write(`Job ${job.id} is queued; another specter-sync took over the database lease before it was sent, and will send it.\n`);
        return EXIT.ok;
      case 'dispatched':
        return reportSentNow(ctx.out, `Job ${job.id} for order ${orderNo} at ${job.provider}`, sent.action);
    }
  } finally {
    await ctx.close();
  }
}

function assertOrderNo(orderNo: string): void {
  if (!/^[1-9][0-9]*$/.test(orderNo)) throw new UsageError(`ORDER_NO must be a Specter order number (digits), got "${orderNo}"`);
}
