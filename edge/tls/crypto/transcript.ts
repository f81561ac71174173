// The running transcript hash over handshake messages (RFC 8446 §4.4.1). The hash function is
// the chosen cipher suite's, which is known only once the ClientHello has been read, so
// messages added before `selectHash` are buffered and hashed then.
import { createHash, type Hash } from 'node:crypto';
import { HandshakeType } from '../enums.js';
import { internalMisuse } from '../errors.js';
import type { HashAlgorithm } from './cipher-suites.js';

export class Transcript {
  #hash: Hash | null = null;
  #algorithm: HashAlgorithm | null = null;
  #pending: Buffer[] = [];
  #messageCount = 0;

  /** The hash in use, or null while it has not been chosen. */
  get algorithm(): HashAlgorithm | null {
    return this.#algorithm;
  }

  /** Adds one complete handshake message (with its 4-byte header) as sent or received. */
  add(message: Buffer): void {
    this.#messageCount++;
    if (this.#hash) this.#hash.update(message);
    // Copy: the buffer may be a view into a socket chunk or a reassembly buffer reused later.
    else this.#pending.push(Buffer.from(message));
  }

  /** Fixes the hash function (once the cipher suite is chosen) and hashes what was buffered. */
  selectHash(algorithm: HashAlgorithm): void {
    if (this.#algorithm !== null) {
      if (this.#algorithm === algorithm) return;
      throw internalMisuse(`transcript hash already ${this.#algorithm}, cannot switch to ${algorithm}`);
    }
    this.#algorithm = algorithm;
    this.#hash = createHash(algorithm);
    for (const message of this.#pending) this.#hash.update(message);
    this.#pending = [];
  }

  /** Transcript-Hash of every message added so far. The transcript goes on accumulating. */
  currentHash(): Buffer {
    return this.#requireHash().copy().digest();
  }

  /**
   * Transcript-Hash of the messages so far followed by `partial`, without adding it: RFC 8446
   * §4.2.11.2 computes PSK binders over a ClientHello truncated before its binders.
   */
  hashWith(partial: Buffer): Buffer {
    return this.#requireHash().copy().update(partial).digest();
  }

  /**
   * RFC 8446 §4.4.1: when the server answers ClientHello1 with a HelloRetryRequest, ClientHello1
   * is replaced in the transcript by the synthetic message
   * message_hash (0xfe) || 00 00 Hash.length || Hash(ClientHello1).
   * Call it after ClientHello1 is added and before the HelloRetryRequest is.
   */
  replaceClientHelloWithMessageHash(): void {
    if (this.#messageCount !== 1) {
      throw internalMisuse(`message_hash replaces ClientHello1 only; the transcript holds ${this.#messageCount} messages`);
    }
    const algorithm = this.#algorithm;
    if (algorithm === null) throw internalMisuse('the transcript hash is not chosen yet');
    const clientHelloHash = this.#requireHash().digest();
    const synthetic = Buffer.concat([Uint8Array.of(HandshakeType.message_hash, 0, 0, clientHelloHash.length), clientHelloHash]);
    this.#hash = createHash(algorithm).update(synthetic);
  }

  #requireHash(): Hash {
    if (!this.#hash) throw internalMisuse('the transcript hash is not chosen yet (no cipher suite)');
    return this.#hash;
  }
}
