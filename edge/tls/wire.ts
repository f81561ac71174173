// The byte layer under every TLS codec: a Reader that never reads past a length prefix and a
// Writer that back-patches length prefixes. Vectors follow the presentation language of
// RFC 8446 §3.4: `opaque x<floor..ceiling>` bounds are in bytes, and the prefix is the smallest
// unsigned integer that holds the ceiling (1, 2 or 3 bytes here).
//
// Everything a Reader rejects is a TlsError with decode_error: bad input can never surface as a
// RangeError from Buffer. Everything a Writer rejects is our own misuse (a value that does not fit
// its field), reported as a local-failure TlsError so it maps to internal_error, never a crash.
import { AlertDescription } from './enums.js';
import { TlsError, decodeError } from './errors.js';

/** Largest value a length prefix of 1, 2 or 3 bytes can hold. */
const PREFIX_MAX = { 1: 0xff, 2: 0xffff, 3: 0xffffff } as const;
type PrefixBytes = keyof typeof PREFIX_MAX;

/** An encoder was handed something that cannot be encoded: our bug, not the peer's. */
export const encodeFailure = (message: string): TlsError =>
  new TlsError('local-failure', AlertDescription.internal_error, message, 'TLS_ERR_ENCODE');

export class Reader {
  private pos = 0;

  /**
   * @param buf the bytes to read; the Reader never looks outside them
   * @param what names the structure in error messages, e.g. "ClientHello"
   */
  constructor(
    private readonly buf: Buffer,
    readonly what: string = 'message',
  ) {}

  /** Bytes not yet read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.buf[this.pos++] as number;
  }

  u16(field = 'u16'): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(field = 'u24'): number {
    this.need(3, field);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Exactly n bytes, as a copy (decoded messages outlive the record buffer they came from). */
  bytes(n: number, field = 'bytes'): Buffer {
    this.need(n, field);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** Everything not yet read, as a copy. */
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }

  /** `T field<min..max>` with a 1-byte length: a Reader over exactly the vector's body. */
  vec8(field: string, min = 0, max: number = PREFIX_MAX[1]): Reader {
    return this.vec(1, field, min, max);
  }

  /** `T field<min..max>` with a 2-byte length. */
  vec16(field: string, min = 0, max: number = PREFIX_MAX[2]): Reader {
    return this.vec(2, field, min, max);
  }

  /** `T field<min..max>` with a 3-byte length. */
  vec24(field: string, min = 0, max: number = PREFIX_MAX[3]): Reader {
    return this.vec(3, field, min, max);
  }

  /** `opaque field<min..max>` with a 1-byte length, as a Buffer. */
  opaque8(field: string, min = 0, max: number = PREFIX_MAX[1]): Buffer {
    return this.vec(1, field, min, max).rest();
  }

  opaque16(field: string, min = 0, max: number = PREFIX_MAX[2]): Buffer {
    return this.vec(2, field, min, max).rest();
  }

  opaque24(field: string, min = 0, max: number = PREFIX_MAX[3]): Buffer {
    return this.vec(3, field, min, max).rest();
  }

  /** Reads the rest as a list of uint8 (e.g. legacy_compression_methods). */
  u8List(): number[] {
    return [...this.rest()];
  }

  /** Reads the rest as a list of uint16 (cipher suites, groups, schemes, versions). */
  u16List(): number[] {
    if (this.remaining % 2 !== 0) throw decodeError(`${this.what}: length ${this.remaining} is not a multiple of 2`);
    const out: number[] = [];
    while (this.remaining > 0) out.push(this.u16());
    return out;
  }

  /** RFC 8446 §4: a structure must be consumed exactly; trailing bytes are a decode_error. */
  expectEnd(): void {
    if (this.remaining !== 0) throw decodeError(`${this.what}: ${this.remaining} trailing byte(s)`);
  }

  private vec(prefix: PrefixBytes, field: string, min: number, max: number): Reader {
    const len = prefix === 1 ? this.u8(`${field} length`) : prefix === 2 ? this.u16(`${field} length`) : this.u24(`${field} length`);
    if (len < min || len > max) throw decodeError(`${this.what}.${field}: length ${len} outside <${min}..${max}>`);
    this.need(len, field);
    const sub = new Reader(this.buf.subarray(this.pos, this.pos + len), `${this.what}.${field}`);
    this.pos += len;
    return sub;
  }

  private need(n: number, field: string): void {
    if (!Number.isInteger(n) || n < 0) throw encodeFailure(`${this.what}.${field}: cannot read ${n} bytes`);
    if (n > this.remaining) throw decodeError(`${this.what}.${field}: needs ${n} byte(s), ${this.remaining} left`);
  }
}

export class Writer {
  private buf = Buffer.alloc(256);
  private len = 0;

  u8(v: number): this {
    this.checkInt(v, 0xff, 'u8');
    this.reserve(1)[0] = v;
    return this;
  }

  u16(v: number): this {
    this.checkInt(v, 0xffff, 'u16');
    this.reserve(2);
    this.buf.writeUInt16BE(v, this.len - 2);
    return this;
  }

  u24(v: number): this {
    this.checkInt(v, 0xffffff, 'u24');
    this.reserve(3);
    this.buf.writeUIntBE(v, this.len - 3, 3);
    return this;
  }

  u32(v: number): this {
    this.checkInt(v, 0xffffffff, 'u32');
    this.reserve(4);
    this.buf.writeUInt32BE(v, this.len - 4);
    return this;
  }

  bytes(b: Uint8Array): this {
    this.reserve(b.length).set(b);
    return this;
  }

  /**
   * A vector with a 1-byte length: `body` writes the contents, the length is patched in after.
   * Only the prefix's capacity is enforced unless `min`/`max` are given, so a test can still
   * build a message the RFC forbids (an empty cipher_suites list, say).
   */
  vec8(body: (w: this) => void, min?: number, max?: number): this {
    return this.vec(1, body, min, max);
  }

  vec16(body: (w: this) => void, min?: number, max?: number): this {
    return this.vec(2, body, min, max);
  }

  vec24(body: (w: this) => void, min?: number, max?: number): this {
    return this.vec(3, body, min, max);
  }

  opaque8(data: Uint8Array, min?: number, max?: number): this {
    return this.vec(1, (w) => w.bytes(data), min, max);
  }

  opaque16(data: Uint8Array, min?: number, max?: number): this {
    return this.vec(2, (w) => w.bytes(data), min, max);
  }

  opaque24(data: Uint8Array, min?: number, max?: number): this {
    return this.vec(3, (w) => w.bytes(data), min, max);
  }

  /** The bytes written so far, as a Buffer of their own. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  private vec(prefix: PrefixBytes, body: (w: this) => void, min = 0, max: number = PREFIX_MAX[prefix]): this {
    const at = this.len;
    this.reserve(prefix);
    body(this);
    const len = this.len - at - prefix;
    if (len > PREFIX_MAX[prefix]) throw encodeFailure(`vector of ${len} bytes does not fit a ${prefix}-byte length`);
    if (len < min || len > max) throw encodeFailure(`vector of ${len} bytes outside <${min}..${max}>`);
    this.buf.writeUIntBE(len, at, prefix);
    return this;
  }

  /** Grows the buffer as needed and returns the n bytes just reserved. */
  private reserve(n: number): Buffer {
    if (this.len + n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.len += n;
    return this.buf.subarray(this.len - n, this.len);
  }

  private checkInt(v: number, max: number, field: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw encodeFailure(`${field}: ${v} is not an integer in 0..${max}`);
  }
}
