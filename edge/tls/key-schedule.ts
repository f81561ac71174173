// The TLS 1.3 key schedule (RFC 8446 §7.1) as a chain of stage types, so that code cannot, for
// example, protect application data with a handshake secret or compute a Finished from an
// application secret:
//
//   EarlySecret ──(ECDHE)──▶ HandshakeSecret ──▶ MasterSecret
//        │                      │                   ├─▶ client/server ApplicationTrafficSecret ─next()─▶ ...
//        └─▶ PSK binder         └─▶ client/server   ├─▶ ExporterMasterSecret
//                                   HandshakeTrafficSecret   └─▶ ResumptionMasterSecret
//
// Secrets live in #private fields (invisible to JSON.stringify, util.inspect and loggers). Moving
// to the next stage wipes the previous one; using a wiped stage is a TlsError internal_error.
// `dangerousExtractSecret()` exists for key logging (SSLKEYLOGFILE) and test vectors only.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { decryptError, internalMisuse } from './errors.js';
import type { CipherSuiteParams } from './crypto/cipher-suites.js';
import { deriveSecret, hkdfExpandLabel, hkdfExtract } from './crypto/hkdf.js';

/** The AEAD key and static IV of one direction (RFC 8446 §7.3). */
export interface TrafficKeys {
  readonly key: Buffer;
  readonly iv: Buffer;
}

/** A secret of one stage: held privately, wiped when the schedule moves on. */
abstract class Secret {
  #secret: Buffer | null;

  protected constructor(
    readonly suite: CipherSuiteParams,
    secret: Buffer,
  ) {
    this.#secret = secret;
  }

  /** A copy of the raw secret, for NSS key log lines and test vectors. Never log it otherwise. */
  dangerousExtractSecret(): Buffer {
    return Buffer.from(this.secret());
  }

  protected secret(): Buffer {
    if (!this.#secret) throw internalMisuse(`${this.constructor.name} used after the key schedule moved on`, 'TLS_ERR_KEY_SCHEDULE_MISUSE');
    return this.#secret;
  }

  /** Zeroes the secret; this stage is unusable afterwards. */
  protected wipe(): void {
    this.#secret?.fill(0);
    this.#secret = null;
  }

  protected derive(label: string, transcriptHash: Buffer): Buffer {
    checkHashLength(this.suite, transcriptHash);
    return deriveSecret(this.suite.hash, this.secret(), label, transcriptHash);
  }

  /** Derive-Secret(., "derived", "") || the next Extract (RFC 8446 §7.1). */
  protected extractNext(ikm: Buffer): Buffer {
    const salt = deriveSecret(this.suite.hash, this.secret(), 'derived', emptyHash(this.suite));
    return hkdfExtract(this.suite.hash, salt, ikm);
  }
}

export class EarlySecret extends Secret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** Early Secret = HKDF-Extract(0, 0): the full handshake, no PSK. */
  static withoutPsk(suite: CipherSuiteParams): EarlySecret {
    return EarlySecret.fromPsk(suite, Buffer.alloc(suite.hashLen));
  }

  /** Early Secret = HKDF-Extract(0, PSK). */
  static fromPsk(suite: CipherSuiteParams, psk: Buffer): EarlySecret {
    return new EarlySecret(suite, hkdfExtract(suite.hash, Buffer.alloc(suite.hashLen), psk));
  }

  /**
   * The PSK binder (RFC 8446 §4.2.11.2): computed like a Finished, with binder_key =
   * Derive-Secret(Early Secret, "ext binder" | "res binder", "") as the base key, over the
   * transcript hash of the ClientHello truncated before the binders.
   */
  pskBinder(kind: 'external' | 'resumption', truncatedHelloHash: Buffer): Buffer {
    const binderKey = this.derive(kind === 'external' ? 'ext binder' : 'res binder', emptyHash(this.suite));
    return finishedVerifyData(this.suite, binderKey, truncatedHelloHash);
  }

  /** Checks a binder the client sent; a wrong one is decrypt_error (RFC 8446 §4.2.11). */
  verifyPskBinder(kind: 'external' | 'resumption', truncatedHelloHash: Buffer, binder: Buffer): void {
    if (!constantTimeEqual(this.pskBinder(kind, truncatedHelloHash), binder)) {
      throw decryptError('PSK binder does not verify', 'TLS_ERR_BAD_PSK_BINDER');
    }
  }

  /** Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE). Wipes this stage. */
  intoHandshakeSecret(sharedSecret: Buffer): HandshakeSecret {
    const next = HandshakeSecret.create(this.suite, this.extractNext(sharedSecret));
    this.wipe();
    return next;
  }
}

export class HandshakeSecret extends Secret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only EarlySecret creates this stage. */
  static create(suite: CipherSuiteParams, secret: Buffer): HandshakeSecret {
    return new HandshakeSecret(suite, secret);
  }

  /** client_handshake_traffic_secret, from Transcript-Hash(ClientHello..ServerHello). */
  clientHandshakeTrafficSecret(helloHash: Buffer): HandshakeTrafficSecret {
    return HandshakeTrafficSecret.create(this.suite, this.derive('c hs traffic', helloHash));
  }

  /** server_handshake_traffic_secret, from Transcript-Hash(ClientHello..ServerHello). */
  serverHandshakeTrafficSecret(helloHash: Buffer): HandshakeTrafficSecret {
    return HandshakeTrafficSecret.create(this.suite, this.derive('s hs traffic', helloHash));
  }

  /** Master Secret = HKDF-Extract(Derive-Secret(hs, "derived", ""), 0). Wipes this stage. */
  intoMasterSecret(): MasterSecret {
    const next = MasterSecret.create(this.suite, this.extractNext(Buffer.alloc(this.suite.hashLen)));
    this.wipe();
    return next;
  }
}

export class MasterSecret extends Secret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only HandshakeSecret creates this stage. */
  static create(suite: CipherSuiteParams, secret: Buffer): MasterSecret {
    return new MasterSecret(suite, secret);
  }

  /** client_application_traffic_secret_0, from Transcript-Hash(ClientHello..server Finished). */
  clientApplicationTrafficSecret(serverFinishedHash: Buffer): ApplicationTrafficSecret {
    return ApplicationTrafficSecret.create(this.suite, this.derive('c ap traffic', serverFinishedHash));
  }

  /** server_application_traffic_secret_0, from Transcript-Hash(ClientHello..server Finished). */
  serverApplicationTrafficSecret(serverFinishedHash: Buffer): ApplicationTrafficSecret {
    return ApplicationTrafficSecret.create(this.suite, this.derive('s ap traffic', serverFinishedHash));
  }

  /** exporter_master_secret, from Transcript-Hash(ClientHello..server Finished). */
  exporterMasterSecret(serverFinishedHash: Buffer): ExporterMasterSecret {
    return ExporterMasterSecret.create(this.suite, this.derive('exp master', serverFinishedHash));
  }

  /** resumption_master_secret, from Transcript-Hash(ClientHello..client Finished). */
  resumptionMasterSecret(clientFinishedHash: Buffer): ResumptionMasterSecret {
    return ResumptionMasterSecret.create(this.suite, this.derive('res master', clientFinishedHash));
  }

  /** Call once every secret has been derived from it. */
  discard(): void {
    this.wipe();
  }
}

/** A traffic secret: what the record layer is keyed with. */
export abstract class TrafficSecret extends Secret {
  /** RFC 8446 §7.3: key = HKDF-Expand-Label(secret, "key", "", key_length), iv likewise. */
  trafficKeys(): TrafficKeys {
    return deriveTrafficKeys(this.suite, this.secret());
  }
}

export class HandshakeTrafficSecret extends TrafficSecret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only HandshakeSecret creates this. */
  static create(suite: CipherSuiteParams, secret: Buffer): HandshakeTrafficSecret {
    return new HandshakeTrafficSecret(suite, secret);
  }

  /**
   * RFC 8446 §4.4.4: verify_data = HMAC(finished_key, Transcript-Hash(...)), with
   * finished_key = HKDF-Expand-Label(this secret, "finished", "", Hash.length).
   */
  finishedVerifyData(transcriptHash: Buffer): Buffer {
    return finishedVerifyData(this.suite, this.secret(), transcriptHash);
  }

  /** Checks the peer's Finished in constant time; a mismatch is decrypt_error (§4.4.4). */
  verifyFinished(transcriptHash: Buffer, verifyData: Buffer): void {
    if (!constantTimeEqual(this.finishedVerifyData(transcriptHash), verifyData)) {
      throw decryptError('Finished verify_data does not match the transcript', 'TLS_ERR_BAD_FINISHED');
    }
  }
}

export class ApplicationTrafficSecret extends TrafficSecret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only MasterSecret and next() create this. */
  static create(suite: CipherSuiteParams, secret: Buffer): ApplicationTrafficSecret {
    return new ApplicationTrafficSecret(suite, secret);
  }

  /**
   * RFC 8446 §7.2 (KeyUpdate): application_traffic_secret_N+1 =
   * HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length).
   * Wipes this generation: keys must not be derived from it again.
   */
  next(): ApplicationTrafficSecret {
    const following = hkdfExpandLabel(this.suite.hash, this.secret(), 'traffic upd', EMPTY, this.suite.hashLen);
    this.wipe();
    return new ApplicationTrafficSecret(this.suite, following);
  }
}

export class ExporterMasterSecret extends Secret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only MasterSecret creates this. */
  static create(suite: CipherSuiteParams, secret: Buffer): ExporterMasterSecret {
    return new ExporterMasterSecret(suite, secret);
  }

  /**
   * RFC 8446 §7.5: TLS-Exporter(label, context_value, key_length) =
   * HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context_value), key_length).
   * No context and an empty context are the same in TLS 1.3.
   */
  export(label: string, context: Buffer | undefined, length: number): Buffer {
    const { hash } = this.suite;
    const perLabel = deriveSecret(hash, this.secret(), label, emptyHash(this.suite));
    const contextHash = digest(this.suite, context ?? EMPTY);
    return hkdfExpandLabel(hash, perLabel, 'exporter', contextHash, length);
  }
}

export class ResumptionMasterSecret extends Secret {
  private constructor(suite: CipherSuiteParams, secret: Buffer) {
    super(suite, secret);
  }

  /** @internal Only MasterSecret creates this. */
  static create(suite: CipherSuiteParams, secret: Buffer): ResumptionMasterSecret {
    return new ResumptionMasterSecret(suite, secret);
  }

  /** RFC 8446 §4.6.1: the PSK of a ticket = HKDF-Expand-Label(rms, "resumption", ticket_nonce, Hash.length). */
  ticketPsk(ticketNonce: Buffer): Buffer {
    return hkdfExpandLabel(this.suite.hash, this.secret(), 'resumption', ticketNonce, this.suite.hashLen);
  }

  /** Call once every ticket has been issued. */
  discard(): void {
    this.wipe();
  }
}

/** RFC 8446 §7.3 traffic key and IV from a traffic secret. */
export function deriveTrafficKeys(suite: CipherSuiteParams, secret: Buffer): TrafficKeys {
  return {
    key: hkdfExpandLabel(suite.hash, secret, 'key', EMPTY, suite.keyLen),
    iv: hkdfExpandLabel(suite.hash, secret, 'iv', EMPTY, suite.ivLen),
  };
}

const EMPTY = Buffer.alloc(0);

function finishedVerifyData(suite: CipherSuiteParams, baseKey: Buffer, transcriptHash: Buffer): Buffer {
  checkHashLength(suite, transcriptHash);
  const finishedKey = hkdfExpandLabel(suite.hash, baseKey, 'finished', EMPTY, suite.hashLen);
  return createHmac(suite.hash, finishedKey).update(transcriptHash).digest();
}

function constantTimeEqual(expected: Buffer, received: Buffer): boolean {
  // timingSafeEqual throws on a length mismatch; the length of verify_data is public anyway.
  return expected.length === received.length && timingSafeEqual(expected, received);
}

function checkHashLength(suite: CipherSuiteParams, transcriptHash: Buffer): void {
  if (transcriptHash.length !== suite.hashLen) {
    throw internalMisuse(`transcript hash of ${transcriptHash.length} bytes for ${suite.name}`, 'TLS_ERR_KEY_SCHEDULE_MISUSE');
  }
}

const EMPTY_HASHES = new Map<string, Buffer>();
/** Transcript-Hash("") for the suite's hash, used by every "derived" step. */
function emptyHash(suite: CipherSuiteParams): Buffer {
  let hash = EMPTY_HASHES.get(suite.hash);
  if (!hash) {
    hash = digest(suite, EMPTY);
    EMPTY_HASHES.set(suite.hash, hash);
  }
  return hash;
}

function digest(suite: CipherSuiteParams, data: Buffer): Buffer {
  return createHash(suite.hash).update(data).digest();
}
