// The keys that seal session tickets (RFC 8446 §4.6.1: the ticket is "an opaque label" the
// server can decrypt; RFC 5077 §4 describes the usual construction, which this follows).
//
// Keys rotate: time is cut into epochs of `rotationSeconds`, and the key of each epoch is derived
// from one secret with HKDF-SHA256 (RFC 5869), so that every process holding the same secret (the
// workers of one edge, or many edge replicas given the same key file) seals and opens the same
// tickets without talking to each other. New tickets use the current epoch's key; a ticket is
// opened with the key of the epoch it names, if that epoch is recent enough for the ticket to
// still be alive. A key that has aged out is forgotten, which bounds how long a stolen key is
// useful (and, for the random per-process secret, a restart forgets them all).
//
// What a ticket key protects: not the traffic (a resumed connection runs a fresh ECDHE,
// psk_dhe_ke only), but the right to skip the certificate: whoever holds the secret can turn any
// ticket they saw into a session they can finish. So the secret is kept like the edge's client
// key: a file readable by the edge only, never logged, never in the config itself.
import { hkdfSync, randomBytes } from 'node:crypto';

/** Bytes of a key's name at the start of each ticket (RFC 5077 §4 uses 16; 8 cannot collide by chance in the few epochs alive). */
export const TICKET_KEY_NAME_BYTES = 8;
/** AES-256-GCM. */
export const TICKET_KEY_BYTES = 32;
/** Shortest secret accepted: 256 bits. */
export const MIN_TICKET_SECRET_BYTES = 32;

export interface TicketKey {
  readonly name: Buffer;
  readonly key: Buffer;
}

export interface TicketKeysOptions {
  /** High-entropy secret (random bytes); at least MIN_TICKET_SECRET_BYTES. */
  readonly secret: Buffer;
  readonly rotationSeconds: number;
  /** The longest a ticket sealed with a key may be used: keys are kept this long after they stop sealing. */
  readonly lifetimeSeconds: number;
}

export class TicketKeys {
  readonly #secret: Buffer;
  readonly #rotationMs: number;
  /** Epochs before the current one whose keys still open tickets. */
  readonly #epochsKept: number;
  /** Derived keys by epoch; only live epochs are kept. */
  readonly #byEpoch = new Map<number, TicketKey>();

  constructor(options: TicketKeysOptions) {
    if (options.secret.length < MIN_TICKET_SECRET_BYTES) throw new RangeError(`a session ticket secret needs at least ${MIN_TICKET_SECRET_BYTES} bytes`);
    if (!(options.rotationSeconds > 0) || !(options.lifetimeSeconds > 0)) throw new RangeError('rotationSeconds and lifetimeSeconds must be positive');
    this.#secret = Buffer.from(options.secret);
    this.#rotationMs = options.rotationSeconds * 1000;
    // A ticket sealed at the very end of epoch e lives until end(e) + lifetime.
    this.#epochsKept = Math.ceil(options.lifetimeSeconds / options.rotationSeconds);
  }

  /** Keys from a fresh random secret: tickets survive neither a restart nor another process. */
  static random(options: Omit<TicketKeysOptions, 'secret'>): TicketKeys {
    return new TicketKeys({ ...options, secret: randomBytes(MIN_TICKET_SECRET_BYTES) });
  }

  /** The key new tickets are sealed with now. */
  sealingKey(nowMs: number): TicketKey {
    return this.#keyOf(this.#epochAt(nowMs), nowMs);
  }

  /** The key whose name starts a ticket, if it is still alive at `nowMs`. */
  openingKey(name: Buffer, nowMs: number): TicketKey | undefined {
    const current = this.#epochAt(nowMs);
    for (let epoch = current; epoch >= current - this.#epochsKept; epoch--) {
      const key = this.#keyOf(epoch, nowMs);
      if (key.name.equals(name)) return key;
    }
    return undefined;
  }

  #epochAt(nowMs: number): number {
    return Math.floor(nowMs / this.#rotationMs);
  }

  #keyOf(epoch: number, nowMs: number): TicketKey {
    let key = this.#byEpoch.get(epoch);
    if (!key) {
      key = derive(this.#secret, epoch);
      this.#byEpoch.set(epoch, key);
      this.#forgetBefore(this.#epochAt(nowMs) - this.#epochsKept);
    }
    return key;
  }

  #forgetBefore(oldest: number): void {
    for (const [epoch, key] of this.#byEpoch) {
      if (epoch >= oldest) continue;
      key.key.fill(0);
      this.#byEpoch.delete(epoch);
    }
  }
}

/** HKDF-SHA256(secret, info = label || epoch): the name and the AES key of one epoch. */
function derive(secret: Buffer, epoch: number): TicketKey {
  const info = Buffer.alloc(LABEL.length + 8);
  LABEL.copy(info);
  info.writeBigUInt64BE(BigInt(epoch), LABEL.length);
  const okm = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, TICKET_KEY_NAME_BYTES + TICKET_KEY_BYTES));
  return { name: okm.subarray(0, TICKET_KEY_NAME_BYTES), key: okm.subarray(TICKET_KEY_NAME_BYTES) };
}

const LABEL = Buffer.from('keyless-edge session ticket key v1 ', 'latin1');
