// The record layer against the wire bytes of RFC 8448 §3, keyed through the real key schedule.
import { describe, expect, it } from 'vitest';
import { cipherSuiteParams } from '../../../../edge/tls/crypto/cipher-suites.js';
import { CipherSuite, ContentType } from '../../../../edge/tls/enums.js';
import { ApplicationTrafficSecret, EarlySecret, type HandshakeTrafficSecret } from '../../../../edge/tls/key-schedule.js';
import { RecordDecrypter } from '../../../../edge/tls/record/decrypter.js';
import { RecordDeframer } from '../../../../edge/tls/record/deframer.js';
import { RecordEncrypter } from '../../../../edge/tls/record/encrypter.js';
import { encodePlaintextRecords } from '../../../../edge/tls/record/plaintext.js';
import { rfc8448 as v } from '../vectors/rfc8448.js';

const suite = cipherSuiteParams(CipherSuite.TLS_AES_128_GCM_SHA256)!;
const serverFlight = Buffer.concat([v.encryptedExtensions, v.certificate, v.certificateVerify, v.serverFinished]);

function handshakeSecrets(): { client: HandshakeTrafficSecret; server: HandshakeTrafficSecret } {
  const handshake = EarlySecret.withoutPsk(suite).intoHandshakeSecret(v.sharedSecret);
  return { client: handshake.clientHandshakeTrafficSecret(v.helloHash), server: handshake.serverHandshakeTrafficSecret(v.helloHash) };
}

function deframeOne(wire: Buffer) {
  const deframer = new RecordDeframer();
  deframer.push(wire);
  const record = deframer.next();
  expect(record).not.toBeNull();
  expect(deframer.next()).toBeNull();
  return record!;
}

describe('record layer: RFC 8448 §3 wire bytes', () => {
  it('frames the ServerHello exactly as the RFC sends it', () => {
    expect(encodePlaintextRecords(ContentType.handshake, v.serverHello)).toEqual([v.serverHelloRecord]);
  });

  it('decrypts the server flight (EncryptedExtensions .. Finished) and seals it back to the same bytes', () => {
    const decrypter = new RecordDecrypter(handshakeSecrets().server);
    const opened = decrypter.decrypt(deframeOne(v.serverFlightRecord));
    expect(opened.type).toBe(ContentType.handshake);
    expect(opened.content).toEqual(serverFlight);

    const encrypter = new RecordEncrypter(handshakeSecrets().server);
    expect(encrypter.encrypt(ContentType.handshake, serverFlight)).toEqual(v.serverFlightRecord);
  });

  it('decrypts and re-seals the client Finished under the client handshake key', () => {
    const opened = new RecordDecrypter(handshakeSecrets().client).decrypt(deframeOne(v.clientFinishedRecord));
    expect(opened).toEqual({ type: ContentType.handshake, content: v.clientFinished });
    expect(new RecordEncrypter(handshakeSecrets().client).encrypt(ContentType.handshake, v.clientFinished)).toEqual(v.clientFinishedRecord);
  });

  it('application data: the client record at sequence 0, the server record at sequence 1', () => {
    const clientSecret = () => ApplicationTrafficSecret.create(suite, Buffer.from(v.clientApplicationTrafficSecret));
    const serverSecret = () => ApplicationTrafficSecret.create(suite, Buffer.from(v.serverApplicationTrafficSecret));

    expect(new RecordDecrypter(clientSecret()).decrypt(deframeOne(v.clientApplicationRecord))).toEqual({
      type: ContentType.application_data,
      content: v.applicationData,
    });
    expect(new RecordEncrypter(clientSecret()).encrypt(ContentType.application_data, v.applicationData)).toEqual(v.clientApplicationRecord);

    // The server's sequence 0 carried its NewSessionTicket; any record moves the sequence on.
    const encrypter = new RecordEncrypter(serverSecret());
    const decrypter = new RecordDecrypter(serverSecret());
    decrypter.decrypt(deframeOne(encrypter.encrypt(ContentType.handshake, Buffer.from('04000000', 'hex'))));
    expect(encrypter.encrypt(ContentType.application_data, v.applicationData)).toEqual(v.serverApplicationRecord);
    expect(decrypter.decrypt(deframeOne(v.serverApplicationRecord)).content).toEqual(v.applicationData);
  });

  it('the sequence-1 record does not open at sequence 0', () => {
    const decrypter = new RecordDecrypter(ApplicationTrafficSecret.create(suite, Buffer.from(v.serverApplicationTrafficSecret)));
    expect(() => decrypter.decrypt(deframeOne(v.serverApplicationRecord))).toThrow(expect.objectContaining({ alert: 20 }));
  });
});
