// Hot reload (policy, keys, certificates) without dropping requests in flight; a bad new config
// is rejected while the old one keeps serving. Health over grpc.health.v1 and HTTP; metrics.
import { createHash, X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki } from '../../certs/index.js';
import { keyServerConfigSchema, loadKeyServerConfig } from '../../keyserver/config.js';
import { KeyServer, settingsNeedingRestart } from '../../keyserver/server.js';
import { RawKeyServerClient } from '../helpers/raw-keyserver-client.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let pki: string;
let cleanup: () => Promise<void>;
let server: KeyServer;
let configFile: string;
let keysDir: string;

function configText(edges: string): string {
  return [
    'listen: 127.0.0.1:0',
    'observability: { listen: 127.0.0.1:0 }',
    `tls: { cert: ${pki}/keyserver/server.crt, key: ${pki}/keyserver/server.key, clientCa: ${pki}/keyserver/edge-ca.crt }`,
    `keyStores: [{ type: file, dir: ${keysDir} }]`,
    `audit: { dir: ${dir}/audit }`,
    'log: { level: silent }',
    `policy: { edges: [${edges}] }`,
  ].join('\n');
}

async function keyIdOf(site: string): Promise<string> {
  const cert = new X509Certificate(await readFile(path.join(pki, 'keyserver/keys', `${site}.crt`)));
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

async function client(edge: string): Promise<RawKeyServerClient> {
  return new RawKeyServerClient({
    address: `127.0.0.1:${server.port}`,
    ca: await readFile(path.join(pki, 'edge/ca.crt')),
    cert: await readFile(path.join(pki, `edge/${edge}/client.crt`)),
    key: await readFile(path.join(pki, `edge/${edge}/client.key`)),
  });
}

const signReq = (keyId: string, id: string) => ({
  key_id: keyId,
  scheme: 0x0403,
  request_id: id,
  input: 'tls13_certificate_verify' as const,
  tls13_certificate_verify: { transcript_hash: createHash('sha256').update(id).digest() },
});

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('ks-reload'));
  pki = path.join(dir, 'pki');
  await generateDevPki(pki);
  // Start with only the P-256 key in the store.
  keysDir = path.join(dir, 'keys');
  await mkdir(keysDir, { mode: 0o700 });
  for (const ext of ['key', 'crt']) await copyFile(path.join(pki, `keyserver/keys/site-ecdsa-p256.${ext}`), path.join(keysDir, `site-ecdsa-p256.${ext}`));
  configFile = path.join(dir, 'keyserver.yaml');
  await writeFile(configFile, configText('{ identity: spiffe://keyless/edge/edge-1, keys: ["*"] }, { identity: spiffe://keyless/edge/edge-2, keys: ["*"] }'));
  server = await KeyServer.start({ config: await loadKeyServerConfig(configFile), configFile, log: pino({ level: 'silent' }) });
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe('reload', () => {
  it('applies a new policy and new keys, and keeps every request in flight', async () => {
    const p256 = await keyIdOf('site-ecdsa-p256');
    const p384 = await keyIdOf('site-ecdsa-p384');
    const edge1 = await client('edge-1');
    const edge2 = await client('edge-2');
    expect((await edge2.sign(signReq(p256, 'before-reload'))).error).toBe('OK');
    expect((await edge1.sign({ ...signReq(p384, 'p384-before'), scheme: 0x0503 })).error).toBe('KEY_NOT_FOUND');

    // A stream of 400 signatures runs across the reload.
    const running = edge1.signStream(Array.from({ length: 20 }, (_, b) => Array.from({ length: 20 }, (_, i) => signReq(p256, `inflight-${b}-${i}`))));
    for (const ext of ['key', 'crt']) await copyFile(path.join(pki, `keyserver/keys/site-ecdsa-p384.${ext}`), path.join(keysDir, `site-ecdsa-p384.${ext}`));
    await writeFile(configFile, configText('{ identity: spiffe://keyless/edge/edge-1, keys: ["*"] }'));
    expect(await server.reload()).toBe(true);
    const results = await running;
    expect(results).toHaveLength(400);
    expect(results.filter((r) => r.error !== 'OK')).toEqual([]);

    expect((await edge2.sign(signReq(p256, 'after-reload'))).error).toBe('NOT_ALLOWED');
    expect((await edge1.sign({ ...signReq(p384, 'p384-after'), scheme: 0x0503 })).error).toBe('OK');
    edge1.close();
    edge2.close();
  });

  it('rejects a bad new config and keeps serving with the old one', async () => {
    const p256 = await keyIdOf('site-ecdsa-p256');
    const good = await readFile(configFile, 'utf8');
    await writeFile(configFile, good.replace('keys: ["*"]', 'keys: [{ id: nothex }]'));
    expect(await server.reload()).toBe(false);
    // A key store that cannot load (a world-readable key) is also rejected as a whole.
    await writeFile(configFile, good);
    await writeFile(path.join(keysDir, 'bad.key'), await readFile(path.join(pki, 'keyserver/keys/site-rsa-2048.key')), { mode: 0o644 });
    expect(await server.reload()).toBe(false);
    await rm(path.join(keysDir, 'bad.key'));
    const edge1 = await client('edge-1');
    expect((await edge1.sign(signReq(p256, 'after-bad-reload'))).error).toBe('OK');
    edge1.close();
    const metrics = await (await fetch(`http://127.0.0.1:${server.observabilityPort}/metrics`)).text();
    expect(metrics).toMatch(/keyless_keyserver_reloads_total\{outcome="rejected"\} 2/);
  });
});

describe('observability', () => {
  it('answers grpc.health.v1 Check with SERVING for the key service', async () => {
    const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
    const creds = grpc.credentials.createSsl(
      await readFile(path.join(pki, 'edge/ca.crt')),
      await readFile(path.join(pki, 'edge/edge-1/client.key')),
      await readFile(path.join(pki, 'edge/edge-1/client.crt')),
    );
    const health = new Health(`127.0.0.1:${server.port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as {
      check(req: { service: string }, cb: (err: Error | null, res: { status: string }) => void): void;
      close(): void;
    };
    const res = await new Promise<{ status: string }>((resolve, reject) => health.check({ service: 'keyless.v1.KeyService' }, (err, r) => (err ? reject(err) : resolve(r))));
    health.close();
    expect(res.status).toBe('SERVING');
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const base = `http://127.0.0.1:${server.observabilityPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toBe('writable');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/keyless_keyserver_operations_total\{key="[0-9a-f]{16}",scheme="ecdsa_secp256r1_sha256",identity="spiffe:\/\/keyless\/edge\/edge-1",operation="tls13-certificate-verify",outcome="OK"\} \d+/);
    expect(metrics).toContain('keyless_keyserver_sign_duration_seconds_bucket');
    expect(metrics).toContain('keyless_keyserver_signatures_in_flight');
  });
});

describe('settings a reload cannot change', () => {
  it('are named, compared with what the server started with', () => {
    const base = {
      listen: '127.0.0.1:2407',
      tls: { cert: '/c', key: '/k', clientCa: '/ca' },
      keyStores: [{ type: 'file', dir: '/keys' }],
      audit: { dir: '/audit' },
      policy: { edges: [] },
    };
    const running = keyServerConfigSchema.parse(base);
    expect(settingsNeedingRestart(running, keyServerConfigSchema.parse(base))).toEqual([]);
    const next = keyServerConfigSchema.parse({
      ...base,
      listen: '127.0.0.1:2417',
      observability: { listen: '127.0.0.1:2416' },
      audit: { dir: '/audit', maxFileBytes: 1024 * 1024, maxBatchDelayMs: 2, checkpointSyncMs: 5 },
      limits: { maxMessageBytes: 1024 * 1024 },
      log: { level: 'debug' },
      // Policy changes are applied: not in the list.
      policy: { edges: [{ identity: 'cn:x', keys: ['*'] }] },
    });
    expect(settingsNeedingRestart(running, next)).toEqual(['listen', 'observability.listen', 'audit.maxFileBytes', 'audit.maxBatchDelayMs', 'audit.checkpointSyncMs', 'limits.maxMessageBytes', 'log.level']);
  });
});
