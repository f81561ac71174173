// RFC 8446 §5: "An implementation may receive an unencrypted record of type change_cipher_spec
// consisting of the single byte value 0x01 at any time after the first ClientHello message has
// been sent or received and before the peer's Finished message has been received and MUST simply
// drop it without further processing. [...] An implementation which receives any other
// change_cipher_spec value or which receives a protected change_cipher_spec record MUST abort
// the handshake with an "unexpected_message" alert."
//
// The connection calls this for every plaintext change_cipher_spec record, before it would try
// to decrypt. (A protected one is rejected by RecordDecrypter.) Clients in compatibility mode
// send exactly one (§D.4), so a second one is rejected as well.
import { AlertDescription } from '../enums.js';
import { TlsError } from '../errors.js';

/** Where the handshake is, as far as the change_cipher_spec rule cares. */
export interface ChangeCipherSpecWindow {
  /** The first ClientHello has been received. */
  readonly clientHelloReceived: boolean;
  /** The client's Finished has been received (the handshake is over for this rule). */
  readonly clientFinishedReceived: boolean;
  /** A change_cipher_spec was already dropped on this connection. */
  readonly changeCipherSpecReceived: boolean;
}

/** Returns when the record must be dropped; throws TlsError unexpected_message otherwise. */
export function checkChangeCipherSpec(fragment: Buffer, window: ChangeCipherSpecWindow): void {
  if (fragment.length !== 1 || fragment[0] !== 0x01) {
    throw unexpectedCcs('change_cipher_spec record is not the single byte 0x01');
  }
  if (!window.clientHelloReceived) throw unexpectedCcs('change_cipher_spec before the ClientHello');
  if (window.clientFinishedReceived) throw unexpectedCcs('change_cipher_spec after the client Finished');
  if (window.changeCipherSpecReceived) throw unexpectedCcs('second change_cipher_spec record');
}

function unexpectedCcs(message: string): TlsError {
  return new TlsError('peer-misbehaved', AlertDescription.unexpected_message, message, 'TLS_ERR_UNEXPECTED_CCS');
}
