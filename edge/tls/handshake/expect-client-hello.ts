// The first state of every connection, and the one after a HelloRetryRequest.
//
// A ClientHello is read into a ClientOffer (which enforces what a TLS 1.3 hello must carry),
// then the cipher suite and the key exchange group are chosen. With a usable key share the
// server flight follows at once; without one, but with a group in common, the client is asked
// for a share of that group with a HelloRetryRequest (RFC 8446 §4.1.4), and the second
// ClientHello must be the first one with only the permitted changes (§4.1.2).
import { checkRetriedClientHello, decodeClientHello } from '../codecs/client-hello.js';
import type { HandshakeMessage } from '../codecs/handshake-framing.js';
import { encodeHelloRetryRequest } from '../codecs/server-hello.js';
import type { CipherSuiteParams } from '../crypto/cipher-suites.js';
import type { SupportedGroup } from '../crypto/key-exchange.js';
import { HandshakeType, ProtocolVersion } from '../enums.js';
import { illegalParameter } from '../errors.js';
import { readClientOffer, type ClientOffer } from './client-offer.js';
import type { HandshakeIo } from './handshake-io.js';
import { chooseApplicationProtocol, chooseCipherSuite, chooseKeyExchange } from './negotiation.js';
import { findResumption } from './resumption.js';
import { sendServerFlight } from './server-flight.js';
import { HandshakeState } from './state.js';

export class ExpectClientHello extends HandshakeState {
  readonly waitsFor = 'ClientHello';

  override handle(message: HandshakeMessage, io: HandshakeIo): HandshakeState | Promise<HandshakeState> {
    if (message.type !== HandshakeType.client_hello) return super.handle(message, io);
    const offer = readClientOffer(decodeClientHello(message.body));
    const suite = chooseCipherSuite(offer, io.settings.cipherSuites);
    io.transcript.selectHash(suite.hash);
    const choice = chooseKeyExchange(offer, io.settings.groups);
    if (choice.kind === 'share') {
      // Before the hello joins the transcript: its binders cover the hello truncated before them.
      const resumption = findResumption(io, offer, suite, message.raw);
      io.transcript.add(message.raw);
      return sendServerFlight(io, { offer, suite, group: choice.group, clientShare: choice.share.keyExchange, helloRetried: false, changeCipherSpecSent: false, resumption });
    }
    // A PSK offered here is looked at in the second hello, whose binders cover this exchange.
    io.transcript.add(message.raw);
    // Refuse now what a second hello could not fix either (certificate, ALPN), rather than
    // after a round trip: the same checks run again on the second hello.
    io.settings.certificates.resolve(offer.serverName, offer.signatureSchemes);
    chooseApplicationProtocol(offer, io.settings.alpnProtocols);
    return sendHelloRetryRequest(io, offer, suite, choice.group);
  }
}

/** §4.1.4: a HelloRetryRequest asking for a share of `group`. */
function sendHelloRetryRequest(io: HandshakeIo, offer: ClientOffer, suite: CipherSuiteParams, group: SupportedGroup): ExpectRetriedClientHello {
  // §4.4.1: ClientHello1 is replaced in the transcript by message_hash(Hash(ClientHello1)).
  io.transcript.replaceClientHelloWithMessageHash();
  const retry = encodeHelloRetryRequest({
    legacySessionIdEcho: offer.hello.legacySessionId,
    cipherSuite: suite.id,
    extensions: [
      { name: 'supported_versions', selectedVersion: ProtocolVersion.TLS_1_3 },
      { name: 'key_share', selectedGroup: group },
    ],
  });
  io.sendHandshake(HandshakeType.server_hello, retry);
  // §D.4: the compatibility change_cipher_spec follows our first handshake message, here the HRR.
  const changeCipherSpecSent = offer.hello.legacySessionId.length > 0;
  if (changeCipherSpecSent) io.sendChangeCipherSpec();
  io.flush();
  // §4.2.10: 0-RTT data the client sent with its first hello is skipped, never read.
  if (offer.earlyData) io.skipEarlyData('unprotected');
  return new ExpectRetriedClientHello(offer, suite, group, changeCipherSpecSent);
}

export class ExpectRetriedClientHello extends HandshakeState {
  readonly waitsFor = 'the second ClientHello';

  constructor(
    private readonly first: ClientOffer,
    private readonly suite: CipherSuiteParams,
    private readonly group: SupportedGroup,
    private readonly changeCipherSpecSent: boolean,
  ) {
    super();
  }

  override handle(message: HandshakeMessage, io: HandshakeIo): HandshakeState | Promise<HandshakeState> {
    if (message.type !== HandshakeType.client_hello) return super.handle(message, io);
    const hello = decodeClientHello(message.body);
    // §4.1.2: the same hello, except key_share, early_data (removed), cookie, pre_shared_key, padding.
    checkRetriedClientHello(this.first.hello, hello);
    const offer = readClientOffer(hello);
    // §4.2.8: "a new KeyShareEntry for the group indicated in the selected_group field", and only it.
    const [share, ...others] = offer.keyShares;
    if (!share || others.length > 0 || share.group !== this.group) {
      throw illegalParameter(`the second ClientHello must carry exactly one key share, for group 0x${this.group.toString(16).padStart(4, '0')} (RFC 8446 §4.2.8)`);
    }
    // §4.2.2: a cookie is echoed only if the HelloRetryRequest carried one, and ours never does.
    if (offer.cookie !== undefined) throw illegalParameter('the second ClientHello carries a cookie the server never sent (RFC 8446 §4.2.2)');
    // Unchanged cipher_suites make this the suite of the HelloRetryRequest (§4.1.4 requires it).
    const suite = chooseCipherSuite(offer, io.settings.cipherSuites);
    if (suite.id !== this.suite.id) throw illegalParameter('the cipher suite changed after the HelloRetryRequest');
    const resumption = findResumption(io, offer, suite, message.raw);
    io.transcript.add(message.raw);
    return sendServerFlight(io, { offer, suite, group: this.group, clientShare: share.keyExchange, helloRetried: true, changeCipherSpecSent: this.changeCipherSpecSent, resumption });
  }
}
