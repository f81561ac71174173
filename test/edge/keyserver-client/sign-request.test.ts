// The edge's view of what the key server signs must be byte-for-byte the key server's own: the
// self-check verifies against signedMessage(), the key server signs signing-input.ts.
import { createECDH, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../../common/signature-scheme.js';
import { signedMessage, toSignRequest } from '../../../edge/keyserver-client/sign-request.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from '../../../keyserver/signing-input.js';

const context = { sni: 'www.example.com', clientIp: '192.0.2.7', requestId: 'req-1' };

describe('signedMessage', () => {
  it('matches the key server for TLS 1.3 CertificateVerify (RFC 8446 §4.4.3)', () => {
    fc.assert(
      fc.property(fc.constantFrom(32, 48, 64), fc.integer(), (length, seed) => {
        const transcriptHash = Buffer.alloc(length, seed & 0xff);
        const input = { kind: 'tls13-server-certificate-verify', transcriptHash } as const;
        expect(signedMessage(input).equals(tls13ServerCertificateVerifyInput(transcriptHash))).toBe(true);
      }),
    );
  });

  it('matches the key server for TLS 1.2 ServerKeyExchange (RFC 8422 §5.4)', () => {
    const point = createECDH('prime256v1').generateKeys(); // uncompressed, 65 bytes
    const params = Buffer.concat([Buffer.from([0x03, 0x00, 0x17, point.length]), point]);
    const input = { kind: 'tls12-server-key-exchange', clientRandom: randomBytes(32), serverRandom: randomBytes(32), params } as const;
    expect(signedMessage(input).equals(tls12ServerKeyExchangeInput(input.clientRandom, input.serverRandom, params))).toBe(true);
  });
});

describe('toSignRequest', () => {
  it('maps the TLS 1.3 input and the audit context onto the proto fields', () => {
    const transcriptHash = randomBytes(32);
    const req = toSignRequest(
      { keyId: 'ab'.repeat(32), scheme: SignatureScheme.ecdsa_secp256r1_sha256, input: { kind: 'tls13-server-certificate-verify', transcriptHash }, context },
      '7',
    );
    expect(req).toEqual({
      request_id: 'req-1/7',
      key_id: 'ab'.repeat(32),
      scheme: 0x0403,
      sni: 'www.example.com',
      client_ip: '192.0.2.7',
      input: 'tls13_certificate_verify',
      tls13_certificate_verify: { transcript_hash: transcriptHash },
    });
  });

  it('maps the TLS 1.2 input onto the proto oneof', () => {
    const input = { kind: 'tls12-server-key-exchange', clientRandom: randomBytes(32), serverRandom: randomBytes(32), params: randomBytes(69) } as const;
    const req = toSignRequest({ keyId: 'cd'.repeat(32), scheme: SignatureScheme.rsa_pkcs1_sha256, input, context }, 'z');
    expect(req.input).toBe('tls12_server_key_exchange');
    expect(req.tls12_server_key_exchange).toEqual({ client_random: input.clientRandom, server_random: input.serverRandom, params: input.params });
    expect(req.tls13_certificate_verify).toBeUndefined();
  });

  it('keeps request ids within the key server limit of 128 characters, suffix intact', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.nat(), (requestId, attempt) => {
        const suffix = attempt.toString(36);
        const req = toSignRequest(
          { keyId: 'ef'.repeat(32), scheme: 0x0807, input: { kind: 'tls13-server-certificate-verify', transcriptHash: Buffer.alloc(32) }, context: { ...context, requestId } },
          suffix,
        );
        expect(req.request_id.length).toBeLessThanOrEqual(128);
        expect(req.request_id.endsWith(`/${suffix}`)).toBe(true);
        expect(requestId.startsWith(req.request_id.slice(0, -suffix.length - 1))).toBe(true);
      }),
    );
  });
});
