// The bytes a handshake signature covers, built by the key server itself from the parts of the
// handshake: the caller never hands over the final message, so a stolen edge credential cannot
// make the key server sign a certificate, a JWT or anything else that is not a TLS handshake.
import { ECDH } from 'node:crypto';
import { schemeInfo } from '../common/signature-scheme.js';
import type { SignatureScheme } from '../common/signature-scheme.js';
import { tls12ServerKeyExchangeSignedContent, tls13ServerSignedContent } from '../common/signed-content.js';

/** Stable codes; the sign pipeline turns every SIGNING_INPUT_* error into BAD_REQUEST. */
export type SigningInputErrorCode =
  | 'SIGNING_INPUT_BAD_TRANSCRIPT_HASH'
  | 'SIGNING_INPUT_BAD_RANDOM'
  | 'SIGNING_INPUT_BAD_CURVE_TYPE'
  | 'SIGNING_INPUT_UNKNOWN_CURVE'
  | 'SIGNING_INPUT_BAD_POINT'
  | 'SIGNING_INPUT_TRAILING_BYTES'
  | 'SIGNING_INPUT_SCHEME_NOT_ALLOWED';

export class SigningInputError extends Error {
  constructor(
    readonly code: SigningInputErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SigningInputError';
  }
}


/** SHA-256, SHA-384, SHA-512: the transcript hashes of the TLS 1.3 cipher suites (and a margin for SHA-512). */
const TRANSCRIPT_HASH_LENGTHS: ReadonlySet<number> = new Set([32, 48, 64]);

/** The content a TLS 1.3 server's CertificateVerify signs (RFC 8446 §4.4.3). */
export function tls13ServerCertificateVerifyInput(transcriptHash: Buffer): Buffer {
  if (!TRANSCRIPT_HASH_LENGTHS.has(transcriptHash.length)) {
    throw new SigningInputError('SIGNING_INPUT_BAD_TRANSCRIPT_HASH', `transcript hash is ${transcriptHash.length} bytes; expected 32, 48 or 64`);
  }
  return tls13ServerSignedContent(transcriptHash);
}

// RFC 8422 §5.4: ECCurveType; only named_curve is allowed (explicit curves are deprecated).
const NAMED_CURVE = 0x03;

interface CurveShape {
  readonly name: string;
  readonly pointLength: number;
  /** OpenSSL curve name for the on-curve check; absent for the Montgomery curves, where every string of the right length is a valid public value (RFC 7748 §5). */
  readonly opensslCurve?: string;
}

// RFC 8446 §4.2.7 / RFC 8422 §5.1.1 NamedGroup code points; NIST points are uncompressed (RFC 8422 §5.4.1).
const CURVES: ReadonlyMap<number, CurveShape> = new Map([
  [0x0017, { name: 'secp256r1', pointLength: 65, opensslCurve: 'prime256v1' }],
  [0x0018, { name: 'secp384r1', pointLength: 97, opensslCurve: 'secp384r1' }],
  [0x001d, { name: 'x25519', pointLength: 32 }],
  [0x001e, { name: 'x448', pointLength: 56 }],
]);

/**
 * Checks that `params` is exactly one ServerECDHParams structure (RFC 8422 §5.4):
 *   ECParameters { ECCurveType curve_type = named_curve; NamedCurve namedcurve; }
 *   ECPoint { opaque point <1..2^8-1>; }
 * with a point of the right size that lies on the curve. Anything else would let a caller get
 * arbitrary bytes signed behind the two randoms.
 */
function checkServerEcdhParams(params: Buffer): void {
  if (params.length < 4) throw new SigningInputError('SIGNING_INPUT_BAD_CURVE_TYPE', `ServerECDHParams is ${params.length} bytes; too short`);
  if (params[0] !== NAMED_CURVE) {
    throw new SigningInputError('SIGNING_INPUT_BAD_CURVE_TYPE', `curve_type ${params[0]} is not named_curve (3)`);
  }
  const group = params.readUInt16BE(1);
  const curve = CURVES.get(group);
  if (!curve) throw new SigningInputError('SIGNING_INPUT_UNKNOWN_CURVE', `named curve 0x${group.toString(16).padStart(4, '0')} is not supported`);
  const pointLength = params[3]!;
  if (pointLength !== curve.pointLength) {
    throw new SigningInputError('SIGNING_INPUT_BAD_POINT', `${curve.name} point is ${pointLength} bytes; expected ${curve.pointLength}`);
  }
  const end = 4 + pointLength;
  if (params.length < end) throw new SigningInputError('SIGNING_INPUT_BAD_POINT', `${curve.name} point is truncated`);
  if (params.length > end) throw new SigningInputError('SIGNING_INPUT_TRAILING_BYTES', `${params.length - end} bytes after the ECPoint`);
  if (curve.opensslCurve !== undefined) {
    const point = params.subarray(4, end);
    if (point[0] !== 0x04) throw new SigningInputError('SIGNING_INPUT_BAD_POINT', `${curve.name} point is not in uncompressed form`);
    try {
      // Decoding fails unless the point lies on the curve.
      ECDH.convertKey(point, curve.opensslCurve, undefined, undefined, 'uncompressed');
    } catch {
      throw new SigningInputError('SIGNING_INPUT_BAD_POINT', `${curve.name} point is not on the curve`);
    }
  }
}

/** The content a TLS 1.2 ECDHE ServerKeyExchange signs: client_random || server_random || ServerECDHParams (RFC 5246 §7.4.3, RFC 8422 §5.4). */
export function tls12ServerKeyExchangeInput(clientRandom: Buffer, serverRandom: Buffer, params: Buffer): Buffer {
  if (clientRandom.length !== 32) throw new SigningInputError('SIGNING_INPUT_BAD_RANDOM', `client_random is ${clientRandom.length} bytes; expected 32`);
  if (serverRandom.length !== 32) throw new SigningInputError('SIGNING_INPUT_BAD_RANDOM', `server_random is ${serverRandom.length} bytes; expected 32`);
  checkServerEcdhParams(params);
  return tls12ServerKeyExchangeSignedContent(clientRandom, serverRandom, params);
}

/**
 * Throws unless the scheme may sign a handshake of this protocol version. RFC 8446 §4.2.3:
 * RSASSA-PKCS1-v1_5 is not allowed for TLS 1.3 handshake signatures.
 */
export function assertSchemeAllowed(protocol: 'tls13' | 'tls12', scheme: SignatureScheme): void {
  const info = schemeInfo(scheme);
  if (!info) throw new SigningInputError('SIGNING_INPUT_SCHEME_NOT_ALLOWED', `unknown SignatureScheme 0x${scheme.toString(16).padStart(4, '0')}`);
  const allowed = protocol === 'tls13' ? info.allowedInTls13 : info.allowedInTls12;
  if (!allowed) throw new SigningInputError('SIGNING_INPUT_SCHEME_NOT_ALLOWED', `${info.name} is not allowed in ${protocol === 'tls13' ? 'TLS 1.3' : 'TLS 1.2'}`);
}
