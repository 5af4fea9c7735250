/** `specter-sync vanished list|resolve|cancel`: vanished orders and what a person does about them. */
import { cancelVanishedPayment } from '../actions/cancelVanished.js';
import { resolveVanishedOrder } from '../actions/resolveVanished.js';
import { listVanishedAwaiting } from '../store/vanished.js';
import { exitWith } from './action.js';
import { openContext, openQueryContext } from './context.js';
import { EXIT, UsageError, type ExitCode } from './exit.js';
import { formatTable, printJson } from '../format.js';

export async function vanishedListCommand(options: { json?: boolean }): Promise<ExitCode> {
  const ctx = await openQueryContext({ json: options.json });
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
    return exitWith(ctx.out, await resolveVanishedOrder(ctx, orderNo, options.note ?? null));
  } finally {
    await ctx.close();
  }
}

/** A person confirms: the payment is cancelled now (src/actions/cancelVanished.ts). */
export async function vanishedCancelCommand(orderNo: string): Promise<ExitCode> {
  assertOrderNo(orderNo);
  const ctx = await openContext();
  try {
    return exitWith(ctx.out, await cancelVanishedPayment(ctx, orderNo));
  } finally {
    await ctx.close();
  }
}

function assertOrderNo(orderNo: string): void {
  if (!/^[1-9][0-9]*$/.test(orderNo)) throw new UsageError(`ORDER_NO must be a Specter order number (digits), got "${orderNo}"`);
}
