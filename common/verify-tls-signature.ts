// Verifies a handshake signature the way a TLS client does. The key server's tests use it, and the
// edge uses it to check a remote signature before it sends it to a browser.
import { constants, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { hashLength, schemeInfo } from './signature-scheme.js';
import type { KeyAlgorithm, SignatureScheme } from './signature-scheme.js';

/** The scheme-table algorithm of a public (or private) key, or undefined for keys TLS here cannot use. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'rsa';
    case 'rsa-pss':
      return 'rsa-pss';
    case 'ed25519':
      return 'ed25519';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ec-p256';
      if (curve === 'secp384r1') return 'ec-p384';
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * True when `signature` is a valid `scheme` signature of `message` by `publicKey`. The key must be
 * of the kind the scheme names (RFC 8446 §4.2.3: rsa_pss_rsae_* needs an rsaEncryption key,
 * rsa_pss_pss_* an RSASSA-PSS key, and each ECDSA scheme pins its curve); PSS salt length is the
 * hash length; ECDSA signatures are DER. `scheme` may be any wire value: an unknown one is simply
 * not valid. Never throws: anything malformed is invalid.
 */
export function verifyTlsSignature(publicKey: KeyObject, scheme: SignatureScheme | number, message: Buffer, signature: Buffer): boolean {
  const info = schemeInfo(scheme);
  if (!info) return false;
  const algorithm = keyAlgorithmOf(publicKey);
  if (algorithm === undefined || !info.keyAlgorithms.includes(algorithm)) return false;
  try {
    switch (info.padding) {
      case 'pkcs1':
        return verify(info.hash, message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'pss':
        return verify(
          info.hash,
          message,
          { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: hashLength(info.hash!) },
          signature,
        );
      case 'none':
        // ECDSA (DER, the default encoding) with the scheme's hash, or Ed25519 over the message itself.
        return verify(info.hash, message, { key: publicKey, dsaEncoding: 'der' }, signature);
    }
  } catch {
    return false;
  }
}
