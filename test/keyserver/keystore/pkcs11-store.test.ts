// Pkcs11KeyStore against a real SoftHSM2 token: keys imported with softhsm2-util, certificates
// with pkcs11-tool, every scheme verified the way a TLS client verifies.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureScheme, schemeInfo, schemesForAlgorithm } from '../../../common/signature-scheme.js';
import type { KeyAlgorithm } from '../../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../../common/verify-tls-signature.js';
import { KeyStoreError } from '../../../keyserver/keystore/key-store.js';
import type { SigningKey } from '../../../keyserver/keystore/key-store.js';
import { Pkcs11KeyStore } from '../../../keyserver/keystore/pkcs11-store.js';
import type { Pkcs11KeyStoreOptions } from '../../../keyserver/keystore/pkcs11-store.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from '../../../keyserver/signing-input.js';
import { createSoftHsmToken, importKeyToToken, softHsmUnavailableReason } from '../../helpers/softhsm.js';
import type { SoftHsmToken } from '../../helpers/softhsm.js';
import { certificateFor, expectedKeyId, generateTestKey } from './test-keys.js';
import type { TestKey } from './test-keys.js';

const unavailable = softHsmUnavailableReason();
if (unavailable) console.warn(`skipping PKCS#11 tests: ${unavailable}`);

async function openError(opts: Pkcs11KeyStoreOptions): Promise<KeyStoreError> {
  const err = await Pkcs11KeyStore.open(opts).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyStoreError);
  return err as KeyStoreError;
}

/** Keys on the token: label, CKA_ID, and whether a certificate object goes with it. */
const TOKEN_KEYS: ReadonlyArray<{ label: string; id: string; algorithm: KeyAlgorithm; hostnames?: string[] }> = [
  { label: 'site-p256', id: '01', algorithm: 'ec-p256', hostnames: ['www.example.com', 'example.com'] },
  { label: 'site-p384', id: '02', algorithm: 'ec-p384', hostnames: ['p384.example.com'] },
  { label: 'site-rsa', id: '03', algorithm: 'rsa', hostnames: ['rsa.example.com'] },
  // No certificate: the store builds the SPKI from the public key object.
  { label: 'site-ed25519', id: '04', algorithm: 'ed25519' },
];

describe.skipIf(unavailable !== undefined)('Pkcs11KeyStore on SoftHSM2', () => {
  let token: SoftHsmToken;
  const keys = new Map<string, TestKey>();
  const base = (): Pkcs11KeyStoreOptions => ({ module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });

  beforeAll(async () => {
    token = await createSoftHsmToken();
    for (const k of TOKEN_KEYS) {
      const key = generateTestKey(k.algorithm);
      keys.set(k.label, key);
      const cert = k.hostnames ? await certificateFor(key.publicKey, k.hostnames) : undefined;
      await importKeyToToken(token, key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert, k.label, k.id);
    }
  });
  afterAll(async () => {
    await token?.cleanup();
  });

  it('refuses a wrong PIN with a clear error that contains neither PIN', async () => {
    const wrongPin = `wrong-${randomBytes(4).toString('hex')}`;
    const err = await openError({ ...base(), pin: wrongPin });
    expect(err.code).toBe('KEYSTORE_PKCS11');
    expect(err.message).toContain('wrong PIN');
    expect(err.message).toContain(token.tokenLabel);
    expect(err.message).not.toContain(wrongPin);
    expect(err.message).not.toContain(token.pin);
    expect(err.stack ?? '').not.toContain(wrongPin);
  });

  it('names the tokens present when none matches', async () => {
    const err = await openError({ ...base(), tokenLabel: 'no-such-token' });
    expect(err.code).toBe('KEYSTORE_PKCS11');
    expect(err.message).toContain('no-such-token');
    expect(err.message).toContain(token.tokenLabel);
  });

  describe('with every key of the token', () => {
    let store: Pkcs11KeyStore;
    const byLabel = (label: string): SigningKey => store.get(expectedKeyId(keys.get(label)!.publicKey))!;

    beforeAll(async () => {
      store = await Pkcs11KeyStore.open({ ...base(), sessions: 3 });
    });
    afterAll(async () => {
      await store?.close();
    });

    it('lists each private key under the SHA-256 of its SPKI, with its certificate names', () => {
      expect(store.name).toBe(`pkcs11:${token.tokenLabel}`);
      expect(store.list()).toHaveLength(TOKEN_KEYS.length);
      expect(store.skipped).toEqual([]);
      for (const k of TOKEN_KEYS) {
        const key = byLabel(k.label);
        expect(key, k.label).toBeDefined();
        expect(key.algorithm).toBe(k.algorithm);
        expect(key.schemes).toEqual(schemesForAlgorithm(k.algorithm));
        expect(key.source).toBe(`pkcs11:token=${token.tokenLabel};object=${k.label};id=%${k.id}`);
        expect(key.hostnames).toEqual(k.hostnames);
        expect(key.certificate !== undefined).toBe(k.hostnames !== undefined);
      }
    });

    const transcriptHash = createHash('sha256').update('handshake').digest();
    const clientRandom = randomBytes(32);
    const serverRandom = randomBytes(32);
    const params = Buffer.concat([Buffer.from([0x03, 0x00, 0x1d, 0x20]), Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!, 'base64url')]);

    for (const k of TOKEN_KEYS) {
      for (const scheme of schemesForAlgorithm(k.algorithm)) {
        const info = schemeInfo(scheme)!;
        it(`${k.label} signs ${info.name} messages and digests that verify`, async () => {
          const key = byLabel(k.label);
          const publicKey = keys.get(k.label)!.publicKey;
          const inputs = [tls12ServerKeyExchangeInput(clientRandom, serverRandom, params)];
          if (info.allowedInTls13) inputs.push(tls13ServerCertificateVerifyInput(transcriptHash));
          for (const input of inputs) {
            const signature = await key.sign(scheme, input);
            expect(verifyTlsSignature(publicKey, scheme, input, signature)).toBe(true);
            expect(verifyTlsSignature(publicKey, scheme, Buffer.concat([input, Buffer.from([0])]), signature)).toBe(false);
            if (info.hash === null) {
              await expect(key.signDigest(scheme, Buffer.alloc(32))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
            } else {
              const fromDigest = await key.signDigest(scheme, createHash(info.hash).update(input).digest());
              expect(verifyTlsSignature(publicKey, scheme, input, fromDigest)).toBe(true);
            }
          }
        });
      }
    }

    it.each([
      ['site-p256', SignatureScheme.ecdsa_secp384r1_sha384],
      ['site-p384', SignatureScheme.ecdsa_secp256r1_sha256],
      ['site-rsa', SignatureScheme.rsa_pss_pss_sha256],
      ['site-ed25519', SignatureScheme.rsa_pkcs1_sha256],
    ] as const)('%s refuses scheme %i it cannot produce', async (label, scheme) => {
      await expect(byLabel(label).sign(scheme, Buffer.from('x'))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
      await expect(byLabel(label).signDigest(scheme, Buffer.alloc(48))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
    });

    it('refuses a digest of the wrong length', async () => {
      await expect(byLabel('site-p256').signDigest(SignatureScheme.ecdsa_secp256r1_sha256, Buffer.alloc(48))).rejects.toMatchObject({ code: 'KEYSTORE_BAD_DIGEST' });
    });

    it('keeps every signature right with many more in flight than sessions', async () => {
      const p256 = byLabel('site-p256');
      const rsa = byLabel('site-rsa');
      const jobs = Array.from({ length: 60 }, (_, i) => {
        const input = tls13ServerCertificateVerifyInput(randomBytes(32));
        const [key, scheme] = i % 3 === 0 ? [rsa, SignatureScheme.rsa_pss_rsae_sha256] : [p256, SignatureScheme.ecdsa_secp256r1_sha256];
        return key.sign(scheme, input).then((sig) => verifyTlsSignature(key.publicKey, scheme, input, sig));
      });
      expect(await Promise.all(jobs)).toEqual(jobs.map(() => true));
    });

    it('never signs after the deadline or a cancel: refused before a session, and while waiting for one', async () => {
      const rsa = byLabel('site-rsa');
      const scheme = SignatureScheme.rsa_pss_rsae_sha256;
      const input = tls13ServerCertificateVerifyInput(randomBytes(32));
      // Already past, or already cancelled: refused at once.
      await expect(rsa.sign(scheme, input, { deadlineAt: performance.now() - 1, signal: new AbortController().signal })).rejects.toMatchObject({ code: 'KEYSTORE_DEADLINE' });
      const aborted = new AbortController();
      aborted.abort();
      await expect(rsa.sign(scheme, input, { deadlineAt: Infinity, signal: aborted.signal })).rejects.toMatchObject({ code: 'KEYSTORE_CANCELLED' });
      await expect(rsa.signDigest(scheme, randomBytes(32), { deadlineAt: Infinity, signal: aborted.signal })).rejects.toMatchObject({ code: 'KEYSTORE_CANCELLED' });
      // 90 RSA signatures on 3 sessions with 5 ms each to start: the ones queued too long give up
      // their place, and every signature that is returned verifies.
      const cancel = new AbortController();
      // The first 80 share one signal, as the requests of one SignStream do.
      const stream = new AbortController();
      const jobs = Array.from({ length: 90 }, (_, i) => {
        const deadlineAt = i < 80 ? performance.now() + 5 : Infinity;
        return rsa.sign(scheme, input, { deadlineAt, signal: i >= 80 ? cancel.signal : stream.signal }).then(
          (sig) => (verifyTlsSignature(rsa.publicKey, scheme, input, sig) ? 'ok' : 'bad'),
          (err: KeyStoreError) => err.code,
        );
      });
      cancel.abort();
      const outcomes = await Promise.all(jobs);
      expect(outcomes).not.toContain('bad');
      expect(outcomes.filter((o) => o === 'KEYSTORE_DEADLINE').length).toBeGreaterThan(0);
      expect(outcomes.slice(80).every((o) => o === 'KEYSTORE_CANCELLED')).toBe(true);
      // A waiter that gave up left nothing behind on the long-lived signal.
      expect(getEventListeners(stream.signal, 'abort')).toHaveLength(0);
      // The pool is whole afterwards: a normal signature still works.
      expect(verifyTlsSignature(rsa.publicKey, scheme, input, await rsa.sign(scheme, input))).toBe(true);
    });

    it('opens a second store on the same token beside the first (as a reload does), selecting keys by label and by id', async () => {
      const second = await Pkcs11KeyStore.open({ ...base(), slot: undefined, keys: [{ label: 'site-p384' }, { id: '03' }], sessions: 1 });
      expect(second.list().map((k) => k.algorithm)).toEqual(['ec-p384', 'rsa']);
      const input = tls13ServerCertificateVerifyInput(transcriptHash);
      const p384 = second.get(expectedKeyId(keys.get('site-p384')!.publicKey))!;
      expect(verifyTlsSignature(p384.publicKey, SignatureScheme.ecdsa_secp384r1_sha384, input, await p384.sign(SignatureScheme.ecdsa_secp384r1_sha384, input))).toBe(true);
      await second.close();
      // Closing the second store must not log out or finalize the first.
      const p256 = byLabel('site-p256');
      expect(verifyTlsSignature(p256.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, input, await p256.sign(SignatureScheme.ecdsa_secp256r1_sha256, input))).toBe(true);
    });

    it('refuses a second store with a different PIN while the token is logged in, without either PIN in the message', async () => {
      const wrongPin = `other-${randomBytes(4).toString('hex')}`;
      const err = await openError({ ...base(), pin: wrongPin });
      expect(err.code).toBe('KEYSTORE_PKCS11');
      expect(err.message).toContain('PIN differs');
      expect(err.message).not.toContain(wrongPin);
      expect(err.message).not.toContain(token.pin);
    });

    it('refuses selectors that match no key, naming what was asked for', async () => {
      const byLabelErr = await openError({ ...base(), keys: [{ label: 'missing' }] });
      expect(byLabelErr.code).toBe('KEYSTORE_BAD_KEY');
      expect(byLabelErr.message).toContain('label "missing"');
      const byIdErr = await openError({ ...base(), keys: [{ label: 'site-p256', id: '02' }] });
      expect(byIdErr.code).toBe('KEYSTORE_BAD_KEY');
    });

    it('rejects signatures after close', async () => {
      const third = await Pkcs11KeyStore.open({ ...base(), keys: [{ label: 'site-p256' }], sessions: 1 });
      const key = third.list()[0]!;
      await third.close();
      await expect(key.sign(SignatureScheme.ecdsa_secp256r1_sha256, Buffer.from('x'))).rejects.toMatchObject({ code: 'KEYSTORE_PKCS11' });
    });
  });
});

describe.skipIf(unavailable !== undefined)('Pkcs11KeyStore on a SoftHSM2 token with unusable keys', () => {
  let token: SoftHsmToken;
  const good = generateTestKey('ec-p256');
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 });

  beforeAll(async () => {
    // Runs after the first token's stores are closed: SoftHSM2 reads SOFTHSM2_CONF at C_Initialize.
    token = await createSoftHsmToken();
    await importKeyToToken(token, good.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, undefined, 'good', 'a1');
    await importKeyToToken(token, small.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, undefined, 'small', 'a2');
    const other = generateTestKey('ec-p256');
    await importKeyToToken(token, other.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, undefined, 'other', 'a3');
  });
  afterAll(async () => {
    await token?.cleanup();
  });

  const opts = (): Pkcs11KeyStoreOptions => ({ module: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });

  it('skips a 1024-bit RSA key when listing the token, and says why', async () => {
    const store = await Pkcs11KeyStore.open(opts());
    try {
      expect(store.list().map((k) => k.source).sort()).toEqual([
        `pkcs11:token=${token.tokenLabel};object=good;id=%a1`,
        `pkcs11:token=${token.tokenLabel};object=other;id=%a3`,
      ]);
      expect(store.skipped).toHaveLength(1);
      expect(store.skipped[0]!.source).toContain('object=small');
      expect(store.skipped[0]!.reason).toContain('1024 bits');
    } finally {
      await store.close();
    }
  });

  it('close waits for signatures in flight; the ones still queued are refused', async () => {
    const store = await Pkcs11KeyStore.open({ ...opts(), keys: [{ label: 'good' }], sessions: 2 });
    const key = store.list()[0]!;
    const input = tls13ServerCertificateVerifyInput(randomBytes(32));
    // A batch that queues behind the two sessions and completes: close must not wait for it.
    await Promise.all(Array.from({ length: 10 }, () => key.sign(SignatureScheme.ecdsa_secp256r1_sha256, input)));
    const outcomes = Array.from({ length: 20 }, () =>
      key.sign(SignatureScheme.ecdsa_secp256r1_sha256, input).then(
        (sig) => (verifyTlsSignature(good.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, input, sig) ? 'signed' : 'bad signature'),
        (err: KeyStoreError) => err.code,
      ),
    );
    await store.close();
    const results = await Promise.all(outcomes);
    expect(results.filter((r) => r === 'signed').length).toBeGreaterThanOrEqual(2);
    expect(results.every((r) => r === 'signed' || r === 'KEYSTORE_PKCS11')).toBe(true);
  });

  it('refuses a 1024-bit RSA key named in the configuration', async () => {
    const err = await openError({ ...opts(), keys: [{ label: 'small' }] });
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain('object=small');
    expect(err.message).toContain('1024 bits');
  });

  it('refuses a key whose certificate object holds another public key', async () => {
    await importKeyToToken(token, generateTestKey('ec-p256').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, await certificateFor(good.publicKey, ['good.example']), 'mismatch', 'a4');
    const err = await openError({ ...opts(), keys: [{ label: 'mismatch' }] });
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain('object=mismatch');
    expect(err.message).toContain('different public key');
  });
});
