// Waiting for the client's Finished (RFC 8446 §4.4.4), the last message of the handshake. It is
// checked in constant time against the transcript up to our Finished; then the client's records
// are read under its application traffic secret, and, with session tickets on, a
// NewSessionTicket goes out (§4.6.1), keyed from the transcript up to the client's Finished.
import type { HandshakeMessage } from '../codecs/handshake-framing.js';
import { decodeFinished } from '../codecs/finished.js';
import { HandshakeType } from '../enums.js';
import type { ApplicationTrafficSecret, ExporterMasterSecret, HandshakeTrafficSecret, MasterSecret } from '../key-schedule.js';
import type { IssuedSession, SessionTickets } from '../resumption/session-tickets.js';
import type { HandshakeIo } from './handshake-io.js';
import { HandshakeState } from './state.js';
import { Traffic } from './traffic.js';

/** The session to put in a ticket once the handshake is complete. */
export interface TicketToIssue {
  readonly tickets: SessionTickets;
  readonly session: IssuedSession;
}

export class ExpectFinished extends HandshakeState {
  readonly waitsFor = 'the client Finished';

  constructor(
    private readonly clientHandshake: HandshakeTrafficSecret,
    private readonly clientApplication: ApplicationTrafficSecret,
    private readonly serverApplication: ApplicationTrafficSecret,
    private readonly exporter: ExporterMasterSecret,
    /** With tickets on: the master secret, kept for the resumption secret, and the session. */
    private readonly ticket: (TicketToIssue & { readonly master: MasterSecret }) | undefined,
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
    if (this.ticket) this.issueTicket(io, this.ticket);
    return new Traffic(this.clientApplication, this.serverApplication, this.exporter);
  }

  private issueTicket(io: HandshakeIo, ticket: TicketToIssue & { readonly master: MasterSecret }): void {
    const resumption = ticket.master.resumptionMasterSecret(io.transcript.currentHash());
    ticket.master.discard();
    try {
      const body = ticket.tickets.issue(resumption, ticket.session);
      if (body) {
        io.sendPostHandshake(HandshakeType.new_session_ticket, body);
        io.flush();
      }
    } finally {
      resumption.discard();
    }
  }
}
