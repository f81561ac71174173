// Records sent before any key is in place (RFC 8446 §5.1): the ServerHello or HelloRetryRequest,
// the middlebox-compatibility change_cipher_spec, and alerts sent before the handshake keys.
import { ContentType, MAX_PLAINTEXT } from '../enums.js';
import { internalMisuse } from '../errors.js';
import { LEGACY_RECORD_VERSION, RECORD_HEADER_LENGTH } from './record.js';

/** Frames data as unprotected records of at most 2^14 bytes each. Handshake messages may span records. */
export function encodePlaintextRecords(type: ContentType, data: Buffer): Buffer[] {
  if (data.length === 0) throw internalMisuse(`empty plaintext record of content type ${type}`, 'TLS_ERR_EMPTY_RECORD');
  const records: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += MAX_PLAINTEXT) {
    const fragment = data.subarray(offset, offset + MAX_PLAINTEXT);
    const record = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + fragment.length);
    record[0] = type;
    record.writeUInt16BE(LEGACY_RECORD_VERSION, 1);
    record.writeUInt16BE(fragment.length, 3);
    fragment.copy(record, RECORD_HEADER_LENGTH);
    records.push(record);
  }
  return records;
}

/** The single change_cipher_spec record a middlebox-compatible server sends (RFC 8446 §D.4). */
export const CHANGE_CIPHER_SPEC_RECORD: Buffer = Buffer.from([ContentType.change_cipher_spec, 0x03, 0x03, 0x00, 0x01, 0x01]);
