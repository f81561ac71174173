// TLS extensions (RFC 8446 §4.2): the extension block shared by every message that has one, the
// body codecs that more than one message uses, and the typed ClientHello extensions.
//
// Every typed decoding here is lossless: encoding a decoded extension gives back its exact bytes
// (the tests check this on mutated inputs). The HelloRetryRequest comparison (§4.1.2) relies on
// that to compare two ClientHellos extension by extension.
import { ExtensionType } from '../enums.js';
import { decodeError, illegalParameter } from '../errors.js';
import { Reader, Writer } from '../wire.js';

export interface RawExtension {
  readonly type: number;
  readonly data: Buffer;
}

/**
 * Reads `Extension extensions<min..max>` (RFC 8446 §4.2) into raw extensions, in wire order.
 * "There MUST NOT be more than one extension of the same type in a given extension block":
 * a duplicate is illegal_parameter.
 */
export function readExtensions(r: Reader, min: number, max: number): RawExtension[] {
  const block = r.vec16('extensions', min, max);
  const seen = new Set<number>();
  const out: RawExtension[] = [];
  while (block.remaining > 0) {
    const type = block.u16('extension_type');
    const data = block.opaque16(`extension_data(0x${type.toString(16).padStart(4, '0')})`);
    if (seen.has(type)) throw illegalParameter(`${r.what}: duplicate extension 0x${type.toString(16).padStart(4, '0')} (RFC 8446 §4.2)`);
    seen.add(type);
    out.push({ type, data });
  }
  return out;
}

/** Writes an extension block verbatim: no duplicate or order checks, so tests can break rules. */
export function writeExtensions(w: Writer, extensions: readonly RawExtension[]): void {
  w.vec16((block) => {
    for (const ext of extensions) block.u16(ext.type).opaque16(ext.data);
  });
}

// ---------------------------------------------------------------------------------------------
// Body codecs used by more than one message.

/** An extension whose extension_data must be empty (early_data in ClientHello, server_name ack...). */
export function expectEmptyBody(ext: RawExtension, name: string): void {
  if (ext.data.length !== 0) throw decodeError(`${name}: extension_data must be empty, has ${ext.data.length} byte(s)`);
}

/** Decodes an extension body with `read`, which must consume it exactly. */
export function decodeBody<T>(ext: RawExtension, name: string, read: (r: Reader) => T): T {
  const r = new Reader(ext.data, name);
  const value = read(r);
  r.expectEnd();
  return value;
}

/** Builds an extension body with a Writer. */
export function encodeBody(write: (w: Writer) => void): Buffer {
  const w = new Writer();
  write(w);
  return w.finish();
}

/** RFC 8446 §4.2.7 `NamedGroup named_group_list<2..2^16-1>`. */
export const readNamedGroupList = (r: Reader): number[] => r.vec16('named_group_list', 2, 0xffff).u16List();

/** RFC 8446 §4.2.3 `SignatureScheme supported_signature_algorithms<2..2^16-2>`. */
export const readSignatureSchemeList = (r: Reader): number[] =>
  r.vec16('supported_signature_algorithms', 2, 0xfffe).u16List();

export const writeU16Vector = (w: Writer, values: readonly number[]): void => {
  w.vec16((v) => values.forEach((x) => v.u16(x)));
};

/** RFC 7301 §3.1 `ProtocolName protocol_name_list<2..2^16-1>`, `opaque ProtocolName<1..2^8-1>`. */
export function readProtocolNameList(r: Reader): Buffer[] {
  const list = r.vec16('protocol_name_list', 2, 0xffff);
  const names: Buffer[] = [];
  while (list.remaining > 0) names.push(list.opaque8('ProtocolName', 1, 0xff));
  return names;
}

export function writeProtocolNameList(w: Writer, names: readonly (string | Uint8Array)[]): void {
  w.vec16((list) => {
    for (const name of names) list.opaque8(typeof name === 'string' ? Buffer.from(name, 'utf8') : name);
  });
}

/** RFC 8446 §4.2.8 `struct { NamedGroup group; opaque key_exchange<1..2^16-1>; } KeyShareEntry`. */
export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Buffer;
}

export const readKeyShareEntry = (r: Reader): KeyShareEntry => ({
  group: r.u16('group'),
  keyExchange: r.opaque16('key_exchange', 1, 0xffff),
});

export const writeKeyShareEntry = (w: Writer, entry: KeyShareEntry): void => {
  w.u16(entry.group).opaque16(entry.keyExchange);
};

// ---------------------------------------------------------------------------------------------
// ClientHello extensions, typed. Names are the RFC's (the keys of ExtensionType).

/** RFC 8446 §4.2.11 `struct { opaque identity<1..2^16-1>; uint32 obfuscated_ticket_age; }`. */
export interface PskIdentity {
  readonly identity: Buffer;
  readonly obfuscatedTicketAge: number;
}

export type ClientExtension =
  /** RFC 6066 §3: exactly one host_name; ASCII, no trailing dot. An IP literal is decoded but means no SNI (isIpLiteral). */
  | { readonly name: 'server_name'; readonly hostName: string }
  | { readonly name: 'supported_versions'; readonly versions: readonly number[] }
  | { readonly name: 'supported_groups'; readonly groups: readonly number[] }
  | { readonly name: 'key_share'; readonly shares: readonly KeyShareEntry[] }
  | { readonly name: 'signature_algorithms'; readonly schemes: readonly number[] }
  | { readonly name: 'signature_algorithms_cert'; readonly schemes: readonly number[] }
  | { readonly name: 'application_layer_protocol_negotiation'; readonly protocols: readonly Buffer[] }
  | { readonly name: 'psk_key_exchange_modes'; readonly modes: readonly number[] }
  | { readonly name: 'pre_shared_key'; readonly identities: readonly PskIdentity[]; readonly binders: readonly Buffer[] }
  | { readonly name: 'early_data' }
  | { readonly name: 'cookie'; readonly cookie: Buffer }
  /** RFC 6066 §8, status_type ocsp only; other status types are kept as unknown. */
  | { readonly name: 'status_request'; readonly responderIds: readonly Buffer[]; readonly requestExtensions: Buffer }
  /** RFC 8449 §4: the largest TLSInnerPlaintext (content + type + padding) the client accepts. */
  | { readonly name: 'record_size_limit'; readonly limit: number }
  /** RFC 7685: the server has nothing to check in it; kept byte for byte. */
  | { readonly name: 'padding'; readonly data: Buffer }
  /** RFC 5746 §3.6: the caller checks it is empty on an initial handshake. */
  | { readonly name: 'renegotiation_info'; readonly renegotiatedConnection: Buffer }
  /** Anything else, ignored by the server (RFC 8446 §4.2). */
  | { readonly name: 'unknown'; readonly type: number; readonly data: Buffer };

export type ClientExtensionName = ClientExtension['name'];

/**
 * What encodeClientExtension accepts: a ClientExtension, except that ALPN names may be strings.
 * `{ name: 'unknown', type, data }` writes `data` verbatim under any type, known or not, which is
 * how a test sends a malformed known extension.
 */
export type ClientExtensionInit =
  | Exclude<ClientExtension, { name: 'application_layer_protocol_negotiation' }>
  | { readonly name: 'application_layer_protocol_negotiation'; readonly protocols: readonly (string | Uint8Array)[] };

const OCSP_STATUS_TYPE = 1;

export function decodeClientExtension(ext: RawExtension): ClientExtension {
  switch (ext.type) {
    case ExtensionType.server_name:
      return { name: 'server_name', hostName: decodeBody(ext, 'server_name', readServerNameList) };
    case ExtensionType.supported_versions:
      return {
        name: 'supported_versions',
        versions: decodeBody(ext, 'supported_versions', (r) => r.vec8('versions', 2, 254).u16List()),
      };
    case ExtensionType.supported_groups:
      return { name: 'supported_groups', groups: decodeBody(ext, 'supported_groups', readNamedGroupList) };
    case ExtensionType.key_share:
      return { name: 'key_share', shares: decodeBody(ext, 'key_share', readClientShares) };
    case ExtensionType.signature_algorithms:
      return { name: 'signature_algorithms', schemes: decodeBody(ext, 'signature_algorithms', readSignatureSchemeList) };
    case ExtensionType.signature_algorithms_cert:
      return {
        name: 'signature_algorithms_cert',
        schemes: decodeBody(ext, 'signature_algorithms_cert', readSignatureSchemeList),
      };
    case ExtensionType.application_layer_protocol_negotiation:
      return {
        name: 'application_layer_protocol_negotiation',
        protocols: decodeBody(ext, 'application_layer_protocol_negotiation', readProtocolNameList),
      };
    case ExtensionType.psk_key_exchange_modes:
      return {
        name: 'psk_key_exchange_modes',
        modes: decodeBody(ext, 'psk_key_exchange_modes', (r) => r.vec8('ke_modes', 1, 255).u8List()),
      };
    case ExtensionType.pre_shared_key:
      return { name: 'pre_shared_key', ...decodeBody(ext, 'pre_shared_key', readOfferedPsks) };
    case ExtensionType.early_data:
      expectEmptyBody(ext, 'early_data');
      return { name: 'early_data' };
    case ExtensionType.cookie:
      return { name: 'cookie', cookie: decodeBody(ext, 'cookie', (r) => r.opaque16('cookie', 1, 0xffff)) };
    case ExtensionType.status_request:
      if (ext.data[0] !== OCSP_STATUS_TYPE) return { name: 'unknown', type: ext.type, data: ext.data };
      return { name: 'status_request', ...decodeBody(ext, 'status_request', readOcspStatusRequest) };
    case ExtensionType.record_size_limit:
      return { name: 'record_size_limit', limit: decodeBody(ext, 'record_size_limit', readRecordSizeLimit) };
    case ExtensionType.padding:
      return { name: 'padding', data: ext.data };
    case ExtensionType.renegotiation_info:
      return {
        name: 'renegotiation_info',
        renegotiatedConnection: decodeBody(ext, 'renegotiation_info', (r) => r.opaque8('renegotiated_connection')),
      };
    default:
      return { name: 'unknown', type: ext.type, data: ext.data };
  }
}

export function encodeClientExtension(ext: ClientExtensionInit): RawExtension {
  switch (ext.name) {
    case 'server_name':
      return {
        type: ExtensionType.server_name,
        data: encodeBody((w) => w.vec16((list) => list.u8(HOST_NAME_TYPE).opaque16(Buffer.from(ext.hostName, 'utf8')))),
      };
    case 'supported_versions':
      return {
        type: ExtensionType.supported_versions,
        data: encodeBody((w) => w.vec8((v) => ext.versions.forEach((x) => v.u16(x)))),
      };
    case 'supported_groups':
      return { type: ExtensionType.supported_groups, data: encodeBody((w) => writeU16Vector(w, ext.groups)) };
    case 'key_share':
      return {
        type: ExtensionType.key_share,
        data: encodeBody((w) => w.vec16((list) => ext.shares.forEach((s) => writeKeyShareEntry(list, s)))),
      };
    case 'signature_algorithms':
      return { type: ExtensionType.signature_algorithms, data: encodeBody((w) => writeU16Vector(w, ext.schemes)) };
    case 'signature_algorithms_cert':
      return { type: ExtensionType.signature_algorithms_cert, data: encodeBody((w) => writeU16Vector(w, ext.schemes)) };
    case 'application_layer_protocol_negotiation':
      return {
        type: ExtensionType.application_layer_protocol_negotiation,
        data: encodeBody((w) => writeProtocolNameList(w, ext.protocols)),
      };
    case 'psk_key_exchange_modes':
      return { type: ExtensionType.psk_key_exchange_modes, data: encodeBody((w) => w.opaque8(Buffer.from(ext.modes))) };
    case 'pre_shared_key':
      return {
        type: ExtensionType.pre_shared_key,
        data: encodeBody((w) => {
          w.vec16((list) => ext.identities.forEach((id) => list.opaque16(id.identity).u32(id.obfuscatedTicketAge)));
          w.vec16((list) => ext.binders.forEach((b) => list.opaque8(b)));
        }),
      };
    case 'early_data':
      return { type: ExtensionType.early_data, data: Buffer.alloc(0) };
    case 'cookie':
      return { type: ExtensionType.cookie, data: encodeBody((w) => w.opaque16(ext.cookie)) };
    case 'status_request':
      return {
        type: ExtensionType.status_request,
        data: encodeBody((w) => {
          w.u8(OCSP_STATUS_TYPE);
          w.vec16((list) => ext.responderIds.forEach((id) => list.opaque16(id)));
          w.opaque16(ext.requestExtensions);
        }),
      };
    case 'record_size_limit':
      return { type: ExtensionType.record_size_limit, data: encodeBody((w) => w.u16(ext.limit)) };
    case 'padding':
      return { type: ExtensionType.padding, data: Buffer.from(ext.data) };
    case 'renegotiation_info':
      return { type: ExtensionType.renegotiation_info, data: encodeBody((w) => w.opaque8(ext.renegotiatedConnection)) };
    case 'unknown':
      return { type: ext.type, data: Buffer.from(ext.data) };
  }
}

/**
 * Bytes the binders list takes at the end of a ClientHello that carries pre_shared_key, length
 * prefix included. RFC 8446 §4.2.11.2: binders are computed over the ClientHello truncated by
 * exactly this much (pre_shared_key is the last extension and binders its last field).
 */
export function bindersEncodedLength(binders: readonly Buffer[]): number {
  return 2 + binders.reduce((sum, b) => sum + 1 + b.length, 0);
}

const HOST_NAME_TYPE = 0;

/**
 * RFC 8449 §4 `uint16 RecordSizeLimit`: "Endpoints MUST NOT send a "record_size_limit" extension
 * with a value smaller than 64. An endpoint MUST treat receipt of a smaller value as a fatal
 * error and generate an "illegal_parameter" alert."
 */
export function readRecordSizeLimit(r: Reader): number {
  const limit = r.u16('record_size_limit');
  if (limit < 64) throw illegalParameter(`record_size_limit ${limit} is below 64 (RFC 8449 §4)`);
  return limit;
}

/**
 * RFC 6066 §3 `ServerName server_name_list<1..2^16-1>`. Only host_name is defined, and the
 * structure of any other name_type is unknown, so anything but a single host_name is rejected:
 * a second host_name is illegal_parameter ("MUST NOT contain more than one name of the same
 * name_type"), another name_type decode_error.
 */
function readServerNameList(r: Reader): string {
  const list = r.vec16('server_name_list', 1, 0xffff);
  const nameType = list.u8('name_type');
  if (nameType !== HOST_NAME_TYPE) throw decodeError(`server_name: unknown name_type ${nameType}`);
  const hostName = list.opaque16('host_name', 1, 0xffff);
  if (list.remaining > 0) {
    if (list.u8('name_type') === HOST_NAME_TYPE) throw illegalParameter('server_name: more than one host_name (RFC 6066 §3)');
    throw decodeError('server_name: entries after the host_name');
  }
  return checkHostName(hostName);
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

const IPV6_LITERAL = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * An IPv4 or IPv6 literal in server_name. RFC 6066 §3 says "Literal IPv4 and IPv6 addresses are
 * not permitted", but real clients send them (wrk, older Java, scripts that connect to
 * https://192.0.2.1/): like rustls and OpenSSL, the server treats one as no SNI at all rather
 * than fail the handshake. An all-numeric last label is never a DNS name (no numeric TLD).
 */
export function isIpLiteral(name: string): boolean {
  return /^[0-9]+$/.test(name.slice(name.lastIndexOf('.') + 1)) || (name.includes(':') && IPV6_LITERAL.test(name));
}

/**
 * RFC 6066 §3: "HostName ... a byte string using ASCII encoding without a trailing dot". We
 * accept DNS names (letters, digits, hyphen, and underscore, which real names carry), at most 253
 * bytes, labels 1..63 bytes, and IP literals (see isIpLiteral). Anything else is
 * illegal_parameter: it parsed, but it is not a host name.
 */
function checkHostName(bytes: Buffer): string {
  const name = bytes.toString('latin1');
  if (isIpLiteral(name)) return name;
  const labels = name.split('.');
  const valid = name.length <= 253 && labels.every((label) => LABEL.test(label));
  if (!valid) throw illegalParameter(`server_name: not a DNS host name (${JSON.stringify(name.slice(0, 64))})`);
  return name;
}

/**
 * RFC 8446 §4.2.8 `KeyShareEntry client_shares<0..2^16-1>`. "Clients MUST NOT offer multiple
 * KeyShareEntry values for the same group ... Servers MAY check for violations of these rules
 * and abort the handshake with an illegal_parameter alert": we do.
 */
function readClientShares(r: Reader): KeyShareEntry[] {
  const list = r.vec16('client_shares', 0, 0xffff);
  const shares: KeyShareEntry[] = [];
  while (list.remaining > 0) {
    const entry = readKeyShareEntry(list);
    if (shares.some((s) => s.group === entry.group)) {
      throw illegalParameter(`key_share: two shares for group 0x${entry.group.toString(16).padStart(4, '0')} (RFC 8446 §4.2.8)`);
    }
    shares.push(entry);
  }
  return shares;
}

/**
 * RFC 8446 §4.2.11 `OfferedPsks { PskIdentity identities<7..2^16-1>; PskBinderEntry
 * binders<33..2^16-1>; }`, `opaque PskBinderEntry<32..255>`. One binder per identity, else
 * illegal_parameter.
 */
function readOfferedPsks(r: Reader): { identities: PskIdentity[]; binders: Buffer[] } {
  const idList = r.vec16('identities', 7, 0xffff);
  const identities: PskIdentity[] = [];
  while (idList.remaining > 0) {
    identities.push({ identity: idList.opaque16('identity', 1, 0xffff), obfuscatedTicketAge: idList.u32('obfuscated_ticket_age') });
  }
  const binderList = r.vec16('binders', 33, 0xffff);
  const binders: Buffer[] = [];
  while (binderList.remaining > 0) binders.push(binderList.opaque8('PskBinderEntry', 32, 255));
  if (binders.length !== identities.length) {
    throw illegalParameter(`pre_shared_key: ${identities.length} identities but ${binders.length} binders (RFC 8446 §4.2.11)`);
  }
  return { identities, binders };
}

/**
 * RFC 6066 §8 `struct { ResponderID responder_id_list<0..2^16-1>; Extensions request_extensions; }`
 * with `opaque ResponderID<1..2^16-1>` and `opaque Extensions<0..2^16-1>`.
 */
function readOcspStatusRequest(r: Reader): { responderIds: Buffer[]; requestExtensions: Buffer } {
  r.u8('status_type');
  const list = r.vec16('responder_id_list');
  const responderIds: Buffer[] = [];
  while (list.remaining > 0) responderIds.push(list.opaque16('ResponderID', 1, 0xffff));
  return { responderIds, requestExtensions: r.opaque16('request_extensions') };
}
