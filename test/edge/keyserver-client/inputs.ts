// Signing inputs for the key-server client tests: a fresh, valid input for any scheme.
import { createHash, randomBytes } from 'node:crypto';
import { hashLength, schemeInfo } from '../../../common/signature-scheme.js';
import type { SignatureScheme } from '../../../common/signature-scheme.js';
import type { SigningContext, SigningInput } from '../../../edge/signer.js';

let counter = 0;

/** A TLS 1.3 input when the scheme is allowed there, else a TLS 1.2 ServerKeyExchange (x25519 share). */
export function inputFor(scheme: SignatureScheme): SigningInput {
  const info = schemeInfo(scheme)!;
  if (info.allowedInTls13) {
    return { kind: 'tls13-server-certificate-verify', transcriptHash: randomBytes(info.hash ? hashLength(info.hash) : 32) };
  }
  // RFC 8422 §5.4 ServerECDHParams: named_curve(3), x25519 (0x001d), a 32-byte point.
  const params = Buffer.concat([Buffer.from([0x03, 0x00, 0x1d, 32]), createHash('sha256').update(randomBytes(8)).digest()]);
  return { kind: 'tls12-server-key-exchange', clientRandom: randomBytes(32), serverRandom: randomBytes(32), params };
}

export function contextFor(label = 'test'): SigningContext {
  return { sni: 'localhost', clientIp: '192.0.2.10', requestId: `${label}-${++counter}` };
}
