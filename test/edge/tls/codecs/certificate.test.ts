// Certificate (RFC 8446 §4.4.2), including a real chain from the dev CA.
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../../../certs/index.js';
import { AlertDescription } from '../../../../edge/tls/enums.js';
import { decodeCertificate, encodeCertificate, type Certificate } from '../../../../edge/tls/codecs/certificate.js';
import { bytes, codecProperties, expectTlsError, u16 } from './arbitraries.js';

const entry = fc.record({
  certData: bytes(1, 200),
  extensions: fc.uniqueArray(fc.record({ type: u16, data: bytes(0, 20) }), { maxLength: 3, selector: (e) => e.type }),
});
const certificate: fc.Arbitrary<Certificate> = fc.record({ certificateRequestContext: bytes(0, 8), certificateList: fc.array(entry, { maxLength: 3 }) });

describe('Certificate codec properties', () => {
  codecProperties({ arbitrary: certificate, encode: encodeCertificate, decode: decodeCertificate, reencode: encodeCertificate });
});

describe('Certificate', () => {
  it('carries a real chain, leaf first, that X509Certificate parses back', async () => {
    const ca = await createCa({ commonName: 'Codec test CA' });
    const leaf = await issueCert(ca, { commonName: 'www.example.com', keyAlgorithm: 'ec-p256', usage: 'server' });
    const chain = [new X509Certificate(leaf.certPem), new X509Certificate(ca.certPem)];
    const body = encodeCertificate({ certificateRequestContext: Buffer.alloc(0), certificateList: chain.map((c) => ({ certData: c.raw, extensions: [] })) });
    const decoded = decodeCertificate(body);
    expect(decoded.certificateList.map((e) => new X509Certificate(e.certData).subject)).toEqual(chain.map((c) => c.subject));
    expect(body.subarray(0, 4).toString('hex')).toBe('00' + (body.length - 4).toString(16).padStart(6, '0'));
  });

  it('rejects an empty cert_data and duplicate entry extensions', () => {
    expectTlsError(() => decodeCertificate(Buffer.from('00' + '000005' + '000000' + '0000', 'hex')), AlertDescription.decode_error);
    const dup = '0008' + '00050000' + '00050000';
    const list = '000001' + 'aa' + dup;
    expectTlsError(
      () => decodeCertificate(Buffer.from('00' + (list.length / 2).toString(16).padStart(6, '0') + list, 'hex')),
      AlertDescription.illegal_parameter,
    );
  });

  it('accepts an empty certificate_list (what a client without a certificate sends)', () => {
    expect(decodeCertificate(Buffer.from('00000000', 'hex'))).toEqual({ certificateRequestContext: Buffer.alloc(0), certificateList: [] });
  });
});
