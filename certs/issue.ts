// Root CAs and end-entity certificates for development and tests: key pairs from node:crypto,
// certificates built and signed with @peculiar/x509 on node's WebCrypto. Never the openssl binary.
//
// Profile (RFC 5280 §4.2): a CA has basicConstraints CA:TRUE and keyUsage keyCertSign + cRLSign,
// both critical; a leaf has basicConstraints CA:FALSE, keyUsage digitalSignature (critical: a
// keyless edge only ever signs, it never decrypts an RSA key exchange), extendedKeyUsage
// serverAuth and/or clientAuth, and its names in subjectAltName. Every certificate carries a
// subjectKeyIdentifier equal to its key id: the SHA-256 of the DER SPKI (RFC 7093 §2, method 4),
// and a leaf's authorityKeyIdentifier is its issuer's subjectKeyIdentifier.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs the Reflect polyfill first.
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { spkiSha256Hex } from '../common/key-id.js';
import { CertsError } from './errors.js';
import { generateKeyPairFor } from './key-pair.js';
import type { CaKeyAlgorithm, KeyPair, LeafKeyAlgorithm } from './key-pair.js';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

/** A certificate with its private key, as PEM text ready to write to files. */
export interface IssuedCert {
  readonly certPem: string;
  /** PKCS#8 PEM ("BEGIN PRIVATE KEY"), unencrypted. */
  readonly keyPem: string;
  readonly certDer: Buffer;
  /**
   * The certificate first, then every issuer up to and including the root. Sending the root is
   * harmless (RFC 8446 §4.4.2 lets a server omit it) and keeps the dev files self-describing.
   * For a CA it is the CA certificate alone.
   */
  readonly chainPem: string;
  /** Hex SHA-256 of the DER SubjectPublicKeyInfo; see common/key-id.ts. */
  readonly keyId: string;
}

/** What issueCert needs from its issuer: an IssuedCert, or a CA certificate and key read from files. */
export interface CertIssuer {
  readonly certPem: string;
  readonly keyPem: string;
  /** The issuer's own chain; defaults to certPem (the issuer is a root). */
  readonly chainPem?: string;
}

export interface CreateCaOptions {
  readonly commonName: string;
  /** Default 'ec-p256'. */
  readonly keyAlgorithm?: CaKeyAlgorithm;
  /** Default: one hour ago (room for clock skew). */
  readonly notBefore?: Date;
  /** Default: ten years after notBefore. */
  readonly notAfter?: Date;
}

export type CertUsage = 'server' | 'client' | 'server-and-client';

export interface IssueCertOptions {
  readonly commonName: string;
  readonly keyAlgorithm: LeafKeyAlgorithm;
  /** subjectAltName dNSName entries; a leading "*." makes a wildcard. */
  readonly dnsNames?: readonly string[];
  /** subjectAltName iPAddress entries, IPv4 or IPv6 text. */
  readonly ipAddresses?: readonly string[];
  /** subjectAltName uniformResourceIdentifier entries, e.g. a SPIFFE id for an edge. */
  readonly uris?: readonly string[];
  readonly usage: CertUsage;
  /** Default: one hour ago, or one day before notAfter when notAfter is earlier than that. */
  readonly notBefore?: Date;
  /** Default: 397 days after notBefore (the CA/B Forum maximum for server certificates). */
  readonly notAfter?: Date;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const CA_LIFETIME_MS = 10 * 365 * DAY_MS;
const LEAF_LIFETIME_MS = 397 * DAY_MS;
/** X.520 ub-common-name (RFC 5280 Appendix A.1). */
const MAX_COMMON_NAME = 64;

export async function createCa(opts: CreateCaOptions): Promise<IssuedCert> {
  const name = subjectName(opts.commonName);
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - HOUR_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + CA_LIFETIME_MS);
  checkValidity(notBefore, notAfter);
  const keys = await generateKeyPairFor(opts.keyAlgorithm ?? 'ec-p256');
  const keyId = spkiSha256Hex(keys.publicKey);
  const signer = await webCryptoSigner(keys.privateKey);
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: name,
      issuer: name,
      notBefore,
      notAfter,
      publicKey: spkiOf(keys),
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        new x509.SubjectKeyIdentifierExtension(keyId),
      ],
    },
    crypto,
  );
  const certDer = Buffer.from(cert.rawData);
  const certPem = new X509Certificate(certDer).toString();
  return { certPem, keyPem: pkcs8Pem(keys.privateKey), certDer, chainPem: certPem, keyId };
}

export async function issueCert(issuer: CertIssuer, opts: IssueCertOptions): Promise<IssuedCert> {
  const subject = subjectName(opts.commonName);
  const altNames = subjectAltNames(opts);
  const usages = extendedKeyUsages(opts.usage);
  const { notBefore, notAfter } = leafValidity(opts);
  const ca = parseIssuer(issuer);
  const keys = await generateKeyPairFor(opts.keyAlgorithm);
  const keyId = spkiSha256Hex(keys.publicKey);
  const signer = await webCryptoSigner(ca.privateKey);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages),
    new x509.SubjectKeyIdentifierExtension(keyId),
    new x509.AuthorityKeyIdentifierExtension(ca.keyIdentifier),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames));
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject,
      // The issuer's subject as it is encoded in its certificate, so name chaining (RFC 5280
      // §6.1.3 (a)(4)) matches byte for byte.
      issuer: ca.parsed.subjectName,
      notBefore,
      notAfter,
      publicKey: spkiOf(keys),
      signingKey: signer.key,
      signingAlgorithm: signer.algorithm,
      extensions,
    },
    crypto,
  );
  const certDer = Buffer.from(cert.rawData);
  const certPem = new X509Certificate(certDer).toString();
  return {
    certPem,
    keyPem: pkcs8Pem(keys.privateKey),
    certDer,
    chainPem: certPem + ensureTrailingNewline(issuer.chainPem ?? issuer.certPem),
    keyId,
  };
}

function subjectName(commonName: string): x509.JsonName {
  // Control characters would make the name unreadable in logs and audit lines.
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME || /\p{Cc}/u.test(commonName)) {
    throw new CertsError('CERTS_BAD_NAME', `commonName must be 1 to ${MAX_COMMON_NAME} printable characters: ${JSON.stringify(commonName)}`);
  }
  return [{ CN: [commonName] }];
}

// A DNS name of letter-digit-hyphen labels (RFC 1035 §2.3.1), optionally with a leftmost "*" label
// (RFC 6125 §6.4.3).
const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?(?:${DNS_LABEL}\\.)*${DNS_LABEL}$`, 'i');

function subjectAltNames(opts: IssueCertOptions): x509.JsonGeneralNames {
  const names: x509.JsonGeneralNames = [];
  for (const dns of opts.dnsNames ?? []) {
    if (dns.length > 253 || !DNS_NAME.test(dns)) throw new CertsError('CERTS_BAD_NAME', `not a DNS name: ${JSON.stringify(dns)}`);
    names.push({ type: 'dns', value: dns.toLowerCase() });
  }
  for (const ip of opts.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new CertsError('CERTS_BAD_NAME', `not an IP address: ${JSON.stringify(ip)}`);
    names.push({ type: 'ip', value: ip });
  }
  for (const uri of opts.uris ?? []) {
    // RFC 5280 §4.2.1.6: the URI must include a scheme; URL.canParse rejects anything without one.
    if (!URL.canParse(uri)) throw new CertsError('CERTS_BAD_NAME', `not an absolute URI: ${JSON.stringify(uri)}`);
    names.push({ type: 'url', value: uri });
  }
  return names;
}

function leafValidity(opts: IssueCertOptions): { notBefore: Date; notAfter: Date } {
  const oneHourAgo = Date.now() - HOUR_MS;
  // An expired certificate for a test needs only notAfter in the past: notBefore follows it.
  const notBefore = opts.notBefore ?? (opts.notAfter ? new Date(Math.min(oneHourAgo, opts.notAfter.getTime() - DAY_MS)) : new Date(oneHourAgo));
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + LEAF_LIFETIME_MS);
  checkValidity(notBefore, notAfter);
  return { notBefore, notAfter };
}

function checkValidity(notBefore: Date, notAfter: Date): void {
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime()) || notAfter.getTime() <= notBefore.getTime()) {
    throw new CertsError('CERTS_BAD_VALIDITY', `notAfter (${String(notAfter)}) must be after notBefore (${String(notBefore)})`);
  }
}

function extendedKeyUsages(usage: CertUsage): x509.ExtendedKeyUsageType[] {
  switch (usage) {
    case 'server':
      return [x509.ExtendedKeyUsage.serverAuth];
    case 'client':
      return [x509.ExtendedKeyUsage.clientAuth];
    case 'server-and-client':
      return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    default:
      throw new CertsError('CERTS_BAD_OPTIONS', `unknown usage ${JSON.stringify(usage satisfies never)}`);
  }
}

interface ParsedIssuer {
  readonly parsed: x509.X509Certificate;
  readonly privateKey: KeyObject;
  /** Hex key identifier for the leaf's authorityKeyIdentifier. */
  readonly keyIdentifier: string;
}

function parseIssuer(issuer: CertIssuer): ParsedIssuer {
  let cert: X509Certificate;
  let privateKey: KeyObject;
  try {
    cert = new X509Certificate(issuer.certPem);
    privateKey = createPrivateKey(issuer.keyPem);
  } catch (err) {
    throw new CertsError('CERTS_BAD_ISSUER', `cannot read the issuer certificate or key: ${(err as Error).message}`);
  }
  if (!cert.ca) throw new CertsError('CERTS_BAD_ISSUER', `the issuer ${cert.subject} is not a CA (basicConstraints CA:TRUE)`);
  if (!cert.checkPrivateKey(privateKey)) throw new CertsError('CERTS_BAD_ISSUER', `the issuer key does not belong to ${cert.subject}`);
  const parsed = new x509.X509Certificate(cert.raw);
  // Chain to the identifier the issuer declares, so certificates of CAs made elsewhere chain too.
  const declared = parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return { parsed, privateKey, keyIdentifier: declared ?? spkiSha256Hex(cert) };
}

interface WebCryptoSigner {
  readonly key: CryptoKey;
  readonly algorithm: Algorithm | EcdsaParams;
}

/** The issuer key as a WebCrypto signing key, with a hash matched to its strength. */
async function webCryptoSigner(privateKey: KeyObject): Promise<WebCryptoSigner> {
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const type = privateKey.asymmetricKeyType;
  if (type === 'ec') {
    const curve = privateKey.asymmetricKeyDetails?.namedCurve;
    const params = curve === 'prime256v1' ? { namedCurve: 'P-256', hash: 'SHA-256' } : curve === 'secp384r1' ? { namedCurve: 'P-384', hash: 'SHA-384' } : undefined;
    if (!params) throw new CertsError('CERTS_BAD_ISSUER', `cannot sign with an issuer key on curve ${curve ?? 'unknown'}; use P-256 or P-384`);
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: params.namedCurve }, false, ['sign']);
    return { key, algorithm: { name: 'ECDSA', hash: params.hash } };
  }
  if (type === 'rsa') {
    const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return { key, algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } };
  }
  throw new CertsError('CERTS_BAD_ISSUER', `cannot sign with an issuer key of type ${type ?? 'unknown'}; use ECDSA or RSA`);
}

function spkiOf(keys: KeyPair): Uint8Array<ArrayBuffer> {
  // Passed as DER, so the certificate carries exactly the SPKI node encodes (and the key id is
  // computed from), including id-RSASSA-PSS keys that WebCrypto could not import.
  return new Uint8Array(keys.publicKey.export({ type: 'spki', format: 'der' }));
}

function pkcs8Pem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function ensureTrailingNewline(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`;
}
