/**
 * How the demo talks: plain sentences for people, one or two lines per event, no JSON. Everything
 * said about the worker is read from what it returned (the cycle's actions, the store), so the
 * account cannot drift from what actually happened.
 */
import type { ProviderName } from '../domain.js';
import type { ConfirmAction } from '../dispatch/confirm.js';
import type { DispatchAction } from '../dispatch/dispatcher.js';
import type { CastOrder } from './cast.js';

export interface Narrator {
  /** A line outside any step (the opening and the closing words). */
  line(text: string): void;
  /** A numbered step's title. */
  step(title: string): void;
  /** One line at the step's indentation ("" for an empty line). */
  say(text: string): void;
  /** Lines indented one level deeper (tables, the message a person acts on). */
  quote(text: string): void;
}

export function createNarrator(out: NodeJS.WritableStream): Narrator {
  let steps = 0;
  const write = (text: string) => out.write(`${text}\n`);
  return {
    line: write,
    step(title) {
      steps += 1;
      write('');
      write(`${steps}. ${title}`);
    },
    say(text) {
      write(text === '' ? '' : `   ${text}`);
    },
    quote(text) {
      for (const line of text.split('\n')) write(line === '' ? '' : `      ${line}`);
    },
  };
}

export const PROVIDER_TITLE: Record<ProviderName, string> = {
  qliro: 'Qliro',
  klarna: 'Klarna',
  walley: 'Walley',
  svea: 'Svea',
};

export function money(amount: string | null, currency: string | null): string {
  return amount === null ? 'unknown amount' : `${amount} ${currency ?? ''}`.trim();
}

/** "order 100057 (Märta Larsson, 1249.00 SEK, Qliro 7324458)" */
export function orderLabel(order: CastOrder): string {
  const who = order.customerName === null ? '' : `${order.customerName}, `;
  return `order ${order.orderNo} (${who}${money(order.amount, order.currency)}, ${PROVIDER_TITLE[order.provider]} ${order.providerRef})`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** What a provider's answer to a cancellation means, in words. */
export function describeDispatch(action: DispatchAction): string {
  const name = PROVIDER_TITLE[action.provider];
  const job = `job ${action.jobId}, order ${action.orderNo}`;
  switch (action.result) {
    case 'succeeded':
      return `${name}: cancelled at once (${job} done)`;
    case 'already_cancelled':
      return `${name}: already cancelled there, which counts as done (${job} done)`;
    case 'accepted':
      return `${name}: accepted, confirmation comes later (${job} accepted)`;
    case 'retry_scheduled':
      return `${name}: a passing failure (${action.reason ?? 'transient'}); tried again at ${action.nextAttemptAt ?? 'the next run'} (${job} pending)`;
    case 'failed':
      return `${name}: FAILED for good, reason ${action.reason ?? 'unknown'} (${job} failed)`;
    case 'waiting_for_provider':
      return `${name}: not sent, ${name} is not configured (${job} pending)`;
    case 'voided':
      return `${name}: not sent, the order's story changed (${action.reason ?? 'no longer needed'}; ${job} voided)`;
    case 'not_verified':
      return `${name}: not sent now, Specter could not be asked whether the order still calls for it (${job} pending)`;
  }
}

export function describeConfirm(action: ConfirmAction): string {
  const name = PROVIDER_TITLE[action.provider];
  const job = `job ${action.jobId}, order ${action.orderNo}`;
  switch (action.result) {
    case 'confirmed':
      return `${name}: confirms the cancellation is complete (${job} done)`;
    case 'pending':
      return `${name}: still processing${action.reason ? ` (${action.reason})` : ''}; asked again next run (${job} accepted)`;
    case 'failed':
      return `${name}: the cancellation did not complete, reason ${action.reason ?? 'unknown'} (${job} failed)`;
  }
}
