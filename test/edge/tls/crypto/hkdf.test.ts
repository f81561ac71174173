import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deriveSecret, hkdfExpand, hkdfExpandLabel, hkdfExtract, hkdfLabel } from '../../../../edge/tls/crypto/hkdf.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { hex } from '../vectors/rfc8448.js';

describe('HKDF', () => {
  it('matches RFC 5869 test case 1', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = hex('00 01 02 03 04 05 06 07 08 09 0a 0b 0c');
    const info = hex('f0 f1 f2 f3 f4 f5 f6 f7 f8 f9');
    const prk = hkdfExtract('sha256', salt, ikm);
    expect(prk.toString('hex')).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(hkdfExpand('sha256', prk, info, 42).toString('hex')).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  it('Extract then Expand equals node:crypto hkdfSync for any input and length', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('sha256' as const, 'sha384' as const),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 300 }),
        (hash, ikm, salt, info, length) => {
          const ours = hkdfExpand(hash, hkdfExtract(hash, Buffer.from(salt), Buffer.from(ikm)), Buffer.from(info), length);
          const node = Buffer.from(hkdfSync(hash, ikm, salt, info, length));
          expect(ours).toEqual(node);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses more than 255 * HashLen bytes', () => {
    expect(() => hkdfExpand('sha256', Buffer.alloc(32), Buffer.alloc(0), 255 * 32 + 1)).toThrow(TlsError);
    expect(hkdfExpand('sha256', Buffer.alloc(32), Buffer.alloc(0), 255 * 32)).toHaveLength(255 * 32);
  });
});

describe('HKDF-Expand-Label (RFC 8446 §7.1)', () => {
  it('prefixes "tls13 " and length-prefixes label and context', () => {
    const info = hkdfLabel('derived', Buffer.from([0xaa, 0xbb]), 32);
    expect(info.toString('hex')).toBe('0020' + '0d' + Buffer.from('tls13 derived').toString('hex') + '02aabb');
  });

  it('refuses labels and contexts that do not fit their length bytes', () => {
    expect(() => hkdfLabel('x'.repeat(250), Buffer.alloc(0), 32)).toThrow(TlsError);
    expect(() => hkdfLabel('derived', Buffer.alloc(256), 32)).toThrow(TlsError);
    expect(hkdfLabel('x'.repeat(249), Buffer.alloc(255), 32)).toHaveLength(2 + 1 + 255 + 1 + 255);
  });

  it('Derive-Secret is Expand-Label with the transcript hash and Hash.length', () => {
    const secret = Buffer.alloc(48, 7);
    const hash = Buffer.alloc(48, 9);
    expect(deriveSecret('sha384', secret, 'c hs traffic', hash)).toEqual(hkdfExpandLabel('sha384', secret, 'c hs traffic', hash, 48));
  });
});
