// What the key server needs from wherever keys live (PEM files, an HSM): find a key by id,
// list them, and sign. Key ids are the hex SHA-256 of the DER SubjectPublicKeyInfo, so an
// edge names a key by its certificate alone.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { KeyAlgorithm, SignatureScheme } from '../../common/signature-scheme.js';

/**
 * What the store checks immediately before it uses the key: a request whose deadline has passed
 * or whose caller has gone is never signed, however long it waited for a thread or a session.
 */
export interface SignGuard {
  /** performance.now() value from which the signature must not be made. */
  readonly deadlineAt: number;
  /** Aborted when the caller cancels. */
  readonly signal: AbortSignal;
}

export interface SigningKey {
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  /** Every SignatureScheme this key can produce. */
  readonly schemes: readonly SignatureScheme[];
  readonly publicKey: KeyObject;
  /** Where it came from, for logs: a file path or a PKCS#11 label. Never key material. */
  readonly source: string;
  /**
   * DNS names and IP addresses (subjectAltName) of the key's certificate, lower-case; the policy
   * matches keys by hostname. Absent when the store has no certificate for the key.
   */
  readonly hostnames?: readonly string[];
  /** The key's certificate when the store has one (a `<name>.crt` beside a key file, or a token certificate object). */
  readonly certificate?: X509Certificate;
  /**
   * Signs the complete to-be-signed message with the scheme (the store hashes it as the scheme
   * says). Returns the signature as TLS carries it (DER for ECDSA).
   */
  sign(scheme: SignatureScheme, message: Buffer, guard?: SignGuard): Promise<Buffer>;
  /** The schemes signDigest can produce with this key (a subset of `schemes`; empty where the store cannot sign digests). */
  readonly digestSchemes: readonly SignatureScheme[];
  /**
   * Signs a digest computed by the caller. Rejects with KeyStoreError('KEYSTORE_UNSUPPORTED') for
   * a scheme not in `digestSchemes`, and like sign() when the guard's deadline passed or it aborted.
   */
  signDigest(scheme: SignatureScheme, digest: Buffer, guard?: SignGuard): Promise<Buffer>;
}

export interface KeyStore {
  /** For logs and metrics: "file:/path" or "pkcs11:token-label". */
  readonly name: string;
  get(keyId: string): SigningKey | undefined;
  list(): readonly SigningKey[];
  close(): Promise<void>;
}

export type KeyStoreErrorCode =
  | 'KEYSTORE_INSECURE_PERMISSIONS'
  | 'KEYSTORE_BAD_KEY'
  | 'KEYSTORE_UNSUPPORTED'
  | 'KEYSTORE_SIGN_FAILED'
  /** signDigest was given a digest whose length is not the scheme's hash length. */
  | 'KEYSTORE_BAD_DIGEST'
  | 'KEYSTORE_PKCS11'
  /** The guard's deadline passed before the key was used; nothing was signed. */
  | 'KEYSTORE_DEADLINE'
  /** The guard's signal aborted before the key was used; nothing was signed. */
  | 'KEYSTORE_CANCELLED'
  /** The store's own bound on pending signatures is reached. */
  | 'KEYSTORE_OVERLOADED'
  /** The store was closed. */
  | 'KEYSTORE_CLOSED';

/** Rejects (KEYSTORE_CANCELLED / KEYSTORE_DEADLINE) when the guard says the signature must not be made now. */
export function checkGuard(source: string, guard: SignGuard | undefined): void {
  if (guard === undefined) return;
  if (guard.signal.aborted) throw new KeyStoreError('KEYSTORE_CANCELLED', `${source}: cancelled before signing`);
  if (performance.now() >= guard.deadlineAt) throw new KeyStoreError('KEYSTORE_DEADLINE', `${source}: the deadline passed before signing`);
}

export class KeyStoreError extends Error {
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyStoreError';
  }
}
