// What the record layer hands around (RFC 8446 §5.1): a record as read off the wire, and the
// rules every record obeys whether or not it is encrypted.
import { AlertDescription, ContentType } from '../enums.js';
import { TlsError } from '../errors.js';

/** A record as it arrived: outer content type, legacy_record_version, fragment (ciphertext if protected). */
export interface TlsRecord {
  readonly type: ContentType;
  readonly legacyVersion: number;
  readonly fragment: Buffer;
}

/** A record after the record layer removed its protection (or a plaintext record taken as is). */
export interface PlaintextRecord {
  readonly type: ContentType;
  readonly content: Buffer;
}

/** type(1) || legacy_record_version(2) || length(2). */
export const RECORD_HEADER_LENGTH = 5;

/** RFC 8446 §5.1: every TLS 1.3 record we send says TLS 1.2 here. */
export const LEGACY_RECORD_VERSION = 0x0303;

export function isKnownContentType(type: number): type is ContentType {
  return (
    type === ContentType.application_data ||
    type === ContentType.handshake ||
    type === ContentType.alert ||
    type === ContentType.change_cipher_spec
  );
}

/**
 * RFC 8446 §5.1 and §5.4: handshake and alert records (and the CCS) never have empty content,
 * even with padding; zero-length application data is allowed. unexpected_message, as §5.4 says.
 */
export function checkContentNotEmpty(type: ContentType, length: number): void {
  if (length === 0 && type !== ContentType.application_data) {
    throw new TlsError(
      'peer-misbehaved',
      AlertDescription.unexpected_message,
      `empty record of content type ${type}`,
      'TLS_ERR_EMPTY_RECORD',
    );
  }
}

export function unknownContentType(type: number): TlsError {
  return new TlsError(
    'peer-misbehaved',
    AlertDescription.unexpected_message,
    `unknown record content type ${type}`,
    'TLS_ERR_UNKNOWN_CONTENT_TYPE',
  );
}
