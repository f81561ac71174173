// Keys and certificates made on the spot for key-store tests: every key type the key server
// supports, and a certificate for any public key (issued by a throwaway P-256 key, since only the
// certificate's public key and subjectAltNames matter to a key store).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, generateKeyPairSync, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '../../../common/signature-scheme.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface TestKey {
  readonly algorithm: KeyAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export function generateTestKey(algorithm: KeyAlgorithm, rsaBits = 2048): TestKey {
  switch (algorithm) {
    case 'rsa':
      return { algorithm, ...generateKeyPairSync('rsa', { modulusLength: rsaBits }) };
    case 'rsa-pss':
      return { algorithm, ...generateKeyPairSync('rsa-pss', { modulusLength: rsaBits }) };
    case 'ec-p256':
      return { algorithm, ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) };
    case 'ec-p384':
      return { algorithm, ...generateKeyPairSync('ec', { namedCurve: 'P-384' }) };
    case 'ed25519':
      return { algorithm, ...generateKeyPairSync('ed25519') };
  }
}

/** The key id computed independently of the code under test: SHA-256 of the DER SPKI. */
export function expectedKeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

const issuerAlgorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
let issuer: Promise<CryptoKeyPair> | undefined;

/** A PEM certificate for `publicKey` naming `hostnames` (DNS names, or IP addresses when they parse as one). */
export async function certificateFor(publicKey: KeyObject, hostnames: readonly string[]): Promise<string> {
  issuer ??= webcrypto.subtle.generateKey(issuerAlgorithm, false, ['sign', 'verify']) as Promise<CryptoKeyPair>;
  const { privateKey } = await issuer;
  const names = hostnames.map((n) => ({ type: /^[0-9.]+$|:/.test(n) ? ('ip' as const) : ('dns' as const), value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: webcrypto.getRandomValues(new Uint8Array(8)).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '7'),
    subject: `CN=${hostnames[0] ?? 'test'}`,
    issuer: 'CN=keyless test issuer',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    signingKey: privateKey,
    signingAlgorithm: issuerAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension(names)],
  });
  return cert.toString('pem');
}
