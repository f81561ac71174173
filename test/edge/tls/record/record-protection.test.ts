import { createCipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cipherSuiteParams, SUPPORTED_CIPHER_SUITES, type CipherSuiteParams } from '../../../../edge/tls/crypto/cipher-suites.js';
import { CipherSuite, ContentType, MAX_PLAINTEXT } from '../../../../edge/tls/enums.js';
import { TlsError } from '../../../../edge/tls/errors.js';
import { ApplicationTrafficSecret, EarlySecret, HandshakeSecret, type TrafficSecret } from '../../../../edge/tls/key-schedule.js';
import { RecordDecrypter } from '../../../../edge/tls/record/decrypter.js';
import { RecordEncrypter } from '../../../../edge/tls/record/encrypter.js';
import { writeRecordNonce } from '../../../../edge/tls/record/half-connection.js';
import type { TlsRecord } from '../../../../edge/tls/record/record.js';

const aes128 = cipherSuiteParams(CipherSuite.TLS_AES_128_GCM_SHA256)!;
const suites = SUPPORTED_CIPHER_SUITES.map((suite) => [suite.name, suite] as [string, CipherSuiteParams]);

/** Two copies of one application traffic secret, as the two ends of a connection hold it. */
function secretPair(suite: CipherSuiteParams, raw = randomBytes(suite.hashLen)): [ApplicationTrafficSecret, ApplicationTrafficSecret] {
  return [ApplicationTrafficSecret.create(suite, Buffer.from(raw)), ApplicationTrafficSecret.create(suite, Buffer.from(raw))];
}

function pair(suite: CipherSuiteParams, padding?: (type: ContentType, length: number) => number) {
  const [a, b] = secretPair(suite);
  return { encrypter: new RecordEncrypter(a, padding ? { padding } : {}), decrypter: new RecordDecrypter(b) };
}

/** Parses one whole record as the deframer would hand it over. */
function asRecord(wire: Buffer): TlsRecord {
  expect(wire.readUInt16BE(3)).toBe(wire.length - 5);
  return { type: wire[0] as ContentType, legacyVersion: wire.readUInt16BE(1), fragment: wire.subarray(5) };
}

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a TlsError, nothing was thrown');
}

/**
 * Seals an arbitrary inner plaintext with a secret's key at sequence 0, bypassing the encrypter's
 * rules, to build records a broken or hostile peer could send.
 */
function sealRaw(secret: TrafficSecret, inner: Buffer): TlsRecord {
  const { key, iv } = secret.trafficKeys();
  const length = inner.length + 16;
  const header = Buffer.from([0x17, 0x03, 0x03, length >> 8, length & 0xff]);
  const cipher = createCipheriv(secret.suite.aead as 'aes-128-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(header);
  const body = Buffer.concat([cipher.update(inner), cipher.final(), cipher.getAuthTag()]);
  return { type: ContentType.application_data, legacyVersion: 0x0303, fragment: body };
}

describe('record protection: round trips', () => {
  it.each(suites)('%s: any content type and content up to 2^14 bytes round-trips', (_name, suite) => {
    const { encrypter, decrypter } = pair(suite);
    fc.assert(
      fc.property(
        fc.constantFrom(ContentType.handshake, ContentType.alert, ContentType.application_data),
        fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: MAX_PLAINTEXT }).map((n) => randomBytes(n))),
        (type, bytes) => {
          const content = Buffer.from(bytes);
          const wire = encrypter.encrypt(type, content);
          expect(wire[0]).toBe(ContentType.application_data);
          expect(wire.readUInt16BE(1)).toBe(0x0303);
          expect(wire.length).toBe(5 + content.length + 1 + 16);
          const opened = decrypter.decrypt(asRecord(wire));
          expect(opened.type).toBe(type);
          expect(opened.content).toEqual(content);
        },
      ),
      { numRuns: 60 },
    );
    expect(encrypter.sequenceNumber).toBe(decrypter.sequenceNumber);
  });

  it('zero-length application data is allowed; empty handshake and alert records are not sent', () => {
    const { encrypter, decrypter } = pair(aes128);
    const opened = decrypter.decrypt(asRecord(encrypter.encrypt(ContentType.application_data, Buffer.alloc(0))));
    expect(opened).toEqual({ type: ContentType.application_data, content: Buffer.alloc(0) });
    expect(() => encrypter.encrypt(ContentType.handshake, Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'TLS_ERR_EMPTY_RECORD' }));
    expect(() => encrypter.encrypt(ContentType.alert, Buffer.alloc(0))).toThrow(TlsError);
  });

  it('refuses to seal more than 2^14 bytes in one record; fragments on request', () => {
    const { encrypter, decrypter } = pair(aes128);
    expect(() => encrypter.encrypt(ContentType.application_data, Buffer.alloc(MAX_PLAINTEXT + 1))).toThrow(
      expect.objectContaining({ code: 'TLS_ERR_RECORD_TOO_LARGE', alert: 80 }),
    );
    const data = randomBytes(2 * MAX_PLAINTEXT + 7232);
    const records = encrypter.encryptFragmented(ContentType.application_data, data);
    expect(records.map((record) => record.length - 5 - 17)).toEqual([MAX_PLAINTEXT, MAX_PLAINTEXT, 7232]);
    const contents = records.map((record) => decrypter.decrypt(asRecord(record)).content);
    expect(Buffer.concat(contents)).toEqual(data);
  });

  it('encryptTo produces the same bytes as encrypt, as separate chunks', () => {
    const [a, b] = secretPair(aes128);
    const whole = new RecordEncrypter(a);
    const chunked = new RecordEncrypter(b);
    const data = randomBytes(MAX_PLAINTEXT + 100);
    const out: Buffer[] = [];
    chunked.encryptFragmentedTo(ContentType.application_data, data, out);
    expect(out).toHaveLength(6);
    expect(Buffer.concat(out)).toEqual(Buffer.concat(whole.encryptFragmented(ContentType.application_data, data)));
    // The content buffer is not kept: changing it afterwards changes nothing.
    const content = Buffer.from('handshake bytes');
    const first: Buffer[] = [];
    chunked.encryptTo(ContentType.handshake, content, first);
    const expected = whole.encrypt(ContentType.handshake, Buffer.from('handshake bytes'));
    content.fill(0);
    expect(Buffer.concat(first)).toEqual(expected);
  });

  it('strips padding: the padding policy changes the length on the wire, not the content', () => {
    const padTo = 256;
    const { encrypter, decrypter } = pair(aes128, (_type, length) => padTo - ((length + 1) % padTo));
    for (const length of [1, 100, 255, 256, 1000, MAX_PLAINTEXT - 10, MAX_PLAINTEXT]) {
      const content = randomBytes(length);
      const wire = encrypter.encrypt(ContentType.application_data, content);
      if (length + 1 + 255 <= MAX_PLAINTEXT + 1) expect((wire.length - 5 - 16) % padTo).toBe(0);
      // Never more than 2^14 + 1 bytes of inner plaintext (§5.4), whatever the policy asks.
      expect(wire.length - 5 - 16).toBeLessThanOrEqual(MAX_PLAINTEXT + 1);
      expect(decrypter.decrypt(asRecord(wire))).toEqual({ type: ContentType.application_data, content });
    }
  });

  it('a padding policy that returns garbage pads nothing', () => {
    for (const policy of [() => -5, () => Number.NaN, () => 0.4]) {
      const { encrypter } = pair(aes128, policy);
      expect(encrypter.encrypt(ContentType.handshake, Buffer.from('x'))).toHaveLength(5 + 1 + 1 + 16);
    }
  });

  it('padding from an earlier, longer record never leaks into a later one', () => {
    const { encrypter, decrypter } = pair(aes128, () => 50);
    decrypter.decrypt(asRecord(encrypter.encrypt(ContentType.application_data, Buffer.alloc(500, 0xaa))));
    const opened = decrypter.decrypt(asRecord(encrypter.encrypt(ContentType.alert, Buffer.from([2, 40]))));
    expect(opened).toEqual({ type: ContentType.alert, content: Buffer.from([2, 40]) });
  });
});

describe('record protection: what a peer may not send', () => {
  it('tampering with any byte of header, ciphertext or tag is bad_record_mac', () => {
    const [a] = secretPair(aes128);
    const raw = a.dangerousExtractSecret();
    const wire = new RecordEncrypter(a).encrypt(ContentType.handshake, Buffer.from('a handshake message'));
    // Byte 0 (the outer type) is checked before decryption; bytes 1-2 and 5.. are authenticated.
    for (let index = 1; index < wire.length; index++) {
      if (index === 3 || index === 4) continue; // the length: changing it changes the record boundary
      const tampered = Buffer.from(wire);
      tampered[index]! ^= 0x20;
      const decrypter = new RecordDecrypter(ApplicationTrafficSecret.create(aes128, Buffer.from(raw)));
      expect(caught(() => decrypter.decrypt(asRecord(tampered)))).toMatchObject({ alert: 20, code: 'TLS_ERR_BAD_RECORD_MAC' });
    }
  });

  it('records out of order (wrong sequence number) are bad_record_mac', () => {
    const { encrypter, decrypter } = pair(aes128);
    encrypter.encrypt(ContentType.application_data, Buffer.from('first'));
    const second = encrypter.encrypt(ContentType.application_data, Buffer.from('second'));
    expect(caught(() => decrypter.decrypt(asRecord(second)))).toMatchObject({ alert: 20 });
  });

  it('a record too short for tag and content type is bad_record_mac; a too long one record_overflow', () => {
    const { decrypter } = pair(aes128);
    for (const length of [0, 1, 16]) {
      const record = { type: ContentType.application_data, legacyVersion: 0x0303, fragment: Buffer.alloc(length) } as const;
      expect(caught(() => decrypter.decrypt(record))).toMatchObject({ alert: 20 });
    }
    const huge = { type: ContentType.application_data, legacyVersion: 0x0303, fragment: Buffer.alloc(MAX_PLAINTEXT + 257) } as const;
    expect(caught(() => decrypter.decrypt(huge))).toMatchObject({ alert: 22, code: 'TLS_ERR_RECORD_OVERFLOW' });
  });

  it('inner plaintext over 2^14 + 1 bytes is record_overflow', () => {
    const [a, b] = secretPair(aes128);
    const inner = Buffer.concat([randomBytes(MAX_PLAINTEXT + 1), Buffer.from([ContentType.application_data])]);
    expect(caught(() => new RecordDecrypter(b).decrypt(sealRaw(a, inner)))).toMatchObject({ alert: 22 });
    // Content of exactly 2^14 with its type is fine.
    const [c, d] = secretPair(aes128);
    const fits = Buffer.concat([randomBytes(MAX_PLAINTEXT), Buffer.from([ContentType.application_data])]);
    expect(new RecordDecrypter(d).decrypt(sealRaw(c, fits)).content).toHaveLength(MAX_PLAINTEXT);
  });

  it('an all-zero inner plaintext (no content type) is unexpected_message', () => {
    for (const length of [1, 2, 100]) {
      const [a, b] = secretPair(aes128);
      expect(caught(() => new RecordDecrypter(b).decrypt(sealRaw(a, Buffer.alloc(length))))).toMatchObject({
        alert: 10,
        code: 'TLS_ERR_NO_CONTENT_TYPE',
      });
    }
  });

  it('a protected change_cipher_spec or unknown inner type is unexpected_message', () => {
    for (const type of [ContentType.change_cipher_spec, 0x42, 0xff]) {
      const [a, b] = secretPair(aes128);
      expect(caught(() => new RecordDecrypter(b).decrypt(sealRaw(a, Buffer.from([0x01, type, 0, 0]))))).toMatchObject({
        alert: 10,
        code: 'TLS_ERR_UNEXPECTED_PROTECTED_TYPE',
      });
    }
  });

  it('protected handshake or alert records with empty content (padding only) are unexpected_message (§5.4)', () => {
    for (const type of [ContentType.handshake, ContentType.alert]) {
      const [a, b] = secretPair(aes128);
      expect(caught(() => new RecordDecrypter(b).decrypt(sealRaw(a, Buffer.from([type, 0, 0, 0]))))).toMatchObject({
        alert: 10,
        code: 'TLS_ERR_EMPTY_RECORD',
      });
    }
  });

  it('a plaintext record where a protected one is due is unexpected_message', () => {
    const { decrypter } = pair(aes128);
    const record = { type: ContentType.handshake, legacyVersion: 0x0303, fragment: Buffer.alloc(40) } as const;
    expect(caught(() => decrypter.decrypt(record))).toMatchObject({ alert: 10, code: 'TLS_ERR_UNPROTECTED_RECORD' });
  });
});

describe('record protection: sequence numbers and nonces (RFC 8446 §5.3)', () => {
  it('the nonce is the IV XOR the left-padded 64-bit sequence number', () => {
    const iv = Buffer.from('5d313eb2671276ee13000b30', 'hex');
    const words = [iv.readUInt32BE(0), iv.readUInt32BE(4), iv.readUInt32BE(8)] as const;
    const nonce = Buffer.alloc(12);
    for (const sequence of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 5, 2 ** 48 + 3, Number.MAX_SAFE_INTEGER]) {
      writeRecordNonce(nonce, words, sequence);
      const padded = Buffer.alloc(12);
      padded.writeBigUInt64BE(BigInt(sequence), 4);
      const expected = Buffer.from(iv.map((byte, i) => byte ^ padded[i]!));
      expect(nonce).toEqual(expected);
    }
  });

  it('sequence numbers advance per record and equal contents seal differently', () => {
    const { encrypter, decrypter } = pair(aes128);
    const content = Buffer.from('same content');
    const wires = [0, 1, 2].map(() => encrypter.encrypt(ContentType.application_data, content));
    expect(encrypter.sequenceNumber).toBe(3);
    expect(new Set(wires.map((wire) => wire.toString('hex'))).size).toBe(3);
    for (const wire of wires) expect(decrypter.decrypt(asRecord(wire)).content).toEqual(content);
    expect(decrypter.sequenceNumber).toBe(3);
  });

  it('records seal exactly as the AEAD with nonce = iv XOR seq would (checked against raw createCipheriv)', () => {
    const [a, b] = secretPair(aes128);
    const { key, iv } = b.trafficKeys();
    const encrypter = new RecordEncrypter(a);
    for (let sequence = 0; sequence < 3; sequence++) {
      const content = Buffer.from(`record ${sequence}`);
      const wire = encrypter.encrypt(ContentType.application_data, content);
      const nonce = Buffer.from(iv);
      nonce[11]! ^= sequence;
      const cipher = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
      cipher.setAAD(wire.subarray(0, 5));
      const body = Buffer.concat([cipher.update(Buffer.concat([content, Buffer.from([0x17])])), cipher.final(), cipher.getAuthTag()]);
      expect(wire.subarray(5)).toEqual(body);
    }
  });
});

describe('record protection: key limits and KeyUpdate', () => {
  /** AES-128-GCM with tiny limits, so that the limits can be reached in a test. */
  const tiny: CipherSuiteParams = { ...aes128, keyUpdateAdvisedAfter: 3, maxRecordsPerKey: 5 };

  it('advises a KeyUpdate, then refuses to seal past the AEAD limit; rekey resets the count', () => {
    const [a, b] = secretPair(tiny);
    const encrypter = new RecordEncrypter(a);
    const decrypter = new RecordDecrypter(b);
    const seal = () => encrypter.encrypt(ContentType.application_data, Buffer.from('x'));
    for (let i = 0; i < 3; i++) decrypter.decrypt(asRecord(seal()));
    expect(encrypter.keyUpdateAdvised).toBe(true);
    expect(decrypter.keyUpdateAdvised).toBe(true);
    seal();
    seal();
    expect(caught(seal)).toMatchObject({ code: 'TLS_ERR_RECORD_LIMIT', kind: 'local-failure' });

    encrypter.rekey(a.next());
    expect(encrypter.sequenceNumber).toBe(0);
    expect(encrypter.keyUpdateAdvised).toBe(false);
    expect(() => seal()).not.toThrow();
  });

  it('the receiving side keeps opening records past the AEAD limit (it is the sender\'s to respect)', () => {
    const [a, b] = secretPair(tiny);
    const sender = new RecordEncrypter(ApplicationTrafficSecret.create(aes128, a.dangerousExtractSecret()));
    const receiver = new RecordDecrypter(b);
    for (let i = 0; i < 8; i++) receiver.decrypt(asRecord(sender.encrypt(ContentType.application_data, Buffer.from([i]))));
    expect(receiver.sequenceNumber).toBe(8);
    expect(receiver.keyUpdateAdvised).toBe(true);
  });

  it('KeyUpdate: both sides move to the "traffic upd" secret and keep talking; a stale side cannot read', () => {
    const handshake = () => EarlySecret.withoutPsk(aes128).intoHandshakeSecret(Buffer.alloc(32, 1));
    const hash = Buffer.alloc(32, 2);
    const serverSecret = handshake().intoMasterSecret().serverApplicationTrafficSecret(hash);
    const clientView = handshake().intoMasterSecret().serverApplicationTrafficSecret(hash);
    const staleView = handshake().intoMasterSecret().serverApplicationTrafficSecret(hash);
    const encrypter = new RecordEncrypter(serverSecret);
    const decrypter = new RecordDecrypter(clientView);
    const stale = new RecordDecrypter(staleView);

    const before = encrypter.encrypt(ContentType.application_data, Buffer.from('generation 0'));
    expect(decrypter.decrypt(asRecord(before)).content.toString()).toBe('generation 0');
    stale.decrypt(asRecord(before));

    encrypter.rekey(serverSecret.next());
    decrypter.rekey(clientView.next());
    const after = encrypter.encrypt(ContentType.application_data, Buffer.from('generation 1'));
    expect(encrypter.sequenceNumber).toBe(1);
    expect(decrypter.decrypt(asRecord(after)).content.toString()).toBe('generation 1');
    expect(caught(() => stale.decrypt(asRecord(after)))).toMatchObject({ alert: 20 });
  });

  it('handshake → application keys through rekey, and no rekey across suites', () => {
    const hs = (): HandshakeSecret => EarlySecret.withoutPsk(aes128).intoHandshakeSecret(Buffer.alloc(32, 3));
    const hash = Buffer.alloc(32, 4);
    const encrypter = new RecordEncrypter(hs().serverHandshakeTrafficSecret(hash));
    const decrypter = new RecordDecrypter(hs().serverHandshakeTrafficSecret(hash));
    decrypter.decrypt(asRecord(encrypter.encrypt(ContentType.handshake, Buffer.from('Finished'))));
    encrypter.rekey(hs().intoMasterSecret().serverApplicationTrafficSecret(hash));
    decrypter.rekey(hs().intoMasterSecret().serverApplicationTrafficSecret(hash));
    expect(decrypter.decrypt(asRecord(encrypter.encrypt(ContentType.application_data, Buffer.from('GET /')))).content.toString()).toBe('GET /');

    const chacha = cipherSuiteParams(CipherSuite.TLS_CHACHA20_POLY1305_SHA256)!;
    expect(() => encrypter.rekey(secretPair(chacha)[0])).toThrow(expect.objectContaining({ alert: 80 }));
  });
});
