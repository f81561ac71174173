// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4): one wire format, told apart by
// the special random; the key_share extension changes shape with it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, ExtensionType, HELLO_RETRY_REQUEST_RANDOM, NamedGroup } from '../../../../edge/tls/enums.js';
import {
  decodeServerHello,
  encodeHelloRetryRequest,
  encodeServerHello,
  type HelloRetryRequestExtension,
  type HelloRetryRequestParams,
  type ServerHelloExtension,
  type ServerHelloParams,
} from '../../../../edge/tls/codecs/server-hello.js';
import { bytes, codecProperties, expectTlsError, u16, u8, unknownExtensionType } from './arbitraries.js';

const unknown = fc
  .record({ type: unknownExtensionType(new Set([ExtensionType.supported_versions, ExtensionType.key_share, ExtensionType.pre_shared_key, ExtensionType.cookie])), data: bytes(0, 10) })
  .map((u) => ({ name: 'unknown' as const, ...u }));

const shExtension: fc.Arbitrary<ServerHelloExtension> = fc.oneof(
  u16.map((selectedVersion) => ({ name: 'supported_versions' as const, selectedVersion })),
  fc.record({ group: u16, keyExchange: bytes(1, 40) }).map((e) => ({ name: 'key_share' as const, ...e })),
  u16.map((selectedIdentity) => ({ name: 'pre_shared_key' as const, selectedIdentity })),
  unknown,
);
const hrrExtension: fc.Arbitrary<HelloRetryRequestExtension> = fc.oneof(
  u16.map((selectedVersion) => ({ name: 'supported_versions' as const, selectedVersion })),
  u16.map((selectedGroup) => ({ name: 'key_share' as const, selectedGroup })),
  bytes(1, 40).map((cookie) => ({ name: 'cookie' as const, cookie })),
  unknown,
);
const common = { legacyVersion: u16, legacySessionIdEcho: bytes(0, 32), cipherSuite: u16, legacyCompressionMethod: u8 };
/** RFC 8446 §4.1.3 `extensions<6..2^16-1>`: the filters drop blocks of under 6 bytes. */
const serverHello: fc.Arbitrary<ServerHelloParams> = fc
  .record({ ...common, random: bytes(32, 32).filter((r) => !r.equals(HELLO_RETRY_REQUEST_RANDOM)), extensions: fc.uniqueArray(shExtension, { maxLength: 4, selector: (e) => e.name === 'unknown' ? e.type : e.name }) })
  .filter((sh) => encodeServerHello(sh).length >= 2 + 32 + 1 + sh.legacySessionIdEcho.length + 3 + 2 + 6);
const helloRetryRequest: fc.Arbitrary<HelloRetryRequestParams> = fc
  .record({ ...common, extensions: fc.uniqueArray(hrrExtension, { maxLength: 4, selector: (e) => e.name === 'unknown' ? e.type : e.name }) })
  .filter((hrr) => encodeHelloRetryRequest(hrr).length >= 2 + 32 + 1 + hrr.legacySessionIdEcho.length + 3 + 2 + 6);

describe('ServerHello codec properties', () => {
  codecProperties({
    arbitrary: serverHello,
    encode: encodeServerHello,
    decode: decodeServerHello,
    expected: (sh) => ({ kind: 'server_hello', ...sh }),
    reencode: (decoded) => (decoded.kind === 'server_hello' ? encodeServerHello(decoded) : encodeHelloRetryRequest(decoded)),
  });
});

describe('HelloRetryRequest codec properties', () => {
  codecProperties({
    arbitrary: helloRetryRequest,
    encode: encodeHelloRetryRequest,
    decode: decodeServerHello,
    expected: (hrr) => ({ kind: 'hello_retry_request', ...hrr }),
    reencode: (decoded) => (decoded.kind === 'server_hello' ? encodeServerHello(decoded) : encodeHelloRetryRequest(decoded)),
  });
});

describe('ServerHello', () => {
  it('decodes the RFC 8448 §3 ServerHello', () => {
    const vector = Buffer.from(
      '020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020' +
        'c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304',
      'hex',
    );
    const sh = decodeServerHello(vector.subarray(4));
    expect(sh).toEqual({
      kind: 'server_hello',
      legacyVersion: 0x0303,
      random: Buffer.from('a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928', 'hex'),
      legacySessionIdEcho: Buffer.alloc(0),
      cipherSuite: 0x1301,
      legacyCompressionMethod: 0,
      extensions: [
        { name: 'key_share', group: NamedGroup.x25519, keyExchange: Buffer.from('c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f', 'hex') },
        { name: 'supported_versions', selectedVersion: 0x0304 },
      ],
    });
    if (sh.kind !== 'server_hello') throw new Error('unreachable');
    expect(encodeServerHello(sh).equals(vector.subarray(4))).toBe(true);
  });

  it('encodes a HelloRetryRequest with the special random and a bare selected_group (RFC 8446 §4.1.4)', () => {
    const body = encodeHelloRetryRequest({
      legacySessionIdEcho: Buffer.alloc(0),
      cipherSuite: 0x1301,
      extensions: [
        { name: 'supported_versions', selectedVersion: 0x0304 },
        { name: 'key_share', selectedGroup: NamedGroup.secp256r1 },
        { name: 'cookie', cookie: Buffer.from('c0', 'hex') },
      ],
    });
    expect(body.toString('hex')).toBe(
      '0303' + HELLO_RETRY_REQUEST_RANDOM.toString('hex') + '00' + '1301' + '00' + '0013' + '002b00020304' + '003300020017' + '002c0003' + '0001c0',
    );
  });

  it('rejects malformed server extensions', () => {
    const sh = (extensions: ServerHelloParams['extensions']): Buffer =>
      encodeServerHello({ random: Buffer.alloc(32, 1), legacySessionIdEcho: Buffer.alloc(0), cipherSuite: 0x1301, extensions });
    const raw = (type: number, hex: string) => ({ name: 'unknown' as const, type, data: Buffer.from(hex, 'hex') });
    expectTlsError(() => decodeServerHello(sh([raw(ExtensionType.supported_versions, '030403')])), AlertDescription.decode_error);
    expectTlsError(() => decodeServerHello(sh([raw(ExtensionType.key_share, '001d0000')])), AlertDescription.decode_error);
    expectTlsError(() => decodeServerHello(sh([raw(ExtensionType.pre_shared_key, '00')])), AlertDescription.decode_error);
    expectTlsError(() => decodeServerHello(sh([raw(0x0a0a, ''), raw(0x0a0a, '')])), AlertDescription.illegal_parameter);
    expectTlsError(() => decodeServerHello(sh([raw(0x0a0a, '')])), AlertDescription.decode_error); // extensions<6..>
    expectTlsError(() => decodeServerHello(sh([])), AlertDescription.decode_error);
  });

  it('refuses to encode a random that is not 32 bytes, or a session id over 32', () => {
    const base = { legacySessionIdEcho: Buffer.alloc(0), cipherSuite: 0x1301, extensions: [] };
    expectTlsError(() => encodeServerHello({ ...base, random: Buffer.alloc(31) }), AlertDescription.internal_error, 'TLS_ERR_ENCODE');
    expectTlsError(() => encodeHelloRetryRequest({ ...base, legacySessionIdEcho: Buffer.alloc(33) }), AlertDescription.internal_error, 'TLS_ERR_ENCODE');
  });
});
