// The SSL 2.0-compatible CLIENT-HELLO (RFC 5246 §E.2), which very old clients send as their first
// flight. RFC 8446 §D.5: TLS 1.3 must not be negotiated with it, so the only use is to recognise
// it and answer protocol_version instead of failing on a "record" that is not one.
import { decodeError } from '../errors.js';
import { Reader } from '../wire.js';

export interface Ssl2ClientHello {
  /** The highest version the client supports, e.g. 0x0301 for TLS 1.0. */
  readonly version: number;
  /** V2CipherSpec values (3 bytes each), as numbers. */
  readonly cipherSpecs: readonly number[];
  readonly sessionId: Buffer;
  readonly challenge: Buffer;
}

const SSL2_CLIENT_HELLO = 1;

/**
 * True if the first bytes of a connection look like an SSL 2.0 CLIENT-HELLO rather than a TLS
 * record: the 2-byte length has its top bit set and the message type is 1. (No TLS ContentType
 * has the top bit set, so the two cannot be confused.) Needs at least 3 bytes.
 */
export function looksLikeSsl2ClientHello(head: Buffer): boolean {
  return head.length >= 3 && ((head[0] as number) & 0x80) !== 0 && head[2] === SSL2_CLIENT_HELLO;
}

/** Decodes a whole SSL 2.0 CLIENT-HELLO, its 2-byte header included. */
export function decodeSsl2ClientHello(message: Buffer): Ssl2ClientHello {
  const r = new Reader(message, 'SSLv2 CLIENT-HELLO');
  const msgLength = r.u16('msg_length');
  if ((msgLength & 0x8000) === 0) throw decodeError('SSLv2 CLIENT-HELLO: msg_length top bit clear');
  if ((msgLength & 0x7fff) !== r.remaining) {
    throw decodeError(`SSLv2 CLIENT-HELLO: msg_length ${msgLength & 0x7fff}, ${r.remaining} byte(s) follow`);
  }
  if (r.u8('msg_type') !== SSL2_CLIENT_HELLO) throw decodeError('SSLv2 CLIENT-HELLO: msg_type is not 1');
  const version = r.u16('version');
  const cipherSpecLength = r.u16('cipher_spec_length');
  const sessionIdLength = r.u16('session_id_length');
  const challengeLength = r.u16('challenge_length');
  // RFC 5246 §E.2: a non-empty whole number of 3-byte specs, a session id of 0 or 16 bytes (it
  // MUST be 0 from a client offering TLS 1.2, but older ones may send 16), a 16..32-byte challenge.
  if (cipherSpecLength === 0 || cipherSpecLength % 3 !== 0) throw decodeError(`SSLv2 CLIENT-HELLO: cipher_spec_length ${cipherSpecLength}`);
  if (sessionIdLength !== 0 && sessionIdLength !== 16) throw decodeError(`SSLv2 CLIENT-HELLO: session_id_length ${sessionIdLength}`);
  if (challengeLength < 16 || challengeLength > 32) throw decodeError(`SSLv2 CLIENT-HELLO: challenge_length ${challengeLength}`);
  const cipherSpecs: number[] = [];
  for (let i = 0; i < cipherSpecLength; i += 3) cipherSpecs.push(r.u24('cipher_specs'));
  const sessionId = r.bytes(sessionIdLength, 'session_id');
  const challenge = r.bytes(challengeLength, 'challenge');
  r.expectEnd();
  return { version, cipherSpecs, sessionId, challenge };
}
