// ClientHello (RFC 8446 §4.1.2): decoded by the server, encoded by tests and the test client.
//
// The decoder is structural and accepts legacy hellos far enough for the handshake to answer
// protocol_version (RFC 8446 §4.2.1, §D.2): any legacy_version, and no extensions block at all
// (RFC 5246 §7.4.1.2 allows a hello to end after the compression methods). Which version to
// speak, and whether legacy_compression_methods is exactly [0], is the state machine's call.
import { randomBytes } from 'node:crypto';
import { CipherSuite, ExtensionType, NamedGroup, ProtocolVersion, PskKeyExchangeMode } from '../enums.js';
import { decodeError, illegalParameter } from '../errors.js';
import { Reader, Writer } from '../wire.js';
import {
  decodeClientExtension,
  encodeClientExtension,
  readExtensions,
  writeExtensions,
  type ClientExtension,
  type ClientExtensionInit,
  type ClientExtensionName,
  type KeyShareEntry,
  type RawExtension,
} from './extensions.js';

export interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Buffer;
  readonly legacySessionId: Buffer;
  readonly cipherSuites: readonly number[];
  readonly legacyCompressionMethods: readonly number[];
  /** In wire order; unknown extensions included, as `{ name: 'unknown', type, data }`. */
  readonly extensions: readonly ClientExtension[];
}

/** RFC 8446 §4.1.2 `extensions<8..2^16-1>`. */
const TLS13_MIN_EXTENSIONS_LENGTH = 8;

/** Decodes a ClientHello handshake body (without the 4-byte handshake header). */
export function decodeClientHello(body: Buffer): ClientHello {
  const r = new Reader(body, 'ClientHello');
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytes(32, 'random');
  const legacySessionId = r.opaque8('legacy_session_id', 0, 32);
  const cipherSuites = r.vec16('cipher_suites', 2, 0xfffe).u16List();
  const legacyCompressionMethods = r.vec8('legacy_compression_methods', 1, 0xff).u8List();
  const hello = { legacyVersion, random, legacySessionId, cipherSuites, legacyCompressionMethods };
  if (r.remaining === 0) return { ...hello, extensions: [] };

  // The floor of 8 bytes is RFC 8446's; RFC 5246 allowed shorter blocks, so it is applied below
  // only to hellos that offer TLS 1.3 (that carry supported_versions).
  const raw = readExtensions(r, 0, 0xffff);
  r.expectEnd();
  const pskIndex = raw.findIndex((e) => e.type === ExtensionType.pre_shared_key);
  if (pskIndex !== -1 && pskIndex !== raw.length - 1) {
    throw illegalParameter('ClientHello: pre_shared_key is not the last extension (RFC 8446 §4.2.11)');
  }
  const blockLength = raw.reduce((sum, e) => sum + 4 + e.data.length, 0);
  if (blockLength < TLS13_MIN_EXTENSIONS_LENGTH && raw.some((e) => e.type === ExtensionType.supported_versions)) {
    throw decodeError(`ClientHello.extensions: length ${blockLength} outside <8..65535> (RFC 8446 §4.1.2)`);
  }
  return { ...hello, extensions: raw.map(decodeClientExtension) };
}

/**
 * Everything a test may want to set; the rest has ordinary defaults. Nothing is validated beyond
 * what the encoding itself needs, so a test can build hostile hellos: duplicate extensions,
 * pre_shared_key in the middle, empty lists, malformed bodies via `{ name: 'unknown', type, data }`.
 * A decoded ClientHello is a valid ClientHelloParams.
 */
export interface ClientHelloParams {
  /** Default 0x0303, as RFC 8446 §4.1.2 requires of TLS 1.3 clients. */
  readonly legacyVersion?: number;
  /** Default: 32 random bytes. */
  readonly random?: Uint8Array;
  /** Default: empty. */
  readonly legacySessionId?: Uint8Array;
  /** Default: the three RFC 8446 §B.4 suites. */
  readonly cipherSuites?: readonly number[];
  /** Default: [0] (null compression). */
  readonly legacyCompressionMethods?: readonly number[];
  /** Written in this order, verbatim. Default: none. */
  readonly extensions?: readonly ClientExtensionInit[];
  /** Leave out the extensions block entirely, like a pre-TLS 1.2 client. */
  readonly omitExtensions?: boolean;
}

/** Encodes a ClientHello handshake body; frame it with encodeHandshake(). */
export function encodeClientHello(params: ClientHelloParams = {}): Buffer {
  const w = new Writer()
    .u16(params.legacyVersion ?? ProtocolVersion.TLS_1_2)
    .bytes(params.random ?? randomBytes(32))
    .opaque8(params.legacySessionId ?? Buffer.alloc(0));
  const suites = params.cipherSuites ?? Object.values(CipherSuite);
  w.vec16((v) => suites.forEach((s) => v.u16(s)));
  w.opaque8(Buffer.from(params.legacyCompressionMethods ?? [0]));
  if (!params.omitExtensions) writeExtensions(w, (params.extensions ?? []).map(encodeClientExtension));
  return w.finish();
}

/** The first extension of that name, typed; undefined when absent. */
export function findExtension<N extends ClientExtensionName>(
  hello: ClientHello,
  name: N,
): Extract<ClientExtension, { name: N }> | undefined {
  return hello.extensions.find((e): e is Extract<ClientExtension, { name: N }> => e.name === name);
}

/** Extensions the second ClientHello may change after a HelloRetryRequest (RFC 8446 §4.1.2). */
const MAY_CHANGE_AFTER_RETRY: ReadonlySet<number> = new Set([
  ExtensionType.key_share,
  ExtensionType.early_data,
  ExtensionType.cookie,
  ExtensionType.pre_shared_key,
  ExtensionType.padding,
]);

/**
 * RFC 8446 §4.1.2: after a HelloRetryRequest "the client MUST send the same ClientHello without
 * modification", except for key_share (replaced), early_data (removed), cookie (added),
 * pre_shared_key (updated) and padding. Throws illegal_parameter on any other difference,
 * including the order of the other extensions, and if early_data is still offered. Whether the
 * new key_share and cookie are the right ones is the state machine's check.
 */
export function checkRetriedClientHello(first: ClientHello, second: ClientHello): void {
  const fail = (what: string): never => {
    throw illegalParameter(`second ClientHello changed ${what} (RFC 8446 §4.1.2)`);
  };
  if (first.legacyVersion !== second.legacyVersion) fail('legacy_version');
  if (!first.random.equals(second.random)) fail('random');
  if (!first.legacySessionId.equals(second.legacySessionId)) fail('legacy_session_id');
  if (!sameNumbers(first.cipherSuites, second.cipherSuites)) fail('cipher_suites');
  if (!sameNumbers(first.legacyCompressionMethods, second.legacyCompressionMethods)) fail('legacy_compression_methods');
  if (findExtension(second, 'early_data')) fail('early_data: still offered after a HelloRetryRequest');
  const a = fixedExtensions(first);
  const b = fixedExtensions(second);
  if (a.length !== b.length) fail('its extensions');
  a.forEach((ext, i) => {
    const other = b[i] as RawExtension;
    if (ext.type !== other.type || !ext.data.equals(other.data)) fail(`extension 0x${ext.type.toString(16).padStart(4, '0')}`);
  });
}

function fixedExtensions(hello: ClientHello): RawExtension[] {
  // Decoding is lossless, so re-encoding gives the bytes the client sent.
  return hello.extensions.map(encodeClientExtension).filter((e) => !MAY_CHANGE_AFTER_RETRY.has(e.type));
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export interface TypicalClientExtensionsOptions {
  readonly keyShares: readonly KeyShareEntry[];
  readonly serverName?: string;
  readonly alpn?: readonly (string | Uint8Array)[];
  /** Default: the key share groups, then x25519 and secp256r1. */
  readonly groups?: readonly number[];
  /** Default: ECDSA P-256/P-384, RSA-PSS (rsae) SHA-256/384, Ed25519. */
  readonly signatureSchemes?: readonly number[];
}

/**
 * The extensions a plain TLS 1.3 client sends, in a common order, for tests that need a valid
 * hello and do not care about its details. The caller supplies real key shares.
 */
export function typicalClientExtensions(options: TypicalClientExtensionsOptions): ClientExtensionInit[] {
  const groups = options.groups ?? [...new Set([...options.keyShares.map((s) => s.group), NamedGroup.x25519, NamedGroup.secp256r1])];
  const schemes = options.signatureSchemes ?? [0x0403, 0x0503, 0x0804, 0x0805, 0x0807];
  return [
    ...(options.serverName === undefined ? [] : [{ name: 'server_name', hostName: options.serverName } as const]),
    { name: 'supported_groups', groups },
    { name: 'signature_algorithms', schemes },
    ...(options.alpn === undefined ? [] : [{ name: 'application_layer_protocol_negotiation', protocols: options.alpn } as const]),
    { name: 'supported_versions', versions: [ProtocolVersion.TLS_1_3] },
    { name: 'psk_key_exchange_modes', modes: [PskKeyExchangeMode.psk_dhe_ke] },
    { name: 'key_share', shares: options.keyShares },
  ];
}
