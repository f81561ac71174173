// The sending side: queued data is protected with the key in force when queued, application data
// is packed into full records, and the peer's record_size_limit is honoured.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cipherSuiteParams } from '../../../../edge/tls/crypto/cipher-suites.js';
import { ContentType, MAX_PLAINTEXT } from '../../../../edge/tls/enums.js';
import { EarlySecret, type ApplicationTrafficSecret } from '../../../../edge/tls/key-schedule.js';
import { RecordDecrypter } from '../../../../edge/tls/record/decrypter.js';
import { RecordDeframer } from '../../../../edge/tls/record/deframer.js';
import { RecordWriter } from '../../../../edge/tls/record/record-writer.js';

function secrets(): { a: () => ApplicationTrafficSecret; b: () => ApplicationTrafficSecret } {
  const suite = cipherSuiteParams(0x1301)!;
  const make = (): ApplicationTrafficSecret =>
    EarlySecret.withoutPsk(suite).intoHandshakeSecret(Buffer.alloc(32, 1)).intoMasterSecret().serverApplicationTrafficSecret(Buffer.alloc(32, 2));
  return { a: make, b: () => make().next() };
}

function open(records: Buffer[], secret: ApplicationTrafficSecret): { type: number; content: Buffer }[] {
  const deframer = new RecordDeframer();
  deframer.push(Buffer.concat(records));
  const decrypter = new RecordDecrypter(secret);
  const out: { type: number; content: Buffer }[] = [];
  for (let r = deframer.next(); r; r = deframer.next()) out.push(decrypter.decrypt(r));
  return out;
}

describe('RecordWriter', () => {
  it('sends plaintext records before a key, then seals under it', () => {
    const writer = new RecordWriter();
    writer.queueHandshake(Buffer.from([2, 0, 0, 1, 0]));
    writer.installKey(secrets().a());
    writer.queueHandshake(Buffer.from([8, 0, 0, 2, 0, 0]));
    const out = writer.take();
    expect(out[0]).toEqual(Buffer.from([0x16, 3, 3, 0, 5, 2, 0, 0, 1, 0]));
    const rest = Buffer.concat(out.slice(1));
    expect(rest[0]).toBe(ContentType.application_data);
    expect(open([rest], secrets().a())).toEqual([{ type: ContentType.handshake, content: Buffer.from([8, 0, 0, 2, 0, 0]) }]);
  });

  it('packs application data into full records whatever the chunking, and preserves every byte', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 64, max: MAX_PLAINTEXT + 1 }), (lengths, limit) => {
        const writer = new RecordWriter();
        writer.installKey(secrets().a());
        writer.setPeerRecordSizeLimit(limit);
        const chunks = lengths.map((n, i) => Buffer.alloc(n, i + 1));
        writer.queueApplicationData(chunks);
        const records = open(writer.take(), secrets().a());
        const total = lengths.reduce((a, b) => a + b, 0);
        expect(Buffer.concat(records.map((r) => r.content)).equals(Buffer.concat(chunks))).toBe(true);
        const max = Math.min(MAX_PLAINTEXT, limit - 1);
        for (const r of records) expect(r.content.length).toBeLessThanOrEqual(max);
        // Every record but the last is full.
        for (const r of records.slice(0, -1)) expect(r.content.length).toBe(max);
        expect(records.length).toBe(Math.ceil(total / max));
      }),
      { numRuns: 40 },
    );
  });

  it('seals what was queued before a key change under the old key', () => {
    const writer = new RecordWriter();
    const { a, b } = secrets();
    writer.installKey(a());
    writer.queueHandshake(Buffer.from([0x18, 0, 0, 1, 0]));
    writer.installKey(b());
    writer.queueApplicationData([Buffer.from('after')]);
    const out = writer.take();
    const deframer = new RecordDeframer();
    deframer.push(Buffer.concat(out));
    const first = deframer.next()!;
    const second = deframer.next()!;
    expect(new RecordDecrypter(a()).decrypt(first).type).toBe(ContentType.handshake);
    expect(new RecordDecrypter(b()).decrypt(second).content.toString()).toBe('after');
  });

  it('sends close_notify as a warning and other alerts as fatal', () => {
    const writer = new RecordWriter();
    writer.queueAlert(0);
    writer.queueAlert(40);
    expect(writer.take()).toEqual([Buffer.from([0x15, 3, 3, 0, 2, 1, 0]), Buffer.from([0x15, 3, 3, 0, 2, 2, 40])]);
  });
});
