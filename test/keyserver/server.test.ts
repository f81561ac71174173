// The key server end to end: real gRPC over loopback mTLS, real keys from the dev PKI, a real
// audit log on disk. Every denial is checked both in the response and in the audit log.
import { createECDH, createHash, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, generateDevPki, issueCert } from '../../certs/index.js';
import { schemeInfo, schemeName } from '../../common/signature-scheme.js';
import { verifyTlsSignature } from '../../common/verify-tls-signature.js';
import type { KeyServerConfig } from '../../keyserver/config.js';
import { keyServerConfigSchema } from '../../keyserver/config.js';
import { KeyServer } from '../../keyserver/server.js';
import { tls12ServerKeyExchangeInput, tls13ServerCertificateVerifyInput } from '../../keyserver/signing-input.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { parseJsonLines, tempDir } from '../helpers/tmp.js';

const SITES = ['site-ecdsa-p256', 'site-ecdsa-p384', 'site-rsa-2048', 'site-rsa-pss'] as const;

interface AuditRow {
  decision: string;
  outcome: string;
  requestId: string;
  keyId: string;
  operation: string;
  identity: { sans: string[] } | null;
  reason?: string;
}

let dir: string;
let cleanup: () => Promise<void>;
let server: KeyServer;
let pki: string;
let address: string;
const keyIds: Record<string, string> = {};
const ca = (): Promise<Buffer> => readFile(path.join(pki, 'edge/ca.crt'));

async function edgeClient(name: 'edge-1' | 'edge-2' | 'edge-3'): Promise<RawKeyServerClient> {
  const base = name === 'edge-3' ? path.join(dir, 'edge-3') : path.join(pki, 'edge', name);
  return new RawKeyServerClient({
    address,
    ca: await ca(),
    cert: await readFile(path.join(base, 'client.crt')),
    key: await readFile(path.join(base, 'client.key')),
  });
}

async function auditRows(): Promise<AuditRow[]> {
  const files = (await readdir(path.join(dir, 'audit'))).filter((f) => f.startsWith('audit') && !f.endsWith('.head'));
  const rows: AuditRow[] = [];
  for (const f of files.sort()) rows.push(...parseJsonLines<AuditRow>(await readFile(path.join(dir, 'audit', f), 'utf8')));
  return rows;
}

async function auditFor(requestId: string): Promise<AuditRow> {
  const row = (await auditRows()).find((r) => r.requestId === requestId);
  if (!row) throw new Error(`no audit line for ${requestId}`);
  return row;
}

function baseConfig(): KeyServerConfig {
  return keyServerConfigSchema.parse({
    listen: '127.0.0.1:0',
    tls: {
      cert: path.join(pki, 'keyserver/server.crt'),
      key: path.join(pki, 'keyserver/server.key'),
      clientCa: path.join(pki, 'keyserver/edge-ca.crt'),
    },
    observability: { listen: '127.0.0.1:0' },
    keyStores: [{ type: 'file', dir: path.join(pki, 'keyserver/keys') }],
    audit: { dir: path.join(dir, 'audit'), maxBatchDelayMs: 1 },
    policy: {
      edges: [
        { identity: 'spiffe://keyless/edge/edge-1', keys: ['*'] },
        // edge-2 may use only the P-384 key, and only for TLS 1.3.
        { identity: 'spiffe://keyless/edge/edge-2', keys: [{ id: keyIds['site-ecdsa-p384'] }], operations: ['tls13-certificate-verify'] },
        { identity: 'spiffe://keyless/edge/edge-3', keys: ['*'], rateLimit: { perSecond: 0.001, burst: 2 } },
      ],
    },
    log: { level: 'silent' },
  });
}

const hash32 = (): Buffer => createHash('sha256').update(String(Math.random())).digest();

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('keyserver'));
  pki = path.join(dir, 'pki');
  await generateDevPki(pki);
  for (const site of SITES) {
    const cert = new X509Certificate(await readFile(path.join(pki, 'keyserver/keys', `${site}.crt`)));
    keyIds[site] = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  }
  // A third edge, from the same CA, with a tight rate limit.
  const root = { certPem: await readFile(path.join(pki, 'ca.crt'), 'utf8'), keyPem: await readFile(path.join(pki, 'ca/ca.key'), 'utf8') };
  const edge3 = await issueCert(root as never, { commonName: 'edge-3', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-3'], usage: 'client' });
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(path.join(dir, 'edge-3'));
  await writeFile(path.join(dir, 'edge-3/client.crt'), edge3.certPem);
  await writeFile(path.join(dir, 'edge-3/client.key'), edge3.keyPem, { mode: 0o600 });
  server = await KeyServer.start({ config: baseConfig(), log: pino({ level: 'silent' }) });
  address = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe('signing through real gRPC over mTLS', () => {
  it('lists the keys edge-1 may use with their schemes', async () => {
    const client = await edgeClient('edge-1');
    const { keys } = await client.listKeys();
    client.close();
    expect(keys.map((k) => k.key_id).sort()).toEqual(Object.values(keyIds).sort());
    const p256 = keys.find((k) => k.key_id === keyIds['site-ecdsa-p256'])!;
    expect(p256.algorithm).toBe('ec-p256');
    expect(p256.schemes).toEqual([0x0403]);
    expect(p256.hostnames).toContain('localhost');
    const pss = keys.find((k) => k.key_id === keyIds['site-rsa-pss'])!;
    expect(pss.schemes.every((s) => s >= 0x0809 && s <= 0x080b)).toBe(true);
  });

  it('signs every scheme of every key for TLS 1.3 and TLS 1.2, and the signatures verify as a TLS client would', async () => {
    const client = await edgeClient('edge-1');
    const { keys } = await client.listKeys();
    let checked = 0;
    for (const key of keys) {
      const cert = new X509Certificate(await readFile(path.join(pki, 'keyserver/keys', `${SITES.find((s) => keyIds[s] === key.key_id)}.crt`)));
      for (const scheme of key.schemes) {
        const info = schemeInfo(scheme)!;
        if (info.allowedInTls13) {
          const transcriptHash = createHash(info.hash ?? 'sha256').update('transcript').digest();
          const res = await client.sign({ key_id: key.key_id, scheme, input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: transcriptHash }, request_id: `t13-${scheme}` });
          expect(res.error, `${schemeName(scheme)}: ${res.message}`).toBe('OK');
          expect(verifyTlsSignature(cert.publicKey, scheme, tls13ServerCertificateVerifyInput(transcriptHash), res.signature)).toBe(true);
          checked++;
        }
        const clientRandom = hash32();
        const serverRandom = hash32();
        const point = createECDH('prime256v1').generateKeys();
        const params = Buffer.concat([Buffer.from([0x03, 0x00, 0x17, point.length]), point]);
        const res12 = await client.sign({
          key_id: key.key_id,
          scheme,
          input: 'tls12_server_key_exchange',
          tls12_server_key_exchange: { client_random: clientRandom, server_random: serverRandom, params },
        });
        expect(res12.error, `${schemeName(scheme)}: ${res12.message}`).toBe('OK');
        expect(verifyTlsSignature(cert.publicKey, scheme, tls12ServerKeyExchangeInput(clientRandom, serverRandom, params), res12.signature)).toBe(true);
        checked++;
      }
    }
    client.close();
    expect(checked).toBeGreaterThanOrEqual(12);
    const allowed = await auditFor('t13-1027');
    expect(allowed).toMatchObject({ decision: 'allowed', outcome: 'OK', operation: 'tls13-certificate-verify' });
    expect(allowed.identity?.sans).toContain('URI:spiffe://keyless/edge/edge-1');
  });

  it('SignStream answers every request of many batches, matched by request id', async () => {
    const client = await edgeClient('edge-1');
    const batches = Array.from({ length: 10 }, (_, b) =>
      Array.from({ length: 50 }, (_, i) => ({
        request_id: `stream-${b}-${i}`,
        key_id: keyIds[i % 2 ? 'site-ecdsa-p256' : 'site-rsa-2048']!,
        scheme: i % 2 ? 0x0403 : 0x0804,
        input: 'tls13_certificate_verify' as const,
        tls13_certificate_verify: { transcript_hash: hash32() },
      })),
    );
    const results = await client.signStream(batches);
    client.close();
    expect(results).toHaveLength(500);
    expect(new Set(results.map((r) => r.request_id)).size).toBe(500);
    expect(results.every((r) => r.error === 'OK' && r.signature.length > 0)).toBe(true);
  });

  it('refuses TLS 1.2 at the transport', async () => {
    const [host, port] = address.split(':');
    const err = await new Promise<Error | null>((resolve) => {
      const socket = tls.connect({ host, port: Number(port), maxVersion: 'TLSv1.2', ca: [], rejectUnauthorized: false, ALPNProtocols: ['h2'] });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve(null);
      });
      socket.on('error', (e) => resolve(e));
    });
    expect(err).not.toBeNull();
  });
});

describe('the denial matrix: each refused and audited', () => {
  const tls13 = (keyId: string, requestId: string, scheme = 0x0403) => ({
    key_id: keyId,
    scheme,
    request_id: requestId,
    input: 'tls13_certificate_verify' as const,
    tls13_certificate_verify: { transcript_hash: hash32() },
  });

  async function expectDenied(client: RawKeyServerClient, req: ReturnType<typeof tls13> | Record<string, unknown>, outcome: string): Promise<void> {
    const res = await client.sign(req as never);
    client.close();
    expect(res.error).toBe(outcome);
    expect(res.signature.length).toBe(0);
    const row = await auditFor(String((req as { request_id: string }).request_id));
    expect(row.outcome).toBe(outcome);
    expect(['denied', 'failed']).toContain(row.decision);
  }

  it('no client certificate', async () => {
    await expectDenied(new RawKeyServerClient({ address, ca: await ca() }), tls13(keyIds['site-ecdsa-p256']!, 'deny-nocert'), 'UNAUTHENTICATED');
    expect((await auditFor('deny-nocert')).identity).toBeNull();
  });

  it('a certificate from another CA', async () => {
    const rogueCa = await createCa({ commonName: 'Rogue CA' });
    const rogue = await issueCert(rogueCa, { commonName: 'edge-1', keyAlgorithm: 'ec-p256', uris: ['spiffe://keyless/edge/edge-1'], usage: 'client' });
    const client = new RawKeyServerClient({ address, ca: await ca(), cert: Buffer.from(rogue.certPem), key: Buffer.from(rogue.keyPem) });
    await expectDenied(client, tls13(keyIds['site-ecdsa-p256']!, 'deny-rogue-ca'), 'UNAUTHENTICATED');
  });

  it('an expired certificate from the right CA', async () => {
    const root = { certPem: await readFile(path.join(pki, 'ca.crt'), 'utf8'), keyPem: await readFile(path.join(pki, 'ca/ca.key'), 'utf8') };
    const expired = await issueCert(root as never, {
      commonName: 'edge-1',
      keyAlgorithm: 'ec-p256',
      uris: ['spiffe://keyless/edge/edge-1'],
      usage: 'client',
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const client = new RawKeyServerClient({ address, ca: await ca(), cert: Buffer.from(expired.certPem), key: Buffer.from(expired.keyPem) });
    await expectDenied(client, tls13(keyIds['site-ecdsa-p256']!, 'deny-expired'), 'UNAUTHENTICATED');
  });

  it('an identity not allowed this key', async () => {
    await expectDenied(await edgeClient('edge-2'), tls13(keyIds['site-ecdsa-p256']!, 'deny-key'), 'NOT_ALLOWED');
  });

  it('an operation not allowed', async () => {
    const point = createECDH('prime256v1').generateKeys();
    await expectDenied(
      await edgeClient('edge-2'),
      {
        key_id: keyIds['site-ecdsa-p384'],
        scheme: 0x0503,
        request_id: 'deny-op',
        input: 'tls12_server_key_exchange',
        tls12_server_key_exchange: { client_random: hash32(), server_random: hash32(), params: Buffer.concat([Buffer.from([3, 0, 0x17, 65]), point]) },
      },
      'NOT_ALLOWED',
    );
  });

  it('an arbitrary digest when not enabled', async () => {
    await expectDenied(
      await edgeClient('edge-1'),
      { key_id: keyIds['site-ecdsa-p256'], scheme: 0x0403, request_id: 'deny-digest', input: 'raw_digest', raw_digest: { digest: hash32() } },
      'NOT_ALLOWED',
    );
  });

  it('rate limit exceeded', async () => {
    const client = await edgeClient('edge-3');
    expect((await client.sign(tls13(keyIds['site-ecdsa-p256']!, 'rl-1'))).error).toBe('OK');
    expect((await client.sign(tls13(keyIds['site-ecdsa-p256']!, 'rl-2'))).error).toBe('OK');
    await expectDenied(client, tls13(keyIds['site-ecdsa-p256']!, 'deny-rate'), 'RATE_LIMITED');
  });

  it('an unknown key', async () => {
    await expectDenied(await edgeClient('edge-1'), tls13('ab'.repeat(32), 'deny-unknown-key'), 'KEY_NOT_FOUND');
  });

  it('malformed requests', async () => {
    await expectDenied(await edgeClient('edge-1'), tls13('not-hex', 'deny-bad-keyid'), 'BAD_REQUEST');
    await expectDenied(
      await edgeClient('edge-1'),
      { key_id: keyIds['site-ecdsa-p256'], scheme: 0x0403, request_id: 'deny-short-hash', input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: Buffer.alloc(5) } },
      'BAD_REQUEST',
    );
    await expectDenied(await edgeClient('edge-1'), { key_id: keyIds['site-ecdsa-p256'], scheme: 0x0403, request_id: 'deny-no-op' }, 'BAD_REQUEST');
    const point = Buffer.alloc(10, 1);
    await expectDenied(
      await edgeClient('edge-1'),
      {
        key_id: keyIds['site-ecdsa-p256'],
        scheme: 0x0403,
        request_id: 'deny-bad-params',
        input: 'tls12_server_key_exchange',
        tls12_server_key_exchange: { client_random: hash32(), server_random: hash32(), params: Buffer.concat([Buffer.from([3, 0, 0x17, 10]), point]) },
      },
      'BAD_REQUEST',
    );
  });

  it('a scheme the key cannot produce, and PKCS#1 in TLS 1.3', async () => {
    await expectDenied(await edgeClient('edge-1'), tls13(keyIds['site-ecdsa-p256']!, 'deny-scheme', 0x0503), 'UNSUPPORTED_SCHEME');
    await expectDenied(await edgeClient('edge-1'), tls13(keyIds['site-rsa-2048']!, 'deny-pkcs1-13', 0x0401), 'UNSUPPORTED_SCHEME');
  });
});

describe('deadlines', () => {
  it('a request whose deadline passes while it waits is not signed, and every signature returned has an OK audit line', async () => {
    const client = await edgeClient('edge-1');
    // 300 RSA signatures with a 1 ms deadline each: the store cannot sign them all in time.
    const batch = Array.from({ length: 300 }, (_, i) => ({
      request_id: `dl-${i}`,
      key_id: keyIds['site-rsa-2048']!,
      scheme: 0x0804,
      deadline_ms: 1,
      input: 'tls13_certificate_verify' as const,
      tls13_certificate_verify: { transcript_hash: hash32() },
    }));
    const results = await client.signStream([batch]);
    client.close();
    const expired = results.filter((r) => r.error === 'DEADLINE_EXCEEDED');
    expect(expired.length).toBeGreaterThan(0);
    expect(expired.every((r) => r.signature.length === 0)).toBe(true);
    const rows = new Map((await auditRows()).map((r) => [r.requestId, r]));
    for (const r of results) expect(rows.get(r.request_id)?.outcome).toBe(r.error);
  });
});

describe('bounds on what a caller sends', () => {
  const long = (n: number) => 'x'.repeat(n);

  it('over-long fields are refused as BAD_REQUEST and still audited, cut short', async () => {
    const base = { key_id: keyIds['site-ecdsa-p256']!, scheme: 0x0403, input: 'tls13_certificate_verify' as const, tls13_certificate_verify: { transcript_hash: hash32() } };
    for (const [field, requestId] of [
      ['sni', 'long-sni'],
      ['client_ip', 'long-ip'],
    ] as const) {
      const client = await edgeClient('edge-1');
      const res = await client.sign({ ...base, request_id: requestId, [field]: long(100_000) });
      client.close();
      expect(res.error).toBe('BAD_REQUEST');
      expect(res.signature.length).toBe(0);
      const row = (await auditFor(requestId)) as AuditRow & { sni: string; clientIp: string };
      expect(row.outcome).toBe('BAD_REQUEST');
      const audited = field === 'sni' ? row.sni : row.clientIp;
      expect(audited.length).toBeLessThan(400);
      expect(audited).toMatch(/more characters\]$/);
    }
  });

  it('an unauthenticated caller with a 100 KB key id is audited (probing is visible)', async () => {
    const client = new RawKeyServerClient({ address, ca: await ca() });
    const res = await client.sign({ key_id: long(100_000), scheme: 0x0403, request_id: 'probe-long-key', input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: hash32() } });
    client.close();
    expect(res.error).toBe('UNAUTHENTICATED');
    const row = await auditFor('probe-long-key');
    expect(row.keyId.length).toBeLessThan(400);
  });

  it('a SignStream batch over the limit closes the stream, and is audited once, as refused', async () => {
    const client = await edgeClient('edge-1');
    const batch = Array.from({ length: 513 }, (_, i) => ({
      request_id: `big-batch-${i}`,
      key_id: keyIds['site-ecdsa-p256']!,
      scheme: 0x0403,
      input: 'tls13_certificate_verify' as const,
      tls13_certificate_verify: { transcript_hash: hash32() },
    }));
    const err = (await client.signStream([batch]).then(
      () => null,
      (e: unknown) => e,
    )) as { code?: number } | null;
    client.close();
    expect(err?.code).toBe(8); // RESOURCE_EXHAUSTED
    await expect.poll(async () => (await auditRows()).filter((r) => r.requestId.startsWith('big-batch-')).length, { timeout: 5_000 }).toBe(1);
    const [row] = (await auditRows()).filter((r) => r.requestId.startsWith('big-batch-'));
    expect(row).toMatchObject({ requestId: 'big-batch-0', outcome: 'BAD_REQUEST', decision: 'denied' });
    expect(row!.reason).toMatch(/batch of 513 requests/);
  });

  it('a scheme nobody knows is counted under the metrics label "unknown", not a label the caller chose', async () => {
    const client = await edgeClient('edge-1');
    const res = await client.sign({ key_id: keyIds['site-ecdsa-p256']!, scheme: 0x7a7a, request_id: 'odd-scheme', input: 'tls13_certificate_verify', tls13_certificate_verify: { transcript_hash: hash32() } });
    client.close();
    expect(res.error).toBe('UNSUPPORTED_SCHEME');
    const metrics = await (await fetch(`http://127.0.0.1:${server.observabilityPort}/metrics`)).text();
    expect(metrics).not.toMatch(/0x7a7a/);
    expect(metrics).toMatch(/keyless_keyserver_operations_total\{[^}]*scheme="unknown"[^}]*outcome="UNSUPPORTED_SCHEME"/);
  });
});

describe('arbitrary digests, where the policy enables them', () => {
  let digestServer: KeyServer;
  let digestAddress: string;

  beforeAll(async () => {
    const config = baseConfig();
    digestServer = await KeyServer.start({
      config: {
        ...config,
        audit: { ...config.audit, dir: path.join(dir, 'audit-digest') },
        policy: keyServerConfigSchema.shape.policy.parse({ edges: [{ identity: 'spiffe://keyless/edge/edge-1', keys: ['*'], operations: ['tls13-certificate-verify', 'raw-digest'] }] }),
      },
      log: pino({ level: 'silent' }),
    });
    digestAddress = `127.0.0.1:${digestServer.port}`;
  });
  afterAll(async () => {
    await digestServer?.stop();
  });

  async function client(): Promise<RawKeyServerClient> {
    const base = path.join(pki, 'edge', 'edge-1');
    return new RawKeyServerClient({ address: digestAddress, ca: await ca(), cert: await readFile(path.join(base, 'client.crt')), key: await readFile(path.join(base, 'client.key')) });
  }

  it('ListKeys offers RAW_DIGEST only for keys whose store can sign a digest (RSA in the file store)', async () => {
    const c = await client();
    const { keys } = await c.listKeys();
    c.close();
    const ops = (site: string) => keys.find((k) => k.key_id === keyIds[site])!.operations.map(String);
    expect(ops('site-rsa-2048')).toContain('RAW_DIGEST');
    expect(ops('site-ecdsa-p256')).not.toContain('RAW_DIGEST');
  });

  it('an RSA key signs a given SHA-256 digest (PKCS#1 v1.5 and PSS) and the signature verifies over the message', async () => {
    const c = await client();
    const message = Buffer.from('a message the edge hashed itself');
    const digest = createHash('sha256').update(message).digest();
    const publicKey = new X509Certificate(await readFile(path.join(pki, 'keyserver/keys', 'site-rsa-2048.crt'))).publicKey;
    for (const scheme of [0x0401, 0x0804]) {
      const res = await c.sign({ key_id: keyIds['site-rsa-2048']!, scheme, request_id: `digest-${scheme}`, input: 'raw_digest', raw_digest: { digest } });
      expect(res.error).toBe('OK');
      expect(verifyTlsSignature(publicKey, scheme, message, res.signature)).toBe(true);
    }
    c.close();
  });

  it('an ECDSA key in the file store refuses a digest as UNSUPPORTED_SCHEME (not INTERNAL), audited', async () => {
    const c = await client();
    const res = await c.sign({ key_id: keyIds['site-ecdsa-p256']!, scheme: 0x0403, request_id: 'digest-ec', input: 'raw_digest', raw_digest: { digest: hash32() } });
    c.close();
    expect(res.error).toBe('UNSUPPORTED_SCHEME');
    const files = (await readdir(path.join(dir, 'audit-digest'))).filter((f) => f.startsWith('audit') && !f.endsWith('.head'));
    let rows: AuditRow[] = [];
    for (const f of files) rows = rows.concat(parseJsonLines<AuditRow>(await readFile(path.join(dir, 'audit-digest', f), 'utf8')));
    expect(rows.find((r) => r.requestId === 'digest-ec')?.outcome).toBe('UNSUPPORTED_SCHEME');
  });
});
