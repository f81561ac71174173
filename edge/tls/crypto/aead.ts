// The AEADs of the TLS 1.3 cipher suites as node:crypto cipher objects. A cipher object is
// single-use (one nonce), so the record layer makes one per record.
import {
  createCipheriv,
  createDecipheriv,
  type CipherChaCha20Poly1305,
  type CipherGCM,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import type { AeadAlgorithm } from './cipher-suites.js';

export type AeadSealer = CipherGCM | CipherChaCha20Poly1305;
export type AeadOpener = DecipherGCM | DecipherChaCha20Poly1305;

export function createSealer(aead: AeadAlgorithm, key: Buffer, nonce: Buffer, tagLength: number): AeadSealer {
  return aead === 'chacha20-poly1305'
    ? createCipheriv(aead, key, nonce, { authTagLength: tagLength })
    : createCipheriv(aead, key, nonce, { authTagLength: tagLength });
}

export function createOpener(aead: AeadAlgorithm, key: Buffer, nonce: Buffer, tagLength: number): AeadOpener {
  return aead === 'chacha20-poly1305'
    ? createDecipheriv(aead, key, nonce, { authTagLength: tagLength })
    : createDecipheriv(aead, key, nonce, { authTagLength: tagLength });
}
