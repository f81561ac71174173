// The connection's own bounds, driven over real sockets with the scriptable client: what it
// reads while a remote signature is pending, record types interleaved with a fragmented
// handshake message (RFC 8446 §5.1), and the idle timeout of an established connection.
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEV_SITES } from '../../../certs/index.js';
import type { Signer } from '../../../edge/signer.js';
import { encodeClientHello, typicalClientExtensions } from '../../../edge/tls/codecs/client-hello.js';
import { encodeHandshake } from '../../../edge/tls/codecs/handshake-framing.js';
import { generateKeyShare, type SupportedGroup } from '../../../edge/tls/crypto/key-exchange.js';
import { AlertDescription, ContentType, HandshakeType, NamedGroup } from '../../../edge/tls/enums.js';
import { handshakeSettings } from '../../../edge/tls/settings.js';
import { TlsServer } from '../../../edge/tls/server.js';
import { TestTlsClient } from '../../helpers/tls13-test-client.js';
import { buildResolver, DEFAULT_TEST_LIMITS, startTlsServerFixture, useTlsServerSuite, type TlsServerFixture } from '../../helpers/tls-server-fixture.js';

const suite = useTlsServerSuite('connection-limits');
const client = (port?: number): Promise<TestTlsClient> => suite.client(port);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** The signers, each holding its signature until release(). */
function gatedSigners(): { signers: Map<string, Signer>; release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const gated = new Map<string, Signer>(
    [...suite.signers].map(([id, s]) => [id, { keyId: s.keyId, schemes: s.schemes, sign: async (...a: Parameters<Signer['sign']>) => (await gate, s.sign(...a)) }]),
  );
  return { signers: gated, release };
}

/** The server-side net.Socket of each accepted connection, by the client's port. */
function serverSockets(f: TlsServerFixture): Map<number, net.Socket> {
  const sockets = new Map<number, net.Socket>();
  f.server.netServer.on('connection', (socket: net.Socket) => sockets.set(socket.remotePort!, socket));
  return sockets;
}

const record = (type: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([type, 0x03, 0x03, payload.length >> 8, payload.length & 0xff]), payload]);
const CCS = record(ContentType.change_cipher_spec, Buffer.from([0x01]));

function clientHello(options: { groups?: number[]; shares?: number[]; earlyData?: boolean; random?: Buffer } = {}): Buffer {
  const shares = (options.shares ?? [NamedGroup.x25519]).map((group) => ({ group, keyExchange: generateKeyShare(group as SupportedGroup).publicKey }));
  const extensions = [...typicalClientExtensions({ keyShares: shares, groups: options.groups }), ...(options.earlyData ? [{ name: 'early_data' } as const] : [])];
  return encodeHandshake(HandshakeType.client_hello, encodeClientHello({ random: options.random, extensions }));
}

const failureCodes = (f: TlsServerFixture): string[] => f.failures.map((x) => (x.error as { code?: string }).code ?? '');
const failureMessages = (f: TlsServerFixture): string[] => f.failures.map((x) => (x.error as Error).message);

describe('while the remote signature is pending', () => {
  it('stops reading (TCP backpressure): 10 MiB sent meanwhile are not taken in, and the handshake still completes', async () => {
    const gate = gatedSigners();
    // The flood is 0-RTT data the server skips: allow all of it, so this very connection can complete.
    const f = await startTlsServerFixture({ pki: suite.pki, signers: gate.signers, limits: { maxEarlyDataSkipBytes: 16 << 20 } });
    suite.onCleanup(() => f.close());
    const sockets = serverSockets(f);
    const c = await client(f.port);
    const done = c.handshakeWith({ extra: [{ name: 'early_data' }] });
    await until(() => f.server.signatureSlots.pending === 1);
    // 640 full-size records of "early data" under a key the server does not have: 10 MiB.
    const earlyRecord = record(ContentType.application_data, Buffer.alloc(1 << 14, 0xab));
    const flood = Buffer.concat(Array.from({ length: 640 }, () => earlyRecord));
    c.sendRaw(flood);
    await sleep(500);
    const serverSide = sockets.get(c.socket.localPort!)!;
    // What the edge took off the kernel: the hello, up to the pause threshold (64 KiB) and a
    // read or two in flight. Without the pause it is all 10 MiB.
    expect(serverSide.bytesRead).toBeLessThan(512 * 1024);
    expect(f.server.signatureSlots.pending).toBe(1);
    expect(serverSide.destroyed).toBe(false);
    gate.release();
    await done;
    c.sendProtected(ContentType.application_data, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    for (;;) {
      const event = await c.next();
      if (event.kind === 'data') {
        expect(event.content.toString()).toContain('200 OK');
        break;
      }
      expect(event.kind).toBe('handshake');
    }
    expect(serverSide.bytesRead).toBeGreaterThan(flood.length);
  });

  it('fails with internal_error if unprocessed bytes pile up past 256 KiB anyway (a socket that ignores the pause)', async () => {
    const gate = gatedSigners();
    const f = await startTlsServerFixture({ pki: suite.pki, signers: gate.signers });
    suite.onCleanup(() => f.close());
    const sockets = serverSockets(f);
    const c = await client(f.port);
    const done = c.handshakeWith().catch(() => undefined);
    await until(() => f.server.signatureSlots.pending === 1);
    const serverSide = sockets.get(c.socket.localPort!)!;
    // Bypass the pause: 'data' straight from the socket, as a socket that kept reading would.
    for (let i = 0; i < 5; i++) serverSide.emit('data', Buffer.alloc(64 * 1024, 0x17));
    await until(() => failureCodes(f).includes('TLS_ERR_RECEIVE_BUFFER_FULL'));
    gate.release();
    await done;
    await until(() => f.server.signatureSlots.pending === 0);
  });
});

describe('RFC 8446 §5.1: no other record type inside a fragmented handshake message', () => {
  it('unexpected_message for a change_cipher_spec between the two records of a ClientHello', async () => {
    const c = await client();
    const hello = clientHello();
    c.sendRaw(Buffer.concat([record(ContentType.handshake, hello.subarray(0, 50)), CCS, record(ContentType.handshake, hello.subarray(50))]));
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
    expect(failureMessages(suite.fixture)).toContain('a change_cipher_spec record inside a fragmented handshake message (RFC 8446 §5.1)');
  });

  it('unexpected_message for a plaintext user_canceled alert between the two records of a ClientHello', async () => {
    const c = await client();
    const hello = clientHello();
    c.sendRaw(Buffer.concat([record(ContentType.handshake, hello.subarray(0, 50)), record(ContentType.alert, Buffer.from([1, AlertDescription.user_canceled])), record(ContentType.handshake, hello.subarray(50))]));
    expect(await c.expectAlert(3_000)).toBe(AlertDescription.unexpected_message);
  });

  it('unexpected_message for a change_cipher_spec inside the second ClientHello (after a HelloRetryRequest)', async () => {
    const c = await client();
    const groups = [NamedGroup.x25519, NamedGroup.secp256r1];
    c.sendRaw(record(ContentType.handshake, clientHello({ groups, shares: [], random: c.random })));
    expect((await c.nextHandshake()).type).toBe(HandshakeType.server_hello);
    const second = clientHello({ groups, shares: [NamedGroup.x25519], random: c.random });
    c.sendRaw(Buffer.concat([record(ContentType.handshake, second.subarray(0, 50)), CCS, record(ContentType.handshake, second.subarray(50))]));
    expect(await c.expectAlert(3_000)).toBe(AlertDescription.unexpected_message);
  });

  it('unexpected_message for skipped 0-RTT data inside the second ClientHello', async () => {
    const c = await client();
    const groups = [NamedGroup.x25519, NamedGroup.secp256r1];
    c.sendRaw(record(ContentType.handshake, clientHello({ groups, shares: [], random: c.random, earlyData: true })));
    expect((await c.nextHandshake()).type).toBe(HandshakeType.server_hello);
    const second = clientHello({ groups, shares: [NamedGroup.x25519], random: c.random });
    const early = record(ContentType.application_data, Buffer.alloc(0x40, 0xab));
    c.sendRaw(Buffer.concat([record(ContentType.handshake, second.subarray(0, 50)), early, record(ContentType.handshake, second.subarray(50))]));
    expect(await c.expectAlert(3_000)).toBe(AlertDescription.unexpected_message);
  });

  it('unexpected_message for a protected alert inside a fragmented client Finished', async () => {
    const c = await client();
    await c.handshakeWith({ skipClientFinished: true });
    c.sendProtected(ContentType.handshake, Buffer.from([HandshakeType.finished, 0x00, 0x00, 0x20, 1, 2, 3, 4]));
    c.sendProtected(ContentType.alert, Buffer.from([1, AlertDescription.user_canceled]));
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
  });
});

describe('idle timeout of an established connection', () => {
  async function bareServer(idleTimeoutMs: number): Promise<number> {
    const certificates = await buildResolver(suite.pki, suite.signers, DEV_SITES.map((s) => s.name));
    const server = new TlsServer({ settings: handshakeSettings(certificates), limits: { ...DEFAULT_TEST_LIMITS, idleTimeoutMs } });
    suite.onCleanup(() => server.close(200));
    return (await server.listen(0, '127.0.0.1')).port;
  }

  it('sends close_notify after idleTimeoutMs without traffic, and not while traffic flows', async () => {
    // No HTTP server on top: the connection's own idle timeout is the only one.
    // A 2 s timeout and a ping every 100 ms: a stall of the event loop or the collector would
    // have to last almost two seconds to fire it while traffic flows.
    const c = await client(await bareServer(2_000));
    await c.handshakeWith();
    await sleep(50);
    const received = c.socket.bytesRead;
    // Traffic every 100 ms for 4 s: twice the timeout, and it never fires (the server, with
    // nothing on top to answer, sends not a byte meanwhile).
    for (let i = 0; i < 40; i++) {
      c.sendProtected(ContentType.application_data, Buffer.from('ping'));
      await sleep(100);
    }
    expect(c.socket.bytesRead).toBe(received);
    const quietSince = Date.now();
    expect(await c.expectAlert(10_000)).toBe(AlertDescription.close_notify);
    expect(Date.now() - quietSince).toBeGreaterThanOrEqual(1_000);
    expect(await c.expectAlert(3_000)).toBe('closed');
  });

  it('sends close_notify after idleTimeoutMs when the HTTP server set no timeout of its own', async () => {
    const f = await startTlsServerFixture({ pki: suite.pki, signers: suite.signers, limits: { idleTimeoutMs: 300 } });
    suite.onCleanup(() => f.close());
    const c = await client(f.port);
    await c.handshakeWith();
    const started = Date.now();
    expect(await c.expectAlert(3_000)).toBe(AlertDescription.close_notify);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});
