// Whether a ClientHello resumes a session (RFC 8446 §2.2, §4.2.11): the first offered ticket
// that is ours, alive, for a cipher suite with the same hash, for the same server_name, and for
// the certificate we would serve it now, is selected, and its binder must verify.
//
// Only psk_dhe_ke (§4.2.9): a resumed connection still runs a fresh (EC)DHE, so the ticket key
// never protects traffic, and forward secrecy holds. A ticket that does not qualify is ignored
// and the handshake is a full one (§4.2.11 lets the server decline any PSK). A selected ticket
// whose binder does not verify aborts the handshake with decrypt_error, as §4.2.11 requires.
// 0-RTT is never accepted, so the ticket age needs no freshness check (§8 concerns early data).
import { bindersEncodedLength } from '../codecs/extensions.js';
import type { CertificateChoice } from '../certificate-resolver.js';
import { cipherSuiteParams, type CipherSuiteParams } from '../crypto/cipher-suites.js';
import { PskKeyExchangeMode } from '../enums.js';
import { EarlySecret } from '../key-schedule.js';
import { leafDigest } from '../resumption/session-tickets.js';
import type { TicketState } from '../resumption/session-ticket.js';
import type { ClientOffer } from './client-offer.js';
import type { HandshakeIo } from './handshake-io.js';

/** Offered identities looked at: each costs an AES-GCM open; clients offer one or two. */
const MAX_IDENTITIES_TRIED = 4;

export interface Resumption {
  /** Index of the chosen identity, for the ServerHello's pre_shared_key (§4.2.11). */
  readonly identity: number;
  readonly session: TicketState;
  /** The key schedule, started from the ticket's PSK. */
  readonly earlySecret: EarlySecret;
  /** The certificate of the session (not sent again). */
  readonly certificate: CertificateChoice;
}

/**
 * The session this ClientHello resumes, or undefined for a full handshake. Call it before the
 * hello joins the transcript: `helloMessage` (the whole message, header included) is truncated
 * before its binders and hashed after what the transcript holds (a HelloRetryRequest exchange).
 */
export function findResumption(io: HandshakeIo, offer: ClientOffer, suite: CipherSuiteParams, helloMessage: Buffer): Resumption | undefined {
  const tickets = io.settings.sessionTickets;
  const psk = offer.psk;
  if (!tickets || !psk || !offer.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke)) return undefined;
  const limit = Math.min(psk.identities.length, MAX_IDENTITIES_TRIED);
  for (let index = 0; index < limit; index++) {
    const session = tickets.open(psk.identities[index]!.identity);
    if (!session || !resumable(session, offer, suite)) continue;
    const certificate = currentCertificate(io, offer, session);
    if (!certificate) continue;
    const earlySecret = EarlySecret.fromPsk(suite, session.psk);
    const truncated = helloMessage.subarray(0, helloMessage.length - bindersEncodedLength(psk.binders));
    // decrypt_error when it does not verify (§4.2.11).
    earlySecret.verifyPskBinder('resumption', io.transcript.hashWith(truncated), psk.binders[index]!);
    return { identity: index, session, earlySecret, certificate };
  }
  return undefined;
}

function resumable(session: TicketState, offer: ClientOffer, suite: CipherSuiteParams): boolean {
  // §4.2.11: "the server MUST ensure that it selects a compatible PSK (if any) and cipher suite":
  // the ticket's suite must share the hash of the one chosen now.
  if (cipherSuiteParams(session.cipherSuite)?.hash !== suite.hash) return false;
  return session.serverName === (offer.serverName ?? '');
}

/** The certificate we would serve this hello now, if it is still the session's (a reload may have replaced it). */
function currentCertificate(io: HandshakeIo, offer: ClientOffer, session: TicketState): CertificateChoice | undefined {
  let choice: CertificateChoice;
  try {
    choice = io.settings.certificates.resolve(offer.serverName, offer.signatureSchemes);
  } catch {
    return undefined; // the full handshake reports why
  }
  return leafDigest(choice.key.chain[0]!).equals(session.leafSha256) ? choice : undefined;
}
