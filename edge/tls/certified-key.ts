// A certificate chain as the edge holds it: PEM certificates only, never a private key. The
// leaf's SubjectPublicKeyInfo hash names the remote key that signs for it on the key server.
import { X509Certificate } from 'node:crypto';
import { certificateHostnames } from '../../common/certificate-hostnames.js';
import { spkiSha256Hex } from '../../common/key-id.js';
import type { Signer } from '../signer.js';
import type { CertifiedKey } from './certificate-resolver.js';

export class ChainError extends Error {
  readonly code = 'EDGE_CHAIN_INVALID';
}

export interface ParsedChain {
  /** DER certificates, leaf first. */
  readonly chain: Buffer[];
  readonly leaf: X509Certificate;
  /** Hex SHA-256 of the leaf's SPKI: the key id to ask the key server for. */
  readonly keyId: string;
  /** DNS SANs of the leaf, lower-case (IP SANs are kept too; clients send no SNI for them). */
  readonly hostnames: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Parses a PEM chain (leaf first). A file that holds a private key is refused outright: the
 * edge must never be given one, even by mistake.
 */
export function parseChainPem(pem: string, source: string): ParsedChain {
  if (PEM_PRIVATE_KEY.test(pem)) throw new ChainError(`${source} contains a PRIVATE KEY block; the edge must never hold site private keys`);
  const chain = [...pem.matchAll(PEM_CERTIFICATE)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  if (chain.length === 0) throw new ChainError(`${source} holds no PEM certificate`);
  let certificates: X509Certificate[];
  try {
    certificates = chain.map((der) => new X509Certificate(der));
  } catch (err) {
    throw new ChainError(`${source}: not a valid certificate (${(err as Error).message})`);
  }
  const leaf = certificates[0]!;
  // Each certificate must be issued by the next one, or clients will reject the chain anyway.
  for (let i = 0; i + 1 < certificates.length; i++) {
    if (!certificates[i]!.checkIssued(certificates[i + 1]!)) {
      throw new ChainError(`${source}: certificate ${i + 1} is not issued by certificate ${i + 2}; the chain must go leaf first, then each issuer`);
    }
  }
  return { chain, leaf, keyId: spkiSha256Hex(leaf), hostnames: certificateHostnames(leaf) };
}

export function certifiedKey(name: string, parsed: ParsedChain, signer: Signer, hostnames?: readonly string[]): CertifiedKey {
  if (signer.keyId !== parsed.keyId) throw new ChainError(`${name}: the signer's key ${signer.keyId} is not the key of the certificate (${parsed.keyId})`);
  return { name, chain: parsed.chain, leaf: parsed.leaf, hostnames: hostnames ?? parsed.hostnames, signer };
}

/** Reads chain files and binds each to the signer of its key (tests, benchmarks, tools). */
export async function loadCertifiedKeys(chains: readonly { name: string; file: string }[], signers: ReadonlyMap<string, Signer>): Promise<CertifiedKey[]> {
  const { readFile } = await import('node:fs/promises');
  return Promise.all(
    chains.map(async ({ name, file }) => {
      const parsed = parseChainPem(await readFile(file, 'utf8'), file);
      const signer = signers.get(parsed.keyId);
      if (!signer) throw new ChainError(`${name}: no signer for key ${parsed.keyId}`);
      return certifiedKey(name, parsed, signer);
    }),
  );
}
