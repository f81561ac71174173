// RFC 8446 §4: every handshake message is msg_type (u8) + length (u24) + body, and messages are
// carried in records that may split or coalesce them (§5.1). The deframer reassembles them and
// hands each one out with its raw encoding, which is what goes into the transcript hash (§4.4.1).
import { AlertDescription } from '../enums.js';
import { TlsError, decodeError } from '../errors.js';
import { Writer, encodeFailure } from '../wire.js';

export interface HandshakeMessage {
  /** msg_type as received; the state machine decides whether it is expected. */
  readonly type: number;
  readonly body: Buffer;
  /** The whole encoded message (header and body), for the transcript. */
  readonly raw: Buffer;
}

const HEADER_LENGTH = 4;
const MAX_BODY_LENGTH = 0xffffff;

/**
 * Default cap on a received handshake body. A ClientHello cannot usefully exceed this (its
 * extensions block is at most 2^16-1 bytes), and this server never asks for a client
 * Certificate, the only other large message a client sends.
 */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE = 1 << 16;

export function encodeHandshake(type: number, body: Uint8Array): Buffer {
  if (body.length > MAX_BODY_LENGTH) throw encodeFailure(`handshake body of ${body.length} bytes does not fit a u24 length`);
  return new Writer().u8(type).u24(body.length).bytes(body).finish();
}

export interface HandshakeDeframerOptions {
  /** Largest body accepted, in bytes; larger messages fail as soon as their header arrives. */
  readonly maxMessageSize?: number;
}

export class HandshakeDeframer {
  private readonly maxMessageSize: number;
  /** Received fragments not yet handed out, oldest first (copies: the caller may reuse its buffers). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Header + body length of the message at the front, once its header has arrived. */
  private frontTotal: number | null = null;

  constructor(options: HandshakeDeframerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_HANDSHAKE_MESSAGE;
  }

  /**
   * Adds one handshake record's payload. RFC 8446 §5.1 forbids zero-length handshake fragments
   * (decode_error here, as for any malformed record body). The header of a message that would
   * exceed the size cap is rejected at once, before its body is buffered.
   *
   * Alert choice for the cap: RFC 8446 has no alert for "larger than I accept"; the message is
   * well formed, so this is reported as the peer misbehaving with decode_error (what rustls and
   * Go send), code TLS_ERR_HANDSHAKE_TOO_LARGE.
   */
  push(fragment: Buffer): void {
    if (fragment.length === 0) throw decodeError('zero-length handshake fragment (RFC 8446 §5.1)');
    this.pending.push(Buffer.from(fragment));
    this.pendingLength += fragment.length;
    this.readFrontHeader();
  }

  /** The next complete message, or null when more bytes are needed. */
  next(): HandshakeMessage | null {
    this.readFrontHeader();
    const total = this.frontTotal;
    if (total === null || this.pendingLength < total) return null;
    // Joined once per message, when it is complete: many tiny fragments stay linear in cost.
    const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingLength);
    const raw = Buffer.from(all.subarray(0, total));
    const rest = all.subarray(total);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingLength = rest.length;
    this.frontTotal = null;
    return { type: raw[0] as number, body: raw.subarray(HEADER_LENGTH), raw };
  }

  /**
   * True while any received byte has not yet been handed out by next(), whether it belongs to
   * an incomplete message or to a complete one still queued. RFC 8446 §5.1: messages must not
   * span a key change, so at a key change the state machine requires this to be false and
   * otherwise fails with unexpected_message.
   */
  hasPartial(): boolean {
    return this.pendingLength > 0;
  }

  /** Bytes buffered and not yet returned by next(). */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  private readFrontHeader(): void {
    if (this.frontTotal !== null || this.pendingLength < HEADER_LENGTH) return;
    const header = Buffer.alloc(HEADER_LENGTH);
    let filled = 0;
    for (const chunk of this.pending) {
      filled += chunk.copy(header, filled, 0, Math.min(chunk.length, HEADER_LENGTH - filled));
      if (filled === HEADER_LENGTH) break;
    }
    const bodyLength = header.readUIntBE(1, 3);
    if (bodyLength > this.maxMessageSize) {
      throw new TlsError(
        'peer-misbehaved',
        AlertDescription.decode_error,
        `handshake message of ${bodyLength} bytes exceeds the limit of ${this.maxMessageSize}`,
        'TLS_ERR_HANDSHAKE_TOO_LARGE',
      );
    }
    this.frontTotal = HEADER_LENGTH + bodyLength;
  }
}
