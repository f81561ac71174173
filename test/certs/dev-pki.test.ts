// The dev PKI on disk: the exact layout the key server, the edge and the origin are configured
// with; private keys only where their owner runs, created 0600 in 0700 directories; every
// certificate chains to the dev root and works in a real TLS handshake; reruns keep what exists.
import { X509Certificate, createHash, createPrivateKey, randomBytes, sign, verify } from 'node:crypto';
import { chmod, lstat, readFile, readdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SITES, generateDevPki, issueCert, loadDevCa } from '../../certs/index.js';
import type { DevPkiLayout } from '../../certs/index.js';
import { tempDir } from '../helpers/tmp.js';
import { hasOpenssl, opensslVerify } from './openssl-verify.js';

/** Every file the layout promises, relative to the PKI directory; nothing more may be written. */
const EXPECTED_FILES = [
  'README.txt',
  'ca.crt',
  'ca/ca.key',
  'keyserver/server.crt',
  'keyserver/server.key',
  'keyserver/edge-ca.crt',
  ...DEV_SITES.flatMap((s) => [`keyserver/keys/${s.name}.key`, `keyserver/keys/${s.name}.crt`, `edge/sites/${s.name}.chain.pem`]),
  'edge/ca.crt',
  'edge/edge-1/client.crt',
  'edge/edge-1/client.key',
  'edge/edge-2/client.crt',
  'edge/edge-2/client.key',
  'origin/server.crt',
  'origin/server.key',
  'origin/ca.crt',
  'origin/edge-pull-ca.crt',
].sort();

const PRIVATE_KEY_FILES = EXPECTED_FILES.filter((f) => f.endsWith('.key'));
const PRIVATE_DIRS = ['ca', 'keyserver/keys', 'edge/edge-1', 'edge/edge-2'];

async function listFiles(root: string, sub = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, sub), { withFileTypes: true })) {
    const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(root, rel)));
    else out.push(rel);
  }
  return out.sort();
}

async function snapshot(root: string): Promise<Map<string, string>> {
  const files = await listFiles(root);
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(path.join(root, f), 'utf8')] as const)));
}

const spkiSha256 = (cert: X509Certificate): string => createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
const mode = async (file: string): Promise<number> => (await stat(file)).mode & 0o777;
/** The PEM certificates in a file, in order. */
const pemBlocks = (text: string): string[] => text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g) ?? [];

let dir: string;
let cleanup: () => Promise<void>;
let pki: string;
let layout: DevPkiLayout;
let ca: X509Certificate;
let caPem: string;
const read = (rel: string): Promise<string> => readFile(path.join(pki, rel), 'utf8');
const certAt = async (rel: string): Promise<X509Certificate> => new X509Certificate(await read(rel));

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('dev-pki'));
  pki = path.join(dir, 'pki');
  layout = await generateDevPki(pki);
  caPem = await read('ca.crt');
  ca = new X509Certificate(caPem);
});

afterAll(async () => {
  await cleanup?.();
});

describe('layout', () => {
  it('writes exactly the promised files', async () => {
    expect(await listFiles(pki)).toEqual(EXPECTED_FILES);
    expect(layout.created).toBe(true);
  });

  it('describes the same paths it wrote', () => {
    const at = (rel: string): string => path.join(pki, rel);
    expect(layout.dir).toBe(pki);
    expect(layout.ca).toEqual({ cert: at('ca.crt'), key: at('ca/ca.key') });
    expect(layout.keyServer).toEqual({ cert: at('keyserver/server.crt'), key: at('keyserver/server.key'), edgeCa: at('keyserver/edge-ca.crt'), keysDir: at('keyserver/keys') });
    expect(layout.edge.ca).toBe(at('edge/ca.crt'));
    expect(layout.edge.sitesDir).toBe(at('edge/sites'));
    expect(layout.edge.clients['edge-1']).toEqual({ name: 'edge-1', identity: 'spiffe://keyless/edge/edge-1', cert: at('edge/edge-1/client.crt'), key: at('edge/edge-1/client.key') });
    expect(layout.edge.clients['edge-2'].identity).toBe('spiffe://keyless/edge/edge-2');
    expect(layout.origin).toEqual({ cert: at('origin/server.crt'), key: at('origin/server.key'), ca: at('origin/ca.crt'), edgePullCa: at('origin/edge-pull-ca.crt') });
    expect(Object.keys(layout.sites).sort()).toEqual(['site-ecdsa-p256', 'site-ecdsa-p384', 'site-rsa-2048', 'site-rsa-pss']);
    for (const site of Object.values(layout.sites)) {
      expect(site.key).toBe(at(`keyserver/keys/${site.name}.key`));
      expect(site.cert).toBe(at(`keyserver/keys/${site.name}.crt`));
      expect(site.chain).toBe(at(`edge/sites/${site.name}.chain.pem`));
    }
  });

  it('says in README.txt that these are development credentials, never for production', async () => {
    const readme = await read('README.txt');
    expect(readme).toMatch(/DEVELOPMENT credentials/);
    expect(readme).toMatch(/Never use them in production/);
  });
});

describe('private keys', () => {
  it('are PKCS#8 files of mode 0600 in directories of mode 0700', async () => {
    for (const file of PRIVATE_KEY_FILES) {
      expect(await mode(path.join(pki, file)), file).toBe(0o600);
      expect(await read(file), file).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    }
    for (const d of PRIVATE_DIRS) expect(await mode(path.join(pki, d)), d).toBe(0o700);
  });

  it('are nowhere under edge/ except the edge client credentials', async () => {
    const edgeFiles = (await listFiles(pki)).filter((f) => f.startsWith('edge/'));
    expect(edgeFiles.length).toBeGreaterThan(4);
    for (const file of edgeFiles) {
      if (/^edge\/edge-\d+\/client\.key$/.test(file)) continue;
      expect(await read(file), file).not.toContain('PRIVATE KEY');
    }
  });

  it('are only in .key files anywhere in the PKI', async () => {
    for (const file of await listFiles(pki)) {
      if (!file.endsWith('.key')) expect(await read(file), file).not.toContain('PRIVATE KEY');
    }
  });
});

describe('the root CA', () => {
  it('is a self-signed ECDSA P-256 CA named "Keyless Dev Root CA" holding the key in ca/ca.key', async () => {
    expect(ca.subject).toBe('CN=Keyless Dev Root CA');
    expect(ca.issuer).toBe(ca.subject);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.checkPrivateKey(createPrivateKey(await read('ca/ca.key')))).toBe(true);
  });

  it('is copied byte for byte wherever a component needs to trust it', async () => {
    for (const copy of ['keyserver/edge-ca.crt', 'edge/ca.crt', 'origin/ca.crt', 'origin/edge-pull-ca.crt']) expect(await read(copy), copy).toBe(caPem);
  });

  it('can be loaded to issue more certificates that chain to it', async () => {
    const extra = await issueCert(await loadDevCa(pki), { commonName: 'edge-3', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-3'], usage: 'client' });
    expect(new X509Certificate(extra.certPem).verify(ca.publicKey)).toBe(true);
  });
});

describe('site certificates and keys', () => {
  const expectedKey: Record<string, { type: string; curve?: string; bits?: number }> = {
    'site-ecdsa-p256': { type: 'ec', curve: 'prime256v1' },
    'site-ecdsa-p384': { type: 'ec', curve: 'secp384r1' },
    'site-rsa-2048': { type: 'rsa', bits: 2048 },
    'site-rsa-pss': { type: 'rsa-pss', bits: 2048 },
  };

  it.each(DEV_SITES.map((s) => s.name))('%s: the key kind, the CA signature, the names', async (name) => {
    const cert = await certAt(`keyserver/keys/${name}.crt`);
    const want = expectedKey[name]!;
    expect(cert.publicKey.asymmetricKeyType).toBe(want.type);
    if (want.curve) expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe(want.curve);
    if (want.bits) expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(want.bits);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('shop.demo.localhost')).toBe('*.demo.localhost');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    if (hasOpenssl) {
      const res = opensslVerify(caPem, cert.toString(), 'sslserver');
      expect(res.ok, res.output).toBe(true);
    }
  });

  it.each(DEV_SITES.map((s) => s.name))('%s: the key matches the certificate and the key id is the SPKI hash', async (name) => {
    const cert = await certAt(`keyserver/keys/${name}.crt`);
    const key = createPrivateKey(await read(`keyserver/keys/${name}.key`));
    expect(cert.checkPrivateKey(key)).toBe(true);
    const message = randomBytes(48);
    expect(verify('sha256', message, cert.publicKey, sign('sha256', message, key))).toBe(true);
    expect(layout.sites[name].keyId).toBe(spkiSha256(cert));
  });

  it.each(DEV_SITES.map((s) => s.name))('%s: the edge chain is the same leaf, then the CA', async (name) => {
    const chain = pemBlocks(await read(`edge/sites/${name}.chain.pem`));
    expect(chain).toHaveLength(2);
    expect(chain[0]).toBe(await read(`keyserver/keys/${name}.crt`));
    expect(chain[1]).toBe(caPem);
  });

  it('the RSA-PSS site key is RSA-PSS-only in both the certificate and the key file', async () => {
    expect((await certAt('keyserver/keys/site-rsa-pss.crt')).publicKey.asymmetricKeyType).toBe('rsa-pss');
    expect(createPrivateKey(await read('keyserver/keys/site-rsa-pss.key')).asymmetricKeyType).toBe('rsa-pss');
  });
});

describe('service certificates', () => {
  it('the key server certificate names localhost and 127.0.0.1 for server use', async () => {
    const cert = await certAt('keyserver/server.crt');
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(cert.verify(ca.publicKey)).toBe(true);
    if (hasOpenssl) expect(opensslVerify(caPem, cert.toString(), 'sslserver').ok).toBe(true);
  });

  it.each(['edge-1', 'edge-2'] as const)('the %s client certificate carries its SPIFFE URI for client use', async (edge) => {
    const cert = await certAt(`edge/${edge}/client.crt`);
    expect(cert.subjectAltName).toBe(`URI:spiffe://keyless/edge/${edge}`);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(await read(`edge/${edge}/client.key`)))).toBe(true);
    if (hasOpenssl) expect(opensslVerify(caPem, cert.toString(), 'sslclient').ok).toBe(true);
  });

  it('the origin certificate names localhost, origin.demo.localhost and 127.0.0.1', async () => {
    const cert = await certAt('origin/server.crt');
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:origin.demo.localhost, IP Address:127.0.0.1');
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(await read('origin/server.key')))).toBe(true);
    if (hasOpenssl) expect(opensslVerify(caPem, cert.toString(), 'sslserver').ok).toBe(true);
  });
});

describe('in real TLS handshakes (node:tls, TLS 1.3)', () => {
  interface Handshake {
    readonly authorized: boolean;
    readonly error?: string;
    /** What the server saw of the client certificate. */
    readonly clientSan?: string;
  }

  async function handshake(server: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Handshake> {
    let clientSan: string | undefined;
    const srv = tls.createServer({ minVersion: 'TLSv1.3', ...server }, (socket) => {
      clientSan = socket.getPeerX509Certificate()?.subjectAltName;
      socket.end();
    });
    srv.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      return await new Promise<Handshake>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, ...client }, () => {
          socket.once('close', () => resolve({ authorized: socket.authorized, clientSan }));
          socket.resume();
        });
        socket.on('error', (err: NodeJS.ErrnoException) => resolve({ authorized: false, error: err.code ?? err.message }));
      });
    } finally {
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  }

  it.each(DEV_SITES.map((s) => s.name))('the edge chain of %s, with its key, is accepted by a client trusting the dev CA', async (name) => {
    const result = await handshake(
      { cert: await read(`edge/sites/${name}.chain.pem`), key: await read(`keyserver/keys/${name}.key`) },
      { ca: caPem, servername: 'shop.demo.localhost' },
    );
    expect(result).toEqual({ authorized: true, clientSan: undefined });
  });

  it('edge-1 authenticates to the key server with mutual TLS', async () => {
    const result = await handshake(
      { cert: await read('keyserver/server.crt'), key: await read('keyserver/server.key'), ca: await read('keyserver/edge-ca.crt'), requestCert: true, rejectUnauthorized: true },
      { ca: await read('edge/ca.crt'), servername: 'localhost', cert: await read('edge/edge-1/client.crt'), key: await read('edge/edge-1/client.key') },
    );
    expect(result).toEqual({ authorized: true, clientSan: 'URI:spiffe://keyless/edge/edge-1' });
  });

  it('the origin is verified by name (origin.demo.localhost) and refused under a name it lacks', async () => {
    const origin = { cert: await read('origin/server.crt'), key: await read('origin/server.key') };
    expect((await handshake(origin, { ca: await read('edge/ca.crt'), servername: 'origin.demo.localhost' })).authorized).toBe(true);
    expect(await handshake(origin, { ca: await read('edge/ca.crt'), servername: 'other.example' })).toMatchObject({ authorized: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});

describe('reruns', () => {
  it('keep an existing PKI untouched and describe it with the same key ids', async () => {
    const before = await snapshot(pki);
    const again = await generateDevPki(pki);
    expect(again.created).toBe(false);
    expect(again).toEqual({ ...layout, created: false });
    expect(await snapshot(pki)).toEqual(before);
  });

  it('refuse a PKI with ca.crt but a missing file, naming the file', async () => {
    const { dir: other, cleanup: done } = await tempDir('dev-pki-incomplete');
    try {
      await generateDevPki(other);
      await unlink(path.join(other, 'keyserver/keys/site-rsa-2048.key'));
      const err = await generateDevPki(other).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'CERTS_INCOMPLETE_PKI' });
      expect((err as Error).message).toContain('site-rsa-2048.key');
    } finally {
      await done();
    }
  });

  it('start over when an earlier run stopped before writing ca.crt', async () => {
    const { dir: other, cleanup: done } = await tempDir('dev-pki-partial');
    try {
      const first = await generateDevPki(other);
      await unlink(path.join(other, 'ca.crt'));
      const second = await generateDevPki(other);
      expect(second.created).toBe(true);
      expect(second.sites['site-ecdsa-p256'].keyId).not.toBe(first.sites['site-ecdsa-p256'].keyId);
      expect(await listFiles(other)).toEqual(EXPECTED_FILES);
    } finally {
      await done();
    }
  });

  it('with force, make new keys in fresh 0600 files, never writing through a planted symlink', async () => {
    const { dir: other, cleanup: done } = await tempDir('dev-pki-force');
    try {
      const pkiDir = path.join(other, 'pki');
      const first = await generateDevPki(pkiDir);
      const firstCa = new X509Certificate(await readFile(path.join(pkiDir, 'ca.crt')));
      const victim = path.join(other, 'victim.txt');
      await writeFile(victim, 'untouched');
      const clientKey = path.join(pkiDir, 'edge/edge-1/client.key');
      await unlink(clientKey);
      await symlink(victim, clientKey);
      await chmod(path.join(pkiDir, 'keyserver/keys/site-ecdsa-p256.key'), 0o644);
      await chmod(path.join(pkiDir, 'keyserver/keys'), 0o755);

      const second = await generateDevPki(pkiDir, { force: true });
      expect(second.created).toBe(true);
      for (const site of DEV_SITES) expect(second.sites[site.name].keyId).not.toBe(first.sites[site.name].keyId);
      expect(await readFile(victim, 'utf8')).toBe('untouched');
      expect((await lstat(clientKey)).isFile()).toBe(true);
      for (const file of PRIVATE_KEY_FILES) expect(await mode(path.join(pkiDir, file)), file).toBe(0o600);
      for (const d of PRIVATE_DIRS) expect(await mode(path.join(pkiDir, d)), d).toBe(0o700);
      const newCa = new X509Certificate(await readFile(path.join(pkiDir, 'ca.crt')));
      expect(new X509Certificate(await readFile(path.join(pkiDir, 'edge/edge-1/client.crt'))).verify(newCa.publicKey)).toBe(true);
      expect(newCa.verify(firstCa.publicKey)).toBe(false);
    } finally {
      await done();
    }
  });
});
