// The TLS 1.3 cipher suites (RFC 8446 §B.4) as the parameters the key schedule and the record
// layer need: the HKDF hash, the AEAD and its key/IV/tag sizes, and the per-key record limits.
import { CipherSuite } from '../enums.js';

export type HashAlgorithm = 'sha256' | 'sha384';
export type AeadAlgorithm = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface CipherSuiteParams {
  readonly id: CipherSuite;
  readonly name: keyof typeof CipherSuite;
  /** node:crypto name of the transcript/HKDF hash. */
  readonly hash: HashAlgorithm;
  readonly hashLen: 32 | 48;
  /** node:crypto cipher name of the record AEAD. */
  readonly aead: AeadAlgorithm;
  readonly keyLen: 16 | 32;
  /** RFC 8446 §5.3: every TLS 1.3 AEAD here takes a 96-bit nonce. */
  readonly ivLen: 12;
  readonly tagLen: 16;
  /**
   * Records one key may protect before the connection should send a KeyUpdate. Kept well
   * below `maxRecordsPerKey` so the update has time to happen.
   */
  readonly keyUpdateAdvisedAfter: number;
  /** Records one key may protect at all; the encrypter refuses to go past it (RFC 8446 §5.5). */
  readonly maxRecordsPerKey: number;
}

/**
 * RFC 8446 §5.5: "up to 2^24.5 full-size records (about 24 million) may be encrypted" under one
 * AES-GCM key. We advise a KeyUpdate at 2^24 and refuse to encrypt past 2^24.5.
 */
const AES_GCM_LIMIT = Math.floor(2 ** 24.5);
const AES_GCM_ADVISORY = 2 ** 24;
/**
 * ChaCha20-Poly1305 has no practical confidentiality limit (§5.5 names none); what stops us is
 * the 64-bit sequence number, which we keep in a JS number and so stop at 2^53 - 1, long before
 * it could wrap.
 */
const SEQUENCE_LIMIT = Number.MAX_SAFE_INTEGER;
const CHACHA_ADVISORY = 2 ** 48;

const SUITES: readonly CipherSuiteParams[] = [
  {
    id: CipherSuite.TLS_AES_128_GCM_SHA256,
    name: 'TLS_AES_128_GCM_SHA256',
    hash: 'sha256',
    hashLen: 32,
    aead: 'aes-128-gcm',
    keyLen: 16,
    ivLen: 12,
    tagLen: 16,
    keyUpdateAdvisedAfter: AES_GCM_ADVISORY,
    maxRecordsPerKey: AES_GCM_LIMIT,
  },
  {
    id: CipherSuite.TLS_AES_256_GCM_SHA384,
    name: 'TLS_AES_256_GCM_SHA384',
    hash: 'sha384',
    hashLen: 48,
    aead: 'aes-256-gcm',
    keyLen: 32,
    ivLen: 12,
    tagLen: 16,
    keyUpdateAdvisedAfter: AES_GCM_ADVISORY,
    maxRecordsPerKey: AES_GCM_LIMIT,
  },
  {
    id: CipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    hash: 'sha256',
    hashLen: 32,
    aead: 'chacha20-poly1305',
    keyLen: 32,
    ivLen: 12,
    tagLen: 16,
    keyUpdateAdvisedAfter: CHACHA_ADVISORY,
    maxRecordsPerKey: SEQUENCE_LIMIT,
  },
];

const BY_ID = new Map<number, CipherSuiteParams>(SUITES.map((suite) => [suite.id, suite]));

/** All suites we implement, in our order of preference. */
export const SUPPORTED_CIPHER_SUITES: readonly CipherSuiteParams[] = SUITES;

/** The parameters of a suite from its code point, or undefined when we do not implement it. */
export function cipherSuiteParams(id: number): CipherSuiteParams | undefined {
  return BY_ID.get(id);
}
