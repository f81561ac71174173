// A token's public-key attributes as a node KeyObject, from which the key id (SHA-256 of the SPKI)
// follows. RSA: CKA_MODULUS and CKA_PUBLIC_EXPONENT. EC and EdDSA: CKA_EC_PARAMS (the curve) and
// CKA_EC_POINT, which PKCS#11 v2.40 §2.3.3 defines as a DER OCTET STRING holding the point, though
// some modules (SoftHSM2 for EdDSA among them) store the bare point.
import { createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

interface CurveForm {
  readonly jwkCurve: 'P-256' | 'P-384' | 'Ed25519';
  readonly pointLength: number;
}

// CKA_EC_PARAMS values: DER OIDs (RFC 5480 §2.1.1.1, RFC 8410 §3), or for Ed25519 the
// PrintableString "edwards25519" that PKCS#11 v3.0 §2.3.5 also allows.
const CURVES: ReadonlyMap<string, CurveForm> = new Map([
  ['06082a8648ce3d030107', { jwkCurve: 'P-256', pointLength: 65 }],
  ['06052b81040022', { jwkCurve: 'P-384', pointLength: 97 }],
  ['06032b6570', { jwkCurve: 'Ed25519', pointLength: 32 }],
  [Buffer.concat([Buffer.from([0x13, 0x0c]), Buffer.from('edwards25519', 'latin1')]).toString('hex'), { jwkCurve: 'Ed25519', pointLength: 32 }],
]);

export function rsaPublicKey(modulus: Buffer, publicExponent: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'RSA', n: stripLeadingZeros(modulus).toString('base64url'), e: stripLeadingZeros(publicExponent).toString('base64url') }, format: 'jwk' });
}

/** Throws an Error with a plain reason for an unknown curve or a malformed point. */
export function ecPublicKey(ecParams: Buffer, ecPoint: Buffer): KeyObject {
  const curve = CURVES.get(ecParams.toString('hex'));
  if (!curve) throw new Error(`unsupported curve (CKA_EC_PARAMS ${ecParams.toString('hex')})`);
  const point = unwrapPoint(ecPoint, curve.pointLength);
  if (curve.jwkCurve === 'Ed25519') {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: point.toString('base64url') }, format: 'jwk' });
  }
  if (point[0] !== 0x04) throw new Error('EC point is not uncompressed');
  const half = (curve.pointLength - 1) / 2;
  return createPublicKey({
    key: { kty: 'EC', crv: curve.jwkCurve, x: point.subarray(1, 1 + half).toString('base64url'), y: point.subarray(1 + half).toString('base64url') },
    format: 'jwk',
  });
}

/** The bare point, from either form; decided by length, since an uncompressed point also starts with 0x04. */
function unwrapPoint(value: Buffer, pointLength: number): Buffer {
  if (value.length === pointLength) return value;
  // OCTET STRING with a one-byte (short form) or 0x81-prefixed length: every point here is under 256 bytes.
  if (value.length === pointLength + 2 && value[0] === 0x04 && value[1] === pointLength) return value.subarray(2);
  if (value.length === pointLength + 3 && value[0] === 0x04 && value[1] === 0x81 && value[2] === pointLength) return value.subarray(3);
  throw new Error(`CKA_EC_POINT is ${value.length} bytes; expected a ${pointLength}-byte point`);
}

function stripLeadingZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}
