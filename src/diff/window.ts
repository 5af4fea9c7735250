/**
 * The lookback window, in Specter's calendar: Specter's dates are Europe/Stockholm local time
 * with no offset, so "today" must be Stockholm's today, not UTC's (between 22:00/23:00 UTC and
 * midnight the two differ, and a UTC window would drop or add a day of orders).
 */
import type { OrderWindow } from '../domain.js';

export type { OrderWindow };

const stockholmDate = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Europe/Stockholm',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

/** 'YYYY-MM-DD' of `instant` in Stockholm. */
function stockholmDateOf(instant: Date): string {
  return stockholmDate.format(instant); // en-CA formats as YYYY-MM-DD
}

/** Orders dated `lookbackDays` days ago (Stockholm) or later are in the window. */
export function windowFor(now: Date, lookbackDays: number): OrderWindow {
  const toDate = stockholmDateOf(now);
  const [y, m, d] = toDate.split('-').map(Number) as [number, number, number];
  // Calendar arithmetic on the date alone: DST changes cannot shift it.
  const from = new Date(Date.UTC(y, m - 1, d - lookbackDays));
  return { fromDate: from.toISOString().slice(0, 10), toDate };
}

/** The order's calendar date ('YYYY-MM-DD HH:mm:ss' → 'YYYY-MM-DD'). */
export function orderDay(orderDate: string): string {
  return orderDate.slice(0, 10);
}

export function isBeforeWindow(orderDate: string, window: OrderWindow): boolean {
  return orderDay(orderDate) < window.fromDate;
}
