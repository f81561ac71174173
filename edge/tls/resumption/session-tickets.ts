// The server's session tickets: issued after each handshake (RFC 8446 §4.6.1), and looked up
// when a ClientHello offers one (§4.2.11). One instance per edge process, kept across reloads so
// that a reload does not forget the tickets already out.
import { createHash, randomBytes } from 'node:crypto';
import { encodeNewSessionTicket, MAX_TICKET_LIFETIME } from '../codecs/new-session-ticket.js';
import type { ResumptionMasterSecret } from '../key-schedule.js';
import { openTicket, sealTicket, type TicketState } from './session-ticket.js';
import type { TicketKeys } from './ticket-keys.js';

/** The handshake a ticket is issued for. */
export interface IssuedSession {
  readonly cipherSuite: number;
  readonly signatureScheme: number;
  readonly serverName: string | undefined;
  /** DER of the leaf certificate served. */
  readonly leaf: Buffer;
}

/** Bytes of ticket_nonce: unique per ticket of one connection, and we issue one. */
const TICKET_NONCE = Buffer.alloc(1);

export class SessionTickets {
  /** NewSessionTicket bodies made since start (keyless_edge_tls_session_tickets_issued_total). */
  issued = 0;

  constructor(
    readonly keys: TicketKeys,
    /** RFC 8446 §4.6.1 ticket_lifetime, at most 7 days. */
    readonly lifetimeSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 1 || lifetimeSeconds > MAX_TICKET_LIFETIME) {
      throw new RangeError(`ticket lifetime must be 1..${MAX_TICKET_LIFETIME} seconds`);
    }
  }

  /**
   * The NewSessionTicket body for a completed handshake, or undefined when the session cannot be
   * carried in a ticket (a server_name longer than a DNS name can be).
   */
  issue(resumption: ResumptionMasterSecret, session: IssuedSession): Buffer | undefined {
    const serverName = session.serverName ?? '';
    if (Buffer.byteLength(serverName, 'latin1') > 255) return undefined;
    const nowMs = this.now();
    const ageAdd = randomBytes(4).readUInt32BE(0);
    const state: TicketState = {
      cipherSuite: session.cipherSuite,
      signatureScheme: session.signatureScheme,
      psk: resumption.ticketPsk(TICKET_NONCE),
      issuedAtMs: nowMs,
      lifetimeSeconds: this.lifetimeSeconds,
      ageAdd,
      serverName,
      leafSha256: leafDigest(session.leaf),
    };
    const ticket = sealTicket(this.keys, state, nowMs);
    state.psk.fill(0);
    this.issued++;
    // No early_data extension: this server never accepts 0-RTT (§4.2.10), so it never invites it.
    return encodeNewSessionTicket({ ticketLifetime: this.lifetimeSeconds, ticketAgeAdd: ageAdd, ticketNonce: TICKET_NONCE, ticket, extensions: [] });
  }

  /** The session inside a ticket a client offered, or undefined. */
  open(ticket: Buffer): TicketState | undefined {
    return openTicket(this.keys, ticket, this.now());
  }
}

export function leafDigest(leafDer: Buffer): Buffer {
  return createHash('sha256').update(leafDer).digest();
}
