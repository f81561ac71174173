// CertificateVerify (RFC 8446 §4.4.3): the scheme and the signature the key server produced.
import { Reader, Writer } from '../wire.js';

export interface CertificateVerify {
  /** SignatureScheme code point (common/signature-scheme.ts). */
  readonly algorithm: number;
  readonly signature: Buffer;
}

export function encodeCertificateVerify(msg: CertificateVerify): Buffer {
  return new Writer().u16(msg.algorithm).opaque16(msg.signature).finish();
}

/** `SignatureScheme algorithm; opaque signature<0..2^16-1>`. */
export function decodeCertificateVerify(body: Buffer): CertificateVerify {
  const r = new Reader(body, 'CertificateVerify');
  const msg = { algorithm: r.u16('algorithm'), signature: r.opaque16('signature') };
  r.expectEnd();
  return msg;
}
