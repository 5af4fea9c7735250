/**
 * The one bounded pool of the outbound calls: `work` over `items` with at most `limit` in flight
 * (each provider's own pool in the dispatcher, the getOrder confirmations of a cycle).
 */

/**
 * `shouldStop` is asked before each new item is started (a stop was requested: in-flight items
 * finish, no new one starts). If `work` throws, this pool starts nothing more, lets the items
 * already in flight finish, and then rejects with the first error, so no promise is left running
 * unobserved behind a rejection.
 */
export async function runWithLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  const width = Math.max(1, Math.min(items.length, Number.isFinite(limit) ? Math.floor(limit) : 1));
  let next = 0;
  const errors: unknown[] = [];

  async function lane(): Promise<void> {
    while (errors.length === 0 && !shouldStop()) {
      const index = next;
      next += 1;
      if (index >= items.length) return;
      try {
        await work(items[index] as T);
      } catch (error) {
        errors.push(error);
      }
    }
  }

  await Promise.all(Array.from({ length: width }, () => lane()));
  if (errors.length > 0) throw errors[0];
}
