// Typed TLS errors and the one place that turns an error into an alert.
// As in rustls, errors fall into a few kinds; each carries the alert RFC 8446 §6.2 prescribes.
import { AlertDescription, alertName } from './enums.js';

export type TlsErrorKind =
  /** The peer sent something that does not parse (decode_error, record_overflow...). */
  | 'invalid-message'
  /** The peer broke the protocol (unexpected_message, illegal_parameter, bad_record_mac...). */
  | 'peer-misbehaved'
  /** The peer is honest but we share nothing (protocol_version, handshake_failure...). */
  | 'peer-incompatible'
  /** Our side failed: the key server, a timeout, a limit (internal_error). */
  | 'local-failure'
  /** The peer sent a fatal alert, or closed. */
  | 'peer-alert'
  /** We gave up waiting for the peer (handshake timeout): the connection is closed without an alert. */
  | 'timeout';

export class TlsError extends Error {
  constructor(
    readonly kind: TlsErrorKind,
    readonly alert: AlertDescription,
    message: string,
    /** Stable machine-readable code for logs and metrics, e.g. TLS_ERR_DECODE. */
    readonly code: string = `TLS_ERR_${alertName(alert).toUpperCase()}`,
  ) {
    super(message);
    this.name = 'TlsError';
  }
}

export const decodeError = (message: string): TlsError =>
  new TlsError('invalid-message', AlertDescription.decode_error, message, 'TLS_ERR_DECODE');

export const illegalParameter = (message: string): TlsError =>
  new TlsError('peer-misbehaved', AlertDescription.illegal_parameter, message, 'TLS_ERR_ILLEGAL_PARAMETER');

export const unexpectedMessage = (message: string): TlsError =>
  new TlsError('peer-misbehaved', AlertDescription.unexpected_message, message, 'TLS_ERR_UNEXPECTED_MESSAGE');

/**
 * The one mapping from any error to the alert we send (RFC 8446 §6.2). Anything that is not a
 * TlsError is our own bug or a local failure: internal_error, never a crash. Returns null when
 * no alert must be sent (the peer already sent a fatal alert).
 */
export function alertFor(err: unknown): AlertDescription | null {
  if (err instanceof TlsError) return err.kind === 'peer-alert' || err.kind === 'timeout' ? null : err.alert;
  return AlertDescription.internal_error;
}

/** The code logged and counted for any error: the TlsError's own, or TLS_ERR_INTERNAL for our bugs. */
export function errorCode(err: unknown): string {
  if (err instanceof TlsError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'TLS_ERR_INTERNAL';
}

export const recordOverflow = (message: string): TlsError =>
  new TlsError('invalid-message', AlertDescription.record_overflow, message, 'TLS_ERR_RECORD_OVERFLOW');

export const badRecordMac = (message: string): TlsError =>
  new TlsError('peer-misbehaved', AlertDescription.bad_record_mac, message, 'TLS_ERR_BAD_RECORD_MAC');

export const decryptError = (message: string, code = 'TLS_ERR_DECRYPT'): TlsError =>
  new TlsError('peer-misbehaved', AlertDescription.decrypt_error, message, code);

/** Our own code broke a rule (a key used twice, a record too large to send): internal_error. */
export const internalMisuse = (message: string, code = 'TLS_ERR_INTERNAL_MISUSE'): TlsError =>
  new TlsError('local-failure', AlertDescription.internal_error, message, code);

export const handshakeFailure = (message: string, code = 'TLS_ERR_HANDSHAKE_FAILURE'): TlsError =>
  new TlsError('peer-incompatible', AlertDescription.handshake_failure, message, code);

export const protocolVersion = (message: string): TlsError =>
  new TlsError('peer-incompatible', AlertDescription.protocol_version, message, 'TLS_ERR_PROTOCOL_VERSION');

export const missingExtension = (message: string): TlsError =>
  new TlsError('peer-misbehaved', AlertDescription.missing_extension, message, 'TLS_ERR_MISSING_EXTENSION');

export const noApplicationProtocol = (message: string): TlsError =>
  new TlsError('peer-incompatible', AlertDescription.no_application_protocol, message, 'TLS_ERR_NO_APPLICATION_PROTOCOL');

export const unrecognizedName = (message: string): TlsError =>
  new TlsError('peer-incompatible', AlertDescription.unrecognized_name, message, 'TLS_ERR_UNRECOGNIZED_NAME');

/** A local failure (the key server, a limit) reported to the peer as internal_error. */
export const localFailure = (message: string, code: string): TlsError =>
  new TlsError('local-failure', AlertDescription.internal_error, message, code);

export const timedOut = (message: string, code: string): TlsError => new TlsError('timeout', AlertDescription.close_notify, message, code);
