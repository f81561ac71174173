// Finished (RFC 8446 §4.4.4): verify_data of exactly the hash's length.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription } from '../../../../edge/tls/enums.js';
import { decodeFinished, encodeFinished } from '../../../../edge/tls/codecs/finished.js';
import { bytes, codecProperties, expectTlsError } from './arbitraries.js';

for (const hashLength of [32, 48]) {
  describe(`Finished codec properties, ${hashLength}-byte hash`, () => {
    codecProperties({
      arbitrary: bytes(hashLength, hashLength),
      encode: encodeFinished,
      decode: (b) => decodeFinished(b, hashLength),
      reencode: encodeFinished,
    });
  });
}

describe('Finished', () => {
  it('rejects verify_data of the other suite hash length', () => {
    expectTlsError(() => decodeFinished(Buffer.alloc(48), 32), AlertDescription.decode_error);
    expectTlsError(() => decodeFinished(Buffer.alloc(32), 48), AlertDescription.decode_error);
  });

  it('refuses to encode verify_data of no TLS 1.3 hash length', () => {
    fc.assert(
      fc.property(bytes(0, 70).filter((b) => b.length !== 32 && b.length !== 48), (b) => {
        expectTlsError(() => encodeFinished(b), AlertDescription.internal_error, 'TLS_ERR_ENCODE');
      }),
    );
    expect(encodeFinished(Buffer.alloc(32, 1)).equals(Buffer.alloc(32, 1))).toBe(true);
  });
});
