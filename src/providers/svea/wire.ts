/**
 * The fields of Svea's order (GET /api/v1/orders/{id}) that decide what a cancel can do, checked
 * by hand. Documented: OrderStatus "Open" | "Delivered" | "Cancelled" | "Failed", IsCancelled,
 * Actions (e.g. "CanDeliverOrder", "CanCancelOrder", "CanCancelOrderRow", …), Deliveries (null or
 * a list; a delivery is what Svea invoices — the equivalent of a capture).
 */

export interface SveaOrder {
  orderStatus: string | null;
  isCancelled: boolean;
  actions: string[];
  deliveryCount: number;
}

export function parseSveaOrder(body: unknown): SveaOrder | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const record = body as Record<string, unknown>;
  const status = record.OrderStatus;
  const actions = record.Actions;
  // Neither field present: whatever this is, it is not an order we can decide on.
  if (typeof status !== 'string' && !Array.isArray(actions)) return null;
  const deliveries = record.Deliveries;
  return {
    orderStatus: typeof status === 'string' ? status : null,
    isCancelled: record.IsCancelled === true,
    actions: Array.isArray(actions) ? actions.filter((a): a is string => typeof a === 'string') : [],
    deliveryCount: Array.isArray(deliveries) ? deliveries.length : 0,
  };
}
