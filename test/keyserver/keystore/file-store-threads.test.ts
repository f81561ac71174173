// FileKeyStore signing on its worker threads (the default): the same signatures as on the event
// loop, the guard (deadline, cancellation) honoured, and the threads stopped by close().
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const live = (): { deadlineAt: number; signal: AbortSignal } => ({ deadlineAt: performance.now() + 60_000, signal: new AbortController().signal });

describe('FileKeyStore on signing threads', () => {
  it('signs every scheme of each key on the threads; the signatures verify', async () => {
    const store = await FileKeyStore.load(dir, { signingThreads: 2 });
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

  it('does not sign past the deadline or after cancellation, on the threads and on libuv alike', async () => {
    for (const signingThreads of [2, 0]) {
      const store = await FileKeyStore.load(dir, { signingThreads });
      try {
        const key = store.list().find((k) => k.algorithm === 'ec-p256')!;
        await expect(key.sign(0x0403, message(), { deadlineAt: performance.now() - 1, signal: new AbortController().signal })).rejects.toMatchObject({ code: 'KEYSTORE_DEADLINE' });
        await expect(key.sign(0x0403, message(), { deadlineAt: performance.now() + 60_000, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'KEYSTORE_CANCELLED' });
        expect((await key.sign(0x0403, message(), live())).length).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    }
  });

  it('stops its threads on close: a later signature fails with KEYSTORE_CLOSED', async () => {
    const store = await FileKeyStore.load(dir, { signingThreads: 1 });
    const key = store.list()[0]!;
    await store.close();
    await expect(key.sign(key.schemes[0]!, message(), live())).rejects.toMatchObject({ code: 'KEYSTORE_CLOSED' });
  });
});
