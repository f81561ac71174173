// Ephemeral (EC)DHE for the key_share extension (RFC 8446 §4.2.8): x25519, secp256r1, secp384r1.
// Public keys travel in TLS form: x25519 as 32 raw bytes (RFC 7748), the NIST curves as the
// uncompressed point 0x04 || X || Y (§4.2.8.2). Everything the peer sends is validated, and a
// bad share is illegal_parameter.
//
// Each group uses whichever node:crypto API measured fastest for a whole handshake (generate,
// export ours, import theirs, derive; bench/key-exchange.ts, Node 20, this 2-core machine):
// - x25519: 32 random bytes imported as a JWK private key, public key = X25519(k, 9):
//   ~125 µs, against ~240 µs with generateKeyPairSync and SPKI export/import.
//   (createECDH does not support x25519.)
// - secp256r1: crypto.createECDH: ~132 µs, against ~400 µs with KeyObjects.
// - secp384r1: KeyObjects (generateKeyPairSync with SPKI output, diffieHellman): ~2300 µs,
//   against ~2730 µs with createECDH, whose computeSecret is the slow part.
// Never export a generated KeyObject as JWK: on Node 20.20 that deadlocks under GC
// (KeyObjectHandle::ExportJWK holds the key's mutex while allocating; a collected KeyGenJob's
// destructor takes the same mutex). Nothing here does.
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { AlertDescription, NamedGroup } from '../enums.js';
import { internalMisuse, TlsError } from '../errors.js';

export type SupportedGroup = typeof NamedGroup.x25519 | typeof NamedGroup.secp256r1 | typeof NamedGroup.secp384r1;

/** Our groups in order of preference (x25519 is the fastest and the one clients send first). */
export const SUPPORTED_GROUPS: readonly SupportedGroup[] = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];

export function isSupportedGroup(group: number): group is SupportedGroup {
  return group === NamedGroup.x25519 || group === NamedGroup.secp256r1 || group === NamedGroup.secp384r1;
}

/** Length of a group's public key in TLS form. */
export function keyShareLength(group: SupportedGroup): number {
  return PUBLIC_KEY_LENGTH[group];
}

const PUBLIC_KEY_LENGTH: Record<SupportedGroup, number> = {
  [NamedGroup.x25519]: 32,
  [NamedGroup.secp256r1]: 65,
  [NamedGroup.secp384r1]: 97,
};


/** One side's ephemeral key pair. The shared secret can be derived once. */
export interface EphemeralKeyShare {
  readonly group: SupportedGroup;
  /** Our public key in TLS form, for the ServerHello key_share. */
  readonly publicKey: Buffer;
  /** The (EC)DHE shared secret with the peer's TLS-form public key; throws TlsError illegal_parameter. */
  deriveSharedSecret(peerPublicKey: Buffer): Buffer;
}

/** A fresh ephemeral key pair for the group. */
export function generateKeyShare(group: SupportedGroup): EphemeralKeyShare {
  switch (group) {
    case NamedGroup.x25519:
      return new X25519Share(randomBytes(32));
    case NamedGroup.secp256r1:
      return new P256Share(null);
    case NamedGroup.secp384r1:
      return new P384Share(null);
  }
}

/**
 * A key pair from a known private key (32 bytes for x25519, the scalar for the NIST curves).
 * For test vectors (RFC 8448) only: a real handshake uses generateKeyShare.
 */
export function keyShareFromPrivateKey(group: SupportedGroup, privateKey: Buffer): EphemeralKeyShare {
  switch (group) {
    case NamedGroup.x25519:
      return new X25519Share(privateKey);
    case NamedGroup.secp256r1:
      return new P256Share(privateKey);
    case NamedGroup.secp384r1:
      return new P384Share(privateKey);
  }
}

abstract class SingleUseShare implements EphemeralKeyShare {
  #used = false;
  abstract readonly group: SupportedGroup;
  abstract readonly publicKey: Buffer;

  deriveSharedSecret(peerPublicKey: Buffer): Buffer {
    if (this.#used) throw internalMisuse('an ephemeral key share was used twice', 'TLS_ERR_KEY_SHARE_REUSED');
    this.#used = true;
    const expected = PUBLIC_KEY_LENGTH[this.group];
    if (peerPublicKey.length !== expected) {
      throw badKeyShare(`key_share for group 0x${this.group.toString(16)} is ${peerPublicKey.length} bytes, expected ${expected}`);
    }
    return this.derive(peerPublicKey);
  }

  protected abstract derive(peerPublicKey: Buffer): Buffer;
}

// X25519 base point u = 9 (RFC 7748 §4.1): X25519(k, 9) is the public key of k.
const X25519_BASE_POINT = x25519PublicKeyObject(Buffer.concat([Uint8Array.of(9), Buffer.alloc(31)]));

class X25519Share extends SingleUseShare {
  readonly group = NamedGroup.x25519;
  readonly publicKey: Buffer;
  readonly #privateKey: KeyObject;

  constructor(privateKey: Buffer) {
    super();
    if (privateKey.length !== 32) throw internalMisuse('an x25519 private key is 32 bytes');
    // Node's JWK import builds the key from `d` alone; `x` must be present but is not used.
    this.#privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: privateKey.toString('base64url'), x: '' },
      format: 'jwk',
    });
    this.publicKey = diffieHellman({ privateKey: this.#privateKey, publicKey: X25519_BASE_POINT });
  }

  protected derive(peerPublicKey: Buffer): Buffer {
    let shared: Buffer;
    try {
      shared = diffieHellman({ privateKey: this.#privateKey, publicKey: x25519PublicKeyObject(peerPublicKey) });
    } catch {
      // OpenSSL refuses to derive from a low-order point (all-zero result).
      throw badKeyShare('x25519 key_share is a low-order point');
    }
    // RFC 8446 §7.4.2: an all-zero x25519 shared secret MUST be rejected. OpenSSL already
    // refuses to produce one; check anyway, in constant time over the 32 bytes.
    let bits = 0;
    for (const byte of shared) bits |= byte;
    if (bits === 0) throw badKeyShare('x25519 shared secret is all zeros');
    return shared;
  }
}

function x25519PublicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

class P256Share extends SingleUseShare {
  readonly group = NamedGroup.secp256r1;
  readonly publicKey: Buffer;
  readonly #ecdh = createECDH('prime256v1');

  constructor(privateKey: Buffer | null) {
    super();
    if (privateKey) this.#ecdh.setPrivateKey(privateKey);
    else this.#ecdh.generateKeys();
    this.publicKey = this.#ecdh.getPublicKey(null, 'uncompressed');
  }

  protected derive(peerPublicKey: Buffer): Buffer {
    checkUncompressed(peerPublicKey);
    try {
      return this.#ecdh.computeSecret(peerPublicKey);
    } catch {
      throw badKeyShare('secp256r1 key_share is not a point on the curve');
    }
  }
}

/** SubjectPublicKeyInfo of a secp384r1 key up to the point (RFC 5480): id-ecPublicKey, secp384r1, BIT STRING. */
const P384_SPKI_PREFIX = Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex');

class P384Share extends SingleUseShare {
  readonly group = NamedGroup.secp384r1;
  readonly publicKey: Buffer;
  readonly #privateKey: KeyObject;

  constructor(privateKey: Buffer | null) {
    super();
    if (privateKey) {
      const ecdh = createECDH('secp384r1');
      ecdh.setPrivateKey(privateKey);
      this.publicKey = ecdh.getPublicKey(null, 'uncompressed');
      const b64 = (bytes: Buffer) => bytes.toString('base64url');
      this.#privateKey = createPrivateKey({
        key: { kty: 'EC', crv: 'P-384', d: b64(privateKey), x: b64(this.publicKey.subarray(1, 49)), y: b64(this.publicKey.subarray(49)) },
        format: 'jwk',
      });
      return;
    }
    // The public key comes out DER-encoded from the generation job itself: no KeyObject export.
    const pair = generateP384WithDerPublicKey();
    const spki = pair.publicKey;
    if (spki.length !== P384_SPKI_PREFIX.length + 97 || !spki.subarray(0, P384_SPKI_PREFIX.length).equals(P384_SPKI_PREFIX)) {
      throw internalMisuse('unexpected SubjectPublicKeyInfo layout from generateKeyPairSync');
    }
    this.publicKey = Buffer.from(spki.subarray(P384_SPKI_PREFIX.length));
    this.#privateKey = pair.privateKey;
  }

  protected derive(peerPublicKey: Buffer): Buffer {
    checkUncompressed(peerPublicKey);
    try {
      const peer = createPublicKey({ key: Buffer.concat([P384_SPKI_PREFIX, peerPublicKey]), format: 'der', type: 'spki' });
      return diffieHellman({ privateKey: this.#privateKey, publicKey: peer });
    } catch {
      throw badKeyShare('secp384r1 key_share is not a point on the curve');
    }
  }
}

/**
 * Node documents that each half of the pair is encoded only if its encoding is given ("otherwise,
 * the respective part of the key is returned as a KeyObject"); @types/node has no overload for
 * that mix, hence the one cast.
 */
function generateP384WithDerPublicKey(): { publicKey: Buffer; privateKey: KeyObject } {
  const generate = generateKeyPairSync as unknown as (
    type: 'ec',
    options: { namedCurve: string; publicKeyEncoding: { type: 'spki'; format: 'der' } },
  ) => { publicKey: Buffer; privateKey: KeyObject };
  return generate('ec', { namedCurve: 'secp384r1', publicKeyEncoding: { type: 'spki', format: 'der' } });
}

/** §4.2.8.2: only the uncompressed form (legacy_form = 4); node itself would accept compressed points. */
function checkUncompressed(peerPublicKey: Buffer): void {
  if (peerPublicKey[0] !== 0x04) throw badKeyShare('EC key_share is not an uncompressed point');
}

function badKeyShare(message: string): TlsError {
  return new TlsError('peer-misbehaved', AlertDescription.illegal_parameter, message, 'TLS_ERR_BAD_KEY_SHARE');
}
