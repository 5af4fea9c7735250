/** A cancel request for `providerRef`, with a key derived from it unless one is given. */
import type { CancelRequest } from '../../src/providers/types.js';

export function cancelRequestFor(providerRef: string, idempotencyKey = `key-${providerRef}`): CancelRequest {
  return { orderNo: `SO-${providerRef}`, providerRef, idempotencyKey, amount: '100.00', currency: 'SEK' };
}
