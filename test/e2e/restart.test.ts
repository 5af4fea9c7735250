/**
 * Idempotency across a restart: the CLI kills itself with SIGKILL (src/crashpoint.ts) with a
 * cancellation in flight, or after the provider answered but before the answer was recorded; the
 * next run completes the cancellation with the same job and the same idempotency key, and the
 * provider applies it once.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { RecordedRequest } from '../../src/sandbox/loopback.js';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit, show, waitFor } from '../support/cli.js';
import { makeOrder, type Method, providerRefOf } from '../support/orders.js';
import { cancelRequestsAt, idempotencyKeyOf } from '../support/sandbox.js';
import { useSandboxWorld } from '../support/world.js';

jest.setTimeout(60_000);

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w));

type CrashPoint = 'dispatch.in_flight' | 'dispatch.after_answer';

/** Baseline, cancel in Specter, a run that dies at `point`, then a run without the crash. */
async function crashThenRecover(method: Method, point: CrashPoint) {
  const ws = workspace();
  const order = makeOrder({ method });
  world.specter.add(order);
  expectExit(await ws.run(['once']), 0);
  world.specter.cancel(order.orderNo);

  const crashed = await ws.run(['once'], { env: { SPECTER_SYNC_CRASH_AT: point } });
  if (crashed.signal !== 'SIGKILL') throw new Error(`expected the run to die by SIGKILL\n${show(crashed)}`);
  expect(crashed.code).toBeNull();
  // (No assertion on its last log lines: a SIGKILL right after a write may lose them, as kill -9 does.)
  expect(crashed.events('cancel.succeeded')).toHaveLength(0);
  // The job was committed before the request left, and the crash left it in flight.
  const inFlight = ws.jobs(order.orderNo);
  expect(inFlight).toEqual([expect.objectContaining({ state: 'sending', attempts: 1 })]);
  const key = inFlight[0]!.idempotency_key;

  const recovered = await ws.run(['once']);
  return { ws, order, ref: providerRefOf(order), key, crashed, recovered };
}

const klarnaCancels = (ref: string): RecordedRequest[] => cancelRequestsAt(world, 'klarna', ref);

describe('a crash during dispatch', () => {
  it.each<CrashPoint>(['dispatch.in_flight', 'dispatch.after_answer'])('Klarna, killed at %s: the next run completes it with the same key', async (point) => {
    const { ws, order, ref, key, recovered } = await crashThenRecover('K', point);
    expectExit(recovered, 0);
    expect(recovered.events('job.recovered')).toEqual([expect.objectContaining({ orderNo: order.orderNo })]);
    expect(recovered.events('cancel.succeeded')).toEqual([expect.objectContaining({ orderNo: order.orderNo })]);
    expect(recovered.events('order.cancel_detected')).toHaveLength(0);

    const jobs = ws.jobs(order.orderNo);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'done', idempotency_key: key, attempts: 2 });
    expect(ws.jobs()).toHaveLength(1);

    // A request cut off by the kill may still be reaching the sandbox: wait for quiet, not a fixed time.
    if (point === 'dispatch.after_answer') await waitFor(() => klarnaCancels(ref).length >= 2, 5_000, 'both cancel requests');
    const sent = klarnaCancels(ref);
    expect(sent.length).toBeGreaterThanOrEqual(point === 'dispatch.after_answer' ? 2 : 1);
    expect(sent.length).toBeLessThanOrEqual(2);
    for (const r of sent) expect(idempotencyKeyOf('klarna', r)).toBe(key);
    expect(world.klarna.cancelsApplied(ref)).toBe(1);
    expect(world.klarna.orderState(ref)).toBe('cancelled');
  });

  it.each<CrashPoint>(['dispatch.in_flight', 'dispatch.after_answer'])('Qliro, killed at %s: every cancel carries the same RequestId', async (point) => {
    const { ws, order, ref, key, recovered } = await crashThenRecover('QL', point);
    expectExit(recovered, 0);
    const jobs = ws.jobs(order.orderNo);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.idempotency_key).toBe(key);
    // Finish the confirmation if it is still pending.
    for (let i = 0; i < 3 && ws.jobs(order.orderNo)[0]!.state !== 'done'; i += 1) expectExit(await ws.run(['once']), 0);
    expect(ws.jobs(order.orderNo)).toEqual([expect.objectContaining({ state: 'done', idempotency_key: key })]);

    const requestIds = cancelRequestsAt(world, 'qliro', ref).map((r) => idempotencyKeyOf('qliro', r));
    expect(requestIds.length).toBeGreaterThanOrEqual(1);
    for (const id of requestIds) expect(id).toBe(key);
    // One reversal at Qliro, whatever the repeats.
    expect(world.qliro.transactions().filter((t) => t.orderId === ref)).toHaveLength(1);
  });
});
