import { describe, expect, it } from 'vitest';
import { AbortedWhileQueuedError, ConcurrencyLimit, OverloadedError } from '../../keyserver/concurrency-limit.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('concurrency limit', () => {
  it('never runs more than maxInFlight at once and runs queued work in order', async () => {
    const limit = new ConcurrencyLimit(2, 10);
    const gates = [gate(), gate(), gate(), gate()];
    const order: number[] = [];
    let peak = 0;
    const runs = gates.map((g, i) =>
      limit.run(async () => {
        peak = Math.max(peak, limit.inFlight);
        order.push(i);
        await g.promise;
      }),
    );
    expect(limit.inFlight).toBe(2);
    expect(limit.queued).toBe(2);
    gates.forEach((g) => g.open());
    await Promise.all(runs);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3]);
    expect(limit.inFlight).toBe(0);
  });

  it('refuses beyond the queue bound with OVERLOADED', async () => {
    const limit = new ConcurrencyLimit(1, 1);
    const g = gate();
    const first = limit.run(() => g.promise);
    const second = limit.run(async () => undefined);
    await expect(limit.run(async () => undefined)).rejects.toBeInstanceOf(OverloadedError);
    g.open();
    await Promise.all([first, second]);
  });

  it('a waiter whose signal aborts leaves the queue and never runs', async () => {
    const limit = new ConcurrencyLimit(1, 5);
    const g = gate();
    const first = limit.run(() => g.promise);
    const controller = new AbortController();
    let ran = false;
    const waiting = limit.run(
      async () => {
        ran = true;
      },
      () => controller.signal,
    );
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortedWhileQueuedError);
    expect(limit.queued).toBe(0);
    g.open();
    await first;
    expect(ran).toBe(false);
    expect(limit.inFlight).toBe(0);
  });
});
