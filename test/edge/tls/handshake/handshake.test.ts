// The server handshake, message by message, against a scriptable client: every negotiation
// path and every refusal, each checked for the alert RFC 8446 prescribes.
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../../../common/signature-scheme.js';
import type { Signer } from '../../../../edge/signer.js';
import { encodeClientHello, typicalClientExtensions } from '../../../../edge/tls/codecs/client-hello.js';
import { encodeHandshake } from '../../../../edge/tls/codecs/handshake-framing.js';
import { decodeKeyUpdate, encodeKeyUpdate } from '../../../../edge/tls/codecs/key-update.js';
import { generateKeyShare } from '../../../../edge/tls/crypto/key-exchange.js';
import { AlertDescription, CipherSuite, ContentType, HandshakeType, NamedGroup, ProtocolVersion } from '../../../../edge/tls/enums.js';
import { TestTlsClient } from '../../../helpers/tls13-test-client.js';
import { startTlsServerFixture, useTlsServerSuite } from '../../../helpers/tls-server-fixture.js';

const suite = useTlsServerSuite('handshake');
const client = (port?: number): Promise<TestTlsClient> => suite.client(port);

/** Sends a hello built from typical extensions, with changes, and returns the alert the server answers. */
async function alertFor(build: (shares: { group: number; keyExchange: Buffer }[]) => NonNullable<Parameters<typeof encodeClientHello>[0]>, port?: number): Promise<number | 'closed'> {
  const c = await client(port);
  c.sendClientHello(build([{ group: NamedGroup.x25519, keyExchange: generateKeyShare(NamedGroup.x25519).publicKey }]));
  return c.expectAlert();
}

async function readApplicationData(c: TestTlsClient): Promise<Buffer> {
  for (;;) {
    const event = await c.next();
    if (event.kind === 'data') return event.content;
    if (event.kind !== 'handshake') throw new Error(`expected data, got ${JSON.stringify(event)}`);
  }
}

async function httpGet(c: TestTlsClient, target = '/'): Promise<string> {
  c.sendProtected(ContentType.application_data, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
  return (await readApplicationData(c)).toString();
}

describe('negotiation', () => {
  it('completes a 1-RTT handshake and carries HTTP over it', async () => {
    const c = await client();
    const result = await c.handshakeWith({ serverName: 'localhost', alpn: ['http/1.1'] });
    expect(result.helloRetryRequest).toBeUndefined();
    expect(result.encryptedExtensions.extensions.map((e) => e.name)).toEqual(['server_name', 'application_layer_protocol_negotiation']);
    expect(await httpGet(c, '/x')).toContain('"path":"/x"');
  });

  it.each([
    ['TLS_AES_128_GCM_SHA256', CipherSuite.TLS_AES_128_GCM_SHA256],
    ['TLS_AES_256_GCM_SHA384', CipherSuite.TLS_AES_256_GCM_SHA384],
    ['TLS_CHACHA20_POLY1305_SHA256', CipherSuite.TLS_CHACHA20_POLY1305_SHA256],
  ])('negotiates %s', async (name, suite) => {
    const c = await client();
    const result = await c.handshakeWith({ cipherSuites: [suite] });
    expect(result.suite.name).toBe(name);
    expect(await httpGet(c)).toContain(`"cipher":"${name}"`);
  });

  it.each([
    ['x25519', NamedGroup.x25519],
    ['secp256r1', NamedGroup.secp256r1],
    ['secp384r1', NamedGroup.secp384r1],
  ] as const)('does ECDHE with %s', async (_name, group) => {
    const c = await client();
    await c.handshakeWith({ shareGroups: [group], groups: [group] });
    expect(await httpGet(c)).toContain(`"group":${group}`);
  });

  it('sends a HelloRetryRequest when no key share is for a group it accepts, and completes on the second hello', async () => {
    const c = await client();
    // A share-less hello is legal (client_shares may be empty): the server must ask for x25519.
    const result = await c.handshakeWith({ groups: [NamedGroup.x448, NamedGroup.x25519], shareGroups: [] });
    expect(result.helloRetryRequest?.extensions).toContainEqual({ name: 'key_share', selectedGroup: NamedGroup.x25519 });
    expect(await httpGet(c)).toContain('"helloRetried":true');
  });

  it('picks the certificate whose key can sign a scheme the client offers', async () => {
    for (const [scheme, certificate] of [
      [SignatureScheme.ecdsa_secp256r1_sha256, 'site-ecdsa-p256'],
      [SignatureScheme.ecdsa_secp384r1_sha384, 'site-ecdsa-p384'],
      [SignatureScheme.rsa_pss_rsae_sha256, 'site-rsa-2048'],
      [SignatureScheme.rsa_pss_pss_sha256, 'site-rsa-pss'],
    ] as const) {
      const c = await client();
      const result = await c.handshakeWith({ signatureSchemes: [scheme] });
      expect(result.signatureScheme).toBe(scheme);
      expect(await httpGet(c)).toContain(`"certificate":"${certificate}"`);
    }
  });

  it('echoes the legacy session id and sends one change_cipher_spec in middlebox-compatibility mode', async () => {
    const c = await client();
    const sessionId = Buffer.alloc(32, 7);
    // The client sends its own change_cipher_spec too, which the server drops.
    const result = await c.handshakeWith({ legacySessionId: sessionId, changeCipherSpec: true });
    expect(result.serverHello.legacySessionIdEcho.equals(sessionId)).toBe(true);
    expect(await httpGet(c)).toContain('200 OK');
    expect(c.seenRecords.filter((r) => r.type === ContentType.change_cipher_spec)).toHaveLength(1);
  });

  it('honours a record_size_limit of 64: no protected record it sends is larger (RFC 8449)', async () => {
    const c = await client();
    const result = await c.handshakeWith({ extra: [{ name: 'record_size_limit', limit: 64 }] });
    expect(result.encryptedExtensions.extensions).toContainEqual({ name: 'record_size_limit', limit: 16385 });
    expect(await httpGet(c)).toContain('HTTP/1.1 200');
    const sizes = c.seenRecords.filter((r) => r.type === ContentType.application_data).map((r) => r.length);
    expect(sizes.length).toBeGreaterThan(5);
    // TLSInnerPlaintext ≤ 64, plus the 16-byte tag.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(64 + 16);
  });

  it('answers a KeyUpdate with update_requested with its own, and both new keys work (RFC 8446 §4.6.3)', async () => {
    const c = await client();
    await c.handshakeWith();
    c.sendProtected(ContentType.handshake, encodeHandshake(HandshakeType.key_update, encodeKeyUpdate({ requestUpdate: 1 })));
    c.clientApplication = c.clientApplication!.next();
    c.rekeyWrite(c.clientApplication);
    const event = await c.next();
    expect(event.kind).toBe('handshake');
    if (event.kind !== 'handshake') return;
    expect(event.message.type).toBe(HandshakeType.key_update);
    expect(decodeKeyUpdate(event.message.body).requestUpdate).toBe(0);
    c.serverApplication = c.serverApplication!.next();
    c.rekeyRead(c.serverApplication);
    expect(await httpGet(c)).toContain('200 OK');
  });

  it('skips 0-RTT data it does not accept (RFC 8446 §4.2.10)', async () => {
    const c = await client();
    const promise = c.handshakeWith({ extra: [{ name: 'early_data' }] });
    // "Early data" under a key the server does not have: it must be skipped, not fail the handshake.
    c.sendRaw(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x40]), Buffer.alloc(0x40, 0xab)]));
    await promise;
    expect(await httpGet(c)).toContain('200 OK');
  });

  it('ignores an offered PSK and unknown extensions, and completes a full handshake', async () => {
    const c = await client();
    await c.handshakeWith({
      extra: [
        { name: 'unknown', type: 0xfafa, data: Buffer.from('grease') },
        { name: 'pre_shared_key', identities: [{ identity: Buffer.from('ticket-we-never-issued'), obfuscatedTicketAge: 1 }], binders: [Buffer.alloc(32, 1)] },
      ],
    });
    expect(await httpGet(c)).toContain('200 OK');
  });

  it('closes with close_notify when the client sends close_notify', async () => {
    const c = await client();
    await c.handshakeWith();
    c.sendAlert(AlertDescription.close_notify, 1);
    expect(await c.expectAlert()).toBe(AlertDescription.close_notify);
  });
});

describe('refusals, each with its alert', () => {
  const typical = (shares: { group: number; keyExchange: Buffer }[]) => typicalClientExtensions({ keyShares: shares });

  it('protocol_version for a client that offers only TLS 1.2 (no supported_versions)', async () => {
    expect(await alertFor((shares) => ({ extensions: typical(shares).filter((e) => e.name !== 'supported_versions') }))).toBe(AlertDescription.protocol_version);
  });

  it('protocol_version for supported_versions without TLS 1.3', async () => {
    expect(
      await alertFor((shares) => ({
        extensions: typical(shares).map((e) => (e.name === 'supported_versions' ? { name: 'supported_versions', versions: [ProtocolVersion.TLS_1_2] } : e)),
      })),
    ).toBe(AlertDescription.protocol_version);
  });

  it('protocol_version for a TLS 1.0 hello without extensions', async () => {
    expect(await alertFor(() => ({ legacyVersion: ProtocolVersion.TLS_1_0, omitExtensions: true }))).toBe(AlertDescription.protocol_version);
  });

  it('illegal_parameter for compression other than null', async () => {
    expect(await alertFor((shares) => ({ legacyCompressionMethods: [1, 0], extensions: typical(shares) }))).toBe(AlertDescription.illegal_parameter);
  });

  it.each(['signature_algorithms', 'supported_groups', 'key_share'])('missing_extension without %s', async (name) => {
    expect(await alertFor((shares) => ({ extensions: typical(shares).filter((e) => e.name !== name) }))).toBe(AlertDescription.missing_extension);
  });

  it('missing_extension for pre_shared_key without psk_key_exchange_modes', async () => {
    expect(
      await alertFor((shares) => ({
        extensions: [
          ...typical(shares).filter((e) => e.name !== 'psk_key_exchange_modes'),
          { name: 'pre_shared_key', identities: [{ identity: Buffer.from('x'.repeat(8)), obfuscatedTicketAge: 0 }], binders: [Buffer.alloc(32)] },
        ],
      })),
    ).toBe(AlertDescription.missing_extension);
  });

  it('illegal_parameter for a duplicated extension, and for pre_shared_key not last', async () => {
    expect(await alertFor((shares) => ({ extensions: [...typical(shares), { name: 'server_name', hostName: 'a.example' }, { name: 'server_name', hostName: 'b.example' }] }))).toBe(
      AlertDescription.illegal_parameter,
    );
    expect(
      await alertFor((shares) => ({
        extensions: [{ name: 'pre_shared_key', identities: [{ identity: Buffer.from('x'.repeat(8)), obfuscatedTicketAge: 0 }], binders: [Buffer.alloc(32)] }, ...typical(shares)],
      })),
    ).toBe(AlertDescription.illegal_parameter);
  });

  it('handshake_failure without a common cipher suite, group or signature scheme', async () => {
    expect(await alertFor((shares) => ({ cipherSuites: [0x00ff, 0xc02f], extensions: typical(shares) }))).toBe(AlertDescription.handshake_failure);
    expect(
      await alertFor(() => ({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x448, keyExchange: Buffer.alloc(56, 1) }], groups: [NamedGroup.x448] }) })),
    ).toBe(AlertDescription.handshake_failure);
    expect(await alertFor((shares) => ({ extensions: typicalClientExtensions({ keyShares: shares, signatureSchemes: [0x0401, 0x0201] }) }))).toBe(
      AlertDescription.handshake_failure,
    );
  });

  it('illegal_parameter for a key share that is not a valid public key', async () => {
    expect(await alertFor(() => ({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.secp256r1, keyExchange: Buffer.alloc(65, 4) }] }) }))).toBe(
      AlertDescription.illegal_parameter,
    );
    expect(await alertFor(() => ({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x25519, keyExchange: Buffer.alloc(31, 9) }] }) }))).toBe(
      AlertDescription.illegal_parameter,
    );
  });

  it('no_application_protocol when ALPN shares nothing', async () => {
    expect(await alertFor((shares) => ({ extensions: typicalClientExtensions({ keyShares: shares, alpn: ['h3', 'spdy/1'] }) }))).toBe(AlertDescription.no_application_protocol);
  });

  it('illegal_parameter when the second ClientHello changes more than the key share (RFC 8446 §4.1.2)', async () => {
    const c = await client();
    const first = typicalClientExtensions({ keyShares: [], groups: [NamedGroup.secp256r1] });
    c.sendClientHello({ random: c.random, extensions: first });
    const hrr = await c.nextHandshake();
    expect(hrr.type).toBe(HandshakeType.server_hello);
    const share = generateKeyShare(NamedGroup.secp256r1);
    c.sendClientHello({ random: c.random, extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.secp256r1, keyExchange: share.publicKey }], groups: [NamedGroup.secp256r1], serverName: 'changed.example' }) });
    expect(await c.expectAlert()).toBe(AlertDescription.illegal_parameter);
  });

  it('illegal_parameter when the second ClientHello shares another group than the one asked for', async () => {
    const c = await client();
    const groups = [NamedGroup.secp256r1, NamedGroup.x25519];
    c.sendClientHello({ random: c.random, extensions: typicalClientExtensions({ keyShares: [], groups }) });
    await c.nextHandshake();
    const share = generateKeyShare(NamedGroup.secp256r1);
    // Asked for x25519 (our first preference), answers with secp256r1.
    c.sendClientHello({ random: c.random, extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.secp256r1, keyExchange: share.publicKey }], groups }) });
    expect(await c.expectAlert()).toBe(AlertDescription.illegal_parameter);
  });

  it('decrypt_error for a client Finished that does not verify', async () => {
    const c = await client();
    await c.handshakeWith({ corruptFinished: true });
    expect(await c.expectAlert()).toBe(AlertDescription.decrypt_error);
  });

  it('unexpected_message for application data before the client Finished', async () => {
    const c = await client();
    await c.handshakeWith({ skipClientFinished: true });
    c.sendProtected(ContentType.application_data, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
  });

  it('unexpected_message for a second ClientHello without a HelloRetryRequest', async () => {
    const c = await client();
    await c.handshakeWith();
    c.sendProtected(ContentType.handshake, encodeHandshake(HandshakeType.client_hello, encodeClientHello({ extensions: [] })));
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
  });

  const ccs = Buffer.from([0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);

  it('drops repeated change_cipher_spec records before the client Finished and completes (RFC 8446 §5 "MUST simply drop it")', async () => {
    const c = await client();
    const done = c.handshakeWith({ changeCipherSpec: true });
    // Three right after the hello, and the compatibility one before the Finished: four in all.
    c.sendRaw(Buffer.concat([ccs, ccs, ccs]));
    await done;
    expect(await httpGet(c)).toContain('200 OK');
  });

  it('unexpected_message for more than 16 change_cipher_spec records (a flood)', async () => {
    const c = await client();
    const done = c.handshakeWith();
    c.sendRaw(Buffer.concat(Array.from({ length: 17 }, () => ccs)));
    await done;
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
    expect(suite.fixture.failures.map((f) => (f.error as { code?: string }).code)).toContain('TLS_ERR_TOO_MANY_CCS');
  });

  it('unexpected_message for a handshake message that spans the key change after the ClientHello (§5.1)', async () => {
    const c = await client();
    const share = generateKeyShare(NamedGroup.x25519);
    const hello = encodeHandshake(HandshakeType.client_hello, encodeClientHello({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x25519, keyExchange: share.publicKey }] }) }));
    // The hello and the first bytes of another handshake message in one record.
    const payload = Buffer.concat([hello, Buffer.from([HandshakeType.finished, 0, 0])]);
    c.sendRaw(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), Buffer.from([payload.length >> 8, payload.length & 0xff]), payload]));
    expect(await c.expectAlert()).toBe(AlertDescription.unexpected_message);
  });
});

describe('configured refusals and limits', () => {
  it('unrecognized_name for an unknown server_name when configured to reject', async () => {
    const strict = await startTlsServerFixture({ pki: suite.pki, signers: suite.signers, resolver: { unknownServerName: 'reject' } });
    suite.onCleanup(() => strict.close());
    expect(await alertFor((shares) => ({ extensions: typicalClientExtensions({ keyShares: shares, serverName: 'unknown.example.com' }) }), strict.port)).toBe(
      AlertDescription.unrecognized_name,
    );
    // A wildcard name is known.
    const c = await client(strict.port);
    await c.handshakeWith({ serverName: 'a.demo.localhost' });
    expect(await httpGet(c)).toContain('"servername":"a.demo.localhost"');
  });

  it('internal_error, at once, when every pending-signature slot is taken', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = new Map<string, Signer>(
      [...suite.signers].map(([id, s]) => [id, { keyId: s.keyId, schemes: s.schemes, sign: async (...a: Parameters<Signer['sign']>) => (await gate, s.sign(...a)) }]),
    );
    const limited = await startTlsServerFixture({ pki: suite.pki, signers: slow, limits: { maxPendingSignatures: 1 } });
    suite.onCleanup(() => limited.close());
    const waiting = await client(limited.port);
    const first = waiting.handshakeWith();
    await new Promise((r) => setTimeout(r, 100));
    expect(limited.server.signatureSlots.pending).toBe(1);
    const refused = await client(limited.port);
    refused.sendClientHello({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x25519, keyExchange: generateKeyShare(NamedGroup.x25519).publicKey }] }) });
    expect(await refused.expectAlert()).toBe(AlertDescription.internal_error);
    expect(limited.failures.map((f) => (f.error as { code?: string }).code)).toContain('TLS_ERR_SIGNING_OVERLOADED');
    release();
    await first;
    expect(await httpGet(waiting)).toContain('200 OK');
  });

  it('internal_error when the signature does not come within its deadline', async () => {
    const never = new Map<string, Signer>(
      [...suite.signers].map(([id, s]) => [id, { keyId: s.keyId, schemes: s.schemes, sign: (_s, _i, _c, signal) => new Promise<Buffer>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))) }]),
    );
    const stuck = await startTlsServerFixture({ pki: suite.pki, signers: never, settings: { signatureTimeoutMs: 200 } });
    suite.onCleanup(() => stuck.close());
    const c = await client(stuck.port);
    const started = Date.now();
    await expect(c.handshakeWith()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(stuck.failures.map((f) => (f.error as { code?: string }).code)).toContain('TLS_ERR_SIGNATURE_TIMEOUT');
    expect(stuck.server.signatureSlots.pending).toBe(0);
  });

  it('closes a client that never finishes its hello after the handshake timeout', async () => {
    const quick = await startTlsServerFixture({ pki: suite.pki, signers: suite.signers, limits: { handshakeTimeoutMs: 300 } });
    suite.onCleanup(() => quick.close());
    const c = await client(quick.port);
    c.sendRaw(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00]));
    const started = Date.now();
    expect(await c.expectAlert(3_000)).toBe('closed');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(quick.failures.map((f) => (f.error as { code?: string }).code)).toContain('TLS_ERR_HANDSHAKE_TIMEOUT');
  });
});

describe('the remote signature', () => {
  /** Signers that run `before` ahead of each in-process signature. */
  function signersWith(before: (signal: AbortSignal) => Promise<void>): Map<string, Signer> {
    return new Map<string, Signer>(
      [...suite.signers].map(([id, s]) => [id, { keyId: s.keyId, schemes: s.schemes, sign: async (...a: Parameters<Signer['sign']>) => (await before(a[3]), s.sign(...a)) }]),
    );
  }

  it('is withdrawn when the client goes away while it is pending, and its slot is given back', async () => {
    let asked!: () => void;
    const wasAsked = new Promise<void>((r) => (asked = r));
    let withdrawn = false;
    const server = await startTlsServerFixture({
      pki: suite.pki,
      signers: signersWith(
        (signal) =>
          new Promise<void>((_, reject) => {
            asked();
            signal.addEventListener('abort', () => {
              withdrawn = true;
              reject(signal.reason);
            });
          }),
      ),
    });
    suite.onCleanup(() => server.close());
    const c = await client(server.port);
    c.sendClientHello({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x25519, keyExchange: generateKeyShare(NamedGroup.x25519).publicKey }] }) });
    await wasAsked;
    expect(server.server.signatureSlots.pending).toBe(1);
    c.close();
    await expect.poll(() => withdrawn, { timeout: 2_000 }).toBe(true);
    await expect.poll(() => server.server.signatureSlots.pending, { timeout: 2_000 }).toBe(0);
    // Reported as the socket going away, not as a signing failure.
    await expect.poll(() => server.failures.map((f) => (f.error as { code?: string }).code), { timeout: 2_000 }).toEqual(['TLS_ERR_SOCKET']);
  });
});

describe('hostile bytes', () => {
  async function alertForBytes(bytes: Buffer): Promise<number | 'closed'> {
    const c = await client();
    c.sendRaw(bytes);
    return c.expectAlert();
  }

  it('unexpected_message for garbage (no TLS content type)', async () => {
    expect(await alertForBytes(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(AlertDescription.unexpected_message);
  });

  it('protocol_version for an SSL 2.0 CLIENT-HELLO', async () => {
    // msg_length 0x8000|n, CLIENT-HELLO, version 3.1, one cipher spec, no session id, 16-byte challenge.
    const body = Buffer.concat([Buffer.from([0x01, 0x03, 0x01, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x2f]), Buffer.alloc(16, 1)]);
    expect(await alertForBytes(Buffer.concat([Buffer.from([0x80 | (body.length >> 8), body.length & 0xff]), body]))).toBe(AlertDescription.protocol_version);
  });

  it('record_overflow for a plaintext record over 2^14 bytes', async () => {
    expect(await alertForBytes(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01]))).toBe(AlertDescription.record_overflow);
  });

  it('decode_error for a handshake message over the configured limit, as soon as its header arrives', async () => {
    expect(await alertForBytes(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x10, 0x00, 0x00]))).toBe(AlertDescription.decode_error);
  });

  it('decode_error for a truncated ClientHello body', async () => {
    const share = generateKeyShare(NamedGroup.x25519);
    const hello = encodeClientHello({ extensions: typicalClientExtensions({ keyShares: [{ group: NamedGroup.x25519, keyExchange: share.publicKey }] }) });
    // The header claims the real length, the body is cut in the middle of the extensions: the
    // message length then disagrees with its contents.
    const cut = hello.subarray(0, 60);
    const message = Buffer.concat([Buffer.from([0x01, 0x00, 0x00, cut.length]), cut]);
    expect(await alertForBytes(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, message.length]), message]))).toBe(AlertDescription.decode_error);
  });

  it('bad_record_mac for a protected record that does not authenticate', async () => {
    const c = await client();
    await c.handshakeWith();
    c.sendRaw(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20]), Buffer.alloc(0x20, 0x55)]));
    expect(await c.expectAlert()).toBe(AlertDescription.bad_record_mac);
  });

  it('keeps serving after all of the above', async () => {
    const c = await client();
    await c.handshakeWith();
    expect(await httpGet(c)).toContain('200 OK');
    // No handshake is left holding a signature slot.
    expect(suite.fixture.server.signatureSlots.pending).toBe(0);
  });
});

describe('server_name that is an IP literal', () => {
  it('is treated as no SNI: the default chain, and no server_name acknowledgement', async () => {
    const c = await client();
    const result = await c.handshakeWith({ serverName: '127.0.0.1' });
    expect(result.encryptedExtensions.extensions.map((e) => e.name)).not.toContain('server_name');
    expect(await httpGet(c)).toContain('"servername":false');
  });
});

describe('closing', () => {
  it('sends close_notify when the HTTP server closes an idle keep-alive connection', async () => {
    const short = await startTlsServerFixture({ pki: suite.pki, signers: suite.signers });
    suite.onCleanup(() => short.close());
    short.http.keepAliveTimeout = 200;
    const c = await client(short.port);
    await c.handshakeWith();
    expect(await httpGet(c)).toContain('200 OK');
    // No more requests: the server times the connection out and says close_notify.
    expect(await c.expectAlert(3_000)).toBe(AlertDescription.close_notify);
  });
});
