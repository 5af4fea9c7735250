/** `vanished resolve` and the console's Resolve: a person has dealt with a vanished order. */
import { resolveVanished } from '../store/vanished.js';
import { result, type ActionDeps, type ActionResult } from './types.js';

export async function resolveVanishedOrder(deps: ActionDeps, orderNo: string, note: string | null): Promise<ActionResult> {
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const outcome = await resolveVanished(deps.store, orderNo, note, now);
  switch (outcome) {
    case 'resolved':
      deps.logger.event('vanished.resolved', `vanished order ${orderNo} marked as dealt with`, { orderNo, note });
      return result('ok', `Order ${orderNo} is resolved and no longer reported.`);
    case 'not_found':
      return result('refused', `no tracked order ${orderNo}`);
    case 'not_awaiting':
      return result('refused', `order ${orderNo} is not a vanished order awaiting a person`);
  }
}
