// The SSL 2.0-compatible CLIENT-HELLO (RFC 5246 §E.2): recognised so it can be answered with
// protocol_version rather than mistaken for a TLS record.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription } from '../../../../edge/tls/enums.js';
import { decodeSsl2ClientHello, looksLikeSsl2ClientHello, type Ssl2ClientHello } from '../../../../edge/tls/codecs/ssl2-client-hello.js';
import { Writer } from '../../../../edge/tls/wire.js';
import { bytes, codecProperties, expectTlsError, u16 } from './arbitraries.js';

/** Test-only encoder, written from the RFC 5246 §E.2 structure. */
function encodeSsl2ClientHello(h: Ssl2ClientHello): Buffer {
  const w = new Writer().u8(1).u16(h.version).u16(h.cipherSpecs.length * 3).u16(h.sessionId.length).u16(h.challenge.length);
  h.cipherSpecs.forEach((s) => w.u24(s));
  const body = w.bytes(h.sessionId).bytes(h.challenge).finish();
  return Buffer.concat([new Writer().u16(0x8000 | body.length).finish(), body]);
}

const hello: fc.Arbitrary<Ssl2ClientHello> = fc.record({
  version: u16,
  cipherSpecs: fc.array(fc.integer({ min: 0, max: 0xffffff }), { minLength: 1, maxLength: 10 }),
  sessionId: fc.constantFrom(0, 16).chain((n) => bytes(n, n)),
  challenge: bytes(16, 32),
});

describe('SSLv2 CLIENT-HELLO codec properties', () => {
  codecProperties({ arbitrary: hello, encode: encodeSsl2ClientHello, decode: decodeSsl2ClientHello, reencode: encodeSsl2ClientHello });
});

describe('SSLv2 CLIENT-HELLO', () => {
  it('is told apart from a TLS record by its first bytes', () => {
    const v2 = encodeSsl2ClientHello({ version: 0x0301, cipherSpecs: [0x00002f], sessionId: Buffer.alloc(0), challenge: Buffer.alloc(16) });
    expect(looksLikeSsl2ClientHello(v2)).toBe(true);
    expect(decodeSsl2ClientHello(v2).version).toBe(0x0301);
    expect(looksLikeSsl2ClientHello(Buffer.from('160301', 'hex'))).toBe(false);
    expect(looksLikeSsl2ClientHello(Buffer.from('80', 'hex'))).toBe(false);
  });

  it('rejects lengths RFC 5246 §E.2 does not allow', () => {
    const header = (cipherSpecLength: number, sessionIdLength: number, challengeLength: number): Buffer => {
      const body = new Writer().u8(1).u16(0x0301).u16(cipherSpecLength).u16(sessionIdLength).u16(challengeLength)
        .bytes(Buffer.alloc(cipherSpecLength + sessionIdLength + challengeLength)).finish();
      return Buffer.concat([new Writer().u16(0x8000 | body.length).finish(), body]);
    };
    expect(() => decodeSsl2ClientHello(header(3, 0, 16))).not.toThrow();
    for (const bad of [header(0, 0, 16), header(4, 0, 16), header(3, 8, 16), header(3, 0, 15), header(3, 0, 33)]) {
      expectTlsError(() => decodeSsl2ClientHello(bad), AlertDescription.decode_error);
    }
  });
});
