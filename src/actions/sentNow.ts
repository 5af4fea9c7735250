/** The person's answer after a job was sent now (worker/sendNow.ts): what the provider said, or why nothing was sent. */
import type { DispatchAction } from '../dispatch/dispatcher.js';
import type { SendNowOutcome } from '../worker/sendNow.js';
import { result, type ActionResult } from './types.js';

/** What `waiting` says when the job was not sent now, by why (the job is committed either way). */
export interface WaitingTexts {
  providerNotConfigured: string;
  leaseBusy: string;
  leaseLost: string;
}

export function describeSendNow(outcome: SendNowOutcome, label: string, waiting: WaitingTexts): ActionResult {
  switch (outcome.kind) {
    case 'provider_not_configured':
      return result('ok', waiting.providerNotConfigured);
    case 'lease_busy':
      return result('ok', waiting.leaseBusy);
    case 'lease_lost':
      return result('ok', waiting.leaseLost);
    case 'dispatched':
      return describeDispatched(label, outcome.action);
  }
}

/**
 * Failed when the send failed or could not be checked (Specter unreachable); a voided job needed
 * no send, and that is fine.
 */
function describeDispatched(label: string, action: DispatchAction | null): ActionResult {
  if (action === null) return result('ok', `${label}: queued`);
  const released = action.reason === 'payment_cancelled' || action.reason === 'payment_expired';
  const text: Partial<Record<DispatchAction['result'], string>> = {
    voided: released
      ? `not sent: ${action.provider} says the payment is already ${action.reason === 'payment_expired' ? 'expired' : 'cancelled'}, nothing is left to release (job voided)`
      : `not sent and voided: the order no longer calls for it (${action.reason ?? ''})`,
    not_verified: 'not sent now: Specter could not be asked whether the order still calls for it; it stays queued for the next run',
  };
  const captured =
    action.result === 'failed' && action.reason === 'captured' ? `; ${action.provider} says it is captured: whether to refund is the decision to make` : '';
  const message = `${label}: ${text[action.result] ?? `${action.result}${action.reason ? ` (${action.reason})` : ''}`}${captured}`;
  return result(action.result === 'failed' || action.result === 'not_verified' ? 'send_failed' : 'ok', message);
}
