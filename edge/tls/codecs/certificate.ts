// Certificate (RFC 8446 §4.4.2): the server's chain, leaf first. Encoded by the server; decoded
// by tests and the test client. Only the X.509 form exists here (no raw public keys, RFC 7250).
import { Reader, Writer } from '../wire.js';
import { readExtensions, writeExtensions, type RawExtension } from './extensions.js';

export interface CertificateEntry {
  /** One DER certificate. */
  readonly certData: Buffer;
  /** Per-certificate extensions (status_request with an OCSP response, signed_certificate_timestamp). */
  readonly extensions: readonly RawExtension[];
}

export interface Certificate {
  /** Empty in a server's Certificate (RFC 8446 §4.4.2). */
  readonly certificateRequestContext: Buffer;
  readonly certificateList: readonly CertificateEntry[];
}

export function encodeCertificate(msg: Certificate): Buffer {
  const w = new Writer().opaque8(msg.certificateRequestContext);
  w.vec24((list) => {
    for (const entry of msg.certificateList) {
      list.opaque24(entry.certData, 1, 0xffffff);
      writeExtensions(list, entry.extensions);
    }
  });
  return w.finish();
}

/**
 * `opaque certificate_request_context<0..2^8-1>; CertificateEntry certificate_list<0..2^24-1>`,
 * each entry `opaque cert_data<1..2^24-1>; Extension extensions<0..2^16-1>`.
 */
export function decodeCertificate(body: Buffer): Certificate {
  const r = new Reader(body, 'Certificate');
  const certificateRequestContext = r.opaque8('certificate_request_context');
  const list = r.vec24('certificate_list');
  r.expectEnd();
  const certificateList: CertificateEntry[] = [];
  while (list.remaining > 0) {
    const certData = list.opaque24('cert_data', 1, 0xffffff);
    certificateList.push({ certData, extensions: readExtensions(list, 0, 0xffff) });
  }
  return { certificateRequestContext, certificateList };
}
