// What both key stores decide the same way about a key: its id, whether the key server accepts it,
// and which SignatureSchemes it can produce.
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { hashLength, schemeInfo, schemesForAlgorithm } from '../../common/signature-scheme.js';
import type { HashName, KeyAlgorithm, SignatureScheme } from '../../common/signature-scheme.js';
import { keyAlgorithmOf } from '../../common/verify-tls-signature.js';
import { KeyStoreError } from './key-store.js';

/** Key id: hex SHA-256 of the DER SubjectPublicKeyInfo (the same value an edge computes from the certificate). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

export function sameSpki(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

/** Below 2048 bits is too weak for a web PKI key (CA/B Forum BR §6.1.5); above 4096 makes each handshake an easy CPU/HSM denial of service. */
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 4096;

/**
 * The scheme-table algorithm of a key the key server accepts; throws KEYSTORE_BAD_KEY naming
 * `source` for anything else (other curves, DSA, Ed448, RSA outside 2048–4096 bits).
 */
export function acceptedAlgorithm(key: KeyObject, source: string): KeyAlgorithm {
  const algorithm = keyAlgorithmOf(key);
  if (algorithm === undefined) {
    const type = key.asymmetricKeyType ?? 'unknown';
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new KeyStoreError('KEYSTORE_BAD_KEY', `${source}: unsupported key type ${type}${curve ? ` (${curve})` : ''}; use RSA, ECDSA P-256/P-384 or Ed25519`);
  }
  if (algorithm === 'rsa' || algorithm === 'rsa-pss') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw new KeyStoreError('KEYSTORE_BAD_KEY', `${source}: RSA key is ${bits} bits; the key server accepts ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`);
    }
  }
  return algorithm;
}

/**
 * Every scheme the key can produce. An RSASSA-PSS key may carry parameters that restrict it to
 * one hash and a minimum salt length (RFC 4055 §3.1); TLS needs salt = hash length, so a scheme is
 * kept only when the key's restrictions allow exactly that.
 */
export function schemesForKey(key: KeyObject, algorithm: KeyAlgorithm): SignatureScheme[] {
  const schemes = schemesForAlgorithm(algorithm);
  if (algorithm !== 'rsa-pss') return schemes;
  const details = key.asymmetricKeyDetails ?? {};
  return schemes.filter((scheme) => {
    const hash = schemeInfo(scheme)!.hash!;
    if (details.hashAlgorithm !== undefined && details.hashAlgorithm !== hash) return false;
    if (details.mgf1HashAlgorithm !== undefined && details.mgf1HashAlgorithm !== hash) return false;
    return details.saltLength === undefined || details.saltLength <= hashLength(hash);
  });
}

// DER DigestInfo prefixes for EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
const DIGEST_INFO_PREFIX: Record<HashName, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

/** DigestInfo { AlgorithmIdentifier, OCTET STRING digest }: what RSASSA-PKCS1-v1_5 pads and exponentiates. */
export function digestInfo(hash: HashName, digest: Buffer): Buffer {
  return Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]);
}

/** Throws KEYSTORE_BAD_DIGEST unless the digest has the scheme's hash length. */
export function checkDigestLength(hash: HashName, digest: Buffer): void {
  if (digest.length !== hashLength(hash)) {
    throw new KeyStoreError('KEYSTORE_BAD_DIGEST', `digest is ${digest.length} bytes; ${hash} needs ${hashLength(hash)}`);
  }
}
