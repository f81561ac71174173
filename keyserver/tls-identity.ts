// The key server's TLS identity (its certificate and key) and the CA bundle edges must chain
// to, as grpc-js server credentials whose secure context a reload replaces without a restart.
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export class TlsIdentityError extends Error {
  readonly code = 'TLS_IDENTITY_INVALID';
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
}

// TLS 1.3 only. minVersion must be in the secure context options as well as in the server
// options: Node applies the protocol range per SecureContext, and setSecureContext() on a
// reload builds a fresh one.
const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/**
 * Server credentials: client certificates requested and verified against the edge CA.
 * Connections without a verified certificate are accepted at the TLS layer so that every
 * refusal is answered per call and written to the audit log with the caller's address; such
 * calls see no identity and are denied (UNAUTHENTICATED).
 *
 * (grpc-js's experimental certificate-provider credentials lose an update delivered while the
 * server attaches its watcher, leaving every connection dropped; this subclass of the public
 * ServerCredentials hands the server a complete context up front.)
 */
export class ReloadableTlsIdentity extends grpc.ServerCredentials {
  constructor() {
    super({ requestCert: true, rejectUnauthorized: false, ...TLS_VERSIONS });
  }

  /** SHA-256 of the edge CA bundle in use, to tell whether a reload changed it. */
  private caDigest: string | undefined;

  /**
   * Reads and checks the files; the server sees the new material only when all of it is good.
   * Resolves true when the edge CA bundle differs from the one loaded before (false the first time).
   */
  async load(files: TlsFiles): Promise<boolean> {
    const [certificate, privateKey, ca] = await Promise.all([readFile(files.cert), readFile(files.key), readFile(files.clientCa)]);
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certificate);
      new X509Certificate(ca);
    } catch {
      throw new TlsIdentityError(`tls.cert or tls.clientCa is not a PEM certificate (${files.cert}, ${files.clientCa})`);
    }
    let key;
    try {
      key = createPrivateKey(privateKey);
    } catch {
      throw new TlsIdentityError(`tls.key is not a readable private key (${files.key})`);
    }
    if (!leaf.checkPrivateKey(key)) throw new TlsIdentityError(`tls.key does not match tls.cert (${files.key})`);
    if (Date.parse(leaf.validTo) < Date.now()) throw new TlsIdentityError(`tls.cert expired on ${leaf.validTo}`);
    const context: SecureContextOptions = { ca, cert: certificate, key: privateKey, ...TLS_VERSIONS };
    this.updateSecureContextOptions(context);
    const digest = createHash('sha256').update(ca).digest('hex');
    const changed = this.caDigest !== undefined && this.caDigest !== digest;
    this.caDigest = digest;
    return changed;
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}
