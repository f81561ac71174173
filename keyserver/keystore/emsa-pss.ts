// EMSA-PSS encoding of a digest the caller already computed (RFC 8017 §9.1.1 from step 4 on).
// node:crypto only signs messages it hashes itself, so a PSS signature over a given digest is
// this encoding followed by the raw RSA private-key operation (privateEncrypt, RSA_NO_PADDING,
// which OpenSSL performs with blinding).
import { createHash, randomBytes } from 'node:crypto';
import type { HashName } from '../../common/signature-scheme.js';

/** MGF1 (RFC 8017 §B.2.1): `length` bytes from Hash(seed || counter) blocks. */
function mgf1(hash: HashName, seed: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let produced = 0;
  for (let counter = 0; produced < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    blocks.push(block);
    produced += block.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/**
 * EM for a modulus of `modulusBits` bits, salt length = hash length (as TLS requires, RFC 8446
 * §4.2.3), MGF1 with the same hash. Returned left-padded to the modulus length in bytes, ready
 * for the raw RSA operation.
 */
export function emsaPssEncode(hash: HashName, mHash: Buffer, modulusBits: number): Buffer {
  const hLen = mHash.length;
  const sLen = hLen;
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + sLen + 2) throw new Error('modulus too small for EMSA-PSS with this hash');
  const salt = randomBytes(sLen);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - sLen - hLen - 2] = 0x01;
  salt.copy(db, db.length - sLen);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = db[i]! ^ mask[i]!;
  // Clear the leftmost 8·emLen − emBits bits so EM < 2^emBits < n.
  db[0] = db[0]! & (0xff >> (8 * emLen - emBits));
  const modulusBytes = Math.ceil(modulusBits / 8);
  const em = Buffer.alloc(modulusBytes);
  Buffer.concat([db, h, Buffer.from([0xbc])]).copy(em, modulusBytes - emLen);
  return em;
}
