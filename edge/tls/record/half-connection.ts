// One direction of record protection (Go's halfConn): the AEAD key, the static IV and the 64-bit
// sequence number, and the per-record nonce of RFC 8446 §5.3. RecordEncrypter and RecordDecrypter
// build on it.
import type { CipherSuiteParams } from '../crypto/cipher-suites.js';
import { internalMisuse } from '../errors.js';
import type { TrafficSecret } from '../key-schedule.js';

export abstract class HalfConnection {
  #suite: CipherSuiteParams;
  protected key: Buffer;
  /** The static IV as three 32-bit words: the nonce is computed without allocating. */
  #ivWords: [number, number, number] = [0, 0, 0];
  /** Reused for every record: createCipheriv copies the IV it is given. */
  protected readonly nonce = Buffer.alloc(12);
  /** Records protected with the current key. A JS number is exact up to 2^53; see maxRecordsPerKey. */
  #sequence = 0;

  /**
   * @param limit which hard limit applies: the sender must stop at the AEAD's limit (§5.5); the
   *   receiver only asks for a KeyUpdate and stops where the sequence number could not be exact.
   */
  protected constructor(
    secret: TrafficSecret,
    private readonly limit: 'aead' | 'sequence',
  ) {
    this.#suite = secret.suite;
    this.key = this.#install(secret);
  }

  get suite(): CipherSuiteParams {
    return this.#suite;
  }

  /** Sequence number of the next record. */
  get sequenceNumber(): number {
    return this.#sequence;
  }

  /**
   * True once this key has protected enough records that the connection should update it
   * (RFC 8446 §5.5, §4.6.3): send a KeyUpdate and rekey the encrypter, or, for the decrypter,
   * send a KeyUpdate with update_requested.
   */
  get keyUpdateAdvised(): boolean {
    return this.#sequence >= this.#suite.keyUpdateAdvisedAfter;
  }

  /**
   * Switches to a new traffic secret (handshake → application, or KeyUpdate §4.6.3) and resets
   * the sequence number to 0 (§5.3). The old key is zeroed.
   */
  rekey(secret: TrafficSecret): void {
    if (secret.suite.id !== this.#suite.id) throw internalMisuse('rekey to a different cipher suite');
    const key = this.#install(secret);
    this.key.fill(0);
    this.key = key;
    this.#sequence = 0;
  }

  /** RFC 8446 §5.3: nonce = iv XOR (sequence number, left-padded to iv_length). Advances the sequence. */
  protected nextNonce(): Buffer {
    const sequence = this.#sequence;
    const max = this.limit === 'aead' ? this.#suite.maxRecordsPerKey : Number.MAX_SAFE_INTEGER;
    if (sequence >= max) {
      throw internalMisuse(
        `${sequence} records under one ${this.#suite.aead} key: a KeyUpdate was due`,
        'TLS_ERR_RECORD_LIMIT',
      );
    }
    writeRecordNonce(this.nonce, this.#ivWords, sequence);
    this.#sequence = sequence + 1;
    return this.nonce;
  }

  /**
   * Takes back the last nextNonce(): for a record that turned out not to be ours (0-RTT data
   * we skip, RFC 8446 §4.2.10), which must not consume a sequence number.
   */
  protected rewindNonce(): void {
    if (this.#sequence > 0) this.#sequence--;
  }

  #install(secret: TrafficSecret): Buffer {
    const { key, iv } = secret.trafficKeys();
    this.#ivWords = [iv.readUInt32BE(0), iv.readUInt32BE(4), iv.readUInt32BE(8)];
    iv.fill(0);
    return key;
  }
}

/**
 * RFC 8446 §5.3: the 64-bit sequence number in network order, left-padded with zeros to the
 * 12-byte IV, XORed with the IV (given as three big-endian 32-bit words). Written into `nonce`.
 */
export function writeRecordNonce(nonce: Buffer, ivWords: readonly [number, number, number], sequence: number): void {
  const high = Math.floor(sequence / 0x1_0000_0000);
  const low = sequence >>> 0;
  nonce.writeUInt32BE(ivWords[0], 0);
  nonce.writeUInt32BE((ivWords[1] ^ high) >>> 0, 4);
  nonce.writeUInt32BE((ivWords[2] ^ low) >>> 0, 8);
}
