// Unary Sign calls that must not be signed: one whose gRPC deadline passes while it waits for a
// signing slot, and one its caller cancels while it waits. The store is saturated on purpose
// (maxInFlight 1, one signing thread, an RSA-4096 key, a SignStream of a thousand requests
// queued first), so the unary calls wait behind seconds of work: no tight timing.
import { generateKeyPair } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevPki } from '../../certs/index.js';
import type { DevPkiLayout } from '../../certs/index.js';
import { keyServerConfigSchema } from '../../keyserver/config.js';
import { KeyServer } from '../../keyserver/server.js';
import { tempDir } from '../helpers/tmp.js';
import { expectedKeyId } from './keystore/test-keys.js';
import { KeyServiceClient } from './support/key-service-client.js';
import type { OpenSignStream } from './support/key-service-client.js';

let pki: DevPkiLayout;
let dir: string;
let cleanup: () => Promise<void>;
let server: KeyServer;
let keyId: string;
const auditDir = () => path.join(dir, 'audit');

interface AuditRow {
  requestId: string;
  outcome: string;
  decision: string;
  reason?: string;
}

async function auditRow(requestId: string): Promise<AuditRow | undefined> {
  const text = await readFile(path.join(auditDir(), 'audit.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRow)
    .find((r) => r.requestId === requestId);
}

async function waitForAudit(requestId: string): Promise<AuditRow> {
  let row: AuditRow | undefined;
  await expect.poll(async () => (row = await auditRow(requestId)), { timeout: 10_000, interval: 50 }).toBeDefined();
  return row!;
}

/** Polls `read` until `done` holds (hooks cannot use expect.poll). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${String(v)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function queued(): Promise<number> {
  const metric = await server.metrics.queued.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

const rsaReq = (id: string, deadlineMs = 0) => ({
  key_id: keyId,
  scheme: 0x0804, // rsa_pss_rsae_sha256
  request_id: id,
  deadline_ms: deadlineMs,
  input: 'tls13_certificate_verify' as const,
  tls13_certificate_verify: { transcript_hash: Buffer.alloc(32, 7) },
});

async function edge1(): Promise<KeyServiceClient> {
  const edge = pki.edge.clients['edge-1'];
  return new KeyServiceClient(`127.0.0.1:${server.port}`, { ca: await readFile(pki.edge.ca), cert: await readFile(edge.cert), key: await readFile(edge.key) });
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('ks-unary-deadline'));
  pki = await generateDevPki(path.join(dir, 'pki'));
  const keys = path.join(dir, 'keys');
  await mkdir(keys, { mode: 0o700 });
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 4096 });
  await writeFile(path.join(keys, 'slow-rsa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  keyId = expectedKeyId(publicKey);
  server = await KeyServer.start({
    config: keyServerConfigSchema.parse({
      listen: '127.0.0.1:0',
      tls: { cert: pki.keyServer.cert, key: pki.keyServer.key, clientCa: pki.keyServer.edgeCa },
      observability: { listen: '127.0.0.1:0' },
      keyStores: [{ type: 'file', dir: keys, maxInFlight: 1, signingThreads: 1 }],
      audit: { dir: auditDir(), maxBatchDelayMs: 1 },
      policy: { edges: [{ identity: 'spiffe://keyless/edge/edge-1', keys: ['*'] }] },
      log: { level: 'silent' },
    }),
    log: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  await server?.stop();
  await cleanup?.();
});

describe('unary Sign behind a saturated key store', () => {
  let saturating: KeyServiceClient;
  let stream: OpenSignStream;

  beforeAll(async () => {
    saturating = await edge1();
    stream = saturating.openStream();
    // A thousand RSA-4096 signatures, one at a time: seconds of work queued ahead of the calls below.
    for (let b = 0; b < 2; b++) stream.write(Array.from({ length: 500 }, (_, i) => rsaReq(`backlog-${b}-${i}`, 60_000)));
    await until(queued, (n) => n > 900, 'signatures queued');
  });

  afterAll(async () => {
    stream?.cancel();
    await stream?.ended.catch(() => undefined);
    await until(queued, (n) => n === 0, 'signatures queued');
    saturating?.close();
  });

  it('a call whose deadline passes while it waits is not signed: the caller gets DEADLINE_EXCEEDED, the audit line says so', async () => {
    const client = await edge1();
    try {
      // Several deadlines, so that the call's deadline timer, the client's RST_STREAM and the
      // queue's own timeout race in every order: each is audited as DEADLINE_EXCEEDED.
      const deadlines = [150, 300, 450, 600];
      const calls = deadlines.map((ms) => client.sign(rsaReq(`unary-deadline-${ms}`), ms));
      for (const call of calls) await expect(call.result).rejects.toMatchObject({ code: 4 }); // DEADLINE_EXCEEDED
      // Still queued behind the backlog: they were waiting the whole time, not being signed.
      expect(await queued()).toBeGreaterThan(0);
      for (const ms of deadlines) {
        const row = await waitForAudit(`unary-deadline-${ms}`);
        expect(row, `deadline ${ms} ms`).toMatchObject({ outcome: 'DEADLINE_EXCEEDED', decision: 'failed', reason: 'gave up waiting for a signing slot' });
      }
    } finally {
      client.close();
    }
  });

  it('a call cancelled while it waits is not signed and is audited as CANCELLED', async () => {
    const client = await edge1();
    try {
      const call = client.sign(rsaReq('unary-cancelled'), 30_000);
      // Long enough to be queued at the server; the backlog keeps it waiting far longer.
      await new Promise((r) => setTimeout(r, 500));
      expect(await queued()).toBeGreaterThan(0);
      call.cancel();
      await expect(call.result).rejects.toMatchObject({ code: 1 }); // CANCELLED
      const row = await waitForAudit('unary-cancelled');
      expect(row).toMatchObject({ outcome: 'CANCELLED', decision: 'failed', reason: 'gave up waiting for a signing slot' });
    } finally {
      client.close();
    }
  });

  it('the backlog itself was signing all along (the store works; only the waiting calls were refused)', async () => {
    expect(stream.results.some((r) => r.error === 'OK' && r.signature.length > 0)).toBe(true);
  });
});
