// The signing contract inside the edge: the TLS stack asks a Signer for the one private-key
// operation of a handshake and never learns where the key lives (Go's crypto.Signer, made async).
import type { SignatureScheme } from '../common/signature-scheme.js';

export type SigningInput =
  | { readonly kind: 'tls13-server-certificate-verify'; readonly transcriptHash: Buffer }
  | { readonly kind: 'tls12-server-key-exchange'; readonly clientRandom: Buffer; readonly serverRandom: Buffer; readonly params: Buffer };

/** What the audit log on the key server records about the handshake this signature is for. */
export interface SigningContext {
  readonly sni: string;
  readonly clientIp: string;
  readonly requestId: string;
}

export interface Signer {
  /** Hex SHA-256 of the certificate's SubjectPublicKeyInfo. */
  readonly keyId: string;
  /** The SignatureSchemes the key can produce (from the key server's ListKeys). */
  readonly schemes: readonly SignatureScheme[];
  sign(scheme: SignatureScheme, input: SigningInput, context: SigningContext, signal: AbortSignal): Promise<Buffer>;
}

/** Stable codes for signing failures seen by the TLS layer (all become internal_error alerts). */
export type SignerErrorCode =
  | 'SIGNER_UNAVAILABLE'
  | 'SIGNER_DEADLINE'
  | 'SIGNER_REFUSED'
  | 'SIGNER_ABORTED'
  | 'SIGNER_BAD_SIGNATURE';

export class SignerError extends Error {
  constructor(
    readonly code: SignerErrorCode,
    message: string,
    /** The key server's error name when it answered (NOT_ALLOWED, RATE_LIMITED, ...). */
    readonly remoteCode?: string,
  ) {
    super(message);
    this.name = 'SignerError';
  }
}
