// What a ClientHello offers, read once and checked against the rules a TLS 1.3 server must
// enforce before it negotiates anything (RFC 8446 §4.1.2, §4.2, §9.2). The state machine
// negotiates from this; it never looks at raw extensions again.
import { findExtension, type ClientHello } from '../codecs/client-hello.js';
import { isIpLiteral, type KeyShareEntry, type PskIdentity } from '../codecs/extensions.js';
import { ProtocolVersion } from '../enums.js';
import { illegalParameter, missingExtension, protocolVersion } from '../errors.js';

export interface ClientOffer {
  readonly hello: ClientHello;
  /** server_name, lower-case; undefined when the client sent none, or an IP literal. */
  readonly serverName: string | undefined;
  readonly cipherSuites: readonly number[];
  /** supported_groups, in the client's order of preference. */
  readonly groups: readonly number[];
  readonly keyShares: readonly KeyShareEntry[];
  /** signature_algorithms, in the client's order of preference. */
  readonly signatureSchemes: readonly number[];
  /** ALPN protocol names as the client listed them; undefined when it sent no ALPN extension. */
  readonly alpn: readonly string[] | undefined;
  /** The PSKs offered (session tickets), with their binders; undefined when none. */
  readonly psk: { readonly identities: readonly PskIdentity[]; readonly binders: readonly Buffer[] } | undefined;
  /** psk_key_exchange_modes (§4.2.9); empty when absent. */
  readonly pskModes: readonly number[];
  /** The client sent 0-RTT data after its hello (early_data extension); we never accept it. */
  readonly earlyData: boolean;
  /** RFC 8449 record_size_limit, when sent. */
  readonly recordSizeLimit: number | undefined;
  /** A cookie extension (only legitimate in a second ClientHello that echoes ours). */
  readonly cookie: Buffer | undefined;
}

/**
 * Reads the offer of a TLS 1.3 ClientHello. Throws TlsError:
 * - protocol_version when TLS 1.3 is not offered (no supported_versions, or without 0x0304):
 *   this server speaks TLS 1.3 only (RFC 8446 §4.2.1, §D.2);
 * - illegal_parameter when legacy_compression_methods is not exactly [0] (§4.1.2), or a key
 *   share is for a group the client did not list in supported_groups (§4.2.8);
 * - missing_extension when signature_algorithms, supported_groups or key_share is absent
 *   (§9.2: mandatory without PSK, and a PSK is only ever used with (EC)DHE here), or pre_shared_key comes without
 *   psk_key_exchange_modes (§4.2.9).
 */
export function readClientOffer(hello: ClientHello): ClientOffer {
  const versions = findExtension(hello, 'supported_versions');
  if (!versions) throw protocolVersion('the client offers only TLS 1.2 or older (no supported_versions)');
  if (!versions.versions.includes(ProtocolVersion.TLS_1_3)) {
    throw protocolVersion(`the client does not offer TLS 1.3 (supported_versions ${versions.versions.map(hex4).join(', ')})`);
  }
  if (hello.legacyCompressionMethods.length !== 1 || hello.legacyCompressionMethods[0] !== 0) {
    throw illegalParameter('legacy_compression_methods must be exactly [null] in TLS 1.3 (RFC 8446 §4.1.2)');
  }

  const signatureAlgorithms = findExtension(hello, 'signature_algorithms');
  if (!signatureAlgorithms) throw missingExtension('ClientHello without signature_algorithms (RFC 8446 §9.2)');
  const supportedGroups = findExtension(hello, 'supported_groups');
  const keyShare = findExtension(hello, 'key_share');
  if (!supportedGroups) throw missingExtension('ClientHello without supported_groups (RFC 8446 §9.2)');
  if (!keyShare) throw missingExtension('ClientHello without key_share (RFC 8446 §9.2)');
  for (const share of keyShare.shares) {
    if (!supportedGroups.groups.includes(share.group)) {
      throw illegalParameter(`key_share for group ${hex4(share.group)}, which supported_groups does not list (RFC 8446 §4.2.8)`);
    }
  }

  const psk = findExtension(hello, 'pre_shared_key');
  const pskModes = findExtension(hello, 'psk_key_exchange_modes');
  if (psk && !pskModes) {
    throw missingExtension('pre_shared_key without psk_key_exchange_modes (RFC 8446 §4.2.9)');
  }

  const alpn = findExtension(hello, 'application_layer_protocol_negotiation');
  return {
    hello,
    serverName: dnsServerName(findExtension(hello, 'server_name')?.hostName),
    cipherSuites: hello.cipherSuites,
    groups: supportedGroups.groups,
    keyShares: keyShare.shares,
    signatureSchemes: signatureAlgorithms.schemes,
    alpn: alpn?.protocols.map((p) => p.toString('latin1')),
    psk: psk ? { identities: psk.identities, binders: psk.binders } : undefined,
    pskModes: pskModes?.modes ?? [],
    earlyData: findExtension(hello, 'early_data') !== undefined,
    recordSizeLimit: findExtension(hello, 'record_size_limit')?.limit,
    cookie: findExtension(hello, 'cookie')?.cookie,
  };
}

/** The server_name to select a certificate by: lower-case, and none for an IP literal (isIpLiteral). */
function dnsServerName(name: string | undefined): string | undefined {
  if (name === undefined || isIpLiteral(name)) return undefined;
  return name.toLowerCase();
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}
