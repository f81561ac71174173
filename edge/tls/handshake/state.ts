// The base of the handshake state machine (rustls's State, fxa-pairing-channel's State): a state
// is named for what it waits for, handles the one message it expects and returns the next
// state. Anything else is unexpected_message by default (RFC 8446 §6.2), so a state only says
// what it accepts.
import type { HandshakeMessage } from '../codecs/handshake-framing.js';
import { HandshakeType } from '../enums.js';
import { unexpectedMessage } from '../errors.js';
import type { HandshakeIo } from './handshake-io.js';

export abstract class HandshakeState {
  /** What this state waits for, for error messages: "ClientHello", "Finished"... */
  abstract readonly waitsFor: string;
  /** Application data is accepted only once the handshake is complete. */
  readonly acceptsApplicationData: boolean = false;

  /** The state that follows. A Promise while the server waits on something else (the remote signature). */
  handle(message: HandshakeMessage, _io: HandshakeIo): HandshakeState | Promise<HandshakeState> {
    throw unexpectedMessage(`${handshakeTypeName(message.type)} while waiting for ${this.waitsFor}`);
  }
}

export function handshakeTypeName(type: number): string {
  for (const [name, value] of Object.entries(HandshakeType)) if (value === type) return name;
  return `handshake type ${type}`;
}
