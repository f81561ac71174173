// Waiting for the client's Finished (RFC 8446 §4.4.4), the last message of the handshake. It is
// checked in constant time against the transcript up to our Finished; then the client's records
// are read under its application traffic secret.
import type { HandshakeMessage } from '../codecs/handshake-framing.js';
import { decodeFinished } from '../codecs/finished.js';
import { HandshakeType } from '../enums.js';
import type { ApplicationTrafficSecret, ExporterMasterSecret, HandshakeTrafficSecret } from '../key-schedule.js';
import type { HandshakeIo } from './handshake-io.js';
import { HandshakeState } from './state.js';
import { Traffic } from './traffic.js';

export class ExpectFinished extends HandshakeState {
  readonly waitsFor = 'the client Finished';

  constructor(
    private readonly clientHandshake: HandshakeTrafficSecret,
    private readonly clientApplication: ApplicationTrafficSecret,
    private readonly serverApplication: ApplicationTrafficSecret,
    private readonly exporter: ExporterMasterSecret,
  ) {
    super();
  }

  override handle(message: HandshakeMessage, io: HandshakeIo): HandshakeState {
    if (message.type !== HandshakeType.finished) return super.handle(message, io) as HandshakeState;
    const verifyData = decodeFinished(message.body, this.clientHandshake.suite.hashLen);
    // decrypt_error on a mismatch (§4.4.4).
    this.clientHandshake.verifyFinished(io.transcript.currentHash(), verifyData);
    io.transcript.add(message.raw);
    io.installReadKey(this.clientApplication);
    io.handshakeComplete();
    return new Traffic(this.clientApplication, this.serverApplication, this.exporter);
  }
}
