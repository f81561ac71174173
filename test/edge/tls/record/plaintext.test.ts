import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ContentType, MAX_PLAINTEXT } from '../../../../edge/tls/enums.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { RecordDeframer } from '../../../../edge/tls/record/deframer.js';
import { CHANGE_CIPHER_SPEC_RECORD, encodePlaintextRecords } from '../../../../edge/tls/record/plaintext.js';

describe('plaintext records', () => {
  it('fragment large handshake data into records of at most 2^14 bytes that deframe back', () => {
    const data = randomBytes(2 * MAX_PLAINTEXT + 1);
    const records = encodePlaintextRecords(ContentType.handshake, data);
    expect(records.map((r) => r.length - 5)).toEqual([MAX_PLAINTEXT, MAX_PLAINTEXT, 1]);
    const deframer = new RecordDeframer();
    for (const record of records) deframer.push(record);
    const fragments: Buffer[] = [];
    for (let record = deframer.next(); record; record = deframer.next()) {
      expect(record).toMatchObject({ type: ContentType.handshake, legacyVersion: 0x0303 });
      fragments.push(record.fragment);
    }
    expect(Buffer.concat(fragments)).toEqual(data);
  });

  it('refuse to frame nothing', () => {
    expect(() => encodePlaintextRecords(ContentType.handshake, Buffer.alloc(0))).toThrow(TlsError);
  });

  it('the compatibility change_cipher_spec is 14 03 03 00 01 01', () => {
    expect(CHANGE_CIPHER_SPEC_RECORD.toString('hex')).toBe('140303000101');
  });
});
