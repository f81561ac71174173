// The certificate chains the edge serves, each bound to its remote key on the key servers.
//
// A chain's key is known from its certificate alone (key id = SHA-256 of the SPKI; schemes from
// the key type), so the edge starts, and answers with a clean internal_error, even while no key
// server is reachable. ListKeys, when it answers, narrows each key to what the key servers say
// this edge may sign with it, and tells which chains the policy does not cover at all.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { schemeInfo, schemesForAlgorithm, type SignatureScheme } from '../common/signature-scheme.js';
import { spkiSha256Hex } from '../common/key-id.js';
import { keyAlgorithmOf } from '../common/verify-tls-signature.js';
import type { EdgeConfig } from './config.js';
import type { KeyInfo, KeyServerPool } from './keyserver-client/index.js';
import { RemoteSigner } from './keyserver-client/remote-signer.js';
import { CertificateResolver } from './tls/certificate-resolver.js';
import { certifiedKey, ChainError, parseChainPem, type ParsedChain } from './tls/certified-key.js';

export interface ServedChain {
  readonly name: string;
  readonly file: string;
  readonly parsed: ParsedChain;
  readonly signer: RemoteSigner;
  readonly hostnames: readonly string[];
}

export class EdgeSetupError extends Error {
  constructor(
    readonly code: 'EDGE_CHAIN_INVALID' | 'EDGE_SITE_KEY_AS_CLIENT_KEY' | 'EDGE_UNKNOWN_DEFAULT' | 'EDGE_CLIENT_CREDENTIAL_INVALID' | 'EDGE_TICKET_KEY_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'EdgeSetupError';
  }
}

/** The TLS 1.3 schemes a key of this certificate's type can produce. */
export function schemesOfCertificate(leaf: X509Certificate): SignatureScheme[] {
  const algorithm = keyAlgorithmOf(leaf.publicKey);
  if (!algorithm) return [];
  return schemesForAlgorithm(algorithm).filter((s) => schemeInfo(s)?.allowedInTls13);
}

export async function loadServedChains(config: EdgeConfig, pool: Pick<KeyServerPool, 'sign'>): Promise<ServedChain[]> {
  const chains: ServedChain[] = [];
  for (const [index, entry] of config.tls.certificates.entries()) {
    let parsed: ParsedChain;
    try {
      parsed = parseChainPem(await readFile(entry.chain, 'utf8'), entry.chain);
    } catch (err) {
      const why = err instanceof ChainError ? err.message : `cannot read ${entry.chain}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      throw new EdgeSetupError('EDGE_CHAIN_INVALID', `field 'tls.certificates[${index}].chain': ${why}`);
    }
    const schemes = schemesOfCertificate(parsed.leaf);
    if (schemes.length === 0) throw new EdgeSetupError('EDGE_CHAIN_INVALID', `field 'tls.certificates[${index}].chain': the certificate's key type cannot sign a TLS 1.3 handshake`);
    const info: KeyInfo = { keyId: parsed.keyId, algorithm: keyAlgorithmOf(parsed.leaf.publicKey)!, schemes, hostnames: parsed.hostnames, operations: ['tls13-certificate-verify'] };
    const signer = new RemoteSigner(pool, info, { publicKey: parsed.leaf.publicKey });
    const hostnames = entry.hostnames ?? parsed.hostnames.filter((h) => !/^[0-9.:]+$/.test(h));
    chains.push({ name: entry.name, file: entry.chain, parsed, signer, hostnames });
  }
  if (config.tls.default !== undefined && !chains.some((c) => c.name === config.tls.default)) {
    throw new EdgeSetupError('EDGE_UNKNOWN_DEFAULT', `field 'tls.default': no certificate named '${config.tls.default}'`);
  }
  return chains;
}

export function resolverFor(config: EdgeConfig, chains: readonly ServedChain[]): CertificateResolver {
  return new CertificateResolver(
    chains.map((c) => certifiedKey(c.name, c.parsed, c.signer, c.hostnames)),
    { unknownServerName: config.tls.unknownServerName, ...(config.tls.default !== undefined ? { defaultName: config.tls.default } : {}) },
  );
}

/**
 * The edge's own client credential must be its own: a key that matches its certificate, and
 * not the key of any site it serves. (Someone who copies a site key into the client key slot
 * would put a site private key on the edge; refuse it.)
 */
export async function checkClientCredential(config: EdgeConfig, chains: readonly ServedChain[]): Promise<void> {
  const { clientCert, clientKey } = config.keyServers;
  let certificate: X509Certificate;
  let keyId: string;
  try {
    certificate = new X509Certificate(await readFile(clientCert));
  } catch (err) {
    throw new EdgeSetupError('EDGE_CLIENT_CREDENTIAL_INVALID', `field 'keyServers.clientCert': not a readable PEM certificate (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`);
  }
  try {
    const key = createPrivateKey(await readFile(clientKey));
    keyId = spkiSha256Hex(createPublicKey(key));
    if (!certificate.checkPrivateKey(key)) throw new EdgeSetupError('EDGE_CLIENT_CREDENTIAL_INVALID', "field 'keyServers.clientKey': does not match keyServers.clientCert");
  } catch (err) {
    if (err instanceof EdgeSetupError) throw err;
    throw new EdgeSetupError('EDGE_CLIENT_CREDENTIAL_INVALID', `field 'keyServers.clientKey': not a readable private key (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`);
  }
  const site = chains.find((c) => c.parsed.keyId === keyId);
  if (site) {
    throw new EdgeSetupError('EDGE_SITE_KEY_AS_CLIENT_KEY', `field 'keyServers.clientKey': this is the private key of site certificate '${site.name}'; the edge must never hold site keys`);
  }
}

export interface KeyRefreshResult {
  /** Chains whose key the key servers do not list for this edge (policy, or key not loaded). */
  readonly unlisted: readonly string[];
}

/** Applies a ListKeys answer: each chain's schemes become what the key servers say it can sign in TLS 1.3. */
export function applyKeyList(chains: readonly ServedChain[], keys: readonly KeyInfo[]): KeyRefreshResult {
  const byId = new Map(keys.map((k) => [k.keyId, k]));
  const unlisted: string[] = [];
  for (const chain of chains) {
    const info = byId.get(chain.parsed.keyId);
    if (!info || !info.operations.includes('tls13-certificate-verify')) {
      unlisted.push(chain.name);
      continue;
    }
    const fromCertificate = schemesOfCertificate(chain.parsed.leaf);
    chain.signer.updateSchemes(fromCertificate.filter((s) => info.schemes.includes(s)));
  }
  return { unlisted };
}
