/** `once`'s one line per action: what the cycle did (or, in a dry run, would do), for people. */
import type { CycleAction } from '../worker/cycle.js';
import { voidText } from '../worker/report.js';

export function describeAction(action: CycleAction): string {
  switch (action.action) {
    case 'cancel_job_created':
      return action.heldBecause
        ? `hold the cancellation of order ${action.orderNo} at ${action.provider} (${action.providerRef}) for a person: ${action.heldBecause}`
        : `cancel order ${action.orderNo} at ${action.provider} (${action.providerRef}), reason ${action.reason}`;
    case 'vanished_flagged': {
      const order = `vanished order ${action.orderNo} (${action.provider ?? 'no provider'} ${action.providerRef ?? ''}, ${action.amount ?? '?'} ${action.currency ?? ''})`;
      const p = action.payment;
      if (p?.autoResolved) return `${order}: resolved automatically, its payment is ${p.state} at the provider`;
      const money = p
        ? `; payment ${p.state}${p.reservedAmount ? ` ${p.reservedAmount} ${action.currency ?? ''}`.trimEnd() : ''}${p.expiresAt ? ` until ${p.expiresAt}` : ''}`
        : '';
      return `flag ${order}${money}${action.note ? `: ${action.note}` : ''}`;
    }
    case 'reappeared':
      return `order ${action.orderNo} reappeared`;
    case 'reopened':
      return `order ${action.orderNo} is open again${action.cancellationSent ? ': its cancellation already went out, a person must arrange payment again' : ''}`;
    case 'unrouted':
      return `order ${action.orderNo}: its payment has no provider (${action.reason}); a person decides`;
    case 'handled_by_specter':
      return `order ${action.orderNo} ${action.what}: Specter handles the payment`;
    case 'job_voided':
      return `void job ${action.jobId} of order ${action.orderNo}: ${voidText(action.reason, action.orderNo)}`;
    case 'job_rerouted':
      return `job ${action.jobId} of order ${action.orderNo}: routed to ${action.provider} (${action.providerRef}) and queued`;
    case 'hold_released':
      return `job ${action.jobId} of order ${action.orderNo}: no live order carries its payment any more; queued`;
    case 'vanish_guard_tripped':
      return `vanish guard tripped: more than ${action.limit} confirmed gone (${action.vanished} counted before confirmation stopped); none flagged`;
    case 'dispatch':
      return `job ${action.jobId} order ${action.orderNo} at ${action.provider}: ${action.result}${action.reason ? ` (${action.reason})` : ''}`;
    case 'confirm':
      return `job ${action.jobId} order ${action.orderNo} at ${action.provider}: confirmation ${action.result}${action.reason ? ` (${action.reason})` : ''}`;
  }
}
