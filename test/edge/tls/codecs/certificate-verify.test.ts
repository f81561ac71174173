// CertificateVerify (RFC 8446 §4.4.3).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription } from '../../../../edge/tls/enums.js';
import { decodeCertificateVerify, encodeCertificateVerify } from '../../../../edge/tls/codecs/certificate-verify.js';
import { bytes, codecProperties, expectTlsError, u16 } from './arbitraries.js';

describe('CertificateVerify codec properties', () => {
  codecProperties({
    arbitrary: fc.record({ algorithm: u16, signature: bytes(0, 300) }),
    encode: encodeCertificateVerify,
    decode: decodeCertificateVerify,
    reencode: encodeCertificateVerify,
  });
});

describe('CertificateVerify', () => {
  it('is the scheme, then the signature with a 16-bit length', () => {
    expect(encodeCertificateVerify({ algorithm: 0x0403, signature: Buffer.from('3045', 'hex') }).toString('hex')).toBe('0403' + '0002' + '3045');
  });

  it('rejects trailing bytes', () => {
    expectTlsError(() => decodeCertificateVerify(Buffer.from('0403000130ff', 'hex')), AlertDescription.decode_error);
  });
});
