// FileKeyStore on real files: each PEM format, every scheme of every key type verified the way a
// TLS client verifies, and every refusal (permissions, sizes, mismatches, schemes) with its code.
import { createHash, generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignatureScheme, schemeInfo, schemesForAlgorithm } from '../../../common/signature-scheme.js';
import type { KeyAlgorithm } from '../../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../../common/verify-tls-signature.js';
import { FileKeyStore } from '../../../keyserver/keystore/file-store.js';
import { KeyStoreError } from '../../../keyserver/keystore/key-store.js';
import type { SigningKey } from '../../../keyserver/keystore/key-store.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from '../../../keyserver/signing-input.js';
import { tempDir } from '../../helpers/tmp.js';
import { certificateFor, expectedKeyId, generateTestKey } from './test-keys.js';
import type { TestKey } from './test-keys.js';

async function writeKey(dir: string, name: string, pem: string | Buffer, mode = 0o600): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, pem, { mode });
  await chmod(file, mode); // writeFile's mode is filtered by the umask
  return file;
}

async function loadError(dir: string): Promise<KeyStoreError> {
  const err = await FileKeyStore.load(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeyStoreError);
  return err as KeyStoreError;
}

/** One site per key type, each written in a different PEM form. */
const SITES: ReadonlyArray<{ file: string; algorithm: KeyAlgorithm; hostnames: string[]; pem: (k: KeyObject) => string }> = [
  { file: 'rsa-pkcs1.key', algorithm: 'rsa', hostnames: ['rsa.example.com'], pem: (k) => k.export({ type: 'pkcs1', format: 'pem' }) as string },
  { file: 'rsa-pss.key', algorithm: 'rsa-pss', hostnames: ['pss.example.com'], pem: (k) => k.export({ type: 'pkcs8', format: 'pem' }) as string },
  { file: 'p256-sec1.pem', algorithm: 'ec-p256', hostnames: ['www.Example.com', 'example.com', '192.0.2.10', '::1'], pem: (k) => k.export({ type: 'sec1', format: 'pem' }) as string },
  { file: 'p384-pkcs8.key', algorithm: 'ec-p384', hostnames: ['p384.example.com'], pem: (k) => k.export({ type: 'pkcs8', format: 'pem' }) as string },
  { file: 'ed25519.key', algorithm: 'ed25519', hostnames: ['ed.example.com'], pem: (k) => k.export({ type: 'pkcs8', format: 'pem' }) as string },
];

describe('FileKeyStore: loading and signing', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let store: FileKeyStore;
  const keys = new Map<string, TestKey>();

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('file-store'));
    for (const site of SITES) {
      const key = generateTestKey(site.algorithm);
      keys.set(site.file, key);
      await writeKey(dir, site.file, site.pem(key.privateKey));
      const base = site.file.replace(/\.(key|pem)$/, '');
      await writeFile(path.join(dir, `${base}.crt`), await certificateFor(key.publicKey, site.hostnames), { mode: 0o644 });
    }
    // Not keys: a certificate-only .pem, a README, a subdirectory. All ignored.
    await writeFile(path.join(dir, 'chain.pem'), await certificateFor(generateTestKey('ec-p256').publicKey, ['ca']), { mode: 0o644 });
    await writeFile(path.join(dir, 'README.txt'), 'keys live here\n', { mode: 0o644 });
    await mkdir(path.join(dir, 'old.key'));
    store = await FileKeyStore.load(dir);
  });
  afterAll(async () => {
    await store?.close();
    await cleanup();
  });

  it('loads one key per key file, named by the SHA-256 of its SPKI', () => {
    expect(store.name).toBe(`file:${dir}`);
    expect(store.list()).toHaveLength(SITES.length);
    for (const site of SITES) {
      const key = keys.get(site.file)!;
      const loaded = store.get(expectedKeyId(key.publicKey));
      expect(loaded, site.file).toBeDefined();
      expect(loaded!.algorithm).toBe(site.algorithm);
      expect(loaded!.source).toBe(path.join(dir, site.file));
      expect(loaded!.schemes).toEqual(schemesForAlgorithm(site.algorithm));
      expect(loaded!.publicKey.export({ type: 'spki', format: 'der' }).equals(key.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
    }
    expect(store.get('0'.repeat(64))).toBeUndefined();
  });

  it('exposes the certificate and its DNS and IP subjectAltNames, DNS names lower-cased', () => {
    const p256 = store.get(expectedKeyId(keys.get('p256-sec1.pem')!.publicKey))!;
    expect(p256.hostnames).toEqual(['www.example.com', 'example.com', '192.0.2.10', '::1']);
    expect(p256.certificate?.subject).toContain('CN=www.Example.com');
    const rsa = store.get(expectedKeyId(keys.get('rsa-pkcs1.key')!.publicKey))!;
    expect(rsa.hostnames).toEqual(['rsa.example.com']);
  });

  const transcriptHash = createHash('sha384').update('handshake so far').digest();
  const clientRandom = randomBytes(32);
  const serverRandom = randomBytes(32);
  const params = Buffer.concat([Buffer.from([0x03, 0x00, 0x1d, 0x20]), Buffer.from(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }).x!, 'base64url')]);

  for (const site of SITES) {
    for (const scheme of schemesForAlgorithm(site.algorithm)) {
      const info = schemeInfo(scheme)!;
      it(`${site.algorithm} signs ${info.name} over TLS 1.3 CertificateVerify and TLS 1.2 ServerKeyExchange inputs`, async () => {
        const key = store.get(expectedKeyId(keys.get(site.file)!.publicKey))!;
        // The client's view: the public key from the certificate.
        const certKey = key.certificate!.publicKey;
        const inputs = [tls12ServerKeyExchangeInput(clientRandom, serverRandom, params)];
        if (info.allowedInTls13) inputs.push(tls13ServerCertificateVerifyInput(transcriptHash));
        for (const input of inputs) {
          const signature = await key.sign(scheme, input);
          expect(verifyTlsSignature(certKey, scheme, input, signature)).toBe(true);
          const tampered = Buffer.from(input);
          tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 0x01;
          expect(verifyTlsSignature(certKey, scheme, tampered, signature)).toBe(false);
        }
      });
    }
  }

  it('signs precomputed digests with RSASSA-PKCS1-v1_5 and RSASSA-PSS (rsaEncryption keys)', async () => {
    const key = store.get(expectedKeyId(keys.get('rsa-pkcs1.key')!.publicKey))!;
    const message = tls12ServerKeyExchangeInput(clientRandom, serverRandom, params);
    for (const scheme of key.schemes) {
      const hash = schemeInfo(scheme)!.hash!;
      const signature = await key.signDigest(scheme, createHash(hash).update(message).digest());
      expect(verifyTlsSignature(key.publicKey, scheme, message, signature), schemeInfo(scheme)!.name).toBe(true);
    }
    // PSS is randomized: two signatures of one digest differ, and both verify.
    const digest = createHash('sha256').update(message).digest();
    const [a, b] = await Promise.all([key.signDigest(SignatureScheme.rsa_pss_rsae_sha256, digest), key.signDigest(SignatureScheme.rsa_pss_rsae_sha256, digest)]);
    expect(a.equals(b)).toBe(false);
    expect(verifyTlsSignature(key.publicKey, SignatureScheme.rsa_pss_rsae_sha256, message, b)).toBe(true);
  });

  it.each([
    ['p256-sec1.pem', SignatureScheme.ecdsa_secp256r1_sha256],
    ['p384-pkcs8.key', SignatureScheme.ecdsa_secp384r1_sha384],
    ['ed25519.key', SignatureScheme.ed25519],
    ['rsa-pss.key', SignatureScheme.rsa_pss_pss_sha256],
  ] as const)('refuses to sign a digest with %s (KEYSTORE_UNSUPPORTED)', async (file, scheme) => {
    const key = store.get(expectedKeyId(keys.get(file)!.publicKey))!;
    await expect(key.signDigest(scheme, Buffer.alloc(32))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
  });

  it('refuses a digest of the wrong length (KEYSTORE_BAD_DIGEST)', async () => {
    const key = store.get(expectedKeyId(keys.get('rsa-pkcs1.key')!.publicKey))!;
    await expect(key.signDigest(SignatureScheme.rsa_pkcs1_sha256, Buffer.alloc(48))).rejects.toMatchObject({ code: 'KEYSTORE_BAD_DIGEST' });
  });

  it.each([
    ['p256-sec1.pem', SignatureScheme.ecdsa_secp384r1_sha384],
    ['p384-pkcs8.key', SignatureScheme.ecdsa_secp256r1_sha256],
    ['rsa-pkcs1.key', SignatureScheme.rsa_pss_pss_sha256],
    ['rsa-pss.key', SignatureScheme.rsa_pss_rsae_sha256],
    ['rsa-pss.key', SignatureScheme.rsa_pkcs1_sha256],
    ['ed25519.key', SignatureScheme.ecdsa_secp256r1_sha256],
    ['p256-sec1.pem', 0x0201 as SignatureScheme],
  ] as const)('%s refuses scheme %i it cannot produce (KEYSTORE_UNSUPPORTED)', async (file, scheme) => {
    const key = store.get(expectedKeyId(keys.get(file)!.publicKey))!;
    await expect(key.sign(scheme, Buffer.from('x'))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
    await expect(key.signDigest(scheme, Buffer.alloc(32))).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
  });

  it('keeps every signature right with hundreds in flight at once', async () => {
    const key = store.get(expectedKeyId(keys.get('p256-sec1.pem')!.publicKey))!;
    const messages = Array.from({ length: 300 }, () => tls13ServerCertificateVerifyInput(randomBytes(32)));
    const signatures = await Promise.all(messages.map((m) => key.sign(SignatureScheme.ecdsa_secp256r1_sha256, m)));
    signatures.forEach((sig, i) => expect(verifyTlsSignature(key.publicKey, SignatureScheme.ecdsa_secp256r1_sha256, messages[i]!, sig)).toBe(true));
  });

  it('signs on the event loop too when signOnThreadPool is false', async () => {
    const sync = await FileKeyStore.load(dir, { signOnThreadPool: false });
    const key = sync.get(expectedKeyId(keys.get('ed25519.key')!.publicKey))!;
    const input = tls13ServerCertificateVerifyInput(transcriptHash);
    expect(verifyTlsSignature(key.publicKey, SignatureScheme.ed25519, input, await key.sign(SignatureScheme.ed25519, input))).toBe(true);
    await expect(key.sign(SignatureScheme.rsa_pkcs1_sha256, input)).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
  });
});

describe('FileKeyStore: refusals', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const p256 = generateTestKey('ec-p256');
  const p256Pem = p256.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('file-store-bad'));
  });
  afterAll(() => cleanup());

  async function freshDir(name: string): Promise<string> {
    const d = path.join(dir, name);
    await mkdir(d);
    return d;
  }

  it.each(['644', '640', '604', '660', '602', '620', '666', '707'])('refuses a key file with mode 0%s, naming the file and its mode', async (octal) => {
    const mode = parseInt(octal, 8);
    const d = await freshDir(`mode-${octal}`);
    const file = await writeKey(d, 'site.key', p256Pem, mode);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_INSECURE_PERMISSIONS');
    expect(err.message).toContain(file);
    expect(err.message).toContain(`mode 0${octal}`);
  });

  it('refuses a world-readable .pem once it holds a private key', async () => {
    const d = await freshDir('pem-mode');
    const file = await writeKey(d, 'site.pem', p256Pem, 0o644);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_INSECURE_PERMISSIONS');
    expect(err.message).toContain(file);
  });

  it('loads a 0600 key and a 0400 key', async () => {
    const d = await freshDir('modes-ok');
    await writeKey(d, 'a.key', p256Pem, 0o600);
    await writeKey(d, 'b.key', generateTestKey('ec-p384').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o400);
    const store = await FileKeyStore.load(d);
    expect(store.list().map((k) => k.algorithm).sort()).toEqual(['ec-p256', 'ec-p384']);
    expect(store.list().every((k) => k.hostnames === undefined && k.certificate === undefined)).toBe(true);
  });

  it('judges a symlink by its target: refuses a link to a 0644 key, loads a link to a 0600 key', async () => {
    const targets = await freshDir('link-targets');
    const open = await writeKey(targets, 'open.key', p256Pem, 0o644);
    const closed = await writeKey(targets, 'closed.key', p256Pem, 0o600);
    const bad = await freshDir('link-bad');
    await symlink(open, path.join(bad, 'site.key'));
    const err = await loadError(bad);
    expect(err.code).toBe('KEYSTORE_INSECURE_PERMISSIONS');
    expect(err.message).toContain(path.join(bad, 'site.key'));
    expect(err.message).toContain(open);
    expect(err.message).toContain('0644');
    const good = await freshDir('link-good');
    await symlink(closed, path.join(good, 'site.key'));
    const store = await FileKeyStore.load(good);
    expect(store.list()[0]?.keyId).toBe(expectedKeyId(p256.publicKey));
  });

  it('refuses an RSA key below 2048 bits, naming the file', async () => {
    const d = await freshDir('rsa-small');
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const file = await writeKey(d, 'small.key', small.export({ type: 'pkcs1', format: 'pem' }) as string);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain(file);
    expect(err.message).toContain('1024 bits');
  });

  it('refuses an RSA key above 4096 bits, naming the file', async () => {
    const d = await freshDir('rsa-large');
    const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 4160 });
    const file = await writeKey(d, 'large.key', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain(file);
    expect(err.message).toContain('4160 bits');
  });

  it('refuses a certificate that belongs to another key, naming it', async () => {
    const d = await freshDir('mismatch');
    await writeKey(d, 'site.key', p256Pem);
    await writeFile(path.join(d, 'site.crt'), await certificateFor(generateTestKey('ec-p256').publicKey, ['site.example']));
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain(path.join(d, 'site.crt'));
  });

  it('refuses a .crt that is not a certificate', async () => {
    const d = await freshDir('bad-crt');
    await writeKey(d, 'site.key', p256Pem);
    await writeFile(path.join(d, 'site.crt'), 'not a certificate\n');
    expect((await loadError(d)).code).toBe('KEYSTORE_BAD_KEY');
  });

  it('refuses an encrypted key with a message that says so', async () => {
    const d = await freshDir('encrypted');
    const pem = p256.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string;
    expect(pem).toContain('ENCRYPTED PRIVATE KEY');
    const file = await writeKey(d, 'site.key', pem);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain(file);
    expect(err.message).toContain('encrypted');
  });

  it('refuses key types the key server does not sign with (P-521, Ed448)', async () => {
    for (const [name, key] of [
      ['p521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey],
      ['ed448', generateKeyPairSync('ed448').privateKey],
    ] as const) {
      const d = await freshDir(`type-${name}`);
      await writeKey(d, `${name}.key`, key.export({ type: 'pkcs8', format: 'pem' }) as string);
      const err = await loadError(d);
      expect(err.code).toBe('KEYSTORE_BAD_KEY');
      expect(err.message).toContain('unsupported key type');
    }
  });

  it('refuses a .key file without a private key, with two keys, or with garbage', async () => {
    const cases: Array<[string, string]> = [
      ['empty', ''],
      ['two', p256Pem + (generateTestKey('ec-p256').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)],
      ['garbage', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'],
      ['public', p256.publicKey.export({ type: 'spki', format: 'pem' }) as string],
    ];
    for (const [name, content] of cases) {
      const d = await freshDir(`content-${name}`);
      const file = await writeKey(d, 'site.key', content);
      const err = await loadError(d);
      expect(err.code, name).toBe('KEYSTORE_BAD_KEY');
      expect(err.message).toContain(file);
    }
  });

  it('refuses the same key in two files, naming both', async () => {
    const d = await freshDir('duplicate');
    const a = await writeKey(d, 'a.key', p256Pem);
    const b = await writeKey(d, 'b.pem', p256.privateKey.export({ type: 'sec1', format: 'pem' }) as string);
    const err = await loadError(d);
    expect(err.code).toBe('KEYSTORE_BAD_KEY');
    expect(err.message).toContain(a);
    expect(err.message).toContain(b);
  });

  it('refuses a missing directory', async () => {
    expect((await loadError(path.join(dir, 'no-such-dir'))).code).toBe('KEYSTORE_BAD_KEY');
  });

  it('refuses RSASSA-PSS schemes an RSA-PSS key is restricted from (RFC 4055 parameters)', async () => {
    const d = await freshDir('pss-restricted');
    const { privateKey } = generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha384', mgf1HashAlgorithm: 'sha384' });
    await writeKey(d, 'pss.key', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const store = await FileKeyStore.load(d);
    const key = store.list()[0] as SigningKey;
    expect(key.schemes).toEqual([SignatureScheme.rsa_pss_pss_sha384]);
    const input = tls13ServerCertificateVerifyInput(randomBytes(48));
    expect(verifyTlsSignature(key.publicKey, SignatureScheme.rsa_pss_pss_sha384, input, await key.sign(SignatureScheme.rsa_pss_pss_sha384, input))).toBe(true);
    await expect(key.sign(SignatureScheme.rsa_pss_pss_sha256, input)).rejects.toMatchObject({ code: 'KEYSTORE_UNSUPPORTED' });
  });
});
