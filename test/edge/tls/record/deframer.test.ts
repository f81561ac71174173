import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContentType, MAX_CIPHERTEXT, MAX_PLAINTEXT } from '../../../../edge/tls/enums.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { RecordDeframer, SslV2ClientHelloError } from '../../../../edge/tls/record/deframer.js';
import type { TlsRecord } from '../../../../edge/tls/record/record.js';
import { rfc8448 as v } from '../vectors/rfc8448.js';

function wire(type: number, version: number, fragment: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeUInt16BE(version, 1);
  header.writeUInt16BE(fragment.length, 3);
  return Buffer.concat([header, fragment]);
}

function drain(deframer: RecordDeframer): TlsRecord[] {
  const records: TlsRecord[] = [];
  for (let record = deframer.next(); record; record = deframer.next()) records.push(record);
  return records;
}

function failure(bytes: Buffer, first?: Buffer): unknown {
  const deframer = new RecordDeframer();
  if (first) {
    deframer.push(first);
    drain(deframer);
  }
  deframer.push(bytes);
  try {
    drain(deframer);
  } catch (err) {
    return err;
  }
  throw new Error('expected the deframer to throw');
}

const recordArbitrary = fc.record({
  type: fc.constantFrom(ContentType.handshake, ContentType.alert, ContentType.change_cipher_spec, ContentType.application_data),
  version: fc.constantFrom(0x0301, 0x0303, 0x0302, 0x0300),
  fragment: fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: MAX_PLAINTEXT }) },
  ),
});

describe('RecordDeframer', () => {
  it('reads the RFC 8448 ClientHello record, legacy version 0x0301', () => {
    const deframer = new RecordDeframer();
    deframer.push(v.clientHelloRecord);
    expect(deframer.next()).toEqual({ type: ContentType.handshake, legacyVersion: 0x0301, fragment: v.clientHello });
    expect(deframer.next()).toBeNull();
    expect(deframer.bufferedBytes).toBe(0);
  });

  it('records split at arbitrary byte boundaries reassemble identically', () => {
    fc.assert(
      fc.property(fc.array(recordArbitrary, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (records, cutSeeds) => {
        const stream = Buffer.concat(records.map((r) => wire(r.type, r.version, Buffer.from(r.fragment))));
        const cuts = [...new Set(cutSeeds.map((seed) => seed % (stream.length + 1)))].sort((a, b) => a - b);
        const deframer = new RecordDeframer();
        const out: TlsRecord[] = [];
        let previous = 0;
        for (const cut of [...cuts, stream.length]) {
          deframer.push(stream.subarray(previous, cut));
          out.push(...drain(deframer));
          previous = cut;
        }
        expect(out.map((r) => ({ type: r.type, version: r.legacyVersion, fragment: Buffer.from(r.fragment) }))).toEqual(
          records.map((r) => ({ type: r.type, version: r.version, fragment: Buffer.from(r.fragment) })),
        );
        expect(deframer.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('byte-at-a-time delivery yields nothing until a record is complete', () => {
    const stream = Buffer.concat([v.clientHelloRecord, v.serverHelloRecord]);
    const deframer = new RecordDeframer();
    const completedAt: number[] = [];
    for (let i = 0; i < stream.length; i++) {
      deframer.push(stream.subarray(i, i + 1));
      if (deframer.next()) completedAt.push(i + 1);
    }
    expect(completedAt).toEqual([v.clientHelloRecord.length, stream.length]);
  });

  it('hands out views of the pushed chunk, not copies, when a record lies in one chunk', () => {
    // A chunk with an ArrayBuffer of its own (not Buffer's shared pool), so identity means no copy.
    const chunk = Buffer.from(new ArrayBuffer(2 * v.serverHelloRecord.length));
    v.serverHelloRecord.copy(chunk, 0);
    v.serverHelloRecord.copy(chunk, v.serverHelloRecord.length);
    const deframer = new RecordDeframer();
    deframer.push(chunk);
    const [first, second] = drain(deframer);
    expect(first!.fragment.buffer).toBe(chunk.buffer);
    expect(second!.fragment.buffer).toBe(chunk.buffer);
    expect(second!.fragment.byteOffset).toBe(v.serverHelloRecord.length + 5);
  });

  it('takes every size up to the limits and refuses one byte more with record_overflow, from the header alone', () => {
    const ok = new RecordDeframer();
    ok.push(wire(ContentType.handshake, 0x0303, Buffer.alloc(MAX_PLAINTEXT, 1)));
    ok.push(wire(ContentType.application_data, 0x0303, Buffer.alloc(MAX_CIPHERTEXT, 1)));
    expect(drain(ok).map((r) => r.fragment.length)).toEqual([MAX_PLAINTEXT, MAX_CIPHERTEXT]);

    for (const [type, length] of [
      [ContentType.handshake, MAX_PLAINTEXT + 1],
      [ContentType.alert, MAX_PLAINTEXT + 1],
      [ContentType.change_cipher_spec, MAX_PLAINTEXT + 1],
      [ContentType.application_data, MAX_CIPHERTEXT + 1],
      [ContentType.application_data, 0xffff],
    ] as const) {
      const header = Buffer.from([type, 0x03, 0x03, length >> 8, length & 0xff]);
      expect(failure(header)).toMatchObject({ alert: 22, code: 'TLS_ERR_RECORD_OVERFLOW' });
    }
  });

  it('rejects unknown content types with unexpected_message', () => {
    for (const type of [0x00, 0x13, 0x18, 0x47 /* "G" of an HTTP request */, 0x7f]) {
      expect(failure(Buffer.from([type, 0x03, 0x03, 0x00, 0x01, 0x00]))).toMatchObject({ alert: 10, code: 'TLS_ERR_UNKNOWN_CONTENT_TYPE' });
    }
    expect(failure(Buffer.from('GET / HTTP/1.1\r\n'))).toMatchObject({ alert: 10 });
  });

  it('accepts any 0x03XX record version and refuses others with protocol_version', () => {
    for (const version of [0x0300, 0x0301, 0x0303, 0x0304, 0x03ff]) {
      const deframer = new RecordDeframer();
      deframer.push(wire(ContentType.handshake, version, Buffer.from([1])));
      expect(deframer.next()?.legacyVersion).toBe(version);
    }
    for (const version of [0x0002, 0x0203, 0x0403, 0xfeff]) {
      expect(failure(wire(ContentType.handshake, version, Buffer.from([1])))).toMatchObject({ alert: 70, code: 'TLS_ERR_RECORD_VERSION' });
    }
  });

  it('recognises an SSL 2.0 ClientHello from its first byte, on the first record only', () => {
    // An SSLv2-framed ClientHello: 2-byte length with the high bit set, msg_type 1, version 3.1.
    const sslv2 = Buffer.from('802b0103010012000000100000040000050000', 'hex');
    const deframer = new RecordDeframer();
    deframer.push(sslv2.subarray(0, 1));
    let err: unknown;
    try {
      deframer.next();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SslV2ClientHelloError);
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ alert: 70, kind: 'peer-incompatible', code: 'TLS_ERR_SSLV2_CLIENT_HELLO' });
    // After a TLS record, a high first byte is just an unknown content type.
    expect(failure(sslv2, v.clientHelloRecord)).toMatchObject({ code: 'TLS_ERR_UNKNOWN_CONTENT_TYPE' });
  });

  it('refuses empty handshake, alert and change_cipher_spec records; empty application_data passes', () => {
    for (const type of [ContentType.handshake, ContentType.alert, ContentType.change_cipher_spec]) {
      expect(failure(wire(type, 0x0303, Buffer.alloc(0)))).toMatchObject({ alert: 10, code: 'TLS_ERR_EMPTY_RECORD' });
    }
    const deframer = new RecordDeframer();
    deframer.push(wire(ContentType.application_data, 0x0303, Buffer.alloc(0)));
    expect(deframer.next()).toEqual({ type: ContentType.application_data, legacyVersion: 0x0303, fragment: Buffer.alloc(0) });
  });

  it('stays failed after an error', () => {
    const deframer = new RecordDeframer();
    deframer.push(Buffer.from([0x99, 0x03, 0x03, 0x00, 0x01, 0x00]));
    const first = (() => {
      try {
        deframer.next();
      } catch (err) {
        return err;
      }
    })();
    deframer.push(v.serverHelloRecord);
    expect(() => deframer.next()).toThrow(first as Error);
  });
});
