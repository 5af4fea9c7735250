/**
 * Qliro's order read (`GET /checkout/adminapi/v2/orders/{OrderId}`) as a payment state. Qliro
 * tells no expiry, and no status field says "reserved": the state follows from the order's
 * payment transactions (docs/providers.md, "Reading a payment's state"). Only transactions in
 * `Success` count; one still in process has changed nothing yet.
 *   - a successful Capture or Debit               → captured (money was taken; captured beats cancelled)
 *   - a successful Preauthorization, no successful
 *     Reversal                                     → reserved: the preauthorised sum
 *   - a successful Reversal as well               → cancelled, unless the amounts show a part
 *                                                    still reserved (a partial reversal)
 *   - no successful Preauthorization at all       → unknown: nothing documented says what that is
 */
import { z } from 'zod';
import type { Redactor } from '../../outbound/redact.js';
import { parseJsonBody } from '../http.js';
import { majorToString, reservedRead, settledRead, unknownFromAnswer, unknownRead } from '../paymentRead.js';
import type { PaymentRead } from '../types.js';

const transactionSchema = z
  .object({
    Type: z.string(),
    Status: z.string(),
    Amount: z.number().nonnegative().nullish(),
    Currency: z.string().nullish(),
  })
  .loose();

const orderSchema = z.object({ PaymentTransactions: z.array(transactionSchema), Currency: z.string().nullish() }).loose();
const errorSchema = z.object({ ErrorCode: z.string() }).loose();

type Transaction = z.infer<typeof transactionSchema>;

export function qliroPaymentRead(status: number, data: unknown, clean: Redactor): PaymentRead {
  const json = parseJsonBody(data);
  if (status < 200 || status >= 300) {
    const error = errorSchema.safeParse(json);
    if (status === 404 && error.success && error.data.ErrorCode === 'ORDER_NOT_FOUND') return settledRead('not_found', 'Qliro: ORDER_NOT_FOUND');
    const why = status === 401 || status === 403 ? 'Qliro refused the signature or key' : 'the Qliro order read failed';
    return unknownFromAnswer(why, status, data, clean);
  }
  const parsed = orderSchema.safeParse(json);
  if (!parsed.success) return unknownFromAnswer('the Qliro order read carries no PaymentTransactions', status, data, clean);
  const succeeded = parsed.data.PaymentTransactions.filter((t) => t.Status === 'Success');
  const ofType = (...types: string[]): Transaction[] => succeeded.filter((t) => types.includes(t.Type));
  const currency = parsed.data.Currency ?? succeeded.find((t) => t.Currency)?.Currency ?? null;

  const captures = ofType('Capture', 'Debit');
  const preauths = ofType('Preauthorization');
  const reversals = ofType('Reversal');
  const detail = `Qliro transactions in Success: ${describe(succeeded)}`;
  if (captures.length > 0) return settledRead('captured', detail, currency);
  if (preauths.length === 0) {
    return unknownRead(`Qliro order has no successful Preauthorization (${describe(parsed.data.PaymentTransactions)})`, clean);
  }
  const reserved = sum(preauths);
  const released = sum(reversals);
  if (reversals.length === 0) return reservedRead({ reservedAmount: reserved === null ? null : majorToString(reserved), currency, expiresAt: null, detail });
  // A reversal of part of the amount leaves the rest reserved; without amounts, the documented
  // rule holds: a successful Reversal for the preauthorisation means it is released.
  if (reserved !== null && released !== null && reserved - released >= 0.005) {
    return reservedRead({ reservedAmount: majorToString(reserved - released), currency, expiresAt: null, detail });
  }
  return settledRead('cancelled', detail, currency);
}

/** The transactions' amounts added up, or null when any of them has none. */
function sum(transactions: readonly Transaction[]): number | null {
  let total = 0;
  for (const t of transactions) {
    if (t.Amount === null || t.Amount === undefined) return null;
    total += t.Amount;
  }
  return total;
}

function describe(transactions: readonly Transaction[]): string {
  if (transactions.length === 0) return 'none';
  return transactions
    .slice(0, 10)
    .map((t) => `${t.Type.slice(0, 30)} ${t.Status.slice(0, 30)}`)
    .join(', ');
}
