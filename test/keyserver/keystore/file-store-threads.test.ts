// FileKeyStore signing on its worker threads (the default): the same signatures as on the event
// loop, the guard (deadline, cancellation) honoured, cheap keys signed inline up to a time budget
// per event-loop turn (inline-signing.ts), and the threads stopped by close().
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyTlsSignature } from '../../../common/verify-tls-signature.js';
import { FileKeyStore } from '../../../keyserver/keystore/file-store.js';
import { tls13ServerCertificateVerifyInput } from '../../../keyserver/signing-input.js';
import { tempDir } from '../../helpers/tmp.js';
import { generateTestKey } from './test-keys.js';

let dir: string;
let cleanup: () => Promise<void>;
const p256 = generateTestKey('ec-p256');
const rsa = generateTestKey('rsa');

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('file-store-threads'));
  for (const [name, key] of [['p256.key', p256], ['rsa.key', rsa]] as const) {
    const file = path.join(dir, name);
    await writeFile(file, key.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await chmod(file, 0o600);
  }
});
afterAll(() => cleanup());

const message = (): Buffer => tls13ServerCertificateVerifyInput(randomBytes(32));
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const live = (): { deadlineAt: number; signal: AbortSignal } => ({ deadlineAt: performance.now() + 60_000, signal: new AbortController().signal });

describe('FileKeyStore on signing threads', () => {
  it('signs every scheme of each key on the threads; the signatures verify', async () => {
    const store = await FileKeyStore.load(dir, { signingThreads: 2, inlineBudgetMs: 0 });
    try {
      for (const key of store.list()) {
        for (const scheme of key.schemes) {
          const m = message();
          const signatures = await Promise.all(Array.from({ length: 8 }, () => key.sign(scheme, m, live())));
          for (const signature of signatures) expect(verifyTlsSignature(key.publicKey, scheme, m, signature)).toBe(true);
        }
      }
    } finally {
      await store.close();
    }
  });

  it('does not sign past the deadline or after cancellation: on the threads, inline and on libuv alike', async () => {
    const ways = [
      { what: 'threads', options: { signingThreads: 2, inlineBudgetMs: 0 }, inline: 0 },
      // Refused on the event loop before any signing: only the live request counts as an inline signature.
      { what: 'inline', options: { signingThreads: 2 }, inline: 1 },
      { what: 'libuv', options: { signingThreads: 0 }, inline: 0 },
    ];
    for (const way of ways) {
      const store = await FileKeyStore.load(dir, way.options);
      try {
        const key = store.list().find((k) => k.algorithm === 'ec-p256')!;
        await expect(key.sign(0x0403, message(), { deadlineAt: performance.now() - 1, signal: new AbortController().signal }), way.what).rejects.toMatchObject({ code: 'KEYSTORE_DEADLINE' });
        await nextTurn();
        await expect(key.sign(0x0403, message(), { deadlineAt: performance.now() + 60_000, signal: AbortSignal.abort() }), way.what).rejects.toMatchObject({ code: 'KEYSTORE_CANCELLED' });
        await nextTurn();
        expect((await key.sign(0x0403, message(), live())).length).toBeGreaterThan(0);
        expect(store.inlineSignatures, way.what).toBe(way.inline);
      } finally {
        await store.close();
      }
    }
  });

  it('signs a P-256 key on the event loop until the turn has spent its budget, the rest of a burst on the threads; RSA always on the threads', async () => {
    // A budget far below one signature: each turn signs exactly one inline (the budget is checked before each).
    const store = await FileKeyStore.load(dir, { signingThreads: 2, inlineBudgetMs: 0.001 });
    try {
      const ec = store.list().find((k) => k.algorithm === 'ec-p256')!;
      const rsaKey = store.list().find((k) => k.algorithm === 'rsa')!;
      // One caller at a time, each in its own turn: every signature inline.
      for (let i = 0; i < 3; i++) {
        const m = message();
        expect(verifyTlsSignature(ec.publicKey, 0x0403, m, await ec.sign(0x0403, m, live()))).toBe(true);
        await nextTurn();
      }
      expect(store.inlineSignatures).toBe(3);
      // A burst in one turn: the first inline, the other seven on the threads; all verify.
      const m = message();
      const burst = await Promise.all(Array.from({ length: 8 }, () => ec.sign(0x0403, m, live())));
      for (const signature of burst) expect(verifyTlsSignature(ec.publicKey, 0x0403, m, signature)).toBe(true);
      expect(store.inlineSignatures).toBe(4);
      await nextTurn();
      // RSA costs several thread hops: never inline.
      const r = message();
      expect(verifyTlsSignature(rsaKey.publicKey, 0x0804, r, await rsaKey.sign(0x0804, r, live()))).toBe(true);
      expect(store.inlineSignatures).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('signs a whole burst inline when the budget allows it (an event loop with time to spare), and none with a budget of 0', async () => {
    vi.spyOn(performance, 'eventLoopUtilization').mockReturnValue({ idle: 1, active: 0, utilization: 0 });
    for (const { budget, inline } of [
      { budget: 100, inline: 8 },
      { budget: 0, inline: 0 },
    ]) {
      const store = await FileKeyStore.load(dir, { signingThreads: 2, inlineBudgetMs: budget });
      try {
        const ec = store.list().find((k) => k.algorithm === 'ec-p256')!;
        const m = message();
        const burst = await Promise.all(Array.from({ length: 8 }, () => ec.sign(0x0403, m, live())));
        for (const signature of burst) expect(verifyTlsSignature(ec.publicKey, 0x0403, m, signature)).toBe(true);
        expect(store.inlineSignatures, `budget ${budget}`).toBe(inline);
      } finally {
        await store.close();
      }
    }
    vi.restoreAllMocks();
  });

  it('refuses an inline budget outside 0-100 ms', async () => {
    await expect(FileKeyStore.load(dir, { signingThreads: 1, inlineBudgetMs: -1 })).rejects.toThrow(/inlineBudgetMs/);
    await expect(FileKeyStore.load(dir, { signingThreads: 1, inlineBudgetMs: 101 })).rejects.toThrow(/inlineBudgetMs/);
  });

  it('stops its threads on close: a later signature fails with KEYSTORE_CLOSED', async () => {
    const store = await FileKeyStore.load(dir, { signingThreads: 1 });
    const key = store.list()[0]!;
    await store.close();
    await expect(key.sign(key.schemes[0]!, message(), live())).rejects.toMatchObject({ code: 'KEYSTORE_CLOSED' });
  });
});
