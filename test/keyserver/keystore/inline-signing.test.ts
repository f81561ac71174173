// The inline-signing gate: with an event loop that has time to spare, cheap signatures on the
// event loop up to a budget per turn; with a busy one, at most one per turn and only while the
// signing threads are idle; nothing once closed. The event loop's utilization is stubbed to put
// the gate in each regime; the pool is a real one.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InlineSigningGate, signsCheaply } from '../../../keyserver/keystore/inline-signing.js';
import { SignWorkerPool } from '../../../keyserver/keystore/sign-worker-pool.js';
import { generateTestKey } from './test-keys.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const p256 = generateTestKey('ec-p256');

let closers: Array<() => unknown> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const close of closers) await close();
  closers = [];
});

function setup(budgetMs: number, utilization: number): { pool: SignWorkerPool; gate: InlineSigningGate } {
  vi.spyOn(performance, 'eventLoopUtilization').mockReturnValue({ idle: 1 - utilization, active: utilization, utilization });
  const pool = new SignWorkerPool({ threads: 1, maxPending: 8 });
  const gate = new InlineSigningGate(pool, budgetMs);
  closers.push(() => gate.close(), () => pool.close());
  return { pool, gate };
}

/** Waits for the gate's next utilization sample (every 50 ms). */
const sampled = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 120));

describe('InlineSigningGate', () => {
  it('only ECDSA P-256 and Ed25519 are cheap enough', () => {
    expect(['ec-p256', 'ed25519'].every((a) => signsCheaply(a as never))).toBe(true);
    expect(['ec-p384', 'rsa', 'rsa-pss'].some((a) => signsCheaply(a as never))).toBe(false);
  });

  it('with time to spare: inline until the turn has spent its budget, whatever the threads do; a new turn starts afresh', async () => {
    const { pool, gate } = setup(1, 0.2);
    await pool.ready();
    await sampled();
    const signer = pool.register({ hash: 'sha256', key: p256.privateKey });
    const onThread = pool.sign(signer, randomBytes(32), performance.now() + 10_000);
    expect(pool.idle()).toBe(false);
    for (let i = 0; i < 3; i++) {
      expect(gate.available()).toBe(true);
      gate.spent(0.4);
    }
    // 1.2 ms spent of 1.
    expect(gate.available()).toBe(false);
    await onThread;
    await nextTurn();
    expect(gate.available()).toBe(true);
    expect(gate.inlineSignatures).toBe(3);
  });

  it('with a busy event loop: one per turn, and only while the threads are idle', async () => {
    const { pool, gate } = setup(100, 0.9);
    await pool.ready();
    await sampled();
    expect(gate.available()).toBe(true);
    gate.spent(0.01);
    expect(gate.available()).toBe(false);
    await nextTurn();
    const signer = pool.register({ hash: 'sha256', key: p256.privateKey });
    const onThread = pool.sign(signer, randomBytes(32), performance.now() + 10_000);
    expect(gate.available()).toBe(false);
    await onThread;
    await nextTurn();
    expect(gate.available()).toBe(true);
  });

  it('signs nothing inline once closed, and refuses a budget outside (0, 100] ms', async () => {
    const { gate } = setup(1, 0);
    gate.close();
    expect(gate.available()).toBe(false);
    const pool = new SignWorkerPool({ threads: 1, maxPending: 1 });
    closers.push(() => pool.close());
    expect(() => new InlineSigningGate(pool, 0)).toThrow(RangeError);
    expect(() => new InlineSigningGate(pool, 101)).toThrow(RangeError);
  });
});
