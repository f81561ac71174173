// The name of a key everywhere in the project (key server, edge, audit log, policy): the hex
// SHA-256 of its DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). It is computed from the public half
// only, so the edge derives it from a certificate and the key server from the private key, and both
// arrive at the same id without sharing anything secret.
import { X509Certificate, createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

export class KeyIdError extends Error {
  readonly code = 'KEY_ID_BAD_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'KeyIdError';
  }
}

/**
 * What a key id can be computed from:
 * - a KeyObject (public, or private: its public half is used);
 * - a node X509Certificate;
 * - DER bytes of a certificate or of a SubjectPublicKeyInfo;
 * - a PEM string holding a certificate, a public key or a private key.
 */
export type KeyIdSource = KeyObject | X509Certificate | Uint8Array | string;

/**
 * Hex SHA-256 of the DER SubjectPublicKeyInfo. The SPKI is the one OpenSSL encodes for the key
 * (`export({ type: 'spki' })`), so a certificate, its public key and its private key all give the
 * same id.
 */
export function spkiSha256Hex(source: KeyIdSource): string {
  return createHash('sha256').update(spkiDer(source)).digest('hex');
}

function spkiDer(source: KeyIdSource): Buffer {
  return publicKeyOf(source).export({ type: 'spki', format: 'der' });
}

function publicKeyOf(source: KeyIdSource): KeyObject {
  if (source instanceof X509Certificate) return source.publicKey;
  if (typeof source === 'string') {
    try {
      // createPublicKey reads PUBLIC KEY, private key and CERTIFICATE PEM blocks alike.
      return createPublicKey(source);
    } catch (err) {
      throw new KeyIdError(`not a PEM certificate, public key or private key: ${(err as Error).message}`);
    }
  }
  if (source instanceof Uint8Array) return publicKeyOfDer(Buffer.from(source.buffer, source.byteOffset, source.byteLength));
  // A KeyObject: createPublicKey accepts a public one as is and derives it from a private one.
  if (source.type === 'secret') throw new KeyIdError('a secret key has no SubjectPublicKeyInfo');
  return source.type === 'public' ? source : createPublicKey(source);
}

function publicKeyOfDer(der: Buffer): KeyObject {
  // A Certificate and a SubjectPublicKeyInfo are both a SEQUENCE starting with a SEQUENCE, so
  // rather than guess from the first bytes, let each parser decide.
  try {
    return new X509Certificate(der).publicKey;
  } catch {
    // not a certificate; try SPKI below
  }
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new KeyIdError('DER input is neither a certificate nor a SubjectPublicKeyInfo');
  }
}
