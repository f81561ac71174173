// What the handshake states need from the connection, and the server settings they negotiate
// with. The states hold the protocol; the connection holds the socket and the record layer.
import { randomBytes } from 'node:crypto';
import type { SignatureScheme } from '../../../common/signature-scheme.js';
import type { SigningContext } from '../../signer.js';
import type { CertificateResolver } from '../certificate-resolver.js';
import type { CipherSuiteParams } from '../crypto/cipher-suites.js';
import { generateKeyShare, type EphemeralKeyShare, type SupportedGroup } from '../crypto/key-exchange.js';
import type { Transcript } from '../crypto/transcript.js';
import type { TrafficSecret } from '../key-schedule.js';
import type { SessionTickets } from '../resumption/session-tickets.js';

/** Where randomness comes from. Tests replace it to replay RFC 8448; nothing else should. */
export interface HandshakeEntropy {
  random(length: number): Buffer;
  keyShare(group: SupportedGroup): EphemeralKeyShare;
}

export const systemEntropy: HandshakeEntropy = {
  random: (length) => randomBytes(length),
  keyShare: (group) => generateKeyShare(group),
};

export interface HandshakeSettings {
  readonly certificates: CertificateResolver;
  /** In the server's order of preference. */
  readonly cipherSuites: readonly CipherSuiteParams[];
  /** In the server's order of preference; a client without a share for any gets a HelloRetryRequest. */
  readonly groups: readonly SupportedGroup[];
  /** ALPN protocols we serve, in our order of preference (e.g. ['http/1.1']). */
  readonly alpnProtocols: readonly string[];
  /** Deadline of the remote CertificateVerify signature. */
  readonly signatureTimeoutMs: number;
  readonly entropy: HandshakeEntropy;
  /** Session tickets issued and resumed (RFC 8446 §4.6.1); undefined: none issued, every handshake full. */
  readonly sessionTickets?: SessionTickets | undefined;
}

/** What the handshake agreed, for the connection's properties, logs and metrics. */
export interface NegotiatedParameters {
  readonly cipherSuite: CipherSuiteParams;
  readonly group: SupportedGroup;
  readonly signatureScheme: SignatureScheme;
  readonly alpnProtocol: string | undefined;
  /** The client's server_name, or undefined. */
  readonly serverName: string | undefined;
  /** Name of the certificate chain served. */
  readonly certificate: string;
  /** True when a HelloRetryRequest was needed. */
  readonly helloRetried: boolean;
  /** True when a session ticket resumed the session: no certificate, no remote signature (RFC 8446 §2.2). */
  readonly resumed: boolean;
}

export interface HandshakeIo {
  readonly settings: HandshakeSettings;
  readonly transcript: Transcript;
  /** Aborted when the connection goes away, so a pending remote signature is cancelled. */
  readonly signal: AbortSignal;
  /** The audit context of this handshake's signature (client address, handshake id). */
  signingContext(serverName: string | undefined): SigningContext;

  /** Encodes a handshake message under the current write protection and adds it to the transcript. */
  sendHandshake(type: number, body: Buffer): void;
  /** A post-handshake message (KeyUpdate, NewSessionTicket): sent like the others, but not part of the transcript. */
  sendPostHandshake(type: number, body: Buffer): void;
  /** The middlebox-compatibility change_cipher_spec (RFC 8446 §D.4), sent at most once. */
  sendChangeCipherSpec(): void;
  /** Writes everything queued to the socket now. */
  flush(): void;

  /** Protects what is sent from now on with this secret. */
  installWriteKey(secret: TrafficSecret): void;
  /**
   * Expects what is received from now on under this secret. Fails with unexpected_message if a
   * handshake message is still partly buffered: messages must not span a key change (§5.1).
   */
  installReadKey(secret: TrafficSecret): void;
  /** RFC 8449: the peer's limit on TLSInnerPlaintext for the records we protect. */
  setPeerRecordSizeLimit(limit: number): void;
  /**
   * RFC 8446 §4.2.10: the client may have sent 0-RTT data that we do not accept. 'unprotected':
   * after a HelloRetryRequest, skip application_data records while waiting for the second
   * ClientHello; 'undecryptable': after a ServerHello, skip records that do not decrypt under the
   * handshake key. Both up to a byte limit; the first record that decrypts ends the skipping.
   */
  skipEarlyData(mode: 'unprotected' | 'undecryptable'): void;
  /** Takes one of the server-wide pending-signature slots; throws TlsError when none is free. Returns its release. */
  reserveSignature(): () => void;

  negotiated(parameters: NegotiatedParameters): void;
  /** The client's Finished verified: application data may flow. */
  handshakeComplete(): void;
}
