// The server replays RFC 8448 §3 ("Simple 1-RTT Handshake"): given the trace's ClientHello, server
// random and x25519 key, it must send the trace's ServerHello byte for byte, and its first
// protected record must open under the trace's server handshake key and IV.
import { createDecipheriv } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateDevPki } from '../../../../certs/index.js';
import { keyShareFromPrivateKey } from '../../../../edge/tls/crypto/key-exchange.js';
import { NamedGroup } from '../../../../edge/tls/enums.js';
import { rfc8448 } from '../vectors/rfc8448.js';
import { inProcessSigners, startTlsServerFixture, type TlsServerFixture } from '../../../helpers/tls-server-fixture.js';
import { tempDir } from '../../../helpers/tmp.js';

let fixture: TlsServerFixture;
const cleanups: (() => Promise<void>)[] = [];

/** The server random of the trace: bytes 6..38 of its ServerHello message. */
const SERVER_RANDOM = rfc8448.serverHello.subarray(6, 38);

beforeAll(async () => {
  const t = await tempDir('rfc8448');
  cleanups.push(t.cleanup);
  const pki = await generateDevPki(path.join(t.dir, 'pki'));
  const s = await inProcessSigners(pki);
  cleanups.push(s.close);
  fixture = await startTlsServerFixture({
    pki,
    signers: s.signers,
    // The trace's server: ours would pick the same suite (AES-128-GCM) and group (x25519) from this hello.
    settings: { entropy: { random: () => Buffer.from(SERVER_RANDOM), keyShare: () => keyShareFromPrivateKey(NamedGroup.x25519, rfc8448.serverPrivateKey) } },
  });
  cleanups.push(() => fixture.close());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

it('answers the RFC 8448 ClientHello with the RFC 8448 ServerHello, then records under its handshake key', async () => {
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(fixture.port, '127.0.0.1', () => socket.write(rfc8448.clientHelloRecord));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      // The ServerHello record, then at least one whole protected record.
      const first = rfc8448.serverHelloRecord.length;
      if (all.length > first + 5 && all.length >= first + 5 + all.readUInt16BE(first + 3)) {
        socket.destroy();
        resolve(all);
      }
    });
    socket.on('error', reject);
  });
  const serverHello = received.subarray(0, rfc8448.serverHelloRecord.length);
  expect(serverHello.toString('hex')).toBe(rfc8448.serverHelloRecord.toString('hex'));

  // RFC 8446 §5.2/§5.3: the first protected record, sequence number 0, nonce = IV.
  const record = received.subarray(rfc8448.serverHelloRecord.length);
  expect(record[0]).toBe(0x17);
  const length = record.readUInt16BE(3);
  const ciphertext = record.subarray(5, 5 + length);
  const decipher = createDecipheriv('aes-128-gcm', rfc8448.serverHandshakeKey, rfc8448.serverHandshakeIv, { authTagLength: 16 });
  decipher.setAAD(record.subarray(0, 5));
  decipher.setAuthTag(ciphertext.subarray(length - 16));
  const inner = Buffer.concat([decipher.update(ciphertext.subarray(0, length - 16)), decipher.final()]);
  // The inner plaintext begins with EncryptedExtensions (0x08) and ends with content type handshake (0x16).
  expect(inner[0]).toBe(0x08);
  expect(inner[inner.length - 1]).toBe(0x16);
});
