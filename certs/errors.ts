// Errors of the dev PKI generator. Each has a stable code the CLI prints before the message.
export type CertsErrorCode =
  /** A commonName, DNS name, IP address or URI that cannot go into a certificate. */
  | 'CERTS_BAD_NAME'
  /** A key algorithm or usage this generator does not know (from untyped callers). */
  | 'CERTS_BAD_OPTIONS'
  /** notAfter not after notBefore. */
  | 'CERTS_BAD_VALIDITY'
  /** An issuer whose key this generator cannot sign with, or whose certificate and key do not match. */
  | 'CERTS_BAD_ISSUER'
  /** A PKI directory that has ca.crt but is missing other files: regenerate with --force. */
  | 'CERTS_INCOMPLETE_PKI';

export class CertsError extends Error {
  constructor(
    readonly code: CertsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CertsError';
  }
}
