// HKDF (RFC 5869) and the TLS 1.3 wrappers around it (RFC 8446 §7.1). node:crypto's hkdfSync
// always runs Extract and Expand together; TLS 1.3 chains them separately, so both are built on
// HMAC here.
import { createHmac } from 'node:crypto';
import { internalMisuse } from '../errors.js';
import type { HashAlgorithm } from './cipher-suites.js';

const HASH_LEN: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48 };
const LABEL_PREFIX = 'tls13 ';

/** HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM). */
export function hkdfExtract(hash: HashAlgorithm, salt: Buffer, ikm: Buffer): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

/** HKDF-Expand(PRK, info, L): T(i) = HMAC(PRK, T(i-1) || info || i), concatenated and cut to L. */
export function hkdfExpand(hash: HashAlgorithm, prk: Buffer, info: Buffer, length: number): Buffer {
  const hashLen = HASH_LEN[hash];
  if (length > 255 * hashLen) throw internalMisuse(`HKDF-Expand of ${length} bytes exceeds 255 * HashLen`);
  // Every TLS 1.3 derivation asks for at most one hash length: one HMAC, no concatenation.
  if (length <= hashLen) {
    const block = createHmac(hash, prk).update(info).update(COUNTER_ONE).digest();
    return length === hashLen ? block : block.subarray(0, length);
  }
  const out = Buffer.allocUnsafe(Math.ceil(length / hashLen) * hashLen);
  let previous = Buffer.alloc(0);
  for (let i = 1, offset = 0; offset < length; i++, offset += hashLen) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Uint8Array.of(i)).digest();
    previous.copy(out, offset);
  }
  return out.subarray(0, length);
}
const COUNTER_ONE = Uint8Array.of(1);

/**
 * RFC 8446 §7.1 HkdfLabel: uint16 length || opaque label<7..255> ("tls13 " + Label) ||
 * opaque context<0..255>.
 */
export function hkdfLabel(label: string, context: Buffer, length: number): Buffer {
  const fullLabel = Buffer.from(LABEL_PREFIX + label, 'latin1');
  if (fullLabel.length > 255) throw internalMisuse(`HKDF label "${label}" is too long`);
  if (context.length > 255) throw internalMisuse(`HKDF context of ${context.length} bytes is too long`);
  if (length > 0xffff) throw internalMisuse(`HKDF output of ${length} bytes is too long`);
  const info = Buffer.allocUnsafe(2 + 1 + fullLabel.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = context.length;
  context.copy(info, 4 + fullLabel.length);
  return info;
}

/** HKDF-Expand-Label(Secret, Label, Context, Length). */
export function hkdfExpandLabel(
  hash: HashAlgorithm,
  secret: Buffer,
  label: string,
  context: Buffer,
  length: number,
): Buffer {
  return hkdfExpand(hash, secret, hkdfLabel(label, context, length), length);
}

/**
 * Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label,
 * Transcript-Hash(Messages), Hash.length). Callers pass the transcript hash, not the messages.
 */
export function deriveSecret(hash: HashAlgorithm, secret: Buffer, label: string, transcriptHash: Buffer): Buffer {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, HASH_LEN[hash]);
}

export function hashLength(hash: HashAlgorithm): number {
  return HASH_LEN[hash];
}
