// A scriptable TLS 1.3 client for conformance tests: it can send any bytes, any ClientHello
// (valid or hostile), and walk a handshake step by step while checking what the server sends.
// Real clients (openssl, gnutls, curl, Node, Chromium) prove interoperability; this one proves
// the server's answers to what real clients never send.
//
// It is built on the project's own codecs and key schedule; the interop tests guard against a
// bug shared by both ends.
import net from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { decodeCertificate } from '../../edge/tls/codecs/certificate.js';
import { decodeCertificateVerify } from '../../edge/tls/codecs/certificate-verify.js';
import { encodeClientHello, typicalClientExtensions, type ClientHelloParams } from '../../edge/tls/codecs/client-hello.js';
import { decodeEncryptedExtensions, type EncryptedExtensions } from '../../edge/tls/codecs/encrypted-extensions.js';
import { bindersEncodedLength, type ClientExtensionInit } from '../../edge/tls/codecs/extensions.js';
import { decodeFinished, encodeFinished } from '../../edge/tls/codecs/finished.js';
import { encodeHandshake, HandshakeDeframer, type HandshakeMessage } from '../../edge/tls/codecs/handshake-framing.js';
import { decodeServerHello, type HelloRetryRequest, type ServerHello } from '../../edge/tls/codecs/server-hello.js';
import { cipherSuiteParams, type CipherSuiteParams } from '../../edge/tls/crypto/cipher-suites.js';
import { generateKeyShare, type EphemeralKeyShare, type SupportedGroup } from '../../edge/tls/crypto/key-exchange.js';
import { Transcript } from '../../edge/tls/crypto/transcript.js';
import { ContentType, HandshakeType, NamedGroup } from '../../edge/tls/enums.js';
import { EarlySecret, type ApplicationTrafficSecret, type HandshakeTrafficSecret, type ResumptionMasterSecret } from '../../edge/tls/key-schedule.js';
import { decodeNewSessionTicket } from '../../edge/tls/codecs/new-session-ticket.js';
import { createHash } from 'node:crypto';
import { RecordDecrypter } from '../../edge/tls/record/decrypter.js';
import { RecordDeframer } from '../../edge/tls/record/deframer.js';
import { RecordEncrypter } from '../../edge/tls/record/encrypter.js';
import { encodePlaintextRecords } from '../../edge/tls/record/plaintext.js';
import type { TlsRecord } from '../../edge/tls/record/record.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';
import { tls13ServerCertificateVerifyInput } from '../../keyserver/signing-input.js';
import { X509Certificate as NodeX509 } from 'node:crypto';

export type ClientEvent =
  | { readonly kind: 'handshake'; readonly message: HandshakeMessage }
  | { readonly kind: 'alert'; readonly level: number; readonly description: number; readonly encrypted: boolean }
  | { readonly kind: 'change_cipher_spec' }
  | { readonly kind: 'data'; readonly content: Buffer }
  | { readonly kind: 'closed' };

export interface HandshakeResult {
  readonly serverHello: ServerHello;
  readonly helloRetryRequest: HelloRetryRequest | undefined;
  readonly encryptedExtensions: EncryptedExtensions;
  /** Undefined on a resumed handshake (no Certificate). */
  readonly certificate: X509Certificate | undefined;
  readonly signatureScheme: number | undefined;
  readonly suite: CipherSuiteParams;
  /** The server selected the offered PSK. */
  readonly resumed: boolean;
}

/** A session ticket as the client keeps it: what to offer, and the PSK behind it (RFC 8446 §4.6.1). */
export interface ClientTicket {
  readonly ticket: Buffer;
  readonly psk: Buffer;
  readonly suite: CipherSuiteParams;
  readonly ageAdd: number;
  readonly lifetime: number;
}

export class TestTlsClient {
  readonly socket: net.Socket;
  readonly transcript = new Transcript();
  private readonly records = new RecordDeframer();
  private readonly handshake = new HandshakeDeframer({ maxMessageSize: 1 << 20 });
  private decrypter: RecordDecrypter | null = null;
  private encrypter: RecordEncrypter | null = null;
  private readonly queue: ClientEvent[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  private failure: Error | null = null;
  /** Outer type and length of every record received, in order. */
  readonly seenRecords: { type: number; length: number }[] = [];
  clientApplication: ApplicationTrafficSecret | undefined;
  serverApplication: ApplicationTrafficSecret | undefined;
  /** After a completed handshake: what a NewSessionTicket's PSK is derived from. */
  private resumptionSecret: ResumptionMasterSecret | undefined;
  private handshakeSuite: CipherSuiteParams | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk) => {
      this.records.push(chunk);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TestTlsClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => resolve(new TestTlsClient(socket)));
      socket.once('error', reject);
    });
  }

  // --- sending -----------------------------------------------------------------------------

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** A handshake message in plaintext records (added to the transcript). */
  sendPlaintextHandshake(type: number, body: Buffer): void {
    const message = encodeHandshake(type, body);
    this.transcript.add(message);
    for (const record of encodePlaintextRecords(ContentType.handshake, message)) this.socket.write(record);
  }

  sendClientHello(params: ClientHelloParams): void {
    this.sendPlaintextHandshake(HandshakeType.client_hello, encodeClientHello(params));
  }

  /** A protected record with the current key. */
  sendProtected(type: ContentType, content: Buffer): void {
    if (!this.encrypter) throw new Error('no write key yet');
    this.socket.write(this.encrypter.encrypt(type, content));
  }

  sendAlert(description: number, level = 2): void {
    const payload = Buffer.from([level, description]);
    if (this.encrypter) this.sendProtected(ContentType.alert, payload);
    else this.socket.write(encodePlaintextRecords(ContentType.alert, payload)[0]!);
  }

  // --- receiving ---------------------------------------------------------------------------

  /** The next thing the server did; 'closed' once the socket closed. */
  async next(timeoutMs = 5_000): Promise<ClientEvent> {
    const deadline = Date.now() + timeoutMs;
    // Records are parsed one at a time, when asked for: the handshake installs keys in between.
    while (this.queue.length === 0) {
      if (this.failure) throw this.failure;
      if (this.parseOne()) continue;
      if (this.closed) return { kind: 'closed' };
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** Skips change_cipher_spec records; fails on anything but a handshake message. */
  async nextHandshake(): Promise<HandshakeMessage> {
    for (;;) {
      const event = await this.next();
      if (event.kind === 'change_cipher_spec') continue;
      if (event.kind !== 'handshake') throw new Error(`expected a handshake message, got ${JSON.stringify(event)}`);
      return event.message;
    }
  }

  /** The alert the server sends before closing (skipping handshake messages and CCS), or 'closed' without one. */
  async expectAlert(timeoutMs = 5_000): Promise<number | 'closed'> {
    for (;;) {
      const event = await this.next(timeoutMs);
      if (event.kind === 'alert') return event.description;
      if (event.kind === 'closed') return 'closed';
    }
  }

  /** Parses one record into the queue; false when no complete record is buffered. */
  private parseOne(): boolean {
    let record: TlsRecord | null;
    try {
      record = this.records.next();
    } catch (err) {
      this.failure = err as Error;
      return false;
    }
    if (!record) return false;
    this.seenRecords.push({ type: record.type, length: record.fragment.length });
    try {
      if (record.type === ContentType.change_cipher_spec) {
        this.queue.push({ kind: 'change_cipher_spec' });
        return true;
      }
      let type: number = record.type;
      let content = record.fragment;
      let encrypted = false;
      if (record.type === ContentType.application_data && this.decrypter) {
        const plain = this.decrypter.decrypt(record);
        type = plain.type;
        content = plain.content;
        encrypted = true;
      }
      if (type === ContentType.alert) {
        this.queue.push({ kind: 'alert', level: content[0]!, description: content[1]!, encrypted });
      } else if (type === ContentType.handshake) {
        this.handshake.push(content);
        let message: HandshakeMessage | null;
        while ((message = this.handshake.next())) this.queue.push({ kind: 'handshake', message });
      } else {
        this.queue.push({ kind: 'data', content: Buffer.from(content) });
      }
    } catch (err) {
      this.failure = err as Error;
      return false;
    }
    return true;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  // --- a whole handshake -------------------------------------------------------------------

  /**
   * Sends a ClientHello (typical extensions plus `extra`, one key share per group in
   * `shareGroups`), answers a HelloRetryRequest if one comes, checks the server's flight
   * (signature, Finished) and sends the client Finished.
   */
  async handshakeWith(options: HandshakeOptions = {}): Promise<HandshakeResult> {
    const shareGroups = options.shareGroups ?? [NamedGroup.x25519];
    const shares = new Map<number, EphemeralKeyShare>(shareGroups.map((g) => [g, generateKeyShare(g)]));
    const resume = options.resume;
    const hello = (keyShares: Map<number, EphemeralKeyShare>): ClientHelloParams => ({
      random: this.random,
      legacySessionId: options.legacySessionId ?? Buffer.alloc(0),
      ...(options.cipherSuites ? { cipherSuites: options.cipherSuites } : {}),
      extensions: [
        ...typicalClientExtensions({
          serverName: options.serverName,
          alpn: options.alpn,
          groups: options.groups,
          signatureSchemes: options.signatureSchemes,
          keyShares: [...keyShares.entries()].map(([group, share]) => ({ group, keyExchange: share.publicKey })),
        })
          .filter((e) => !(options.omit ?? []).includes(e.name))
          .map((e) => (e.name === 'psk_key_exchange_modes' && resume?.pskModes ? { ...e, modes: resume.pskModes } : e)),
        ...(options.extra ?? []),
        // §4.2.11: last; the binder is filled in by sendHello over the truncated hello.
        ...(resume
          ? [{ name: 'pre_shared_key', identities: [{ identity: resume.ticket.ticket, obfuscatedTicketAge: resume.ticket.ageAdd }], binders: [Buffer.alloc(resume.ticket.suite.hashLen)] } as const]
          : []),
      ],
    });
    // §4.2.11.2: binder = Finished-style HMAC over Transcript-Hash(what came before, Truncate(ClientHello)).
    const sendHello = (params: ClientHelloParams): void => {
      if (!resume) return this.sendClientHello(params);
      const message = encodeHandshake(HandshakeType.client_hello, encodeClientHello(params));
      const hashLen = resume.ticket.suite.hashLen;
      const truncated = message.subarray(0, message.length - bindersEncodedLength([Buffer.alloc(hashLen)]));
      const hash = this.transcript.algorithm ? this.transcript.hashWith(truncated) : createHash(resume.ticket.suite.hash).update(truncated).digest();
      const binder = EarlySecret.fromPsk(resume.ticket.suite, resume.ticket.psk).pskBinder('resumption', hash);
      if (resume.corruptBinder) binder[0]! ^= 0x01;
      binder.copy(message, message.length - hashLen);
      this.transcript.add(message);
      for (const record of encodePlaintextRecords(ContentType.handshake, message)) this.socket.write(record);
    };
    sendHello(hello(shares));
    let message = await this.nextHandshake();
    let retry: HelloRetryRequest | undefined;
    let decoded = decodeServerHello(message.body);
    if (decoded.kind === 'hello_retry_request') {
      retry = decoded;
      const suite = cipherSuiteParams(retry.cipherSuite)!;
      this.transcript.selectHash(suite.hash);
      this.transcript.replaceClientHelloWithMessageHash();
      this.transcript.add(message.raw);
      const selected = retry.extensions.find((e) => e.name === 'key_share');
      if (!selected || selected.name !== 'key_share') throw new Error('HelloRetryRequest without key_share');
      const group = selected.selectedGroup as SupportedGroup;
      shares.clear();
      shares.set(group, generateKeyShare(group));
      sendHello(hello(shares));
      message = await this.nextHandshake();
      decoded = decodeServerHello(message.body);
      if (decoded.kind !== 'server_hello') throw new Error('a second HelloRetryRequest');
    }
    const serverHello = decoded;
    const suite = cipherSuiteParams(serverHello.cipherSuite)!;
    this.transcript.selectHash(suite.hash);
    this.transcript.add(message.raw);
    const keyShare = serverHello.extensions.find((e) => e.name === 'key_share');
    if (!keyShare || keyShare.name !== 'key_share') throw new Error('ServerHello without key_share');
    const ours = shares.get(keyShare.group)!;
    const resumed = serverHello.extensions.some((e) => e.name === 'pre_shared_key');
    const early = resumed && resume ? EarlySecret.fromPsk(suite, resume.ticket.psk) : EarlySecret.withoutPsk(suite);
    const handshakeSecret = early.intoHandshakeSecret(ours.deriveSharedSecret(keyShare.keyExchange));
    const helloHash = this.transcript.currentHash();
    const serverHandshake: HandshakeTrafficSecret = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
    const clientHandshake: HandshakeTrafficSecret = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
    this.decrypter = new RecordDecrypter(serverHandshake);

    const ee = await this.nextHandshake();
    if (ee.type !== HandshakeType.encrypted_extensions) throw new Error(`expected EncryptedExtensions, got ${ee.type}`);
    this.transcript.add(ee.raw);
    let leaf: X509Certificate | undefined;
    let signatureScheme: number | undefined;
    // §2.2: a resumed handshake has no Certificate or CertificateVerify.
    if (!resumed) {
      const certificateMessage = await this.nextHandshake();
      if (certificateMessage.type !== HandshakeType.certificate) throw new Error(`expected Certificate, got ${certificateMessage.type}`);
      this.transcript.add(certificateMessage.raw);
      leaf = new NodeX509(decodeCertificate(certificateMessage.body).certificateList[0]!.certData);
      const verify = await this.nextHandshake();
      if (verify.type !== HandshakeType.certificate_verify) throw new Error(`expected CertificateVerify, got ${verify.type}`);
      const cv = decodeCertificateVerify(verify.body);
      if (!verifyTlsSignature(leaf.publicKey, cv.algorithm, tls13ServerCertificateVerifyInput(this.transcript.currentHash()), cv.signature)) {
        throw new Error('CertificateVerify does not verify');
      }
      signatureScheme = cv.algorithm;
      this.transcript.add(verify.raw);
    }
    const finished = await this.nextHandshake();
    if (finished.type !== HandshakeType.finished) throw new Error(`expected Finished, got ${finished.type}`);
    serverHandshake.verifyFinished(this.transcript.currentHash(), decodeFinished(finished.body, suite.hashLen));
    this.transcript.add(finished.raw);
    const master = handshakeSecret.intoMasterSecret();
    const serverFinishedHash = this.transcript.currentHash();
    this.clientApplication = master.clientApplicationTrafficSecret(serverFinishedHash);
    this.serverApplication = master.serverApplicationTrafficSecret(serverFinishedHash);
    this.decrypter.rekey(this.serverApplication);

    // §D.4: a compatibility-mode client sends its change_cipher_spec before its first protected record.
    if (options.changeCipherSpec) this.socket.write(Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]));
    this.encrypter = new RecordEncrypter(clientHandshake);
    if (!options.skipClientFinished) {
      const ours = encodeHandshake(HandshakeType.finished, encodeFinished(clientHandshake.finishedVerifyData(this.transcript.currentHash())));
      this.socket.write(this.encrypter.encrypt(ContentType.handshake, options.corruptFinished ? flipLastByte(ours) : ours));
      this.encrypter.rekey(this.clientApplication);
      this.transcript.add(ours);
      this.resumptionSecret = master.resumptionMasterSecret(this.transcript.currentHash());
      this.handshakeSuite = suite;
    }
    return {
      serverHello,
      helloRetryRequest: retry,
      encryptedExtensions: decodeEncryptedExtensions(ee.body),
      certificate: leaf,
      signatureScheme,
      suite,
      resumed,
    };
  }

  /** Reads the server's NewSessionTicket (after a completed handshake) and derives its PSK (§4.6.1). */
  async readTicket(): Promise<ClientTicket> {
    const message = await this.nextHandshake();
    if (message.type !== HandshakeType.new_session_ticket) throw new Error(`expected NewSessionTicket, got ${message.type}`);
    const nst = decodeNewSessionTicket(message.body);
    if (!this.resumptionSecret || !this.handshakeSuite) throw new Error('no completed handshake');
    return { ticket: nst.ticket, psk: this.resumptionSecret.ticketPsk(nst.ticketNonce), suite: this.handshakeSuite, ageAdd: nst.ticketAgeAdd, lifetime: nst.ticketLifetime };
  }

  /** Readies the client's application key after a KeyUpdate it sent. */
  rekeyWrite(secret: ApplicationTrafficSecret): void {
    this.encrypter!.rekey(secret);
  }

  rekeyRead(secret: ApplicationTrafficSecret): void {
    this.decrypter!.rekey(secret);
  }

  readonly random = Buffer.alloc(32, 0x42);

  close(): void {
    this.socket.destroy();
  }
}

export interface HandshakeOptions {
  readonly serverName?: string;
  readonly alpn?: readonly string[];
  readonly groups?: readonly number[];
  readonly shareGroups?: readonly SupportedGroup[];
  readonly signatureSchemes?: readonly number[];
  readonly cipherSuites?: readonly number[];
  readonly legacySessionId?: Buffer;
  /** Extensions appended after the typical ones. */
  readonly extra?: readonly ClientExtensionInit[];
  /** Typical extensions to leave out, by name. */
  readonly omit?: readonly string[];
  readonly skipClientFinished?: boolean;
  /** Send a change_cipher_spec before the client Finished (middlebox compatibility). */
  readonly changeCipherSpec?: boolean;
  readonly corruptFinished?: boolean;
  /** Offer this ticket (pre_shared_key, the last extension) with a binder computed from its PSK. */
  readonly resume?: { readonly ticket: ClientTicket; readonly corruptBinder?: boolean; readonly pskModes?: readonly number[] };
}

function flipLastByte(message: Buffer): Buffer {
  const copy = Buffer.from(message);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}
