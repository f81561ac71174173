// Certificate choice by SNI (exact before wildcard, one label per wildcard) and by the schemes
// the client accepts.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureScheme } from '../../../common/signature-scheme.js';
import type { Signer } from '../../../edge/signer.js';
import { CertificateResolver, type CertifiedKey } from '../../../edge/tls/certificate-resolver.js';
import { AlertDescription } from '../../../edge/tls/enums.js';
import { TlsError } from '../../../edge/tls/errors.js';

const leaf = {} as X509Certificate;
function key(name: string, hostnames: string[], schemes: SignatureScheme[]): CertifiedKey {
  const signer: Signer = { keyId: name, schemes, sign: () => Promise.reject(new Error('not used')) };
  return { name, chain: [], leaf, hostnames, signer };
}

const ecdsa = key('ecdsa', ['example.com', '*.example.com'], [SignatureScheme.ecdsa_secp256r1_sha256]);
const rsa = key('rsa', ['example.com', '*.example.com'], [SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.rsa_pkcs1_sha256]);
const exact = key('exact', ['api.example.com'], [SignatureScheme.ecdsa_secp256r1_sha256]);
const other = key('other', ['other.test'], [SignatureScheme.ed25519]);
const ALL = [SignatureScheme.ecdsa_secp256r1_sha256, SignatureScheme.rsa_pss_rsae_sha256, SignatureScheme.ed25519];

function alertOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TlsError) return err.alert;
    throw err;
  }
  return undefined;
}

describe('CertificateResolver', () => {
  const resolver = new CertificateResolver([ecdsa, rsa, exact, other], { unknownServerName: 'default' });

  it('prefers an exact name over a wildcard', () => {
    expect(resolver.resolve('api.example.com', ALL).key.name).toBe('exact');
    expect(resolver.resolve('www.example.com', ALL)).toMatchObject({ sniMatched: true, key: { name: 'ecdsa' } });
  });

  it('lets a wildcard stand for exactly one label (RFC 6125 §6.4.3)', () => {
    expect(resolver.resolve('a.b.example.com', ALL).sniMatched).toBe(false);
    expect(resolver.resolve('example.com', ALL).key.name).toBe('ecdsa');
  });

  it('takes the first chain whose key signs a scheme the client offers, in the client order', () => {
    expect(resolver.resolve('www.example.com', [SignatureScheme.rsa_pss_rsae_sha256])).toMatchObject({ key: { name: 'rsa' }, scheme: SignatureScheme.rsa_pss_rsae_sha256 });
  });

  it('never picks PKCS#1 v1.5 for TLS 1.3 (RFC 8446 §4.2.3)', () => {
    expect(alertOf(() => resolver.resolve('www.example.com', [SignatureScheme.rsa_pkcs1_sha256]))).toBe(AlertDescription.handshake_failure);
  });

  it('serves the default chain, and the chains sharing its names, without SNI or for an unknown name', () => {
    expect(resolver.resolve(undefined, ALL)).toMatchObject({ key: { name: 'ecdsa' }, sniMatched: false });
    expect(resolver.resolve('unknown.test', [SignatureScheme.rsa_pss_rsae_sha256]).key.name).toBe('rsa');
  });

  it('answers unrecognized_name for an unknown name when configured to reject, but still serves clients without SNI', () => {
    const strict = new CertificateResolver([ecdsa, other], { unknownServerName: 'reject', defaultName: 'other' });
    expect(alertOf(() => strict.resolve('unknown.test', ALL))).toBe(AlertDescription.unrecognized_name);
    expect(strict.resolve(undefined, ALL).key.name).toBe('other');
  });

  it('refuses a configuration without chains or with an unknown default', () => {
    expect(() => new CertificateResolver([], { unknownServerName: 'default' })).toThrow();
    expect(() => new CertificateResolver([ecdsa], { unknownServerName: 'default', defaultName: 'nope' })).toThrow(/nope/);
  });
});
