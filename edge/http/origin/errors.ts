// Failures of the origin client. Each has a stable code (for logs, metrics and alerts), the HTTP
// status the edge answers with (RFC 9110 §15.6.3 502 Bad Gateway: the origin's answer, or the
// connection to it, was invalid; §15.6.5 504 Gateway Timeout: no timely answer), and a short public
// reason that is safe to show a visitor. The detailed reason (which certificate check failed, the
// errno) is the error's message: it goes to the log, never into a response body, because it tells
// an attacker how the origin connection is set up.

export type OriginErrorCode =
  /** No origin is configured for the request's host. */
  | 'ORIGIN_ERR_NO_ROUTE'
  /** TCP connect failed: refused, unreachable, DNS name not found. */
  | 'ORIGIN_ERR_CONNECT'
  /** The TCP connection and TLS handshake did not complete within timeouts.connectMs. */
  | 'ORIGIN_ERR_CONNECT_TIMEOUT'
  /** The TLS handshake failed for a reason other than the certificate checks below. */
  | 'ORIGIN_ERR_TLS'
  /** The origin certificate does not chain to the configured CA bundle (unknown CA, self-signed). */
  | 'ORIGIN_ERR_CERT_UNTRUSTED'
  /** The origin certificate is expired or not yet valid. */
  | 'ORIGIN_ERR_CERT_EXPIRED'
  /** The origin certificate is not for the origin hostname (or the configured serverName). */
  | 'ORIGIN_ERR_CERT_HOSTNAME'
  /** Mode pinned: the origin's SPKI SHA-256 matches none of the configured pins. */
  | 'ORIGIN_ERR_PIN_MISMATCH'
  /** The origin refused the edge's client certificate, or its absence (authenticated origin pulls). */
  | 'ORIGIN_ERR_CLIENT_CERT_REJECTED'
  /** The origin closed or reset the connection before the response was complete. */
  | 'ORIGIN_ERR_RESET'
  /** No response headers within timeouts.headersMs. */
  | 'ORIGIN_ERR_HEADERS_TIMEOUT'
  /** The response body stalled for longer than timeouts.bodyMs. */
  | 'ORIGIN_ERR_BODY_TIMEOUT'
  /** The response headers exceed maxResponseHeaderBytes. */
  | 'ORIGIN_ERR_HEADERS_TOO_LARGE'
  /** The origin's answer is not valid HTTP/1.1 (or its body does not match its Content-Length). */
  | 'ORIGIN_ERR_BAD_RESPONSE'
  /** The request cannot be forwarded as it is (a header the origin client refuses). */
  | 'ORIGIN_ERR_BAD_REQUEST'
  /** The client's request body failed or did not match its Content-Length. */
  | 'ORIGIN_ERR_REQUEST_BODY'
  /** The caller aborted (the client went away); nothing is sent back. */
  | 'ORIGIN_ERR_ABORTED'
  /** The origin client itself failed (closed, or a bug). */
  | 'ORIGIN_ERR_INTERNAL';

interface ErrorKind {
  readonly status: number;
  readonly publicReason: string;
}

// The public reasons are deliberately coarse: every TLS failure reads the same to a visitor.
const TLS_FAILED = 'the edge could not set up a verified connection to the origin';

const KINDS: Readonly<Record<OriginErrorCode, ErrorKind>> = {
  // RFC 9110 §15.5.20: the request went to a server that cannot answer for this authority.
  ORIGIN_ERR_NO_ROUTE: { status: 421, publicReason: 'no origin is configured for this host' },
  ORIGIN_ERR_CONNECT: { status: 502, publicReason: 'the origin is unreachable' },
  ORIGIN_ERR_CONNECT_TIMEOUT: { status: 504, publicReason: 'the origin did not accept a connection in time' },
  ORIGIN_ERR_TLS: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_CERT_UNTRUSTED: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_CERT_EXPIRED: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_CERT_HOSTNAME: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_PIN_MISMATCH: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_CLIENT_CERT_REJECTED: { status: 502, publicReason: TLS_FAILED },
  ORIGIN_ERR_RESET: { status: 502, publicReason: 'the origin closed the connection' },
  ORIGIN_ERR_HEADERS_TIMEOUT: { status: 504, publicReason: 'the origin did not answer in time' },
  ORIGIN_ERR_BODY_TIMEOUT: { status: 504, publicReason: 'the origin stopped sending its answer' },
  ORIGIN_ERR_HEADERS_TOO_LARGE: { status: 502, publicReason: 'the origin sent an invalid answer' },
  ORIGIN_ERR_BAD_RESPONSE: { status: 502, publicReason: 'the origin sent an invalid answer' },
  ORIGIN_ERR_BAD_REQUEST: { status: 400, publicReason: 'the request cannot be forwarded' },
  ORIGIN_ERR_REQUEST_BODY: { status: 400, publicReason: 'the request body could not be read' },
  // Never sent (the client is gone); 499 is how nginx logs the same event.
  ORIGIN_ERR_ABORTED: { status: 499, publicReason: 'the client closed the request' },
  ORIGIN_ERR_INTERNAL: { status: 502, publicReason: 'the edge could not reach the origin' },
};

export class OriginError extends Error {
  /** The status the edge answers with: 502, 504, or 4xx for a request that cannot be forwarded. */
  readonly status: number;
  /** Safe for a response body. */
  readonly publicReason: string;

  constructor(
    readonly code: OriginErrorCode,
    /** For the log only: may name certificate subjects, addresses and errno codes. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OriginError';
    const kind = KINDS[code];
    this.status = kind.status;
    this.publicReason = kind.publicReason;
  }
}

export function isOriginError(err: unknown): err is OriginError {
  return err instanceof OriginError;
}

// Certificate verification results as node reports them (OpenSSL X509_V_ERR_* names).
const VALIDITY_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_REVOKED',
]);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ENETDOWN', 'EHOSTDOWN']);
// ERR_HTTP2_STREAM_ERROR: an h2 origin reset the request's stream (RST_STREAM, RFC 9113 §6.4).
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_HTTP2_STREAM_ERROR']);

/**
 * The OriginError for anything thrown while connecting to or talking with the origin: node's
 * socket and TLS errors, and undici's UND_ERR_* errors. An OriginError passes through unchanged.
 */
export function toOriginError(err: unknown, origin: string): OriginError {
  if (err instanceof OriginError) return err;
  const e: Error & { code?: unknown } = err instanceof Error ? err : new Error(String(err));
  const code = typeof e.code === 'string' ? e.code : '';
  const detail = `origin ${origin}: ${code ? `${code}: ` : ''}${e.message}`;
  const make = (c: OriginErrorCode): OriginError => new OriginError(c, detail, { cause: err });
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return make('ORIGIN_ERR_CERT_HOSTNAME');
  if (VALIDITY_CODES.has(code)) return make('ORIGIN_ERR_CERT_EXPIRED');
  if (UNTRUSTED_CODES.has(code)) return make('ORIGIN_ERR_CERT_UNTRUSTED');
  if (CONNECT_CODES.has(code)) return make('ORIGIN_ERR_CONNECT');
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return make('ORIGIN_ERR_CONNECT_TIMEOUT');
  if (RESET_CODES.has(code)) return make('ORIGIN_ERR_RESET');
  if (code.startsWith('ERR_SSL_')) {
    // An alert from the origin about a certificate is its verdict on ours (RFC 8446 §6.2:
    // certificate_required, bad_certificate, unknown_ca, access_denied, ...).
    if (/_ALERT_(CERTIFICATE_|BAD_CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE)/.test(code)) return make('ORIGIN_ERR_CLIENT_CERT_REJECTED');
    return make('ORIGIN_ERR_TLS');
  }
  if (code.startsWith('ERR_TLS_')) return make('ORIGIN_ERR_TLS');
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return make('ORIGIN_ERR_HEADERS_TIMEOUT');
    case 'UND_ERR_BODY_TIMEOUT':
      return make('ORIGIN_ERR_BODY_TIMEOUT');
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'HPE_HEADER_OVERFLOW':
      return make('ORIGIN_ERR_HEADERS_TOO_LARGE');
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return make('ORIGIN_ERR_BAD_RESPONSE');
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return make('ORIGIN_ERR_REQUEST_BODY');
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
      return make('ORIGIN_ERR_BAD_REQUEST');
    case 'UND_ERR_ABORTED':
    case 'ABORT_ERR':
      return make('ORIGIN_ERR_ABORTED');
    default:
      break;
  }
  if (code.startsWith('HPE_') || e.name === 'HTTPParserError') return make('ORIGIN_ERR_BAD_RESPONSE');
  if (e.name === 'AbortError') return make('ORIGIN_ERR_ABORTED');
  return make('ORIGIN_ERR_INTERNAL');
}
