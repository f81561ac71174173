// r || s → DER, on the edge cases random signatures rarely hit: leading zero bytes and high bits.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ecdsaRawToDer } from '../../../keyserver/keystore/ecdsa-signature.js';

describe('ecdsaRawToDer', () => {
  it('writes minimal INTEGERs: leading zeros dropped, 0x00 added before a set high bit', () => {
    const r = Buffer.alloc(32);
    r[31] = 0x01; // r = 1
    const s = Buffer.alloc(32, 0xff); // high bit set
    const der = ecdsaRawToDer(Buffer.concat([r, s]));
    expect(der.toString('hex')).toBe('3026' + '020101' + '022100' + 'ff'.repeat(32));
  });

  it('uses the short length form up to 127 bytes and the long form above', () => {
    const der = ecdsaRawToDer(Buffer.alloc(96, 0x80));
    // Each INTEGER: 02 31 00 + 48 bytes = 51; body 102 < 128, so still the short form.
    expect(der.subarray(0, 2).toString('hex')).toBe('3066');
    const big = ecdsaRawToDer(Buffer.alloc(132, 0x80)); // P-521-sized halves: body 2 × 69 = 138
    expect(big.subarray(0, 3).toString('hex')).toBe('30818a');
  });

  it('round-trips real signatures through node', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    for (let i = 0; i < 50; i++) {
      const message = randomBytes(40);
      const raw = sign('sha384', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const der = ecdsaRawToDer(raw);
      expect(verify('sha384', message, publicKey, der)).toBe(true);
    }
  });

  it('refuses an odd-length input', () => {
    expect(() => ecdsaRawToDer(Buffer.alloc(63))).toThrow();
  });
});
