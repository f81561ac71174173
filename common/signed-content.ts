// The bytes a server's handshake signature covers, shared by the key server (which builds them
// from the parts of the handshake) and the edge (which checks a remote signature before use).

/** RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte; the transcript hash follows. */
export const TLS13_SERVER_CERTIFICATE_VERIFY_PREFIX = Buffer.concat([Buffer.alloc(64, 0x20), Buffer.from('TLS 1.3, server CertificateVerify', 'latin1'), Buffer.from([0x00])]);

/** The content of a TLS 1.3 server CertificateVerify for this transcript hash (RFC 8446 §4.4.3). */
export function tls13ServerSignedContent(transcriptHash: Buffer): Buffer {
  return Buffer.concat([TLS13_SERVER_CERTIFICATE_VERIFY_PREFIX, transcriptHash]);
}

/** RFC 5246 §7.4.3 with RFC 8422 §5.4: client_random ‖ server_random ‖ ServerECDHParams. */
export function tls12ServerKeyExchangeSignedContent(clientRandom: Buffer, serverRandom: Buffer, params: Buffer): Buffer {
  return Buffer.concat([clientRandom, serverRandom, params]);
}
