// EncryptedExtensions (RFC 8446 §4.3.1).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertDescription, ExtensionType } from '../../../../edge/tls/enums.js';
import { decodeEncryptedExtensions, encodeEncryptedExtensions, type EncryptedExtension } from '../../../../edge/tls/codecs/encrypted-extensions.js';
import { bytes, codecProperties, expectTlsError, u16s, unknownExtensionType } from './arbitraries.js';

const typed = new Set([ExtensionType.server_name, ExtensionType.supported_groups, ExtensionType.application_layer_protocol_negotiation, ExtensionType.early_data, ExtensionType.record_size_limit]);
const extension: fc.Arbitrary<EncryptedExtension> = fc.oneof(
  fc.constant({ name: 'server_name' as const }),
  u16s(1, 5).map((groups) => ({ name: 'supported_groups' as const, groups })),
  bytes(1, 20).map((protocol) => ({ name: 'application_layer_protocol_negotiation' as const, protocol })),
  fc.constant({ name: 'early_data' as const }),
  fc.integer({ min: 64, max: 0xffff }).map((limit) => ({ name: 'record_size_limit' as const, limit })),
  fc.record({ type: unknownExtensionType(typed), data: bytes(0, 10) }).map((u) => ({ name: 'unknown' as const, ...u })),
);
const encryptedExtensions = fc
  .uniqueArray(extension, { maxLength: 5, selector: (e) => (e.name === 'unknown' ? e.type : e.name) })
  .map((extensions) => ({ extensions }));

describe('EncryptedExtensions codec properties', () => {
  codecProperties({ arbitrary: encryptedExtensions, encode: encodeEncryptedExtensions, decode: decodeEncryptedExtensions, reencode: encodeEncryptedExtensions });
});

describe('EncryptedExtensions', () => {
  it('decodes the RFC 8448 §3 EncryptedExtensions', () => {
    const vector = Buffer.from('080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000', 'hex');
    const ee = decodeEncryptedExtensions(vector.subarray(4));
    expect(ee.extensions).toEqual([
      { name: 'supported_groups', groups: [0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104] },
      { name: 'record_size_limit', limit: 0x4001 },
      { name: 'server_name' },
    ]);
    expect(encodeEncryptedExtensions(ee).equals(vector.subarray(4))).toBe(true);
  });

  it('encodes the empty server_name ack and one ALPN protocol', () => {
    const body = encodeEncryptedExtensions({ extensions: [{ name: 'server_name' }, { name: 'application_layer_protocol_negotiation', protocol: Buffer.from('h2') }] });
    expect(body.toString('hex')).toBe('000d' + '00000000' + '00100005' + '0003' + '026832');
  });

  it('rejects a record_size_limit below 64 (RFC 8449 §4)', () => {
    expectTlsError(() => decodeEncryptedExtensions(Buffer.from('0006' + '001c0002' + '003f', 'hex')), AlertDescription.illegal_parameter);
  });

  it('rejects an ALPN answer that is not exactly one protocol (RFC 7301 §3.1)', () => {
    const two = Buffer.from('000b' + '0010' + '0007' + '0005' + '026832' + '0161', 'hex');
    expectTlsError(() => decodeEncryptedExtensions(two), AlertDescription.illegal_parameter);
  });

  it('rejects a non-empty server_name ack and duplicate extensions', () => {
    expectTlsError(() => decodeEncryptedExtensions(Buffer.from('0005' + '0000000100', 'hex')), AlertDescription.decode_error);
    expectTlsError(() => decodeEncryptedExtensions(Buffer.from('0008' + '00000000' + '00000000', 'hex')), AlertDescription.illegal_parameter);
  });
});
