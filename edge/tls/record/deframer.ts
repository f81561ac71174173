// Bytes from the socket in, whole records out (RFC 8446 §5.1, §5.2). Only the outer header is
// read here; protection is the decrypter's job.
//
// Fragments are views into the pushed chunks whenever a record lies inside one chunk (the common
// case for reads of 64 KiB); a record split across chunks is copied once. Callers must therefore
// not modify a chunk after pushing it.
import { AlertDescription, ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from '../enums.js';
import { TlsError } from '../errors.js';
import { checkContentNotEmpty, isKnownContentType, RECORD_HEADER_LENGTH, unknownContentType, type TlsRecord } from './record.js';

/**
 * The first bytes look like an SSL 2.0 ClientHello (its 2-byte header has the high bit set). We
 * never speak SSL 2.0 (RFC 8446 §D.5); the caller may answer protocol_version or just close.
 */
export class SslV2ClientHelloError extends TlsError {
  constructor() {
    super('peer-incompatible', AlertDescription.protocol_version, 'SSL 2.0 ClientHello', 'TLS_ERR_SSLV2_CLIENT_HELLO');
    this.name = 'SslV2ClientHelloError';
  }
}

export class RecordDeframer {
  #chunks: Buffer[] = [];
  /** Read offset into #chunks[0]. */
  #offset = 0;
  #buffered = 0;
  #recordsRead = 0;
  #failure: TlsError | null = null;

  /** Bytes received but not yet returned as records. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next complete record, or null when more bytes are needed. Throws TlsError on a header
   * no TLS 1.3 peer sends; once it has thrown it throws the same error forever.
   */
  next(): TlsRecord | null {
    if (this.#failure) throw this.#failure;
    try {
      return this.#next();
    } catch (err) {
      if (err instanceof TlsError) this.#failure = err;
      throw err;
    }
  }

  #next(): TlsRecord | null {
    if (this.#buffered === 0) return null;
    const type = this.#peek(0);
    if (this.#recordsRead === 0 && type & 0x80) throw new SslV2ClientHelloError();
    if (!isKnownContentType(type)) throw unknownContentType(type);
    if (this.#buffered < RECORD_HEADER_LENGTH) return null;

    const legacyVersion = (this.#peek(1) << 8) | this.#peek(2);
    // §5.1: legacy_record_version is 0x0303, or 0x0301 in an initial ClientHello, and is
    // otherwise ignored. A major version other than 3 is not TLS at all.
    if (legacyVersion >> 8 !== 0x03) {
      throw new TlsError(
        'peer-incompatible',
        AlertDescription.protocol_version,
        `record version 0x${legacyVersion.toString(16).padStart(4, '0')} is not TLS`,
        'TLS_ERR_RECORD_VERSION',
      );
    }
    const length = (this.#peek(3) << 8) | this.#peek(4);
    // §5.2: only application_data carries ciphertext (2^14 + 256); every other type is plaintext (2^14).
    const limit = type === ContentType.application_data ? MAX_CIPHERTEXT : MAX_PLAINTEXT;
    if (length > limit) {
      throw new TlsError(
        'invalid-message',
        AlertDescription.record_overflow,
        `record of ${length} bytes exceeds ${limit}`,
        'TLS_ERR_RECORD_OVERFLOW',
      );
    }
    checkContentNotEmpty(type, length);
    if (this.#buffered < RECORD_HEADER_LENGTH + length) return null;

    this.#skip(RECORD_HEADER_LENGTH);
    const fragment = this.#take(length);
    this.#recordsRead++;
    return { type, legacyVersion, fragment };
  }

  #peek(index: number): number {
    let position = this.#offset + index;
    for (const chunk of this.#chunks) {
      if (position < chunk.length) return chunk[position]!;
      position -= chunk.length;
    }
    throw new RangeError('peek past the buffered bytes');
  }

  #skip(count: number): void {
    this.#take(count);
  }

  /** Removes `count` buffered bytes: a view when they lie in one chunk, else one copy. */
  #take(count: number): Buffer {
    this.#buffered -= count;
    const head = this.#chunks[0];
    if (head === undefined) return Buffer.alloc(0);
    const available = head.length - this.#offset;
    if (count < available) {
      const view = head.subarray(this.#offset, this.#offset + count);
      this.#offset += count;
      return view;
    }
    if (count === available) {
      const view = head.subarray(this.#offset);
      this.#chunks.shift();
      this.#offset = 0;
      return view;
    }
    const out = Buffer.allocUnsafe(count);
    let written = 0;
    while (written < count) {
      const chunk = this.#chunks[0]!;
      const n = Math.min(chunk.length - this.#offset, count - written);
      chunk.copy(out, written, this.#offset, this.#offset + n);
      written += n;
      this.#offset += n;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return out;
  }
}
