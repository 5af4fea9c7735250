/**
 * The seed: deterministic, realistic (Swedish names, SEK amounts, the payment mix the routing
 * defaults expect, Stockholm local time), and fast enough for the 100,000-order benchmark.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { formatStockholm, seedOrders } from '../../src/sandbox/specter/seed.js';
import { startSpecterSandbox } from '../../src/sandbox/specter/server.js';
import type { SpecterSandbox } from '../../src/sandbox/specter/types.js';
import { createSpecterClient } from '../../src/specter/client.js';

const NOW = new Date('2026-11-26T12:00:00Z');

describe('seedOrders', () => {
  it('is deterministic for a seed, and differs between seeds', () => {
    const a = seedOrders({ count: 200, now: NOW, seed: 3 });
    expect(seedOrders({ count: 200, now: NOW, seed: 3 })).toEqual(a);
    expect(seedOrders({ count: 200, now: NOW, seed: 4 })).not.toEqual(a);
  });

  it('numbers orders consecutively, dates them rising over the lookback window in Stockholm time', () => {
    const orders = seedOrders({ count: 5000, now: NOW, seed: 1, firstOrderNo: 500, lookbackDays: 30 });
    expect(orders[0]?.orderNo).toBe('500');
    expect(orders[4999]?.orderNo).toBe('5499');
    const dates = orders.map((o) => o.orderDate);
    expect([...dates].sort()).toEqual(dates);
    expect(dates[0]! >= '2026-10-27 12:00:00').toBe(true);
    // Local (UTC+1 in November) time of NOW is 13:00.
    expect(dates[4999]! <= '2026-11-26 13:00:00').toBe(true);
    expect(dates[4999]! > '2026-11-26 12:00:00').toBe(true);
    for (const o of orders) expect(o.orderDate).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it('formats Europe/Stockholm local time across both DST changes like Intl does', () => {
    const intl = new Intl.DateTimeFormat('sv-SE', {
      timeZone: 'Europe/Stockholm',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    for (let t = Date.UTC(2026, 2, 28); t < Date.UTC(2026, 2, 30); t += 15 * 60_000 + 7_000) {
      expect(formatStockholm(t)).toBe(intl.format(new Date(t)));
    }
    for (let t = Date.UTC(2026, 9, 24); t < Date.UTC(2026, 9, 26); t += 15 * 60_000 + 7_000) {
      expect(formatStockholm(t)).toBe(intl.format(new Date(t)));
    }
  });

  it('has the payment mix the routing defaults expect, with valid values', () => {
    const orders = seedOrders({ count: 20_000, now: NOW, seed: 9 });
    const methods = new Map<string, number>();
    for (const o of orders) {
      const method = o.payment?.payTypeIdentifier ?? 'none';
      methods.set(method, (methods.get(method) ?? 0) + 1);
      if (o.payment === null) continue;
      expect(o.payment.totalIncVat).toMatch(/^\d+\.\d{2}$/);
      expect(o.payment.currency).toMatch(/^[A-Z]{3}$/);
      const ref = o.payment.payTypeReference!;
      switch (o.payment.payTypeIdentifier) {
        case 'QL':
          expect(ref).toMatch(/^QLIRO-\d+$/);
          break;
        case 'K':
        case 'KG':
        case 'CL':
        case 'WA':
          expect(ref).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          break;
        case 'SP':
        case 'SS':
        case 'SCH':
          expect(ref).toMatch(/^\d{8}$/);
          break;
        default:
          expect(o.payment.payTypeIdentifier).toBe('SW');
      }
    }
    for (const method of ['QL', 'K', 'KG', 'CL', 'WA', 'SP', 'SS', 'SCH', 'SW', 'none']) {
      expect(methods.get(method) ?? 0).toBeGreaterThan(100);
    }
    expect(orders.filter((o) => o.statusId === '5').length).toBeGreaterThan(300);
    expect(orders.filter((o) => o.deliveryStatus === 'D').length).toBeGreaterThan(5000);
    expect(orders.filter((o) => o.payment === null).every((o) => o.deliveryStatus === null)).toBe(true);
    expect(orders[0]?.customerName).toBe('Åsa Öberg');
    expect(orders.filter((o) => /[åäöÅÄÖ]/.test(o.customerName ?? '')).length).toBeGreaterThan(5000);
  });

  it('generates 100,000 orders (the benchmark measures how fast)', () => {
    const orders = seedOrders({ count: 100_000, now: NOW, seed: 5 });
    expect(orders).toHaveLength(100_000);
    expect(new Set(orders.map((o) => o.orderNo)).size).toBe(100_000);
  });
});

describe('the sandbox with 100,000 orders', () => {
  let sandbox: SpecterSandbox | null = null;
  afterAll(async () => {
    await sandbox?.close();
  });

  it('serves a complete 200-page listing to the client', async () => {
    const orders = seedOrders({ count: 100_000, now: NOW, seed: 5, lookbackDays: 60 });
    sandbox = await startSpecterSandbox({ orders });
    const client = createSpecterClient(sandbox.settings({ timeoutMs: 10_000 }));
    const listed = await client.listOrdersInWindow({ fromDate: '2026-01-01', toDate: '2026-12-31' });
    expect(listed).toHaveLength(100_000);
    expect(listed[99_999]?.orderNo).toBe(orders[99_999]?.orderNo);
    expect(sandbox.requestsFor()).toHaveLength(200);
  });
});
