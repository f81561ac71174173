import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cipherSuiteParams, SUPPORTED_CIPHER_SUITES, type CipherSuiteParams } from '../../../edge/tls/crypto/cipher-suites.js';
import { hkdfLabel } from '../../../edge/tls/crypto/hkdf.js';
import { keyShareFromPrivateKey } from '../../../edge/tls/crypto/key-exchange.js';
import { Transcript } from '../../../edge/tls/crypto/transcript.js';
import { CipherSuite, NamedGroup } from '../../../edge/tls/enums.js';
import { TlsError } from '../../../edge/tls/errors.js';
import { ApplicationTrafficSecret, deriveTrafficKeys, EarlySecret } from '../../../edge/tls/key-schedule.js';
import { rfc8448 as v, rfc8448Resumed as resumed } from './vectors/rfc8448.js';

const aes128 = cipherSuiteParams(CipherSuite.TLS_AES_128_GCM_SHA256)!;

/** The RFC 8448 §3 handshake, run through Transcript and the key schedule as the server does. */
function rfc8448Schedule() {
  const transcript = new Transcript();
  transcript.add(v.clientHello);
  transcript.selectHash(aes128.hash);
  transcript.add(v.serverHello);
  const helloHash = transcript.currentHash();

  const early = EarlySecret.withoutPsk(aes128);
  const earlySecret = early.dangerousExtractSecret();
  const sharedSecret = keyShareFromPrivateKey(NamedGroup.x25519, v.serverPrivateKey).deriveSharedSecret(v.clientPublicKey);
  const handshake = early.intoHandshakeSecret(sharedSecret);
  const handshakeSecret = handshake.dangerousExtractSecret();
  const clientHandshake = handshake.clientHandshakeTrafficSecret(helloHash);
  const serverHandshake = handshake.serverHandshakeTrafficSecret(helloHash);

  transcript.add(v.encryptedExtensions);
  transcript.add(v.certificate);
  transcript.add(v.certificateVerify);
  const beforeServerFinished = transcript.currentHash();
  transcript.add(v.serverFinished);
  const serverFinishedHash = transcript.currentHash();
  transcript.add(v.clientFinished);
  const clientFinishedHash = transcript.currentHash();

  const master = handshake.intoMasterSecret();
  return {
    helloHash,
    sharedSecret,
    earlySecret,
    handshakeSecret,
    clientHandshake,
    serverHandshake,
    beforeServerFinished,
    serverFinishedHash,
    clientFinishedHash,
    master,
  };
}

describe('key schedule: RFC 8448 §3 simple 1-RTT handshake', () => {
  it('derives the early, handshake and master secrets', () => {
    const s = rfc8448Schedule();
    expect(s.sharedSecret).toEqual(v.sharedSecret);
    expect(s.earlySecret).toEqual(v.earlySecret);
    expect(s.handshakeSecret).toEqual(v.handshakeSecret);
    expect(s.master.dangerousExtractSecret()).toEqual(v.masterSecret);
  });

  it('hashes the transcript as the RFC does', () => {
    const s = rfc8448Schedule();
    expect(s.helloHash).toEqual(v.helloHash);
    expect(s.serverFinishedHash).toEqual(v.serverFinishedHash);
    expect(s.clientFinishedHash).toEqual(v.clientFinishedHash);
  });

  it('encodes HkdfLabel as the RFC prints it', () => {
    expect(hkdfLabel('c hs traffic', v.helloHash, 32)).toEqual(v.clientHandshakeTrafficInfo);
    // "key" and "iv" with an empty context, RFC 8448's "key info" and "iv info".
    expect(hkdfLabel('key', Buffer.alloc(0), 16).toString('hex')).toBe('001009746c733133206b657900');
    expect(hkdfLabel('iv', Buffer.alloc(0), 12).toString('hex')).toBe('000c08746c73313320697600');
  });

  it('derives the handshake traffic secrets and their keys and IVs', () => {
    const s = rfc8448Schedule();
    expect(s.clientHandshake.dangerousExtractSecret()).toEqual(v.clientHandshakeTrafficSecret);
    expect(s.serverHandshake.dangerousExtractSecret()).toEqual(v.serverHandshakeTrafficSecret);
    expect(s.serverHandshake.trafficKeys()).toEqual({ key: v.serverHandshakeKey, iv: v.serverHandshakeIv });
    expect(s.clientHandshake.trafficKeys()).toEqual({ key: v.clientHandshakeKey, iv: v.clientHandshakeIv });
  });

  it('computes both Finished verify_data and verifies them', () => {
    const s = rfc8448Schedule();
    expect(s.serverHandshake.finishedVerifyData(s.beforeServerFinished)).toEqual(v.serverFinishedVerifyData);
    expect(s.clientHandshake.finishedVerifyData(s.serverFinishedHash)).toEqual(v.clientFinishedVerifyData);
    expect(v.serverFinished.subarray(4)).toEqual(v.serverFinishedVerifyData);

    expect(() => s.clientHandshake.verifyFinished(s.serverFinishedHash, v.clientFinishedVerifyData)).not.toThrow();
  });

  it('rejects a wrong Finished with decrypt_error', () => {
    const s = rfc8448Schedule();
    const tampered = Buffer.from(v.clientFinishedVerifyData);
    tampered[31]! ^= 0x01;
    const fail = (data: Buffer, hash = s.serverFinishedHash) => {
      try {
        s.clientHandshake.verifyFinished(hash, data);
      } catch (err) {
        return err;
      }
      return null;
    };
    for (const err of [
      fail(tampered),
      fail(v.clientFinishedVerifyData.subarray(0, 31)),
      fail(Buffer.alloc(0)),
      // The right verify_data over the wrong transcript.
      fail(v.clientFinishedVerifyData, s.beforeServerFinished),
      // The server's verify_data where the client's is due.
      fail(v.serverFinishedVerifyData),
    ]) {
      expect(err).toBeInstanceOf(TlsError);
      expect(err).toMatchObject({ alert: 51, code: 'TLS_ERR_BAD_FINISHED' });
    }
  });

  it('derives the application traffic secrets, keys and IVs, exporter and resumption secrets', () => {
    const s = rfc8448Schedule();
    const clientApp = s.master.clientApplicationTrafficSecret(s.serverFinishedHash);
    const serverApp = s.master.serverApplicationTrafficSecret(s.serverFinishedHash);
    expect(clientApp.dangerousExtractSecret()).toEqual(v.clientApplicationTrafficSecret);
    expect(serverApp.dangerousExtractSecret()).toEqual(v.serverApplicationTrafficSecret);
    expect(serverApp.trafficKeys()).toEqual({ key: v.serverApplicationKey, iv: v.serverApplicationIv });
    expect(clientApp.trafficKeys()).toEqual({ key: v.clientApplicationKey, iv: v.clientApplicationIv });
    expect(s.master.exporterMasterSecret(s.serverFinishedHash).dangerousExtractSecret()).toEqual(v.exporterMasterSecret);
    const resumption = s.master.resumptionMasterSecret(s.clientFinishedHash);
    expect(resumption.dangerousExtractSecret()).toEqual(v.resumptionMasterSecret);
    expect(resumption.ticketPsk(v.ticketNonce)).toEqual(v.resumptionPsk);
  });
});

describe('key schedule: RFC 8448 §4 resumption PSK', () => {
  it('derives the early secret from the PSK and the resumption binder', () => {
    const early = EarlySecret.fromPsk(aes128, resumed.psk);
    expect(early.dangerousExtractSecret()).toEqual(resumed.earlySecret);
    expect(early.pskBinder('resumption', resumed.binderHash)).toEqual(resumed.binder);
    expect(() => early.verifyPskBinder('resumption', resumed.binderHash, resumed.binder)).not.toThrow();
  });

  it('rejects a binder of the wrong kind or for another ClientHello with decrypt_error', () => {
    const early = EarlySecret.fromPsk(aes128, resumed.psk);
    expect(() => early.verifyPskBinder('external', resumed.binderHash, resumed.binder)).toThrow(
      expect.objectContaining({ alert: 51, code: 'TLS_ERR_BAD_PSK_BINDER' }),
    );
    const otherHello = createHash('sha256').update('another ClientHello').digest();
    expect(() => early.verifyPskBinder('resumption', otherHello, resumed.binder)).toThrow(TlsError);
  });
});

describe('key schedule: stages cannot be misused', () => {
  it('a stage is wiped once the schedule moves on', () => {
    const early = EarlySecret.withoutPsk(aes128);
    const handshake = early.intoHandshakeSecret(randomBytes(32));
    expect(() => early.intoHandshakeSecret(randomBytes(32))).toThrow(
      expect.objectContaining({ code: 'TLS_ERR_KEY_SCHEDULE_MISUSE', alert: 80 }),
    );
    const hash = randomBytes(32);
    handshake.intoMasterSecret();
    expect(() => handshake.serverHandshakeTrafficSecret(hash)).toThrow(expect.objectContaining({ code: 'TLS_ERR_KEY_SCHEDULE_MISUSE' }));
    expect(() => handshake.dangerousExtractSecret()).toThrow(TlsError);
  });

  it('refuses a transcript hash of the wrong length for the suite', () => {
    const sha384 = cipherSuiteParams(CipherSuite.TLS_AES_256_GCM_SHA384)!;
    const handshake = EarlySecret.withoutPsk(sha384).intoHandshakeSecret(randomBytes(32));
    expect(() => handshake.clientHandshakeTrafficSecret(randomBytes(32))).toThrow(
      expect.objectContaining({ code: 'TLS_ERR_KEY_SCHEDULE_MISUSE' }),
    );
    expect(handshake.clientHandshakeTrafficSecret(randomBytes(48)).dangerousExtractSecret()).toHaveLength(48);
  });

  it('keeps secrets out of JSON and util.inspect output', async () => {
    const { inspect } = await import('node:util');
    const early = EarlySecret.withoutPsk(aes128);
    const secretHex = early.dangerousExtractSecret().toString('hex');
    expect(JSON.stringify(early)).not.toContain(secretHex);
    expect(inspect(early, { depth: 5 })).not.toContain(secretHex.slice(0, 16));
    expect(inspect(early, { depth: 5 })).not.toMatch(/33 ad 0a|33ad0a/);
  });
});

describe('key schedule: KeyUpdate (RFC 8446 §7.2)', () => {
  it('next() is HKDF-Expand-Label(secret, "traffic upd", "", Hash.length) and wipes the old generation', async () => {
    const { hkdfExpandLabel } = await import('../../../edge/tls/crypto/hkdf.js');
    const s = rfc8448Schedule();
    const generation0 = s.master.serverApplicationTrafficSecret(s.serverFinishedHash);
    const generation1 = generation0.next();
    const expected = hkdfExpandLabel('sha256', v.serverApplicationTrafficSecret, 'traffic upd', Buffer.alloc(0), 32);
    expect(generation1.dangerousExtractSecret()).toEqual(expected);
    expect(generation1.dangerousExtractSecret()).not.toEqual(v.serverApplicationTrafficSecret);
    expect(generation1).toBeInstanceOf(ApplicationTrafficSecret);
    expect(() => generation0.trafficKeys()).toThrow(TlsError);
    // And keys follow §7.3 from the new secret.
    expect(generation1.trafficKeys()).toEqual(deriveTrafficKeys(aes128, expected));
  });
});

describe('key schedule: every suite', () => {
  it.each(SUPPORTED_CIPHER_SUITES.map((suite) => [suite.name, suite] as [string, CipherSuiteParams]))(
    '%s yields keys and IVs of the suite sizes and distinct secrets per direction',
    (_name, suite) => {
      const handshake = EarlySecret.withoutPsk(suite).intoHandshakeSecret(randomBytes(32));
      const hash = randomBytes(suite.hashLen);
      const client = handshake.clientHandshakeTrafficSecret(hash);
      const server = handshake.serverHandshakeTrafficSecret(hash);
      expect(client.dangerousExtractSecret()).toHaveLength(suite.hashLen);
      expect(client.dangerousExtractSecret()).not.toEqual(server.dangerousExtractSecret());
      const keys = server.trafficKeys();
      expect(keys.key).toHaveLength(suite.keyLen);
      expect(keys.iv).toHaveLength(12);
      expect(server.finishedVerifyData(hash)).toHaveLength(suite.hashLen);
    },
  );

  it('the exporter follows RFC 8446 §7.5 (an empty and an absent context agree)', () => {
    const s = rfc8448Schedule();
    const exporter = s.master.exporterMasterSecret(s.serverFinishedHash);
    const a = exporter.export('EXPORTER-test', undefined, 32);
    expect(a).toEqual(exporter.export('EXPORTER-test', Buffer.alloc(0), 32));
    expect(a).not.toEqual(exporter.export('EXPORTER-test', Buffer.from('ctx'), 32));
    expect(a).not.toEqual(exporter.export('EXPORTER-other', undefined, 32));
    expect(exporter.export('EXPORTER-test', undefined, 64)).toHaveLength(64);
  });
});
