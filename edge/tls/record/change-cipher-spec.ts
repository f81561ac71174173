// RFC 8446 §5: "An implementation may receive an unencrypted record of type change_cipher_spec
// consisting of the single byte value 0x01 at any time after the first ClientHello message has
// been sent or received and before the peer's Finished message has been received and MUST simply
// drop it without further processing. [...] An implementation which receives any other
// change_cipher_spec value or which receives a protected change_cipher_spec record MUST abort
// the handshake with an "unexpected_message" alert."
//
// The connection calls this for every plaintext change_cipher_spec record, before it would try
// to decrypt. (A protected one is rejected by RecordDecrypter.) Clients in compatibility mode
// send exactly one (§D.4), but the RFC says to drop every one in the window, so repeated ones
// are dropped too, up to MAX_DROPPED_CHANGE_CIPHER_SPECS.
import { AlertDescription } from '../enums.js';
import { TlsError } from '../errors.js';

/**
 * How many change_cipher_spec records one connection may have dropped. An honest client sends
 * one (§D.4); the RFC sets no number, and a record of 6 bytes that costs us a check is a cheap
 * way to keep a handshake busy, so the count is bounded like Go's crypto/tls, which gives up
 * after 16 ignored records (maxUselessRecords). The window closes at the client Finished, so
 * the count is per connection, not per run of consecutive records.
 */
export const MAX_DROPPED_CHANGE_CIPHER_SPECS = 16;

/** Where the handshake is, as far as the change_cipher_spec rule cares. */
export interface ChangeCipherSpecWindow {
  /** The first ClientHello has been received. */
  readonly clientHelloReceived: boolean;
  /** The client's Finished has been received (the handshake is over for this rule). */
  readonly clientFinishedReceived: boolean;
  /** change_cipher_spec records already dropped on this connection. */
  readonly changeCipherSpecsDropped: number;
}

/** Returns when the record must be dropped; throws TlsError unexpected_message otherwise. */
export function checkChangeCipherSpec(fragment: Buffer, window: ChangeCipherSpecWindow): void {
  if (fragment.length !== 1 || fragment[0] !== 0x01) {
    throw unexpectedCcs('change_cipher_spec record is not the single byte 0x01');
  }
  if (!window.clientHelloReceived) throw unexpectedCcs('change_cipher_spec before the ClientHello');
  if (window.clientFinishedReceived) throw unexpectedCcs('change_cipher_spec after the client Finished');
  if (window.changeCipherSpecsDropped >= MAX_DROPPED_CHANGE_CIPHER_SPECS) {
    throw new TlsError(
      'peer-misbehaved',
      AlertDescription.unexpected_message,
      `more than ${MAX_DROPPED_CHANGE_CIPHER_SPECS} change_cipher_spec records`,
      'TLS_ERR_TOO_MANY_CCS',
    );
  }
}

function unexpectedCcs(message: string): TlsError {
  return new TlsError('peer-misbehaved', AlertDescription.unexpected_message, message, 'TLS_ERR_UNEXPECTED_CCS');
}
