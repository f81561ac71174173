// Record protection, receiving side (RFC 8446 §5.2, §5.4): open the AEAD with the record header
// as AAD, then strip the zero padding to find the real content type.
//
// Hot path. Per record: one createDecipheriv and the plaintext buffer node allocates; the
// content returned is a view into it. The AAD buffer and the nonce are reused.
import { createOpener } from '../crypto/aead.js';
import { AlertDescription, ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from '../enums.js';
import { badRecordMac, recordOverflow, TlsError } from '../errors.js';
import type { TrafficSecret } from '../key-schedule.js';
import { HalfConnection } from './half-connection.js';
import { checkContentNotEmpty, type PlaintextRecord, type TlsRecord } from './record.js';

export class RecordDecrypter extends HalfConnection {
  readonly #aad = Buffer.alloc(5);

  constructor(secret: TrafficSecret) {
    super(secret, 'sequence');
  }

  /**
   * Opens one protected record. Throws TlsError: bad_record_mac when it does not authenticate,
   * record_overflow when too large, unexpected_message when it is not a protected record, has
   * no content type, or carries a content type TLS 1.3 never protects.
   */
  decrypt(record: TlsRecord): PlaintextRecord {
    return this.#open(record, false)!;
  }

  /**
   * Like decrypt(), but a record that does not authenticate returns null and does not consume
   * a sequence number: how a server skips 0-RTT data it rejected (RFC 8446 §4.2.10).
   */
  tryDecrypt(record: TlsRecord): PlaintextRecord | null {
    return this.#open(record, true);
  }

  #open(record: TlsRecord, trial: boolean): PlaintextRecord | null {
    const { fragment } = record;
    const { tagLen } = this.suite;
    // §5.2: protected records always say application_data outside. The caller deals with the
    // one plaintext record allowed among them (a change_cipher_spec) before calling us.
    if (record.type !== ContentType.application_data) {
      throw new TlsError(
        'peer-misbehaved',
        AlertDescription.unexpected_message,
        `plaintext record of content type ${record.type} where a protected record was expected`,
        'TLS_ERR_UNPROTECTED_RECORD',
      );
    }
    if (fragment.length > MAX_CIPHERTEXT) throw recordOverflow(`protected record of ${fragment.length} bytes exceeds 2^14 + 256`);
    // Shorter than tag + content type: cannot have been produced by the peer's AEAD.
    if (fragment.length < tagLen + 1) {
      if (trial) return null;
      throw badRecordMac(`protected record of ${fragment.length} bytes is too short`);
    }

    const aad = this.#aad;
    aad[0] = record.type;
    aad.writeUInt16BE(record.legacyVersion, 1);
    aad.writeUInt16BE(fragment.length, 3);
    const tagOffset = fragment.length - tagLen;
    const decipher = createOpener(this.suite.aead, this.key, this.nextNonce(), tagLen);
    decipher.setAAD(aad, { plaintextLength: tagOffset });
    decipher.setAuthTag(fragment.subarray(tagOffset));
    const inner = decipher.update(fragment.subarray(0, tagOffset));
    try {
      decipher.final();
    } catch {
      // Nothing of `inner` may be used: it did not authenticate.
      if (trial) {
        this.rewindNonce();
        return null;
      }
      throw badRecordMac('record does not authenticate');
    }

    // §5.2: TLSInnerPlaintext is at most 2^14 bytes of content, plus the type, plus padding
    // up to 2^14 in total.
    if (inner.length > MAX_PLAINTEXT + 1) throw recordOverflow(`inner plaintext of ${inner.length} bytes exceeds 2^14 + 1`);
    // §5.4: the content type is the last non-zero byte; all zeros is unexpected_message.
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) {
      throw new TlsError(
        'peer-misbehaved',
        AlertDescription.unexpected_message,
        'protected record has no content type (all zeros)',
        'TLS_ERR_NO_CONTENT_TYPE',
      );
    }
    const type = inner[end]!;
    if (type !== ContentType.application_data && type !== ContentType.handshake && type !== ContentType.alert) {
      // §5: a protected change_cipher_spec is unexpected_message too.
      throw new TlsError(
        'peer-misbehaved',
        AlertDescription.unexpected_message,
        `protected record of content type ${type}`,
        'TLS_ERR_UNEXPECTED_PROTECTED_TYPE',
      );
    }
    checkContentNotEmpty(type, end);
    return { type, content: inner.subarray(0, end) };
  }
}
