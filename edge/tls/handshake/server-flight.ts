// The server's flight after an acceptable ClientHello (RFC 8446 §2, §4), as one linear sequence
// of steps, read top to bottom as the protocol runs:
//
//   ServerHello, [change_cipher_spec]            plaintext
//   EncryptedExtensions, Certificate             handshake keys; flushed at once, so the client
//                                                derives its keys while we wait for the signature
//   CertificateVerify                            signed remotely by the key server, with a deadline
//   Finished                                     then the application secrets
//   (after the client's Finished) NewSessionTicket, when tickets are on
//
// A resumed session (RFC 8446 §2.2: a session ticket's PSK with a fresh ECDHE) skips Certificate
// and CertificateVerify: the client authenticated the certificate when the ticket was issued, so
// no signature is asked of the key server, and the handshake goes on when it is unreachable.
//
// No record from the client is processed while the signature is pending: the connection does
// not pump records while a state's handler is running, and pauses the socket once 64 KiB wait
// unprocessed (RECEIVE_PAUSE_BYTES in connection.ts).
import type { SignatureScheme } from '../../../common/signature-scheme.js';
import { SignerError } from '../../signer.js';
import type { CertificateChoice } from '../certificate-resolver.js';
import { encodeCertificate } from '../codecs/certificate.js';
import { encodeCertificateVerify } from '../codecs/certificate-verify.js';
import { encodeEncryptedExtensions, type EncryptedExtension } from '../codecs/encrypted-extensions.js';
import { encodeFinished } from '../codecs/finished.js';
import { encodeServerHello, type ServerHelloExtension } from '../codecs/server-hello.js';
import type { CipherSuiteParams } from '../crypto/cipher-suites.js';
import type { SupportedGroup } from '../crypto/key-exchange.js';
import { HandshakeType, MAX_PLAINTEXT, ProtocolVersion } from '../enums.js';
import { localFailure, TlsError } from '../errors.js';
import { EarlySecret, type HandshakeSecret, type HandshakeTrafficSecret } from '../key-schedule.js';
import type { ClientOffer } from './client-offer.js';
import { ExpectFinished, type TicketToIssue } from './expect-finished.js';
import type { Resumption } from './resumption.js';
import type { HandshakeIo } from './handshake-io.js';
import { chooseApplicationProtocol } from './negotiation.js';

export interface ServerFlightInput {
  readonly offer: ClientOffer;
  readonly suite: CipherSuiteParams;
  readonly group: SupportedGroup;
  /** The client's key_share for `group`. */
  readonly clientShare: Buffer;
  readonly helloRetried: boolean;
  /** A change_cipher_spec already went out after the HelloRetryRequest. */
  readonly changeCipherSpecSent: boolean;
  /** The session a ticket resumes (findResumption), or undefined for a full handshake. */
  readonly resumption: Resumption | undefined;
}

/** RFC 8449 §4: the TLSInnerPlaintext we accept (2^14 bytes of content and the content type). */
const OUR_RECORD_SIZE_LIMIT = MAX_PLAINTEXT + 1;

export async function sendServerFlight(io: HandshakeIo, input: ServerFlightInput): Promise<ExpectFinished> {
  const { offer, suite, resumption } = input;
  const { settings, transcript } = io;
  // Everything that can refuse the client does so before the first byte of the flight.
  const certificate = resumption?.certificate ?? settings.certificates.resolve(offer.serverName, offer.signatureSchemes);
  const alpnProtocol = chooseApplicationProtocol(offer, settings.alpnProtocols);
  const releaseSignature = resumption ? NO_SLOT : io.reserveSignature();
  try {
    const handshakeSecret = sendServerHello(io, input);
    const helloHash = transcript.currentHash();
    const clientHandshake = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
    const serverHandshake = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
    // Read key first: a ClientHello that does not end its record fails here (§5.1), with a
    // plaintext alert the client can read.
    io.installReadKey(clientHandshake);
    io.installWriteKey(serverHandshake);
    if (offer.earlyData) io.skipEarlyData('undecryptable');
    io.negotiated({
      cipherSuite: suite,
      group: input.group,
      signatureScheme: resumption ? (resumption.session.signatureScheme as SignatureScheme) : certificate.scheme,
      alpnProtocol,
      serverName: offer.serverName,
      certificate: certificate.key.name,
      helloRetried: input.helloRetried,
      resumed: resumption !== undefined,
    });

    // RFC 6066 §3: acknowledge a server_name we used to choose the certificate (not on resumption).
    sendEncryptedExtensions(io, offer, !resumption && certificate.sniMatched, alpnProtocol);
    if (!resumption) {
      sendCertificate(io, certificate);
      io.flush();
      await sendCertificateVerify(io, certificate, offer.serverName);
      releaseSignature();
    }
    const ticket: TicketToIssue | undefined = settings.sessionTickets && {
      tickets: settings.sessionTickets,
      session: { cipherSuite: suite.id, signatureScheme: certificate.scheme, serverName: offer.serverName, leaf: certificate.key.chain[0]! },
    };
    return sendFinished(io, handshakeSecret, serverHandshake, clientHandshake, ticket);
  } finally {
    releaseSignature();
  }
}

/** §4.1.3: our key share for the client's group; the (EC)DHE secret feeds the key schedule. */
function sendServerHello(io: HandshakeIo, input: ServerFlightInput): HandshakeSecret {
  const keyShare = io.settings.entropy.keyShare(input.group);
  // Throws illegal_parameter for a share that is not a valid point / public value (§4.2.8.2).
  const sharedSecret = keyShare.deriveSharedSecret(input.clientShare);
  const extensions: ServerHelloExtension[] = [
    { name: 'key_share', group: input.group, keyExchange: keyShare.publicKey },
    { name: 'supported_versions', selectedVersion: ProtocolVersion.TLS_1_3 },
  ];
  // §4.2.11: the identity whose PSK the key schedule starts from.
  if (input.resumption) extensions.push({ name: 'pre_shared_key', selectedIdentity: input.resumption.identity });
  const serverHello = encodeServerHello({
    random: io.settings.entropy.random(32),
    legacySessionIdEcho: input.offer.hello.legacySessionId,
    cipherSuite: input.suite.id,
    extensions,
  });
  io.sendHandshake(HandshakeType.server_hello, serverHello);
  // §D.4: a client in middlebox-compatibility mode (non-empty legacy_session_id) gets one
  // change_cipher_spec right after our first handshake message.
  if (input.offer.hello.legacySessionId.length > 0 && !input.changeCipherSpecSent) io.sendChangeCipherSpec();
  const early = input.resumption?.earlySecret ?? EarlySecret.withoutPsk(input.suite);
  const secret = early.intoHandshakeSecret(sharedSecret);
  sharedSecret.fill(0);
  return secret;
}

/** §4.3.1: the answers to extensions that do not shape the key exchange. */
function sendEncryptedExtensions(io: HandshakeIo, offer: ClientOffer, acknowledgeServerName: boolean, alpnProtocol: string | undefined): void {
  const extensions: EncryptedExtension[] = [];
  if (acknowledgeServerName) extensions.push({ name: 'server_name' });
  if (alpnProtocol !== undefined) extensions.push({ name: 'application_layer_protocol_negotiation', protocol: Buffer.from(alpnProtocol, 'latin1') });
  if (offer.recordSizeLimit !== undefined) {
    // RFC 8449 §4: the limit applies to every protected record we send, this one included.
    io.setPeerRecordSizeLimit(offer.recordSizeLimit);
    extensions.push({ name: 'record_size_limit', limit: OUR_RECORD_SIZE_LIMIT });
  }
  io.sendHandshake(HandshakeType.encrypted_extensions, encodeEncryptedExtensions({ extensions }));
}

/** §4.4.2: the chain chosen by SNI, leaf first, no per-certificate extensions. */
function sendCertificate(io: HandshakeIo, certificate: CertificateChoice): void {
  const body = encodeCertificate({
    certificateRequestContext: Buffer.alloc(0),
    certificateList: certificate.key.chain.map((certData) => ({ certData, extensions: [] })),
  });
  io.sendHandshake(HandshakeType.certificate, body);
}

/**
 * §4.4.3: the one private-key operation of the handshake. The key server receives the
 * transcript hash and builds the signed content itself; a deadline bounds the wait, and the
 * request is cancelled if the client goes away.
 */
async function sendCertificateVerify(io: HandshakeIo, certificate: CertificateChoice, serverName: string | undefined): Promise<void> {
  const transcriptHash = io.transcript.currentHash();
  const timeoutMs = io.settings.signatureTimeoutMs;
  // One controller for the deadline and the connection going away (AbortSignal.any and
  // AbortSignal.timeout each cost a signal, listeners and a DOMException on every handshake).
  const controller = new AbortController();
  const onClose = (): void => controller.abort(io.signal.reason);
  if (io.signal.aborted) onClose();
  else io.signal.addEventListener('abort', onClose, { once: true });
  const timer = setTimeout(() => controller.abort(SIGNATURE_TIMEOUT), timeoutMs);
  const signal = controller.signal;
  let signature: Buffer;
  try {
    signature = await certificate.key.signer.sign(
      certificate.scheme,
      { kind: 'tls13-server-certificate-verify', transcriptHash },
      io.signingContext(serverName),
      signal,
    );
  } catch (err) {
    if (io.signal.aborted) throw localFailure('the connection closed while its signature was pending', 'TLS_ERR_CLOSED_WHILE_SIGNING');
    throw signingFailure(signal.aborted && signal.reason === SIGNATURE_TIMEOUT ? SIGNATURE_TIMEOUT : err, timeoutMs, certificate.key.name);
  } finally {
    clearTimeout(timer);
    io.signal.removeEventListener('abort', onClose);
  }
  if (io.signal.aborted) throw localFailure('the connection closed while its signature was pending', 'TLS_ERR_CLOSED_WHILE_SIGNING');
  io.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ algorithm: certificate.scheme, signature }));
}

/** §4.4.4 and §7.1: our Finished, then the application traffic secrets. */
function sendFinished(
  io: HandshakeIo,
  handshakeSecret: HandshakeSecret,
  serverHandshake: HandshakeTrafficSecret,
  clientHandshake: HandshakeTrafficSecret,
  ticket: TicketToIssue | undefined,
): ExpectFinished {
  const { transcript } = io;
  io.sendHandshake(HandshakeType.finished, encodeFinished(serverHandshake.finishedVerifyData(transcript.currentHash())));
  const master = handshakeSecret.intoMasterSecret();
  const serverFinishedHash = transcript.currentHash();
  const clientApplication = master.clientApplicationTrafficSecret(serverFinishedHash);
  const serverApplication = master.serverApplicationTrafficSecret(serverFinishedHash);
  const exporter = master.exporterMasterSecret(serverFinishedHash);
  // Without tickets nothing else is ever derived from the master secret; with them, the
  // resumption secret needs the client's Finished in the transcript (§7.1).
  if (!ticket) master.discard();
  // The Finished goes out under the handshake key; application data under the new one.
  io.flush();
  io.installWriteKey(serverApplication);
  return new ExpectFinished(clientHandshake, clientApplication, serverApplication, exporter, ticket && { ...ticket, master });
}

/** No pending-signature slot to give back (a resumed handshake asks for no signature). */
const NO_SLOT = (): void => undefined;

/** The abort reason when the signature deadline passes. */
const SIGNATURE_TIMEOUT = Object.freeze({ name: 'TimeoutError', code: 'TLS_ERR_SIGNATURE_TIMEOUT', message: 'signature deadline passed' });

const SIGNER_CODES: Record<string, string> = {
  SIGNER_UNAVAILABLE: 'TLS_ERR_KEY_SERVER_UNAVAILABLE',
  SIGNER_DEADLINE: 'TLS_ERR_SIGNATURE_TIMEOUT',
  SIGNER_REFUSED: 'TLS_ERR_SIGNATURE_REFUSED',
  SIGNER_ABORTED: 'TLS_ERR_SIGNATURE_TIMEOUT',
  SIGNER_BAD_SIGNATURE: 'TLS_ERR_BAD_REMOTE_SIGNATURE',
};

/** Any signing failure is internal_error for the client; the code and reason are for our logs. */
function signingFailure(err: unknown, timeoutMs: number, certificate: string): TlsError {
  if (err instanceof TlsError) return err;
  if (err instanceof SignerError) {
    const code = err.code === 'SIGNER_ABORTED' ? 'TLS_ERR_SIGNATURE_TIMEOUT' : (SIGNER_CODES[err.code] ?? 'TLS_ERR_SIGNATURE_FAILED');
    const why = err.code === 'SIGNER_ABORTED' ? `no signature within ${timeoutMs} ms` : err.message;
    return localFailure(`remote signature for ${certificate} failed: ${why}${err.remoteCode ? ` (${err.remoteCode})` : ''}`, code);
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return localFailure(`remote signature for ${certificate} failed: no signature within ${timeoutMs} ms`, 'TLS_ERR_SIGNATURE_TIMEOUT');
  }
  return localFailure(`remote signature for ${certificate} failed: ${(err as Error)?.message ?? String(err)}`, 'TLS_ERR_SIGNATURE_FAILED');
}
