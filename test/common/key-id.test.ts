// The key id must come out the same whichever form of the key a component holds: the edge has a
// certificate, the key server a private key file, a test maybe raw SPKI bytes.
import { X509Certificate, createHash, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../certs/index.js';
import type { IssuedCert } from '../../certs/index.js';
import { KeyIdError, spkiSha256Hex } from '../../common/key-id.js';

describe('spkiSha256Hex', () => {
  let leaves: IssuedCert[];
  beforeAll(async () => {
    const ca = await createCa({ commonName: 'Key id CA' });
    leaves = await Promise.all(
      (['ec-p256', 'rsa-pss-2048', 'ed25519'] as const).map((keyAlgorithm) => issueCert(ca, { commonName: keyAlgorithm, keyAlgorithm, usage: 'server' })),
    );
  });

  it('is the hex SHA-256 of the DER SPKI, from every form of the same key', () => {
    for (const leaf of leaves) {
      const cert = new X509Certificate(leaf.certPem);
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      const expected = createHash('sha256').update(spki).digest('hex');
      expect(expected).toMatch(/^[0-9a-f]{64}$/);
      const forms = [
        cert,
        cert.publicKey,
        cert.raw,
        spki,
        new Uint8Array(spki),
        leaf.certPem,
        cert.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        leaf.keyPem,
      ];
      for (const form of forms) expect(spkiSha256Hex(form)).toBe(expected);
      expect(leaf.keyId).toBe(expected);
    }
  });

  it('reads a Uint8Array that is a view into a larger buffer by its own bytes', () => {
    const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
    const padded = Buffer.concat([randomBytes(7), spki, randomBytes(5)]);
    expect(spkiSha256Hex(padded.subarray(7, 7 + spki.length))).toBe(createHash('sha256').update(spki).digest('hex'));
  });

  it('differs between keys', () => {
    expect(new Set(leaves.map((l) => spkiSha256Hex(l.certPem))).size).toBe(leaves.length);
  });

  it.each([
    ['random bytes', randomBytes(100)],
    ['an empty buffer', Buffer.alloc(0)],
    ['text that is not PEM', 'hello'],
    ['a secret key', createSecretKey(randomBytes(32))],
  ])('refuses %s with KEY_ID_BAD_INPUT', (_, input) => {
    let error: unknown;
    try {
      spkiSha256Hex(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(KeyIdError);
    expect((error as KeyIdError).code).toBe('KEY_ID_BAD_INPUT');
  });
});
