// The edge's key-server client against a real key server over loopback mutual TLS: every scheme
// of every dev key, many concurrent signatures on one stream, deadlines, aborts, refusals.
import { createPublicKey } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemeInfo, schemeName, schemesForAlgorithm } from '../../../common/signature-scheme.js';
import type { KeyAlgorithm, SignatureScheme } from '../../../common/signature-scheme.js';
import { keyAlgorithmOf, verifyTlsSignature } from '../../../common/verify-tls-signature.js';
import { KeyServerPool } from '../../../edge/keyserver-client/index.js';
import type { KeyServerPoolOptions } from '../../../edge/keyserver-client/index.js';
import { signedMessage } from '../../../edge/keyserver-client/sign-request.js';
import { SignerError } from '../../../edge/signer.js';
import type { DevSiteName } from '../../../certs/index.js';
import type { DevSiteKey, KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { startKeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { contextFor, inputFor } from './inputs.js';

let fixture: KeyServerFixture;
let pool: KeyServerPool;
let registry: Registry;

async function newPool(edge: 'edge-1' | 'edge-2', extra: Partial<KeyServerPoolOptions> = {}): Promise<KeyServerPool> {
  return new KeyServerPool({
    servers: [{ address: fixture.address, serverName: 'localhost' }],
    ...(await fixture.edgeCredentials(edge)),
    deadlineMs: 10_000,
    healthCheckIntervalMs: 200,
    ...extra,
  });
}

function key(name: DevSiteName): DevSiteKey {
  return fixture.siteKey(name);
}

async function signerError(promise: Promise<unknown>): Promise<SignerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignerError);
  return err as SignerError;
}

async function batchStats(): Promise<{ messages: number; requests: number }> {
  const values = (await registry.getSingleMetric('keyless_edge_keyserver_sign_batch_size')!.get()).values as Array<{ value: number; metricName?: string }>;
  const pick = (name: string): number => values.find((v) => v.metricName === name)?.value ?? 0;
  return { messages: pick('keyless_edge_keyserver_sign_batch_size_count'), requests: pick('keyless_edge_keyserver_sign_batch_size_sum') };
}

beforeAll(async () => {
  fixture = await startKeyServerFixture();
  registry = new Registry();
  pool = await newPool('edge-1', { metrics: registry });
});

afterAll(async () => {
  pool?.close();
  await fixture?.stop();
});

describe('KeyServerPool against a real key server', () => {
  it('lists every key with the schemes its algorithm can produce', async () => {
    const keys = await pool.listKeys();
    expect(keys.map((k) => k.keyId).sort()).toEqual(fixture.siteKeys.map((k) => k.keyId).sort());
    for (const k of keys) {
      expect(k.schemes.length).toBeGreaterThan(0);
      expect([...k.schemes].sort()).toEqual(schemesForAlgorithm(k.algorithm as KeyAlgorithm).sort());
      expect(k.operations).toEqual(expect.arrayContaining(['tls13-certificate-verify', 'tls12-server-key-exchange']));
    }
  });

  it('signs with every scheme of every key, and each signature verifies with the certificate key', async () => {
    const keys = await pool.listKeys();
    let signed = 0;
    for (const info of keys) {
      const publicKey = fixture.siteKeys.find((s) => s.keyId === info.keyId)!.publicKey;
      // Self-check forced on, so the pool itself verifies every scheme too.
      const signer = pool.signerFor(info.keyId, { publicKey, verify: true });
      expect(signer.schemes).toEqual(info.schemes);
      for (const scheme of info.schemes) {
        const input = inputFor(scheme);
        const signature = await signer.sign(scheme, input, contextFor('scheme'), new AbortController().signal);
        expect(verifyTlsSignature(publicKey, scheme, signedMessage(input), signature), `${schemeName(scheme)} with ${info.keyId}`).toBe(true);
        signed++;
      }
    }
    expect(signed).toBeGreaterThanOrEqual(fixture.siteKeys.length);
  });

  it('matches answers to requests when hundreds are in flight on one stream, answered out of order', async () => {
    await pool.listKeys();
    const batchesBefore = await batchStats();
    // Slow (P-384, RSA) and fast (P-256) keys mixed, so answers overtake each other.
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const k = fixture.siteKeys[i % fixture.siteKeys.length]!;
      const info = schemeInfo(schemesForAlgorithm(keyAlgorithmOf(k.publicKey)!)[0]!)!;
      const scheme = info.code;
      const input = inputFor(scheme);
      return { k, scheme, input, done: pool.sign({ keyId: k.keyId, scheme, input, context: contextFor('many') }) };
    });
    const completion: number[] = [];
    jobs.forEach((j, i) => void j.done.then(() => completion.push(i)));
    const signatures = await Promise.all(jobs.map((j) => j.done));
    // The key server signs on libuv's thread pool: a fast P-256 answer overtakes a slow P-384 one.
    const overtaken = completion.filter((id, pos) => pos > 0 && id < completion[pos - 1]!).length;
    console.info(`300 concurrent signs: ${overtaken} answers arrived before one issued earlier`);
    expect(overtaken, 'answers came back out of order at least once').toBeGreaterThan(0);
    jobs.forEach((j, i) => {
      expect(verifyTlsSignature(j.k.publicKey, j.scheme, signedMessage(j.input), signatures[i]!)).toBe(true);
    });
    // All 300 were started in one turn of the event loop: two SignBatch messages (256 + 44).
    const batchesAfter = await batchStats();
    expect(batchesAfter.requests - batchesBefore.requests).toBe(300);
    expect(batchesAfter.messages - batchesBefore.messages).toBe(2);
  });

  it('carries the handshake context to the key server audit log', async () => {
    const k = key('site-ecdsa-p384');
    const context = { sni: 'audit.demo.localhost', clientIp: '198.51.100.23', requestId: 'conn-7f3a' };
    await pool.sign({ keyId: k.keyId, scheme: 0x0503, input: inputFor(0x0503), context });
    const lines = await fixture.auditLines();
    const line = lines.find((l) => l.requestId.startsWith('conn-7f3a/'));
    expect(line, `last request ids in the audit log: ${lines.slice(-3).map((l) => l.requestId).join(', ')}`).toBeDefined();
    expect(line).toMatchObject({ decision: 'allowed', outcome: 'OK', keyId: k.keyId, scheme: 'ecdsa_secp384r1_sha384', operation: 'tls13-certificate-verify', sni: 'audit.demo.localhost', clientIp: '198.51.100.23' });
    expect(line!.identity?.sans).toContain('URI:spiffe://keyless/edge/edge-1');
  });

  it('rejects with SIGNER_DEADLINE when the deadline passes, without waiting for the key server', async () => {
    const k = key('site-rsa-2048');
    const pending = pool.sign({ keyId: k.keyId, scheme: 0x0804, input: inputFor(0x0804), context: contextFor('deadline') }, { deadlineMs: 5 });
    // Keep the event loop busy past the deadline: the deadline timer now runs before any answer
    // can be read, so the outcome is decided by the client alone.
    const until = performance.now() + 20;
    while (performance.now() < until);
    const err = await signerError(pending);
    expect(err.code).toBe('SIGNER_DEADLINE');
    expect(err.remoteCode).toBeUndefined();
  });

  it('honours the AbortSignal of the caller', async () => {
    const k = key('site-ecdsa-p256');
    const op = { keyId: k.keyId, scheme: 0x0403 as SignatureScheme, input: inputFor(0x0403), context: contextFor('abort') };

    const controller = new AbortController();
    const pending = pool.sign(op, { signal: controller.signal });
    controller.abort();
    expect((await signerError(pending)).code).toBe('SIGNER_ABORTED');

    expect((await signerError(pool.sign(op, { signal: AbortSignal.abort() }))).code).toBe('SIGNER_ABORTED');
    // An AbortSignal.timeout() firing is the caller's deadline.
    const timedOut = AbortSignal.abort(new DOMException('timed out', 'TimeoutError'));
    expect((await signerError(pool.sign(op, { signal: timedOut }))).code).toBe('SIGNER_DEADLINE');

    // The stream is still good afterwards.
    expect((await pool.sign(op)).length).toBeGreaterThan(0);
  });

  it('reports a key server refusal as SIGNER_REFUSED with the remote code', async () => {
    const err = await signerError(
      pool.sign({ keyId: '00'.repeat(32), scheme: 0x0403, input: inputFor(0x0403), context: contextFor('unknown-key') }),
    );
    expect(err.code).toBe('SIGNER_REFUSED');
    expect(err.remoteCode).toBe('KEY_NOT_FOUND');

    const p256 = key('site-ecdsa-p256');
    const wrongScheme = await signerError(pool.sign({ keyId: p256.keyId, scheme: 0x0804, input: inputFor(0x0804), context: contextFor('scheme') }));
    expect(wrongScheme.remoteCode).toBe('UNSUPPORTED_SCHEME');
  });

  it('catches a signature that does not verify (SIGNER_BAD_SIGNATURE)', async () => {
    const rsa = key('site-rsa-2048');
    const other = key('site-ecdsa-p256');
    const err = await signerError(
      pool.sign({ keyId: rsa.keyId, scheme: 0x0804, input: inputFor(0x0804), context: contextFor('bad') }, { verifyWith: createPublicKey(other.publicKey.export({ type: 'spki', format: 'pem' })) }),
    );
    expect(err.code).toBe('SIGNER_BAD_SIGNATURE');
  });

  it('refuses to build a signer for an unknown key or with a public key of another key', async () => {
    await pool.listKeys();
    expect(() => pool.signerFor('11'.repeat(32))).toThrow(/not in the key servers' list/);
    expect(() => pool.signerFor(key('site-rsa-2048').keyId, { publicKey: key('site-ecdsa-p256').publicKey })).toThrow(/different key id/);
  });

  it('exports latency, errors, in-flight and health metrics', async () => {
    await pool.checkHealth();
    const text = await registry.metrics();
    expect(text).toContain(`keyless_edge_keyserver_up{server="${fixture.address}"} 1`);
    expect(text).toContain(`keyless_edge_keyserver_in_flight{server="${fixture.address}"} 0`);
    expect(text).toMatch(new RegExp(`keyless_edge_keyserver_sign_seconds_count\\{server="${fixture.address.replace(/\./g, '\\.')}",outcome="ok"\\} [1-9]`));
    expect(text).toContain('keyless_edge_keyserver_sign_errors_total{code="SIGNER_REFUSED",remote_code="KEY_NOT_FOUND"} 1');
    expect(text).toContain('keyless_edge_keyserver_sign_errors_total{code="SIGNER_DEADLINE",remote_code=""}');
  });

  it('fails with SIGNER_UNAVAILABLE once closed', async () => {
    const own = await newPool('edge-1');
    const k = key('site-ecdsa-p256');
    expect((await own.sign({ keyId: k.keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor('close') })).length).toBeGreaterThan(0);
    own.close();
    const err = await signerError(own.sign({ keyId: k.keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor('close') }));
    expect(err.code).toBe('SIGNER_UNAVAILABLE');
  });

  it('checks the IP address against the certificate when no server name is given', async () => {
    const byIp = await newPool('edge-1', { servers: [{ address: fixture.address }] });
    try {
      const k = key('site-ecdsa-p256');
      expect((await byIp.sign({ keyId: k.keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor('ip') })).length).toBeGreaterThan(0);
    } finally {
      byIp.close();
    }
  });

  it('checks the key server name against its certificate', async () => {
    const wrongName = await newPool('edge-1', { servers: [{ address: fixture.address, serverName: 'not-the-keyserver.example' }] });
    try {
      const k = key('site-ecdsa-p256');
      const err = await signerError(wrongName.sign({ keyId: k.keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor('name') }));
      expect(err.code).toBe('SIGNER_UNAVAILABLE');
    } finally {
      wrongName.close();
    }
  });
});
