// Whatever bytes a client sends, the server answers with an alert or closes, never crashes or
// hangs, and keeps serving: random bytes, and random mutations of a valid first flight.
import net from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateDevPki } from '../../../certs/index.js';
import { encodeClientHello, typicalClientExtensions } from '../../../edge/tls/codecs/client-hello.js';
import { encodeHandshake } from '../../../edge/tls/codecs/handshake-framing.js';
import { generateKeyShare } from '../../../edge/tls/crypto/key-exchange.js';
import { HandshakeType, NamedGroup } from '../../../edge/tls/enums.js';
import { encodePlaintextRecords } from '../../../edge/tls/record/plaintext.js';
import { TestTlsClient } from '../../helpers/tls13-test-client.js';
import { inProcessSigners, startTlsServerFixture, type TlsServerFixture } from '../../helpers/tls-server-fixture.js';
import { tempDir } from '../../helpers/tmp.js';

let fixture: TlsServerFixture;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const t = await tempDir('fuzz');
  cleanups.push(t.cleanup);
  const pki = await generateDevPki(path.join(t.dir, 'pki'));
  const s = await inProcessSigners(pki);
  cleanups.push(s.close);
  fixture = await startTlsServerFixture({ pki, signers: s.signers, limits: { handshakeTimeoutMs: 1_000 } });
  cleanups.push(() => fixture.close());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Sends bytes, then waits until the server closes the connection; resolves with what it sent back. */
function exchange(bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(fixture.port, '127.0.0.1', () => socket.end(bytes));
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('close', () => resolve(Buffer.concat(received)));
    socket.on('error', () => resolve(Buffer.concat(received)));
    socket.setTimeout(5_000, () => reject(new Error('the server neither answered nor closed')));
  });
}

const validHello = (): Buffer =>
  Buffer.concat(
    encodePlaintextRecords(
      0x16,
      encodeHandshake(
        HandshakeType.client_hello,
        encodeClientHello({ extensions: typicalClientExtensions({ serverName: 'localhost', keyShares: [{ group: NamedGroup.x25519, keyExchange: generateKeyShare(NamedGroup.x25519).publicKey }] }) }),
      ),
    ),
  );

it('random bytes get an alert or a close', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
      const answer = await exchange(Buffer.from(bytes));
      // Nothing, or records: a plaintext alert, or a ServerHello and more if the bytes happened to parse.
      if (answer.length > 0) expect([0x15, 0x16]).toContain(answer[0]);
    }),
    { numRuns: 60 },
  );
});

it('mutations of a valid ClientHello get an alert, a close or a handshake', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (flips) => {
      const hello = validHello();
      for (const [at, value] of flips) hello[5 + (at % (hello.length - 5))] = value;
      const answer = await exchange(hello);
      if (answer.length > 0) expect([0x15, 0x16]).toContain(answer[0]);
    }),
    { numRuns: 60 },
  );
});

it('still completes handshakes afterwards, with no signature slot left taken', async () => {
  const c = await TestTlsClient.connect(fixture.port);
  await c.handshakeWith();
  c.close();
  expect(fixture.server.signatureSlots.pending).toBe(0);
});
