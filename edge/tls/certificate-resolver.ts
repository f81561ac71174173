// Which certificate chain (and so which remote key) answers a ClientHello: by SNI, with exact
// names before wildcards (RFC 6125 §6.4.3: a wildcard stands for exactly one left-most label),
// then the signature schemes the client accepts. Several chains may serve one name (an ECDSA and
// an RSA one); the first whose key can sign a scheme the client offers wins.
import type { X509Certificate } from 'node:crypto';
import { schemeInfo, type SignatureScheme } from '../../common/signature-scheme.js';
import type { Signer } from '../signer.js';
import { handshakeFailure, unrecognizedName } from './errors.js';

export interface CertifiedKey {
  /** A name for logs and metrics (the config's label for this chain). */
  readonly name: string;
  /** DER certificates, leaf first, as the Certificate message carries them. */
  readonly chain: readonly Buffer[];
  readonly leaf: X509Certificate;
  /** Lower-case DNS names (possibly "*.example.com") this chain answers for. */
  readonly hostnames: readonly string[];
  /** The remote key; the edge never holds the private key itself. */
  readonly signer: Signer;
}

export interface CertificateChoice {
  readonly key: CertifiedKey;
  readonly scheme: SignatureScheme;
  /** True when the client's server_name selected the chain (the EncryptedExtensions acknowledge it, RFC 6066 §3). */
  readonly sniMatched: boolean;
}

export interface CertificateResolverOptions {
  /** Chain used without SNI, and for unknown names when `unknownServerName` is 'default'. Default: the first. */
  readonly defaultName?: string;
  /** What an unknown server_name gets: the default chain, or an unrecognized_name alert. */
  readonly unknownServerName: 'default' | 'reject';
}

export class CertificateResolver {
  private readonly exact = new Map<string, CertifiedKey[]>();
  private readonly wildcard = new Map<string, CertifiedKey[]>();
  /** Without a usable server_name: the default chain first, then the chains that share a name with it. */
  private readonly fallback: readonly CertifiedKey[];

  constructor(
    readonly keys: readonly CertifiedKey[],
    private readonly options: CertificateResolverOptions,
  ) {
    if (keys.length === 0) throw new Error('CertificateResolver needs at least one certificate chain');
    for (const key of keys) {
      for (const name of key.hostnames) {
        const lower = name.toLowerCase();
        const [map, lookup] = lower.startsWith('*.') ? [this.wildcard, lower.slice(2)] : [this.exact, lower];
        const list = map.get(lookup) ?? [];
        list.push(key);
        map.set(lookup, list);
      }
    }
    const first = options.defaultName === undefined ? keys[0] : keys.find((k) => k.name === options.defaultName);
    if (!first) throw new Error(`default certificate '${options.defaultName}' is not configured`);
    // An ECDSA and an RSA chain for the same names both serve as the default, so a client
    // without SNI still gets the key type it can verify.
    this.fallback = [first, ...keys.filter((k) => k !== first && k.hostnames.some((h) => first.hostnames.includes(h)))];
  }

  /**
   * @param serverName the client's server_name (lower-case), or undefined
   * @param clientSchemes signature_algorithms, in the client's order of preference
   * Throws TlsError unrecognized_name (unknown name, `reject`) or handshake_failure (no scheme in common).
   */
  resolve(serverName: string | undefined, clientSchemes: readonly number[]): CertificateChoice {
    let candidates: readonly CertifiedKey[];
    let sniMatched = false;
    const named = serverName === undefined ? undefined : this.byName(serverName);
    if (named) {
      candidates = named;
      sniMatched = true;
    } else if (serverName !== undefined && this.options.unknownServerName === 'reject') {
      throw unrecognizedName(`no certificate for server_name ${JSON.stringify(serverName)}`);
    } else {
      candidates = this.fallback;
    }
    for (const key of candidates) {
      const scheme = pickScheme(key.signer.schemes, clientSchemes);
      if (scheme !== undefined) return { key, scheme, sniMatched };
    }
    throw handshakeFailure(
      `no signature scheme in common for ${candidates.map((k) => k.name).join(', ')} (the client offers ${clientSchemes.map((s) => `0x${s.toString(16).padStart(4, '0')}`).join(', ')})`,
      'TLS_ERR_NO_COMMON_SIGNATURE_SCHEME',
    );
  }

  private byName(name: string): readonly CertifiedKey[] | undefined {
    const exact = this.exact.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return dot > 0 ? this.wildcard.get(name.slice(dot + 1)) : undefined;
  }
}

/** The client's most preferred scheme that the key can produce and TLS 1.3 allows (§4.2.3: no PKCS#1 v1.5, no SHA-1). */
function pickScheme(keySchemes: readonly SignatureScheme[], clientSchemes: readonly number[]): SignatureScheme | undefined {
  for (const scheme of clientSchemes) {
    if (schemeInfo(scheme)?.allowedInTls13 && keySchemes.includes(scheme as SignatureScheme)) return scheme as SignatureScheme;
  }
  return undefined;
}
