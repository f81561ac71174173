// ClientHello and its extensions (RFC 8446 §4.1.2, §4.2): generated round trips, the RFC 8448
// trace, hellos from a real OpenSSL client, and every rule the decoder enforces.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AlertDescription, ExtensionType, HandshakeType, NamedGroup, ProtocolVersion } from '../../../../edge/tls/enums.js';
import {
  checkRetriedClientHello,
  decodeClientHello,
  encodeClientHello,
  findExtension,
  typicalClientExtensions,
  type ClientHello,
  type ClientHelloParams,
} from '../../../../edge/tls/codecs/client-hello.js';
import { bindersEncodedLength, type ClientExtensionInit } from '../../../../edge/tls/codecs/extensions.js';
import { HandshakeDeframer, encodeHandshake } from '../../../../edge/tls/codecs/handshake-framing.js';
import { clientHello, codecProperties, expectTlsError } from './arbitraries.js';

const { decode_error, illegal_parameter } = AlertDescription;

/** Offset of the extensions block: what follows legacy_compression_methods. */
function extensionsOffset(ch: ClientHello): number {
  return 2 + 32 + 1 + ch.legacySessionId.length + 2 + 2 * ch.cipherSuites.length + 1 + ch.legacyCompressionMethods.length;
}

const random = Buffer.alloc(32, 0x11);
const share = { group: NamedGroup.x25519, keyExchange: Buffer.alloc(32, 0x22) };
const base = typicalClientExtensions({ keyShares: [share], serverName: 'www.example.com', alpn: ['h2', 'http/1.1'] });
const hello = (extensions: readonly ClientExtensionInit[], params: ClientHelloParams = {}): Buffer =>
  encodeClientHello({ random, extensions, ...params });
const raw = (type: number, hex: string): ClientExtensionInit => ({ name: 'unknown', type, data: Buffer.from(hex, 'hex') });
/** A well-formed hello whose only oddity is `ext`, placed before the other extensions. */
const withExtension = (ext: ClientExtensionInit): Buffer =>
  hello([ext, ...base.filter((e) => e.name !== ext.name && !(ext.name === 'unknown' && ext.type === typeOf(e)))]);
const typeOf = (e: ClientExtensionInit): number => ExtensionType[e.name as keyof typeof ExtensionType] ?? -1;

describe('ClientHello codec properties', () => {
  codecProperties({
    arbitrary: clientHello,
    encode: (ch) => encodeClientHello(ch),
    decode: decodeClientHello,
    // Cut right after the compression methods, a hello is a legal pre-TLS 1.2 hello with no
    // extensions block (RFC 5246 §7.4.1.2).
    prefixMayDecode: (prefix, full) => prefix.length === extensionsOffset(decodeClientHello(full)),
    reencode: (ch, input) => encodeClientHello({ ...ch, omitExtensions: input.length === extensionsOffset(ch) }),
  });
});

describe('RFC 8448 §3 Simple 1-RTT Handshake ClientHello', () => {
  // The ClientHello handshake message (header included) as printed in RFC 8448 §3; its SHA-256
  // together with the trace's ServerHello is the transcript hash the RFC publishes.
  const vector = Buffer.from(
    '010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b' +
      '0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d0020' +
      '99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e04030503060302030804' +
      '0805080604010501060102010402050206020202002d00020101001c00024001',
    'hex',
  );

  it('decodes every field', () => {
    const deframer = new HandshakeDeframer();
    deframer.push(vector);
    const msg = deframer.next();
    expect(msg?.type).toBe(HandshakeType.client_hello);
    const ch = decodeClientHello(msg?.body ?? Buffer.alloc(0));
    expect(ch.legacyVersion).toBe(0x0303);
    expect(ch.random.toString('hex')).toBe('cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7');
    expect(ch.legacySessionId.length).toBe(0);
    expect(ch.cipherSuites).toEqual([0x1301, 0x1303, 0x1302]);
    expect(ch.legacyCompressionMethods).toEqual([0]);
    expect(ch.extensions.map((e) => (e.name === 'unknown' ? e.type : e.name))).toEqual([
      'server_name',
      'renegotiation_info',
      'supported_groups',
      0x0023, // session_ticket
      'key_share',
      'supported_versions',
      'signature_algorithms',
      'psk_key_exchange_modes',
      'record_size_limit', // RFC 8449
    ]);
    expect(findExtension(ch, 'record_size_limit')?.limit).toBe(0x4001);
    expect(findExtension(ch, 'server_name')?.hostName).toBe('server');
    expect(findExtension(ch, 'renegotiation_info')?.renegotiatedConnection.length).toBe(0);
    expect(findExtension(ch, 'supported_groups')?.groups).toEqual([0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104]);
    expect(findExtension(ch, 'key_share')?.shares).toEqual([
      { group: NamedGroup.x25519, keyExchange: Buffer.from('99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c', 'hex') },
    ]);
    expect(findExtension(ch, 'supported_versions')?.versions).toEqual([ProtocolVersion.TLS_1_3]);
    expect(findExtension(ch, 'signature_algorithms')?.schemes).toEqual([
      0x0403, 0x0503, 0x0603, 0x0203, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0201, 0x0402, 0x0502, 0x0602, 0x0202,
    ]);
    expect(findExtension(ch, 'psk_key_exchange_modes')?.modes).toEqual([1]);
    expect(encodeHandshake(HandshakeType.client_hello, encodeClientHello(ch)).equals(vector)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// A real client: OpenSSL's s_client against a listener that records the first record and hangs up.

const opensslMissing = spawnSync('openssl', ['version']).error !== undefined;
if (opensslMissing) console.log('skipping the OpenSSL ClientHello captures: no `openssl` binary on PATH');

/** Runs `openssl s_client <args>` against a one-shot local listener; returns the first record. */
async function captureFirstRecord(args: readonly string[]): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const child = spawn('openssl', ['s_client', ...args, '-connect', `127.0.0.1:${port}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`openssl exited (${code}) before sending a record: ${stderr}`)));
      child.once('error', reject);
      server.once('connection', (socket) => {
        let got = Buffer.alloc(0);
        socket.on('error', () => undefined);
        socket.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length >= 5 && got.length >= 5 + got.readUInt16BE(3)) {
            resolve(got.subarray(0, 5 + got.readUInt16BE(3)));
            socket.destroy();
          }
        });
      });
    });
  } finally {
    if (child.exitCode === null) child.kill();
    server.close();
  }
}

/** The record is plaintext handshake (RFC 8446 §5.1); its payload holds the whole ClientHello. */
function clientHelloFromRecord(record: Buffer): { ch: ClientHello; body: Buffer } {
  expect(record[0]).toBe(0x16);
  const deframer = new HandshakeDeframer();
  deframer.push(record.subarray(5));
  const msg = deframer.next();
  expect(msg?.type).toBe(HandshakeType.client_hello);
  expect(deframer.hasPartial()).toBe(false);
  const body = msg?.body ?? Buffer.alloc(0);
  return { ch: decodeClientHello(body), body };
}

describe.skipIf(opensslMissing)('a ClientHello from openssl s_client', () => {
  it('decodes a TLS 1.3 hello with SNI and ALPN, and re-encodes it byte for byte', async () => {
    const record = await captureFirstRecord(['-tls1_3', '-servername', 'edge.example.com', '-alpn', 'h2,http/1.1']);
    const { ch, body } = clientHelloFromRecord(record);
    expect(ch.legacyVersion).toBe(0x0303);
    expect(ch.legacySessionId.length).toBe(32); // middlebox compatibility mode (RFC 8446 §D.4)
    expect(ch.cipherSuites).toEqual(expect.arrayContaining([0x1301, 0x1302, 0x1303]));
    expect(ch.legacyCompressionMethods).toEqual([0]);
    expect(findExtension(ch, 'server_name')?.hostName).toBe('edge.example.com');
    expect(findExtension(ch, 'application_layer_protocol_negotiation')?.protocols.map((p) => p.toString())).toEqual(['h2', 'http/1.1']);
    expect(findExtension(ch, 'supported_versions')?.versions).toEqual([ProtocolVersion.TLS_1_3]);
    const x25519 = findExtension(ch, 'key_share')?.shares.find((s) => s.group === NamedGroup.x25519);
    expect(x25519?.keyExchange.length).toBe(32);
    expect(findExtension(ch, 'supported_groups')?.groups).toContain(NamedGroup.x25519);
    expect(findExtension(ch, 'signature_algorithms')?.schemes).toEqual(expect.arrayContaining([0x0403, 0x0804, 0x0807]));
    expect(findExtension(ch, 'psk_key_exchange_modes')?.modes).toEqual([1]);
    expect(encodeClientHello(ch).equals(body)).toBe(true);
    expect(() => checkRetriedClientHello(ch, ch)).not.toThrow();
  });

  it('decodes a TLS 1.0-only hello far enough to see it offers no TLS 1.3', async () => {
    let record: Buffer;
    try {
      record = await captureFirstRecord(['-tls1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    } catch (err) {
      console.log(`skipping the TLS 1.0 capture: this openssl will not send a TLS 1.0 hello (${String(err).slice(0, 200)})`);
      return;
    }
    const { ch } = clientHelloFromRecord(record);
    expect(ch.legacyVersion).toBe(ProtocolVersion.TLS_1_0);
    expect(findExtension(ch, 'supported_versions')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------

describe('ClientHello decoding rules', () => {
  it('decodes the typical hello a test builds', () => {
    const ch = decodeClientHello(hello(base));
    expect(findExtension(ch, 'server_name')?.hostName).toBe('www.example.com');
    expect(findExtension(ch, 'key_share')?.shares).toEqual([share]);
    expect(findExtension(ch, 'application_layer_protocol_negotiation')?.protocols).toEqual([Buffer.from('h2'), Buffer.from('http/1.1')]);
  });

  it('accepts a pre-TLS 1.2 hello with no extensions block, for a protocol_version answer', () => {
    const ch = decodeClientHello(hello([], { legacyVersion: 0x0301, omitExtensions: true }));
    expect(ch.legacyVersion).toBe(0x0301);
    expect(ch.extensions).toEqual([]);
  });

  it('applies the 8-byte extensions floor to hellos that offer TLS 1.3 only', () => {
    const versionsOnly: ClientExtensionInit = { name: 'supported_versions', versions: [ProtocolVersion.TLS_1_3] }; // 7 bytes
    expectTlsError(() => decodeClientHello(hello([versionsOnly])), decode_error);
    const legacy = decodeClientHello(hello([{ name: 'renegotiation_info', renegotiatedConnection: Buffer.alloc(0) }])); // 5 bytes
    expect(legacy.extensions).toEqual([{ name: 'renegotiation_info', renegotiatedConnection: Buffer.alloc(0) }]);
  });

  it('rejects bad legacy fields with decode_error', () => {
    expectTlsError(() => decodeClientHello(hello(base, { cipherSuites: [] })), decode_error);
    expectTlsError(() => decodeClientHello(hello(base, { legacyCompressionMethods: [] })), decode_error);
    expectTlsError(() => decodeClientHello(hello(base, { legacySessionId: Buffer.alloc(33) })), decode_error);
    const oddSuites = hello(base);
    oddSuites.writeUInt16BE(3, 35); // cipher_suites length, session id empty
    expectTlsError(() => decodeClientHello(oddSuites), decode_error);
    expectTlsError(() => decodeClientHello(Buffer.concat([hello(base), Buffer.from([0])])), decode_error);
  });

  it('rejects a duplicate extension with illegal_parameter (RFC 8446 §4.2)', () => {
    expectTlsError(() => decodeClientHello(hello([...base, raw(ExtensionType.signature_algorithms, '00020403')])), illegal_parameter);
    expectTlsError(() => decodeClientHello(hello([...base, raw(0x1234, ''), raw(0x1234, '')])), illegal_parameter);
  });

  it('requires pre_shared_key to be the last extension (RFC 8446 §4.2.11)', () => {
    const psk: ClientExtensionInit = { name: 'pre_shared_key', identities: [{ identity: Buffer.from('id'), obfuscatedTicketAge: 7 }], binders: [Buffer.alloc(32)] };
    expect(findExtension(decodeClientHello(hello([...base, psk])), 'pre_shared_key')?.identities[0]?.obfuscatedTicketAge).toBe(7);
    const err = expectTlsError(() => decodeClientHello(hello([psk, ...base])), illegal_parameter);
    expect(err.message).toMatch(/last extension/);
  });

  it('rejects malformed pre_shared_key offers', () => {
    const identities = [{ identity: Buffer.from('id'), obfuscatedTicketAge: 7 }];
    const last = (ext: ClientExtensionInit): Buffer => hello([...base, ext]);
    expectTlsError(() => decodeClientHello(last({ name: 'pre_shared_key', identities, binders: [Buffer.alloc(32), Buffer.alloc(32)] })), illegal_parameter);
    expectTlsError(() => decodeClientHello(last({ name: 'pre_shared_key', identities, binders: [Buffer.alloc(31)] })), decode_error);
    expectTlsError(() => decodeClientHello(last({ name: 'pre_shared_key', identities: [], binders: [] })), decode_error);
    expectTlsError(
      () => decodeClientHello(last({ name: 'pre_shared_key', identities: [{ identity: Buffer.alloc(0), obfuscatedTicketAge: 0 }], binders: [Buffer.alloc(32)] })),
      decode_error,
    );
  });

  it('gives the binder truncation point of RFC 8446 §4.2.11.2', () => {
    const binders = [Buffer.alloc(32, 0xb1), Buffer.alloc(48, 0xb2)];
    const psk: ClientExtensionInit = {
      name: 'pre_shared_key',
      identities: [
        { identity: Buffer.from('a'), obfuscatedTicketAge: 1 },
        { identity: Buffer.from('b'), obfuscatedTicketAge: 2 },
      ],
      binders,
    };
    const message = encodeHandshake(HandshakeType.client_hello, hello([...base, psk]));
    const ch = decodeClientHello(message.subarray(4));
    const offered = findExtension(ch, 'pre_shared_key');
    const truncated = message.subarray(0, message.length - bindersEncodedLength(offered?.binders ?? []));
    const tail = message.subarray(truncated.length);
    expect(tail.toString('hex')).toBe('0052' + '20' + 'b1'.repeat(32) + '30' + 'b2'.repeat(48));
  });

  it('checks server_name by RFC 6066 §3', () => {
    const sni = (hex: string): Buffer => withExtension(raw(ExtensionType.server_name, hex));
    const hostName = (name: string): string => {
      const ch = decodeClientHello(withExtension({ name: 'server_name', hostName: name }));
      return findExtension(ch, 'server_name')?.hostName ?? '';
    };
    expect(hostName('a-b_c.example.co')).toBe('a-b_c.example.co');
    expect(hostName('localhost')).toBe('localhost');
    // IP literals are decoded (clients send them despite §3); the server then acts as if there were no SNI.
    expect(hostName('192.0.2.1')).toBe('192.0.2.1');
    expect(hostName('::1')).toBe('::1');
    for (const bad of ['example.com.', 'exa mple.com', 'bücher.example', 'a..b', '-a.example', `${'a'.repeat(64)}.com`, 'a\0.com']) {
      expectTlsError(() => decodeClientHello(withExtension({ name: 'server_name', hostName: bad })), illegal_parameter);
    }
    // Two host_name entries; an unknown name_type; an empty list; an empty name.
    expectTlsError(() => decodeClientHello(sni('000e' + '000004' + '61626364' + '000004' + '61626365')), illegal_parameter);
    expectTlsError(() => decodeClientHello(sni('0007' + '010004' + '61626364')), decode_error);
    expectTlsError(() => decodeClientHello(sni('0000')), decode_error);
    expectTlsError(() => decodeClientHello(sni('0003' + '000000')), decode_error);
  });

  it('enforces the list bounds of RFC 8446 §4.2 and RFC 7301', () => {
    const cases: [number, string][] = [
      [ExtensionType.supported_versions, '00'], // versions<2..254>
      [ExtensionType.supported_versions, '03030403'], // odd
      [ExtensionType.supported_groups, '0000'], // named_group_list<2..2^16-1>
      [ExtensionType.signature_algorithms, '0000'], // <2..2^16-2>
      [ExtensionType.signature_algorithms_cert, '0000'],
      [ExtensionType.application_layer_protocol_negotiation, '0000'], // protocol_name_list<2..2^16-1>
      [ExtensionType.application_layer_protocol_negotiation, '0003016100'], // a 1-byte name, then an empty one
      [ExtensionType.application_layer_protocol_negotiation, '000100'], // list of 1 byte
      [ExtensionType.psk_key_exchange_modes, '00'], // ke_modes<1..255>
      [ExtensionType.key_share, '0004001d0000'], // key_exchange<1..2^16-1>
      [ExtensionType.cookie, '0000'], // cookie<1..2^16-1>
      [ExtensionType.early_data, '00'], // must be empty in a ClientHello
      [ExtensionType.renegotiation_info, '0000'], // a trailing byte
      [ExtensionType.status_request, '01' + '0000'], // request_extensions missing
    ];
    for (const [type, hex] of cases) {
      const ext = raw(type, hex);
      try {
        expectTlsError(() => decodeClientHello(withExtension(ext)), decode_error);
      } catch (err) {
        throw new Error(`extension 0x${type.toString(16)} with body ${hex}: ${String(err)}`);
      }
    }
  });

  it('accepts an empty key_share list (the client waits for a HelloRetryRequest) and rejects duplicate groups', () => {
    expect(findExtension(decodeClientHello(withExtension({ name: 'key_share', shares: [] })), 'key_share')?.shares).toEqual([]);
    expectTlsError(() => decodeClientHello(withExtension({ name: 'key_share', shares: [share, share] })), illegal_parameter);
  });

  it('decodes status_request for OCSP and keeps other status types as unknown', () => {
    const ocsp = decodeClientHello(withExtension(raw(ExtensionType.status_request, '01' + '0000' + '0000')));
    expect(findExtension(ocsp, 'status_request')).toEqual({ name: 'status_request', responderIds: [], requestExtensions: Buffer.alloc(0) });
    const other = decodeClientHello(withExtension(raw(ExtensionType.status_request, '02abcd')));
    expect(findExtension(other, 'status_request')).toBeUndefined();
    expect(other.extensions[0]).toEqual({ name: 'unknown', type: ExtensionType.status_request, data: Buffer.from('02abcd', 'hex') });
  });

  it('keeps unknown extensions and padding byte for byte, in order', () => {
    const ch = decodeClientHello(hello([raw(0xfe0d, 'c0ffee'), ...base, { name: 'padding', data: Buffer.alloc(5) }]));
    expect(ch.extensions[0]).toEqual({ name: 'unknown', type: 0xfe0d, data: Buffer.from('c0ffee', 'hex') });
    expect(ch.extensions.at(-1)).toEqual({ name: 'padding', data: Buffer.alloc(5) });
  });
});

describe('checkRetriedClientHello (RFC 8446 §4.1.2)', () => {
  const first = decodeClientHello(
    hello([
      ...base.filter((e) => e.name !== 'key_share'),
      { name: 'key_share', shares: [] },
      { name: 'early_data' },
      { name: 'padding', data: Buffer.alloc(3) },
    ]),
  );

  it('allows a new key_share, an added cookie, dropped early_data and changed padding', () => {
    const second = decodeClientHello(
      hello([
        ...base.filter((e) => e.name !== 'key_share'),
        { name: 'key_share', shares: [{ group: NamedGroup.secp256r1, keyExchange: Buffer.alloc(65, 4) }] },
        { name: 'cookie', cookie: Buffer.from('cookie') },
        { name: 'padding', data: Buffer.alloc(40) },
      ]),
    );
    expect(() => checkRetriedClientHello(first, second)).not.toThrow();
  });

  it('rejects any other change with illegal_parameter', () => {
    const variants: [string, ClientHelloParams][] = [
      ['random', { random: Buffer.alloc(32, 0x99) }],
      ['legacy_session_id', { legacySessionId: Buffer.alloc(32) }],
      ['cipher_suites', { cipherSuites: [0x1301] }],
      ['early_data', { extensions: [...first.extensions] }],
      ['extension 0x000d', { extensions: base.map((e) => (e.name === 'signature_algorithms' ? { ...e, schemes: [0x0403] } : e)) }],
      ['its extensions', { extensions: base.filter((e) => e.name !== 'server_name') }],
      ['extension', { extensions: [...base].reverse() }],
    ];
    for (const [what, params] of variants) {
      const second = decodeClientHello(hello(params.extensions ?? base, params));
      const err = expectTlsError(() => checkRetriedClientHello(first, second), illegal_parameter);
      expect(err.message).toContain(what);
    }
  });
});
