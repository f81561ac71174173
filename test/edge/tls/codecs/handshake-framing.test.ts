// Handshake messages reassembled from records split and coalesced any way a peer likes
// (RFC 8446 §5.1), each with the exact bytes the transcript needs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, HandshakeType } from '../../../../edge/tls/enums.js';
import { HandshakeDeframer, encodeHandshake, type HandshakeMessage } from '../../../../edge/tls/codecs/handshake-framing.js';
import { bytes, expectTlsError, tlsErrorOrValue, u8 } from './arbitraries.js';

function drain(deframer: HandshakeDeframer): HandshakeMessage[] {
  const out: HandshakeMessage[] = [];
  for (let m = deframer.next(); m !== null; m = deframer.next()) out.push(m);
  return out;
}

describe('encodeHandshake', () => {
  it('writes msg_type, a 24-bit length and the body (RFC 8446 §4)', () => {
    expect(encodeHandshake(HandshakeType.finished, Buffer.from('abcd', 'hex')).toString('hex')).toBe('14000002abcd');
    expect(encodeHandshake(HandshakeType.end_of_early_data, Buffer.alloc(0)).toString('hex')).toBe('05000000');
  });
});

describe('HandshakeDeframer', () => {
  it('yields the same messages however the byte stream is cut into records', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(u8, bytes(0, 600)), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }),
        (messages, cuts) => {
          const raws = messages.map(([type, body]) => encodeHandshake(type, body));
          const stream = Buffer.concat(raws);
          const deframer = new HandshakeDeframer();
          const got: HandshakeMessage[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const size = cuts[i % cuts.length] as number;
            deframer.push(stream.subarray(at, at + size));
            at += size;
            got.push(...drain(deframer));
            const handedOut = got.reduce((n, m) => n + m.raw.length, 0);
            expect(deframer.bufferedBytes).toBe(Math.min(at, stream.length) - handedOut);
            expect(deframer.hasPartial()).toBe(deframer.bufferedBytes > 0);
          }
          expect(got.map((m) => m.raw.toString('hex'))).toEqual(raws.map((r) => r.toString('hex')));
          got.forEach((m, i) => {
            const [type, body] = messages[i] as [number, Buffer];
            expect(m.type).toBe(type);
            expect(m.body.equals(body)).toBe(true);
          });
          expect(deframer.hasPartial()).toBe(false);
          expect(deframer.bufferedBytes).toBe(0);
        },
      ),
    );
  });

  it('reassembles a 64 KiB message sent one byte per record', () => {
    const raw = encodeHandshake(HandshakeType.client_hello, Buffer.alloc(0xffff, 0x5a));
    const deframer = new HandshakeDeframer();
    for (let i = 0; i < raw.length - 1; i++) {
      deframer.push(raw.subarray(i, i + 1));
      expect(deframer.next()).toBeNull();
    }
    deframer.push(raw.subarray(raw.length - 1));
    expect(deframer.next()?.raw.equals(raw)).toBe(true);
  });

  it('reports a complete but unconsumed message as buffered, for the key-change check (§5.1)', () => {
    const deframer = new HandshakeDeframer();
    const a = encodeHandshake(HandshakeType.client_hello, Buffer.from('01', 'hex'));
    const b = encodeHandshake(HandshakeType.finished, Buffer.from('02', 'hex'));
    deframer.push(Buffer.concat([a, b]));
    expect(deframer.next()?.raw.equals(a)).toBe(true);
    expect(deframer.hasPartial()).toBe(true);
    expect(deframer.bufferedBytes).toBe(b.length);
    expect(deframer.next()?.raw.equals(b)).toBe(true);
    expect(deframer.hasPartial()).toBe(false);
  });

  it('counts a lone partial header as a partial message', () => {
    const deframer = new HandshakeDeframer();
    deframer.push(Buffer.from('0100', 'hex'));
    expect(deframer.next()).toBeNull();
    expect(deframer.hasPartial()).toBe(true);
  });

  it('rejects a message over the limit as soon as its header is in, even split across records', () => {
    const deframer = new HandshakeDeframer({ maxMessageSize: 1000 });
    deframer.push(Buffer.from('0b00', 'hex'));
    const err = expectTlsError(() => deframer.push(Buffer.from('03e9', 'hex')), AlertDescription.decode_error, 'TLS_ERR_HANDSHAKE_TOO_LARGE');
    expect(err.kind).toBe('peer-misbehaved');

    const ok = new HandshakeDeframer({ maxMessageSize: 1000 });
    ok.push(encodeHandshake(HandshakeType.certificate, Buffer.alloc(1000)));
    expect(ok.next()?.body.length).toBe(1000);
  });

  it('applies a 64 KiB default limit', () => {
    expectTlsError(() => new HandshakeDeframer().push(Buffer.from('01010001', 'hex')), AlertDescription.decode_error, 'TLS_ERR_HANDSHAKE_TOO_LARGE');
  });

  it('rejects a second message over the limit when it follows a good one in the same record', () => {
    const deframer = new HandshakeDeframer({ maxMessageSize: 10 });
    const good = encodeHandshake(HandshakeType.finished, Buffer.alloc(10));
    deframer.push(good);
    expect(() => deframer.push(Buffer.from('14ffffff', 'hex'))).not.toThrow(); // queued behind `good`
    expect(deframer.next()?.raw.equals(good)).toBe(true);
    expectTlsError(() => deframer.next(), AlertDescription.decode_error, 'TLS_ERR_HANDSHAKE_TOO_LARGE');
  });

  it('throws nothing but TlsError on random fragments', () => {
    fc.assert(
      fc.property(fc.array(bytes(0, 40), { maxLength: 8 }), fc.integer({ min: 0, max: 64 }), (fragments, maxMessageSize) => {
        const deframer = new HandshakeDeframer({ maxMessageSize });
        for (const fragment of fragments) {
          const result = tlsErrorOrValue(() => {
            deframer.push(fragment);
            return drain(deframer);
          });
          if (!result.ok) return;
          for (const m of result.value) expect(m.body.length).toBeLessThanOrEqual(maxMessageSize);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects zero-length handshake fragments (RFC 8446 §5.1)', () => {
    expectTlsError(() => new HandshakeDeframer().push(Buffer.alloc(0)), AlertDescription.decode_error);
  });

  it('keeps its own copy of what it was given', () => {
    const deframer = new HandshakeDeframer();
    const record = encodeHandshake(HandshakeType.finished, Buffer.from('aabb', 'hex'));
    deframer.push(record.subarray(0, 5));
    record.fill(0);
    deframer.push(Buffer.from('bb', 'hex'));
    expect(deframer.next()?.body.toString('hex')).toBe('aabb');
  });
});
