// The to-be-signed bytes, checked byte for byte against the RFC text, and every malformed input
// refused with its code.
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../common/signature-scheme.js';
import { SigningInputError, assertSchemeAllowed, tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from '../../keyserver/signing-input.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SigningInputError);
    return (err as SigningInputError).code;
  }
  return 'NO_ERROR';
}

describe('tls13ServerCertificateVerifyInput (RFC 8446 §4.4.3)', () => {
  it('is 64 spaces, the server context string, a zero byte and the transcript hash', () => {
    // The RFC's own example: a 32-byte transcript hash of 0x01 bytes. The context string spelled
    // out in hex: "TLS 1.3, server CertificateVerify".
    const context = '544c5320312e332c20736572766572204365727469666963617465566572696679';
    const expected = '20'.repeat(64) + context + '00' + '01'.repeat(32);
    const input = tls13ServerCertificateVerifyInput(Buffer.alloc(32, 0x01));
    expect(input.toString('hex')).toBe(expected);
    expect(input.length).toBe(64 + 33 + 1 + 32);
  });

  it.each([32, 48, 64])('accepts a %i-byte transcript hash and appends it unchanged', (length) => {
    const hash = randomBytes(length);
    const input = tls13ServerCertificateVerifyInput(hash);
    expect(input.length).toBe(98 + length);
    expect(input.subarray(98).equals(hash)).toBe(true);
  });

  it.each([0, 1, 20, 31, 33, 47, 49, 63, 65, 128])('refuses a %i-byte transcript hash', (length) => {
    expect(codeOf(() => tls13ServerCertificateVerifyInput(Buffer.alloc(length)))).toBe('SIGNING_INPUT_BAD_TRANSCRIPT_HASH');
  });
});

/** ServerECDHParams built by hand from RFC 8422 §5.4: curve_type 3, NamedCurve (u16), point <1..255>. */
function ecdhParams(group: number, point: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x03, group >> 8, group & 0xff, point.length]), point]);
}

function realPoint(curve: 'secp256r1' | 'secp384r1' | 'x25519' | 'x448'): Buffer {
  if (curve === 'secp256r1' || curve === 'secp384r1') {
    const ecdh = createECDH(curve === 'secp256r1' ? 'prime256v1' : 'secp384r1');
    return ecdh.generateKeys();
  }
  const { publicKey } = curve === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('x448');
  return Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
}

const CURVES = [
  { name: 'secp256r1', group: 0x0017, pointLength: 65 },
  { name: 'secp384r1', group: 0x0018, pointLength: 97 },
  { name: 'x25519', group: 0x001d, pointLength: 32 },
  { name: 'x448', group: 0x001e, pointLength: 56 },
] as const;

describe('tls12ServerKeyExchangeInput (RFC 5246 §7.4.3, RFC 8422 §5.4)', () => {
  const clientRandom = randomBytes(32);
  const serverRandom = randomBytes(32);

  it.each(CURVES)('is client_random || server_random || ServerECDHParams for $name', ({ name, group, pointLength }) => {
    const point = realPoint(name);
    expect(point.length).toBe(pointLength);
    const params = ecdhParams(group, point);
    const input = tls12ServerKeyExchangeInput(clientRandom, serverRandom, params);
    const expectedHex = clientRandom.toString('hex') + serverRandom.toString('hex') + '03' + group.toString(16).padStart(4, '0') + pointLength.toString(16).padStart(2, '0') + point.toString('hex');
    expect(input.toString('hex')).toBe(expectedHex);
  });

  it.each([0, 16, 31, 33, 64])('refuses a %i-byte client or server random', (length) => {
    const params = ecdhParams(0x001d, realPoint('x25519'));
    expect(codeOf(() => tls12ServerKeyExchangeInput(Buffer.alloc(length), serverRandom, params))).toBe('SIGNING_INPUT_BAD_RANDOM');
    expect(codeOf(() => tls12ServerKeyExchangeInput(clientRandom, Buffer.alloc(length), params))).toBe('SIGNING_INPUT_BAD_RANDOM');
  });

  const p256 = realPoint('secp256r1');
  const x25519 = realPoint('x25519');
  const notOnCurve = Buffer.from(p256);
  notOnCurve[40] = notOnCurve[40]! ^ 0x01;
  const compressed = createECDH('prime256v1');
  compressed.generateKeys();

  it.each([
    ['empty params', Buffer.alloc(0), 'SIGNING_INPUT_BAD_CURVE_TYPE'],
    ['explicit_prime curve_type (1)', Buffer.concat([Buffer.from([0x01]), ecdhParams(0x0017, p256).subarray(1)]), 'SIGNING_INPUT_BAD_CURVE_TYPE'],
    ['explicit_char2 curve_type (2)', Buffer.concat([Buffer.from([0x02]), ecdhParams(0x0017, p256).subarray(1)]), 'SIGNING_INPUT_BAD_CURVE_TYPE'],
    ['secp521r1 (not offered)', ecdhParams(0x0019, randomBytes(133)), 'SIGNING_INPUT_UNKNOWN_CURVE'],
    ['ffdhe2048 group', ecdhParams(0x0100, x25519), 'SIGNING_INPUT_UNKNOWN_CURVE'],
    ['an x25519 point labelled secp256r1', ecdhParams(0x0017, x25519), 'SIGNING_INPUT_BAD_POINT'],
    ['a P-256 point labelled x25519', ecdhParams(0x001d, p256), 'SIGNING_INPUT_BAD_POINT'],
    ['a compressed P-256 point', ecdhParams(0x0017, compressed.getPublicKey(undefined, 'compressed')), 'SIGNING_INPUT_BAD_POINT'],
    ['a 65-byte P-256 point without the 0x04 prefix', ecdhParams(0x0017, Buffer.concat([Buffer.from([0x05]), p256.subarray(1)])), 'SIGNING_INPUT_BAD_POINT'],
    ['a P-256 point that is not on the curve', ecdhParams(0x0017, notOnCurve), 'SIGNING_INPUT_BAD_POINT'],
    ['a truncated point', ecdhParams(0x0017, p256).subarray(0, 40), 'SIGNING_INPUT_BAD_POINT'],
    ['one trailing byte', Buffer.concat([ecdhParams(0x001d, x25519), Buffer.from([0x00])]), 'SIGNING_INPUT_TRAILING_BYTES'],
    ['a whole certificate-sized payload after the point', Buffer.concat([ecdhParams(0x001d, x25519), randomBytes(1000)]), 'SIGNING_INPUT_TRAILING_BYTES'],
  ] as const)('refuses %s', (_name, params, code) => {
    expect(codeOf(() => tls12ServerKeyExchangeInput(clientRandom, serverRandom, params))).toBe(code);
  });

  it('refuses arbitrary bytes as params with a SigningInputError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const params = Buffer.from(bytes);
        // Random bytes can only pass by forming a whole x25519/x448 structure; skip those rare cases.
        const looksValid = params[0] === 3 && params[1] === 0 && (params[2] === 0x1d || params[2] === 0x1e) && params.length === 4 + (params[2] === 0x1d ? 32 : 56) && params[3] === params.length - 4;
        fc.pre(!looksValid);
        expect(() => tls12ServerKeyExchangeInput(clientRandom, serverRandom, params)).toThrow(SigningInputError);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('assertSchemeAllowed (RFC 8446 §4.2.3)', () => {
  it.each([SignatureScheme.rsa_pkcs1_sha256, SignatureScheme.rsa_pkcs1_sha384, SignatureScheme.rsa_pkcs1_sha512])('forbids RSASSA-PKCS1-v1_5 scheme %i in TLS 1.3 but not in TLS 1.2', (scheme) => {
    expect(codeOf(() => assertSchemeAllowed('tls13', scheme))).toBe('SIGNING_INPUT_SCHEME_NOT_ALLOWED');
    expect(() => assertSchemeAllowed('tls12', scheme)).not.toThrow();
  });

  it.each([SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pss_pss_sha384, SignatureScheme.ed25519])('allows scheme %s in both versions', (scheme) => {
    expect(() => assertSchemeAllowed('tls13', scheme)).not.toThrow();
    expect(() => assertSchemeAllowed('tls12', scheme)).not.toThrow();
  });

  it('refuses an unknown scheme', () => {
    expect(codeOf(() => assertSchemeAllowed('tls13', 0x0201 as SignatureScheme))).toBe('SIGNING_INPUT_SCHEME_NOT_ALLOWED');
  });
});
