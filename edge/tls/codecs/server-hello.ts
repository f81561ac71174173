// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4). One wire structure, two messages:
// a ServerHello whose random is HELLO_RETRY_REQUEST_RANDOM is a HelloRetryRequest, and the
// key_share extension changes shape with it (a KeyShareEntry vs. a bare selected_group).
// The server encodes both; the decoder serves tests and the test client.
import { ExtensionType, HELLO_RETRY_REQUEST_RANDOM, ProtocolVersion } from '../enums.js';
import { Reader, Writer, encodeFailure } from '../wire.js';
import {
  decodeBody,
  encodeBody,
  readExtensions,
  readKeyShareEntry,
  writeExtensions,
  writeKeyShareEntry,
  type RawExtension,
} from './extensions.js';

export type ServerHelloExtension =
  /** RFC 8446 §4.2.1 server form: `ProtocolVersion selected_version`. */
  | { readonly name: 'supported_versions'; readonly selectedVersion: number }
  /** RFC 8446 §4.2.8 `KeyShareServerHello { KeyShareEntry server_share; }`. */
  | { readonly name: 'key_share'; readonly group: number; readonly keyExchange: Buffer }
  /** RFC 8446 §4.2.11 `uint16 selected_identity`. */
  | { readonly name: 'pre_shared_key'; readonly selectedIdentity: number }
  | { readonly name: 'unknown'; readonly type: number; readonly data: Buffer };

export type HelloRetryRequestExtension =
  | { readonly name: 'supported_versions'; readonly selectedVersion: number }
  /** RFC 8446 §4.2.8 `KeyShareHelloRetryRequest { NamedGroup selected_group; }`. */
  | { readonly name: 'key_share'; readonly selectedGroup: number }
  /** RFC 8446 §4.2.2 `opaque cookie<1..2^16-1>`. */
  | { readonly name: 'cookie'; readonly cookie: Buffer }
  | { readonly name: 'unknown'; readonly type: number; readonly data: Buffer };

interface HelloFields {
  /** 0x0303 in TLS 1.3 (RFC 8446 §4.1.3); the real version is in supported_versions. */
  readonly legacyVersion: number;
  readonly legacySessionIdEcho: Buffer;
  readonly cipherSuite: number;
  /** Always 0 in TLS 1.3. */
  readonly legacyCompressionMethod: number;
}

export interface ServerHello extends HelloFields {
  readonly kind: 'server_hello';
  readonly random: Buffer;
  readonly extensions: readonly ServerHelloExtension[];
}

export interface HelloRetryRequest extends HelloFields {
  readonly kind: 'hello_retry_request';
  readonly extensions: readonly HelloRetryRequestExtension[];
}

/** Encoder input: `kind` is implied and the legacy fields default to their TLS 1.3 values. */
type Params<T extends HelloFields> = Omit<T, 'kind' | 'legacyVersion' | 'legacyCompressionMethod'> &
  Partial<Pick<HelloFields, 'legacyVersion' | 'legacyCompressionMethod'>>;
export type ServerHelloParams = Params<ServerHello>;
export type HelloRetryRequestParams = Params<HelloRetryRequest>;

export function encodeServerHello(sh: ServerHelloParams): Buffer {
  if (sh.random.length !== 32) throw encodeFailure(`ServerHello.random must be 32 bytes, not ${sh.random.length}`);
  return encodeHello(sh, sh.random, sh.extensions.map(encodeServerHelloExtension));
}

export function encodeHelloRetryRequest(hrr: HelloRetryRequestParams): Buffer {
  return encodeHello(hrr, HELLO_RETRY_REQUEST_RANDOM, hrr.extensions.map(encodeHrrExtension));
}

/** Decodes a ServerHello handshake body; the random tells which of the two messages it is. */
export function decodeServerHello(body: Buffer): ServerHello | HelloRetryRequest {
  const r = new Reader(body, 'ServerHello');
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytes(32, 'random');
  const legacySessionIdEcho = r.opaque8('legacy_session_id_echo', 0, 32);
  const cipherSuite = r.u16('cipher_suite');
  const legacyCompressionMethod = r.u8('legacy_compression_method');
  // RFC 8446 §4.1.3 `Extension extensions<6..2^16-1>`.
  const raw = readExtensions(r, 6, 0xffff);
  r.expectEnd();
  const fields = { legacyVersion, legacySessionIdEcho, cipherSuite, legacyCompressionMethod };
  if (random.equals(HELLO_RETRY_REQUEST_RANDOM)) {
    return { kind: 'hello_retry_request', ...fields, extensions: raw.map(decodeHrrExtension) };
  }
  return { kind: 'server_hello', ...fields, random, extensions: raw.map(decodeServerHelloExtension) };
}

function encodeHello(fields: Params<HelloFields>, random: Buffer, extensions: RawExtension[]): Buffer {
  const w = new Writer()
    .u16(fields.legacyVersion ?? ProtocolVersion.TLS_1_2)
    .bytes(random)
    .opaque8(fields.legacySessionIdEcho, 0, 32)
    .u16(fields.cipherSuite)
    .u8(fields.legacyCompressionMethod ?? 0);
  writeExtensions(w, extensions);
  return w.finish();
}

const readU16Body = (ext: RawExtension, name: string): number => decodeBody(ext, name, (r) => r.u16(name));
const u16Body = (v: number): Buffer => encodeBody((w) => w.u16(v));

function decodeServerHelloExtension(ext: RawExtension): ServerHelloExtension {
  switch (ext.type) {
    case ExtensionType.supported_versions:
      return { name: 'supported_versions', selectedVersion: readU16Body(ext, 'selected_version') };
    case ExtensionType.key_share:
      return { name: 'key_share', ...decodeBody(ext, 'key_share', readKeyShareEntry) };
    case ExtensionType.pre_shared_key:
      return { name: 'pre_shared_key', selectedIdentity: readU16Body(ext, 'selected_identity') };
    default:
      return { name: 'unknown', type: ext.type, data: ext.data };
  }
}

function encodeServerHelloExtension(ext: ServerHelloExtension): RawExtension {
  switch (ext.name) {
    case 'supported_versions':
      return { type: ExtensionType.supported_versions, data: u16Body(ext.selectedVersion) };
    case 'key_share':
      return { type: ExtensionType.key_share, data: encodeBody((w) => writeKeyShareEntry(w, ext)) };
    case 'pre_shared_key':
      return { type: ExtensionType.pre_shared_key, data: u16Body(ext.selectedIdentity) };
    case 'unknown':
      return { type: ext.type, data: ext.data };
  }
}

function decodeHrrExtension(ext: RawExtension): HelloRetryRequestExtension {
  switch (ext.type) {
    case ExtensionType.supported_versions:
      return { name: 'supported_versions', selectedVersion: readU16Body(ext, 'selected_version') };
    case ExtensionType.key_share:
      return { name: 'key_share', selectedGroup: readU16Body(ext, 'selected_group') };
    case ExtensionType.cookie:
      return { name: 'cookie', cookie: decodeBody(ext, 'cookie', (r) => r.opaque16('cookie', 1, 0xffff)) };
    default:
      return { name: 'unknown', type: ext.type, data: ext.data };
  }
}

function encodeHrrExtension(ext: HelloRetryRequestExtension): RawExtension {
  switch (ext.name) {
    case 'supported_versions':
      return { type: ExtensionType.supported_versions, data: u16Body(ext.selectedVersion) };
    case 'key_share':
      return { type: ExtensionType.key_share, data: u16Body(ext.selectedGroup) };
    case 'cookie':
      return { type: ExtensionType.cookie, data: encodeBody((w) => w.opaque16(ext.cookie, 1, 0xffff)) };
    case 'unknown':
      return { type: ext.type, data: ext.data };
  }
}
