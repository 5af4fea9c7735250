/** Counts for `status` and the metrics. */
import type { OrderStatus } from '../domain.js';
import type { Store } from './database.js';

export async function countTrackedByStatus(store: Store): Promise<Record<OrderStatus, number>> {
  const rows = await store.db
    .selectFrom('order_snapshots')
    .select(['status', (eb) => eb.fn.countAll<number>().as('count')])
    .where('left_window_at', 'is', null)
    .groupBy('status')
    .execute();
  const counts: Record<OrderStatus, number> = { open: 0, cancelled: 0, delivered: 0 };
  for (const row of rows) counts[row.status] = Number(row.count);
  return counts;
}
