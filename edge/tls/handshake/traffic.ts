// The handshake is over. The only handshake message a client may still send us is KeyUpdate
// (RFC 8446 §4.6.3): we never request client certificates (no CertificateRequest, so no
// post-handshake authentication) and clients do not send NewSessionTicket.
import type { HandshakeMessage } from '../codecs/handshake-framing.js';
import { decodeKeyUpdate, encodeKeyUpdate } from '../codecs/key-update.js';
import { HandshakeType, KeyUpdateRequest } from '../enums.js';
import type { ApplicationTrafficSecret, ExporterMasterSecret } from '../key-schedule.js';
import type { HandshakeIo } from './handshake-io.js';
import { HandshakeState } from './state.js';

export class Traffic extends HandshakeState {
  readonly waitsFor = 'application data or KeyUpdate';
  override readonly acceptsApplicationData = true;
  /** A KeyUpdate with update_requested arrived and ours has not gone out yet. */
  owesKeyUpdate = false;

  constructor(
    private clientSecret: ApplicationTrafficSecret,
    private serverSecret: ApplicationTrafficSecret,
    /** RFC 8446 §7.5 keying material exporter. */
    readonly exporter: ExporterMasterSecret,
  ) {
    super();
  }

  override handle(message: HandshakeMessage, io: HandshakeIo): HandshakeState {
    if (message.type !== HandshakeType.key_update) return super.handle(message, io) as HandshakeState;
    const { requestUpdate } = decodeKeyUpdate(message.body);
    // §4.6.3: the sender's next records are under application_traffic_secret_N+1, and the
    // KeyUpdate must end its record (installReadKey checks the boundary).
    this.clientSecret = this.clientSecret.next();
    io.installReadKey(this.clientSecret);
    // "...MUST send a KeyUpdate of its own ... prior to sending its next Application Data
    // record". Several requests that arrive together are answered by one update.
    if (requestUpdate === KeyUpdateRequest.update_requested) this.owesKeyUpdate = true;
    return this;
  }

  /** Sends our KeyUpdate and moves our sending key on; `requestPeer` asks the client to do the same. */
  updateSendingKey(io: HandshakeIo, requestPeer: boolean): void {
    const request = requestPeer ? KeyUpdateRequest.update_requested : KeyUpdateRequest.update_not_requested;
    io.sendPostHandshake(HandshakeType.key_update, encodeKeyUpdate({ requestUpdate: request }));
    this.serverSecret = this.serverSecret.next();
    io.installWriteKey(this.serverSecret);
    this.owesKeyUpdate = false;
  }
}
