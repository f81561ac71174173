// createCa / issueCert: every key algorithm gives a certificate that node and OpenSSL both accept,
// chains to its CA, speaks for exactly its names, and matches its private key; the options tests
// rely on (expired certificates, an unrelated CA, an issuer read from files) do what they say.
import { X509Certificate, constants, createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertsError, createCa, issueCert } from '../../certs/index.js';
import type { IssuedCert, LeafKeyAlgorithm } from '../../certs/index.js';
import { hasOpenssl, opensslText, opensslVerify } from './openssl-verify.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** id-RSASSA-PSS (RFC 4055 §3.1), DER-encoded OID. */
const ID_RSASSA_PSS = Buffer.from('06092a864886f70d01010a', 'hex');

const LEAF_KEYS: readonly { algorithm: LeafKeyAlgorithm; type: string; curve?: string; bits?: number }[] = [
  { algorithm: 'ec-p256', type: 'ec', curve: 'prime256v1' },
  { algorithm: 'ec-p384', type: 'ec', curve: 'secp384r1' },
  { algorithm: 'rsa-2048', type: 'rsa', bits: 2048 },
  { algorithm: 'rsa-3072', type: 'rsa', bits: 3072 },
  { algorithm: 'rsa-4096', type: 'rsa', bits: 4096 },
  { algorithm: 'rsa-pss-2048', type: 'rsa-pss', bits: 2048 },
  { algorithm: 'ed25519', type: 'ed25519' },
];

const spkiSha256 = (key: KeyObject): string => createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');

/** Signs with the private key from keyPem and verifies with the certificate's public key. */
function signVerifyRoundTrip(issued: IssuedCert): boolean {
  const privateKey = createPrivateKey(issued.keyPem);
  const publicKey = new X509Certificate(issued.certPem).publicKey;
  const message = randomBytes(64);
  const hash = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  const signature = sign(hash, message, privateKey);
  return verify(hash, message, publicKey, signature) && !verify(hash, randomBytes(64), publicKey, signature);
}

let ca: IssuedCert;
let caCert: X509Certificate;

beforeAll(async () => {
  ca = await createCa({ commonName: 'Test Root CA' });
  caCert = new X509Certificate(ca.certPem);
});

describe('createCa', () => {
  it('makes a self-signed P-256 CA by default whose key matches and whose key id is the SPKI hash', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.subject).toBe('CN=Test Root CA');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(caCert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyId).toBe(spkiSha256(caCert.publicKey));
    expect(ca.certDer.equals(caCert.raw)).toBe(true);
    expect(ca.chainPem).toBe(ca.certPem);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it.skipIf(!hasOpenssl)('passes openssl verify -x509_strict as its own trust anchor', () => {
    const res = opensslVerify(ca.certPem, ca.certPem);
    expect(res.ok, res.output).toBe(true);
  });

  it.each(['ec-p384', 'rsa-2048'] as const)('makes a %s CA that issues certificates which verify', async (keyAlgorithm) => {
    const other = await createCa({ commonName: `CA ${keyAlgorithm}`, keyAlgorithm });
    const otherCert = new X509Certificate(other.certPem);
    expect(otherCert.publicKey.asymmetricKeyType).toBe(keyAlgorithm === 'rsa-2048' ? 'rsa' : 'ec');
    const leaf = await issueCert(other, { commonName: 'leaf', keyAlgorithm: 'ec-p256', dnsNames: ['localhost'], usage: 'server' });
    expect(new X509Certificate(leaf.certPem).verify(otherCert.publicKey)).toBe(true);
    if (hasOpenssl) {
      const res = opensslVerify(other.certPem, leaf.certPem, 'sslserver');
      expect(res.ok, res.output).toBe(true);
      expect(opensslText(leaf.certPem).output).toContain(keyAlgorithm === 'ec-p384' ? 'ecdsa-with-SHA384' : 'sha256WithRSAEncryption');
    }
  });

  it('honours notBefore and notAfter', async () => {
    const notBefore = new Date('2024-01-01T00:00:00Z');
    const notAfter = new Date('2025-01-01T00:00:00Z');
    const old = new X509Certificate((await createCa({ commonName: 'Old CA', notBefore, notAfter })).certPem);
    expect(new Date(old.validFrom).getTime()).toBe(notBefore.getTime());
    expect(new Date(old.validTo).getTime()).toBe(notAfter.getTime());
  });
});

describe('issueCert', () => {
  describe.each(LEAF_KEYS)('a $algorithm leaf', ({ algorithm, type, curve, bits }) => {
    let leaf: IssuedCert;
    let cert: X509Certificate;
    beforeAll(async () => {
      leaf = await issueCert(ca, {
        commonName: `leaf ${algorithm}`,
        keyAlgorithm: algorithm,
        dnsNames: ['localhost', '*.demo.localhost'],
        ipAddresses: ['127.0.0.1', '::1'],
        usage: 'server',
      });
      cert = new X509Certificate(leaf.certPem);
    });

    it('has the requested key', () => {
      expect(cert.publicKey.asymmetricKeyType).toBe(type);
      if (curve) expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe(curve);
      if (bits) expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(bits);
      expect(createPrivateKey(leaf.keyPem).asymmetricKeyType).toBe(type);
    });

    it('is signed by the CA and is not a CA itself', () => {
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.checkIssued(caCert)).toBe(true);
      expect(cert.issuer).toBe(caCert.subject);
      expect(cert.ca).toBe(false);
    });

    it('matches its private key (PKCS#8) and its key id is the SHA-256 of its SPKI', () => {
      expect(leaf.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).toBe(true);
      expect(signVerifyRoundTrip(leaf)).toBe(true);
      expect(leaf.keyId).toBe(spkiSha256(cert.publicKey));
      expect(leaf.keyId).toBe(spkiSha256(createPublicKey(createPrivateKey(leaf.keyPem))));
      expect(leaf.certDer.equals(cert.raw)).toBe(true);
    });

    it('speaks for its DNS names and IP addresses and nothing else', () => {
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.checkHost('www.demo.localhost')).toBe('*.demo.localhost');
      expect(cert.checkHost('a.b.demo.localhost')).toBeUndefined();
      expect(cert.checkHost('example.com')).toBeUndefined();
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkIP('::1')).toBe('::1');
      expect(cert.checkIP('10.0.0.1')).toBeUndefined();
    });

    it('chains leaf first, then the CA', () => {
      expect(leaf.chainPem).toBe(leaf.certPem + ca.certPem);
    });

    it.skipIf(!hasOpenssl)('passes openssl verify -x509_strict -purpose sslserver, and fails as a client certificate', () => {
      const server = opensslVerify(ca.certPem, leaf.certPem, 'sslserver');
      expect(server.ok, server.output).toBe(true);
      expect(opensslVerify(ca.certPem, leaf.certPem, 'sslclient').ok).toBe(false);
    });
  });

  it('marks the extended key usage asked for', async () => {
    const issue = (usage: 'server' | 'client' | 'server-and-client') =>
      issueCert(ca, { commonName: usage, keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/x'], usage }).then((c) => new X509Certificate(c.certPem));
    expect((await issue('server')).keyUsage).toEqual([SERVER_AUTH]);
    expect((await issue('client')).keyUsage).toEqual([CLIENT_AUTH]);
    expect((await issue('server-and-client')).keyUsage?.sort()).toEqual([SERVER_AUTH, CLIENT_AUTH].sort());
  });

  it.skipIf(!hasOpenssl)('a client certificate with a URI SAN passes openssl verify -purpose sslclient', async () => {
    const client = await issueCert(ca, { commonName: 'edge-9', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-9'], usage: 'client' });
    expect(new X509Certificate(client.certPem).subjectAltName).toBe('URI:spiffe://keyless/edge/edge-9');
    const res = opensslVerify(ca.certPem, client.certPem, 'sslclient');
    expect(res.ok, res.output).toBe(true);
    expect(opensslVerify(ca.certPem, client.certPem, 'sslserver').ok).toBe(false);
  });

  it('gives every certificate a different serial number', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) serials.add(new X509Certificate((await issueCert(ca, { commonName: 's', keyAlgorithm: 'ec-p256', usage: 'server' })).certPem).serialNumber);
    expect(serials.size).toBe(5);
  });
});

describe('an RSA-PSS-only key (rsa-pss-2048)', () => {
  let leaf: IssuedCert;
  let cert: X509Certificate;
  beforeAll(async () => {
    leaf = await issueCert(ca, { commonName: 'pss', keyAlgorithm: 'rsa-pss-2048', dnsNames: ['localhost'], usage: 'server' });
    cert = new X509Certificate(leaf.certPem);
  });

  it('has an id-RSASSA-PSS SubjectPublicKeyInfo with no parameter restrictions', () => {
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa-pss');
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    // AlgorithmIdentifier right after the outer SEQUENCE header: SEQUENCE { OID id-RSASSA-PSS } with no parameters.
    expect(spki.includes(Buffer.concat([Buffer.from([0x30, 0x0b]), ID_RSASSA_PSS]))).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.hashAlgorithm).toBeUndefined();
  });

  it('makes PSS signatures and refuses PKCS#1 v1.5 ones', () => {
    const key = createPrivateKey(leaf.keyPem);
    const message = randomBytes(32);
    const pss = sign('sha384', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 });
    expect(verify('sha384', message, { key: cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }, pss)).toBe(true);
    expect(() => sign('sha256', message, { key, padding: constants.RSA_PKCS1_PADDING })).toThrow();
  });

  it.skipIf(!hasOpenssl)('openssl x509 reads it as rsassaPss', () => {
    const text = opensslText(leaf.certPem);
    expect(text.ok, text.output).toBe(true);
    expect(text.output).toMatch(/Public Key Algorithm: rsassaPss/);
  });
});

describe('certificates tests need to be refused', () => {
  it('an expired certificate: notAfter in the past is enough, and validation fails on expiry only', async () => {
    const notAfter = new Date(Date.now() - 86_400_000);
    const expired = await issueCert(ca, { commonName: 'expired', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-1'], usage: 'client', notAfter });
    const cert = new X509Certificate(expired.certPem);
    expect(new Date(cert.validTo).getTime()).toBe(Math.floor(notAfter.getTime() / 1000) * 1000);
    expect(new Date(cert.validFrom).getTime()).toBeLessThan(new Date(cert.validTo).getTime());
    expect(cert.verify(caCert.publicKey)).toBe(true);
    if (hasOpenssl) {
      const res = opensslVerify(ca.certPem, expired.certPem, 'sslclient');
      expect(res.ok).toBe(false);
      expect(res.output).toMatch(/certificate has expired/);
    }
  });

  it('a certificate not yet valid', async () => {
    const notBefore = new Date(Date.now() + 86_400_000);
    const future = new X509Certificate((await issueCert(ca, { commonName: 'future', keyAlgorithm: 'ec-p256', usage: 'server', notBefore })).certPem);
    expect(new Date(future.validFrom).getTime()).toBe(Math.floor(notBefore.getTime() / 1000) * 1000);
    if (hasOpenssl) expect(opensslVerify(ca.certPem, future.toString()).output).toMatch(/not yet valid/);
  });

  it('a certificate from a second, unrelated CA, even one with the same name', async () => {
    const rogue = await createCa({ commonName: 'Test Root CA' });
    const leaf = await issueCert(rogue, { commonName: 'edge-1', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-1'], usage: 'client' });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.issuer).toBe(caCert.subject);
    expect(cert.verify(caCert.publicKey)).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(false); // the authority key identifier differs
    expect(cert.verify(new X509Certificate(rogue.certPem).publicKey)).toBe(true);
    if (hasOpenssl) expect(opensslVerify(ca.certPem, leaf.certPem, 'sslclient').ok).toBe(false);
  });
});

describe('the issuer', () => {
  it('may be just a certificate and key read from files; the chain then ends at that certificate', async () => {
    const leaf = await issueCert({ certPem: ca.certPem, keyPem: ca.keyPem }, { commonName: 'x', keyAlgorithm: 'ec-p256', usage: 'server' });
    expect(new X509Certificate(leaf.certPem).verify(caCert.publicKey)).toBe(true);
    expect(leaf.chainPem).toBe(leaf.certPem + ca.certPem);
  });

  it('must be a CA', async () => {
    const leaf = await issueCert(ca, { commonName: 'not a ca', keyAlgorithm: 'ec-p256', usage: 'server' });
    await expect(issueCert(leaf, { commonName: 'x', keyAlgorithm: 'ec-p256', usage: 'server' })).rejects.toMatchObject({ code: 'CERTS_BAD_ISSUER' });
  });

  it('must hold the key of its certificate', async () => {
    const other = await createCa({ commonName: 'Other' });
    await expect(issueCert({ certPem: ca.certPem, keyPem: other.keyPem }, { commonName: 'x', keyAlgorithm: 'ec-p256', usage: 'server' })).rejects.toMatchObject({
      code: 'CERTS_BAD_ISSUER',
    });
  });

  it('must be readable', async () => {
    await expect(issueCert({ certPem: 'garbage', keyPem: ca.keyPem }, { commonName: 'x', keyAlgorithm: 'ec-p256', usage: 'server' })).rejects.toMatchObject({
      code: 'CERTS_BAD_ISSUER',
    });
  });
});

describe('bad options are refused with a stable code', () => {
  const base = { commonName: 'x', keyAlgorithm: 'ec-p256', usage: 'server' } as const;
  it.each([
    ['an empty commonName', { commonName: '' }, 'CERTS_BAD_NAME'],
    ['a commonName over 64 characters', { commonName: 'a'.repeat(65) }, 'CERTS_BAD_NAME'],
    ['a commonName with a control character', { commonName: 'a\nb' }, 'CERTS_BAD_NAME'],
    ['a DNS name with a space', { dnsNames: ['bad name'] }, 'CERTS_BAD_NAME'],
    ['a wildcard not in the leftmost label', { dnsNames: ['a.*.example'] }, 'CERTS_BAD_NAME'],
    ['a DNS label over 63 characters', { dnsNames: [`${'a'.repeat(64)}.example`] }, 'CERTS_BAD_NAME'],
    ['an IP address that is not one', { ipAddresses: ['256.0.0.1'] }, 'CERTS_BAD_NAME'],
    ['a URI without a scheme', { uris: ['keyless/edge/edge-1'] }, 'CERTS_BAD_NAME'],
    ['notAfter before notBefore', { notBefore: new Date('2030-01-02'), notAfter: new Date('2030-01-01') }, 'CERTS_BAD_VALIDITY'],
    ['an invalid date', { notAfter: new Date('nonsense') }, 'CERTS_BAD_VALIDITY'],
    ['an unknown key algorithm', { keyAlgorithm: 'dsa-1024' }, 'CERTS_BAD_OPTIONS'],
    ['an unknown usage', { usage: 'code-signing' }, 'CERTS_BAD_OPTIONS'],
  ])('%s', async (_, override, code) => {
    const err = await issueCert(ca, { ...base, ...override } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CertsError);
    expect((err as CertsError).code).toBe(code);
  });

  it('a CA whose validity ends before it starts', async () => {
    await expect(createCa({ commonName: 'x', notBefore: new Date('2030-01-02'), notAfter: new Date('2030-01-01') })).rejects.toMatchObject({ code: 'CERTS_BAD_VALIDITY' });
  });
});
