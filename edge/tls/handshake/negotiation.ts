// The server's choices from a ClientOffer: cipher suite, key exchange group, ALPN protocol.
// Each is a pure function of the offer and the server's configured preferences, so the choice
// made on a first ClientHello is made again, identically, on the second one after a
// HelloRetryRequest (RFC 8446 §4.1.4: the ServerHello must repeat the HRR's cipher suite).
import type { KeyShareEntry } from '../codecs/extensions.js';
import type { CipherSuiteParams } from '../crypto/cipher-suites.js';
import type { SupportedGroup } from '../crypto/key-exchange.js';
import { handshakeFailure, noApplicationProtocol } from '../errors.js';
import type { ClientOffer } from './client-offer.js';

/** The first suite of the server's preference list that the client offers (handshake_failure if none). */
export function chooseCipherSuite(offer: ClientOffer, preference: readonly CipherSuiteParams[]): CipherSuiteParams {
  const suite = preference.find((s) => offer.cipherSuites.includes(s.id));
  if (!suite) throw handshakeFailure('no TLS 1.3 cipher suite in common with the client', 'TLS_ERR_NO_COMMON_CIPHER_SUITE');
  return suite;
}

export type KeyExchangeChoice =
  /** The client sent a share for this group: the handshake goes on. */
  | { readonly kind: 'share'; readonly group: SupportedGroup; readonly share: KeyShareEntry }
  /** We support a group the client lists but sent no share for: HelloRetryRequest (§4.1.4). */
  | { readonly kind: 'retry'; readonly group: SupportedGroup };

/**
 * RFC 8446 §4.2.8: use a share the client sent, for the most preferred of our groups; if there
 * is none but the client supports one of our groups, ask for that one with a HelloRetryRequest;
 * if the client supports none of them, handshake_failure.
 */
export function chooseKeyExchange(offer: ClientOffer, preference: readonly SupportedGroup[]): KeyExchangeChoice {
  for (const group of preference) {
    const share = offer.keyShares.find((s) => s.group === group);
    if (share) return { kind: 'share', group, share };
  }
  const retry = preference.find((g) => offer.groups.includes(g));
  if (retry === undefined) throw handshakeFailure('no key exchange group in common with the client', 'TLS_ERR_NO_COMMON_GROUP');
  return { kind: 'retry', group: retry };
}

/**
 * RFC 7301 §3.2: the first of our protocols the client offers. A client that sends ALPN but
 * shares no protocol with us gets no_application_protocol; one that sends no ALPN gets none.
 */
export function chooseApplicationProtocol(offer: ClientOffer, serverProtocols: readonly string[]): string | undefined {
  if (offer.alpn === undefined || serverProtocols.length === 0) return undefined;
  const chosen = serverProtocols.find((p) => offer.alpn!.includes(p));
  if (chosen === undefined) {
    throw noApplicationProtocol(`no application protocol in common (client offers ${offer.alpn.map((p) => JSON.stringify(p)).join(', ')})`);
  }
  return chosen;
}
