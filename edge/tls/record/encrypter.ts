// Record protection, sending side (RFC 8446 §5.2): TLSInnerPlaintext = content || type ||
// zeros, sealed with the AEAD under the per-record nonce, with the record header as AAD.
//
// Hot path. Per record: one createCipheriv and one copy of the content into a reused
// inner-plaintext buffer, so the AEAD runs in a single update (node has no update-into-buffer).
// Two ways out, measured with bench/record-layer.ts (seal-only, AES-128-GCM, 16 KiB records):
// - encryptTo() appends [header, ciphertext, tag] for socket.writev: ~95% of raw createCipheriv.
// - encrypt() returns one contiguous record, which costs a copy of the ciphertext: ~65% of raw.
// Bulk data should go through encryptTo (with cork/uncork or writev); encrypt is for handshake
// messages and tests.
import { createSealer, type AeadSealer } from '../crypto/aead.js';
import { ContentType, MAX_PLAINTEXT } from '../enums.js';
import { internalMisuse } from '../errors.js';
import type { TrafficSecret } from '../key-schedule.js';
import { HalfConnection } from './half-connection.js';
import { LEGACY_RECORD_VERSION, RECORD_HEADER_LENGTH } from './record.js';

/**
 * How many zero bytes of padding to add to a record (RFC 8446 §5.4), given its content type
 * and length. The result is clamped so the inner plaintext stays within 2^14 + 1 bytes.
 */
export type PaddingPolicy = (type: ContentType, contentLength: number) => number;

export interface RecordEncrypterOptions {
  readonly padding?: PaddingPolicy;
}

export class RecordEncrypter extends HalfConnection {
  readonly #padding: PaddingPolicy | undefined;
  /** TLSInnerPlaintext of the record being sealed, reused for every record. */
  readonly #inner = Buffer.alloc(MAX_PLAINTEXT + 1);

  constructor(secret: TrafficSecret, options: RecordEncrypterOptions = {}) {
    super(secret, 'aead');
    this.#padding = options.padding;
  }

  /** Seals one record of at most 2^14 bytes of content and returns it whole (header included). */
  encrypt(type: ContentType, content: Buffer): Buffer {
    const innerLength = this.#fillInner(type, content);
    const { tagLen } = this.suite;
    const record = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + innerLength + tagLen);
    const header = writeHeader(record, innerLength + tagLen);
    const cipher = this.#cipher(header, innerLength);
    const ciphertext = cipher.update(this.#inner.subarray(0, innerLength));
    cipher.final();
    ciphertext.copy(record, RECORD_HEADER_LENGTH);
    cipher.getAuthTag().copy(record, RECORD_HEADER_LENGTH + innerLength);
    return record;
  }

  /**
   * Seals one record and appends it to `out` as three buffers (header, ciphertext, tag) for
   * socket.writev / cork+write: no copy of the ciphertext into a contiguous record.
   */
  encryptTo(type: ContentType, content: Buffer, out: Buffer[]): void {
    const innerLength = this.#fillInner(type, content);
    const header = writeHeader(Buffer.allocUnsafe(RECORD_HEADER_LENGTH), innerLength + this.suite.tagLen);
    const cipher = this.#cipher(header, innerLength);
    const ciphertext = cipher.update(this.#inner.subarray(0, innerLength));
    cipher.final();
    out.push(header, ciphertext, cipher.getAuthTag());
  }

  /** Seals data of any length as records of at most 2^14 bytes each, appended to `out` as encryptTo does. */
  encryptFragmentedTo(type: ContentType, data: Buffer, out: Buffer[]): void {
    if (data.length === 0) {
      this.encryptTo(type, data, out);
      return;
    }
    for (let offset = 0; offset < data.length; offset += MAX_PLAINTEXT) {
      this.encryptTo(type, data.subarray(offset, offset + MAX_PLAINTEXT), out);
    }
  }

  /** Seals data of any length as contiguous records of at most 2^14 bytes of content each. */
  encryptFragmented(type: ContentType, data: Buffer): Buffer[] {
    if (data.length === 0) return [this.encrypt(type, data)];
    const records: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += MAX_PLAINTEXT) {
      records.push(this.encrypt(type, data.subarray(offset, offset + MAX_PLAINTEXT)));
    }
    return records;
  }

  /** Writes content || type || padding into #inner and returns its length. */
  #fillInner(type: ContentType, content: Buffer): number {
    const length = content.length;
    if (length > MAX_PLAINTEXT) throw internalMisuse(`record content of ${length} bytes exceeds 2^14`, 'TLS_ERR_RECORD_TOO_LARGE');
    if (length === 0 && type !== ContentType.application_data) {
      // §5.4: handshake and alert records are never empty, even with padding.
      throw internalMisuse(`empty record of content type ${type}`, 'TLS_ERR_EMPTY_RECORD');
    }
    content.copy(this.#inner, 0);
    this.#inner[length] = type;
    if (!this.#padding) return length + 1;
    let padding = Math.floor(this.#padding(type, length));
    if (!(padding > 0)) return length + 1;
    padding = Math.min(padding, MAX_PLAINTEXT - length);
    this.#inner.fill(0, length + 1, length + 1 + padding);
    return length + 1 + padding;
  }

  #cipher(header: Buffer, plaintextLength: number): AeadSealer {
    const cipher = createSealer(this.suite.aead, this.key, this.nextNonce(), this.suite.tagLen);
    cipher.setAAD(header, { plaintextLength });
    return cipher;
  }
}

/** Writes the TLSCiphertext header (§5.2): opaque_type 23, legacy_record_version 0x0303, length. */
function writeHeader(target: Buffer, length: number): Buffer {
  target[0] = ContentType.application_data;
  target.writeUInt16BE(LEGACY_RECORD_VERSION, 1);
  target.writeUInt16BE(length, 3);
  return target.subarray(0, RECORD_HEADER_LENGTH);
}
