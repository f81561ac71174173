// The byte layer: what the Writer writes the Reader reads back, length prefixes are bounds, and
// no input makes the Reader throw anything but a TlsError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription } from '../../../edge/tls/enums.js';
import { TlsError } from '../../../edge/tls/errors.js';
import { Reader, Writer } from '../../../edge/tls/wire.js';
import { bytes, expectTlsError, tlsErrorOrValue } from './codecs/arbitraries.js';

const { decode_error, internal_error } = AlertDescription;

describe('Writer and Reader', () => {
  it('round-trips integers and nested vectors', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        bytes(0, 300),
        fc.array(bytes(0, 20), { maxLength: 5 }),
        (a, b, c, d, blob, items) => {
          const w = new Writer().u8(a).u16(b).u24(c).u32(d).opaque8(blob.subarray(0, 255)).opaque16(blob).opaque24(blob);
          w.vec16((list) => items.forEach((item) => list.opaque8(item)));
          const r = new Reader(w.finish(), 'test');
          expect([r.u8(), r.u16(), r.u24(), r.u32()]).toEqual([a, b, c, d]);
          expect(r.opaque8('x')).toEqual(blob.subarray(0, 255));
          expect(r.opaque16('x')).toEqual(blob);
          expect(r.opaque24('x')).toEqual(blob);
          const list = r.vec16('list');
          const read: Buffer[] = [];
          while (list.remaining > 0) read.push(list.opaque8('item'));
          expect(read).toEqual(items);
          r.expectEnd();
        },
      ),
    );
  });

  it('writes big-endian with the length patched in front of the body', () => {
    const w = new Writer().u16(0x0102).vec24((v) => v.u8(0xaa).vec8((x) => x.u16(0xbeef)));
    expect(w.finish().toString('hex')).toBe('0102' + '000004' + 'aa' + '02' + 'beef');
  });

  it('grows past its initial buffer', () => {
    const big = Buffer.alloc(100_000, 7);
    const out = new Writer().u8(1).opaque24(big).u8(2).finish();
    expect(out.length).toBe(100_005);
    const r = new Reader(out);
    expect(r.u8()).toBe(1);
    expect(r.opaque24('big').equals(big)).toBe(true);
    expect(r.u8()).toBe(2);
  });

  it('enforces <floor..ceiling> on read, in bytes, as RFC 8446 §3.4 means them', () => {
    const twoToTwoFiftyFour = (hex: string): Reader => new Reader(Buffer.from(hex, 'hex'), 'versions').vec8('versions', 2, 254);
    expect(twoToTwoFiftyFour('020304').u16List()).toEqual([0x0304]);
    expect(expectTlsError(() => twoToTwoFiftyFour('0103'), decode_error, 'TLS_ERR_DECODE').message).toMatch(/length 1 outside <2..254>/);
    expectTlsError(() => twoToTwoFiftyFour('00'), decode_error);
    expectTlsError(() => twoToTwoFiftyFour('ff' + '00'.repeat(255)), decode_error);
  });

  it('rejects a length prefix that runs past the data, and trailing bytes', () => {
    expectTlsError(() => new Reader(Buffer.from('0005aabb', 'hex')).opaque16('x'), decode_error);
    expectTlsError(() => new Reader(Buffer.from('0001aabb', 'hex')).vec16('x').u16(), decode_error);
    const r = new Reader(Buffer.from('0001aabb', 'hex'), 'Thing');
    r.opaque16('x');
    expect(expectTlsError(() => r.expectEnd(), decode_error).message).toBe('Thing: 1 trailing byte(s)');
  });

  it('rejects a uint16 list of odd length', () => {
    expectTlsError(() => new Reader(Buffer.from('030001ff', 'hex')).vec8('list').u16List(), decode_error);
  });

  it('rejects out-of-range values and oversized vectors on write as local failures', () => {
    for (const write of [
      () => new Writer().u8(256),
      () => new Writer().u16(-1),
      () => new Writer().u24(0x1000000),
      () => new Writer().u32(1.5),
      () => new Writer().opaque8(Buffer.alloc(256)),
      () => new Writer().opaque16(Buffer.alloc(3), 4),
      () => new Writer().opaque8(Buffer.alloc(33), 0, 32),
    ]) {
      const err = expectTlsError(write, internal_error, 'TLS_ERR_ENCODE');
      expect(err.kind).toBe('local-failure');
    }
  });

  it('lets an encoder write what the RFC forbids when no bounds are given', () => {
    expect(new Writer().vec16(() => undefined).finish().toString('hex')).toBe('0000');
  });

  it('throws nothing but TlsError, whatever the bytes and the reads', () => {
    const op = fc.constantFrom('u8', 'u16', 'u24', 'u32', 'bytes', 'vec8', 'vec16', 'vec24', 'opaque24', 'u16List', 'end');
    fc.assert(
      fc.property(bytes(0, 64), fc.array(fc.tuple(op, fc.nat({ max: 70 })), { maxLength: 12 }), (input, ops) => {
        let r = new Reader(input);
        for (const [name, n] of ops) {
          const result = tlsErrorOrValue(() => {
            switch (name) {
              case 'u8': return r.u8();
              case 'u16': return r.u16();
              case 'u24': return r.u24();
              case 'u32': return r.u32();
              case 'bytes': return r.bytes(n);
              case 'vec8': return (r = r.vec8('v', n % 4));
              case 'vec16': return (r = r.vec16('v', 0, 0xffff));
              case 'vec24': return (r = r.vec24('v'));
              case 'opaque24': return r.opaque24('v');
              case 'u16List': return r.u16List();
              default: return r.expectEnd();
            }
          });
          if (!result.ok) expect(result.error).toBeInstanceOf(TlsError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('returns copies, so a decoded value survives the caller reusing its buffer', () => {
    const input = Buffer.from('0003aabbcc', 'hex');
    const value = new Reader(input).opaque16('x');
    input.fill(0);
    expect(value.toString('hex')).toBe('aabbcc');
  });
});
