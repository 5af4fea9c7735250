import { describe, expect, test } from '@jest/globals';
import { EVENT_CATALOGUE, eventSpec } from '../../src/observability/events.js';

describe('EVENT_CATALOGUE', () => {
  test('names are unique and in the form area.name (the README hook greps that form)', () => {
    const names = EVENT_CATALOGUE.map((e) => e.event);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z_]+\.[a-z_]+$/);
  });

  test('alert events are warn or error, as the interface promises', () => {
    for (const e of EVENT_CATALOGUE) if (e.alert) expect(['warn', 'error']).toContain(e.level);
  });

  test('every `when` is one sentence', () => {
    for (const e of EVENT_CATALOGUE) {
      expect(e.when).toMatch(/^[A-Z`].*\.$/);
      expect(e.when.slice(0, -1)).not.toMatch(/\.\s/);
    }
  });

  // docs/interface.md, "Log events": these levels and alert flags are what alert rules are written against.
  test.each([
    ['sync.started', 'info', false],
    ['sync.completed', 'info', false],
    ['sync.baseline', 'info', false],
    ['sync.failed', 'error', true],
    ['sync.stale', 'error', true],
    ['order.cancel_detected', 'info', false],
    ['order.vanished', 'warn', true],
    ['order.reappeared', 'warn', false],
    // Second wave (docs/interface.md, "Additions for the second wave"): unrouted now awaits a person.
    ['order.unrouted', 'warn', true],
    ['cancel.voided', 'warn', false],
    ['order.reopened', 'warn', 'conditional'],
    ['job.dismissed', 'info', false],
    ['lease.acquired', 'info', false],
    ['lease.lost', 'warn', false],
    ['lease.released', 'info', false],
    ['sync.standby', 'info', false],
    ['vanish_guard.tripped', 'error', true],
    ['cancel.sent', 'info', false],
    ['cancel.succeeded', 'info', false],
    ['cancel.accepted', 'info', false],
    ['cancel.retry_scheduled', 'warn', false],
    ['cancel.failed', 'error', true],
    ['sync.skipped', 'info', false],
    ['sync.lease_busy', 'warn', false],
    ['specter.retry', 'warn', false],
    ['order.listing_gap', 'info', false],
    ['order.left_window', 'debug', false],
    ['vanished.reminder', 'warn', true],
    ['vanished.resolved', 'info', false],
    ['vanished.cancel_requested', 'info', false],
    ['cancel.waiting_for_provider', 'warn', false],
    ['cancel.confirm_pending', 'info', false],
    ['job.requeued', 'info', false],
    ['job.recovered', 'warn', false],
    ['worker.started', 'info', false],
    ['worker.stopping', 'info', false],
    ['worker.stopped', 'info', false],
    ['http.listening', 'info', false],
    ['db.migrated', 'info', false],
    ['config.invalid', 'error', true],
    ['dryrun.action', 'info', false],
  ])('%s is %s, alert %s', (name, level, alert) => {
    expect(eventSpec(name)).toEqual(expect.objectContaining({ event: name, level, alert }));
  });
});
