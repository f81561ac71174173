// EncryptedExtensions (RFC 8446 §4.3.1): the server's answers to ClientHello extensions that do
// not shape the key exchange. Encoded by the server; decoded by tests and the test client.
import { ExtensionType } from '../enums.js';
import { illegalParameter } from '../errors.js';
import { Reader, Writer } from '../wire.js';
import {
  decodeBody,
  encodeBody,
  expectEmptyBody,
  readExtensions,
  readNamedGroupList,
  readProtocolNameList,
  readRecordSizeLimit,
  writeExtensions,
  writeProtocolNameList,
  writeU16Vector,
  type RawExtension,
} from './extensions.js';

export type EncryptedExtension =
  /** RFC 6066 §3: the server used the client's server_name; extension_data is empty. */
  | { readonly name: 'server_name' }
  /** RFC 8446 §4.2.7: the server's groups, in its order of preference. */
  | { readonly name: 'supported_groups'; readonly groups: readonly number[] }
  /** RFC 7301 §3.1: the one protocol selected. */
  | { readonly name: 'application_layer_protocol_negotiation'; readonly protocol: Buffer }
  /** RFC 8449 §4: the largest TLSInnerPlaintext the server accepts. */
  | { readonly name: 'record_size_limit'; readonly limit: number }
  /** RFC 8446 §4.2.10: early data accepted; empty. */
  | { readonly name: 'early_data' }
  | { readonly name: 'unknown'; readonly type: number; readonly data: Buffer };

export interface EncryptedExtensions {
  readonly extensions: readonly EncryptedExtension[];
}

export function encodeEncryptedExtensions(ee: EncryptedExtensions): Buffer {
  const w = new Writer();
  writeExtensions(w, ee.extensions.map(encodeExtension));
  return w.finish();
}

export function decodeEncryptedExtensions(body: Buffer): EncryptedExtensions {
  const r = new Reader(body, 'EncryptedExtensions');
  // RFC 8446 §4.3.1 `Extension extensions<0..2^16-1>`.
  const raw = readExtensions(r, 0, 0xffff);
  r.expectEnd();
  return { extensions: raw.map(decodeExtension) };
}

function decodeExtension(ext: RawExtension): EncryptedExtension {
  switch (ext.type) {
    case ExtensionType.server_name:
      expectEmptyBody(ext, 'server_name');
      return { name: 'server_name' };
    case ExtensionType.supported_groups:
      return { name: 'supported_groups', groups: decodeBody(ext, 'supported_groups', readNamedGroupList) };
    case ExtensionType.application_layer_protocol_negotiation: {
      const names = decodeBody(ext, 'application_layer_protocol_negotiation', readProtocolNameList);
      // RFC 7301 §3.1: the server's list "MUST contain exactly one ProtocolName".
      if (names.length !== 1) throw illegalParameter(`application_layer_protocol_negotiation: server selected ${names.length} protocols`);
      return { name: 'application_layer_protocol_negotiation', protocol: names[0] as Buffer };
    }
    case ExtensionType.record_size_limit:
      return { name: 'record_size_limit', limit: decodeBody(ext, 'record_size_limit', readRecordSizeLimit) };
    case ExtensionType.early_data:
      expectEmptyBody(ext, 'early_data');
      return { name: 'early_data' };
    default:
      return { name: 'unknown', type: ext.type, data: ext.data };
  }
}

function encodeExtension(ext: EncryptedExtension): RawExtension {
  switch (ext.name) {
    case 'server_name':
      return { type: ExtensionType.server_name, data: Buffer.alloc(0) };
    case 'supported_groups':
      return { type: ExtensionType.supported_groups, data: encodeBody((w) => writeU16Vector(w, ext.groups)) };
    case 'application_layer_protocol_negotiation':
      return {
        type: ExtensionType.application_layer_protocol_negotiation,
        data: encodeBody((w) => writeProtocolNameList(w, [ext.protocol])),
      };
    case 'record_size_limit':
      return { type: ExtensionType.record_size_limit, data: encodeBody((w) => w.u16(ext.limit)) };
    case 'early_data':
      return { type: ExtensionType.early_data, data: Buffer.alloc(0) };
    case 'unknown':
      return { type: ext.type, data: ext.data };
  }
}
