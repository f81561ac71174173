// Public-key pins for origins in mode `pinned`. A pin is the SHA-256 of the origin certificate's
// DER SubjectPublicKeyInfo, the same value as HPKP's pin-sha256 (RFC 7469 §2.4) and as this
// project's key ids (common/key-id.ts). Pinning the key rather than the certificate survives
// certificate renewals that keep the key.
//
// Accepted spellings (all mean the same 32 bytes):
//   base64, as RFC 7469 and `openssl ... | openssl dgst -sha256 -binary | base64` print it (44 chars)
//   hex, as `keyless` key ids are written (64 chars, any case)
//   either one prefixed with "sha256/" (curl's --pinnedpubkey spelling)
// A 64-character hex string is never valid base64 of 32 bytes (that is 44 characters), so the two
// cannot be confused.
import type { X509Certificate } from 'node:crypto';
import { spkiSha256Hex } from '../../../common/key-id.js';

const HEX_PIN = /^[0-9a-fA-F]{64}$/;
const BASE64_PIN = /^[A-Za-z0-9+/]{43}=$/;

/** The pin's 32 bytes as lower-case hex, or null when it is not a pin in any accepted spelling. */
export function parsePin(text: string): string | null {
  const value = text.trim().replace(/^sha256\//i, '');
  if (HEX_PIN.test(value)) return value.toLowerCase();
  if (BASE64_PIN.test(value)) {
    const bytes = Buffer.from(value, 'base64');
    // Buffer.from ignores bad padding bits; a canonical round trip rejects them.
    if (bytes.length === 32 && bytes.toString('base64') === value) return bytes.toString('hex');
  }
  return null;
}

/** The pin of a certificate, in the base64 spelling (what to put in the config). */
export function pinOf(cert: X509Certificate | string): string {
  return Buffer.from(spkiSha256Hex(cert), 'hex').toString('base64');
}

/** Whether the certificate's key matches one of `pins` (hex, from parsePin), and its actual pin (hex). */
export function matchPin(cert: X509Certificate, pins: readonly string[]): { readonly matched: boolean; readonly actual: string } {
  const actual = spkiSha256Hex(cert);
  return { matched: pins.includes(actual), actual };
}
