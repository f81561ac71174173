// Key servers going away and coming back, with real key servers on loopback: fail fast when none
// is reachable, recover on restart, lose nothing when one of two stops mid-run, never retry a
// refusal.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyServerPool } from '../../../edge/keyserver-client/index.js';
import type { KeyServerPoolOptions } from '../../../edge/keyserver-client/index.js';
import { SignerError } from '../../../edge/signer.js';
import type { KeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { startKeyServerFixture } from '../../helpers/keyserver-fixture.js';
import { contextFor, inputFor } from './inputs.js';
import { startTcpRelay } from './tcp-relay.js';

// Two key servers with the same keys (one dev PKI), each with its own audit log.
let a: KeyServerFixture;
let b: KeyServerFixture;

beforeAll(async () => {
  a = await startKeyServerFixture();
  b = await startKeyServerFixture({ pki: a.pki });
});

afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

async function newPool(servers: KeyServerPoolOptions['servers'], extra: Partial<KeyServerPoolOptions> = {}): Promise<KeyServerPool> {
  return new KeyServerPool({
    servers,
    ...(await a.edgeCredentials('edge-1')),
    deadlineMs: 10_000,
    healthCheckIntervalMs: 100,
    // A check every 100 ms, but each may take its time: on a busy 2-core CI machine setting up
    // the connection alone can take longer than the interval.
    healthCheckTimeoutMs: 2_000,
    ...extra,
  });
}


function signP256(pool: KeyServerPool, label: string): Promise<Buffer> {
  return pool.sign({ keyId: a.siteKey('site-ecdsa-p256').keyId, scheme: 0x0403, input: inputFor(0x0403), context: contextFor(label) });
}

async function rejection(promise: Promise<unknown>): Promise<SignerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SignerError);
  return err as SignerError;
}

/** Health-checks until a server is serving again (the channel reconnects with backoff). */
async function waitUntilServing(pool: KeyServerPool): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (await pool.checkHealth()) return;
    await sleep(100);
  }
  throw new Error(`no key server came back: ${JSON.stringify(pool.status())}`);
}

/** One sample of a metric: `sample` is the metric name or, for a histogram, e.g. its `_count` series. */
async function metricValue(registry: Registry, sample: string, labels: Record<string, string> = {}): Promise<number> {
  const name = sample.replace(/_(count|sum|bucket)$/, '');
  const metric = await registry.getSingleMetric(name)?.get();
  if (!metric) throw new Error(`no metric ${name}`);
  const values = metric.values as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  const match = values.find((v) => (v.metricName ?? name) === sample && Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return match?.value ?? 0;
}

describe('KeyServerPool failover', () => {
  it('fails fast with SIGNER_UNAVAILABLE when its only key server stops, and recovers when it is back on the same port', async () => {
    const pool = await newPool([{ address: a.address, serverName: 'localhost' }]);
    try {
      expect((await signP256(pool, 'before-stop')).length).toBeGreaterThan(0);
      await a.stopServer();

      const started = performance.now();
      const err = await rejection(signP256(pool, 'while-stopped'));
      const elapsed = performance.now() - started;
      // The deadline is 10 s; a fail-fast client gives up on its own, long before.
      expect(err.code).toBe('SIGNER_UNAVAILABLE');
      expect(err.code).not.toBe('SIGNER_DEADLINE');
      console.info(`key server stopped: sign rejected after ${elapsed.toFixed(1)} ms (${err.message})`);

      // Known down: later signs fail fast too.
      await pool.checkHealth();
      expect(pool.status()[0]!.health).toBe('down');
      expect((await rejection(signP256(pool, 'known-down'))).code).toBe('SIGNER_UNAVAILABLE');

      await a.start();
      await waitUntilServing(pool);
      expect((await signP256(pool, 'after-restart')).length).toBeGreaterThan(0);
    } finally {
      pool.close();
      await a.start();
    }
  });

  it('fails fast when no key server was ever reachable', async () => {
    // A port with nothing listening.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const pool = await newPool([{ address: `127.0.0.1:${port}`, serverName: 'localhost' }]);
    try {
      expect((await rejection(signP256(pool, 'refused'))).code).toBe('SIGNER_UNAVAILABLE');
      await pool.checkHealth();
      expect((await rejection(signP256(pool, 'refused-known'))).code).toBe('SIGNER_UNAVAILABLE');
    } finally {
      pool.close();
    }
  });

  it('gives up at the deadline when a key server accepts connections but never answers', async () => {
    // A network black hole: TCP connects, TLS never completes.
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const port = (hole.address() as net.AddressInfo).port;
    const pool = await newPool([{ address: `127.0.0.1:${port}`, serverName: 'localhost' }], { deadlineMs: 300, healthCheckIntervalMs: 60_000 });
    try {
      const err = await rejection(signP256(pool, 'black-hole'));
      expect(err.code).toBe('SIGNER_DEADLINE');
    } finally {
      pool.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    }
  });

  it('loses no signature when one of two key servers stops during a run of 500', async () => {
    const registry = new Registry();
    const pool = await newPool(
      [
        { address: a.address, serverName: 'localhost' },
        { address: b.address, serverName: 'localhost' },
      ],
      { metrics: registry },
    );
    try {
      await pool.listKeys();
      // RSA: the signer checks every signature (the self-check is on by default for RSA).
      const rsa = a.siteKey('site-rsa-2048');
      const signer = pool.signerFor(rsa.keyId, { publicKey: rsa.publicKey });
      expect((await signP256(pool, 'warm-up')).length).toBeGreaterThan(0);
      const served = (f: KeyServerFixture): Promise<number> => metricValue(registry, 'keyless_edge_keyserver_sign_seconds_count', { server: f.address, outcome: 'ok' });
      const [warmA, warmB] = [await served(a), await served(b)];

      const runs: Promise<Buffer>[] = [];
      let stopping: Promise<void> | undefined;
      for (let i = 0; i < 500; i++) {
        runs.push(signer.sign(0x0804, inputFor(0x0804), contextFor('run'), new AbortController().signal));
        if (i === 150) stopping = a.stopServer();
        if (i % 10 === 9) await sleep(2);
      }
      const results = await Promise.allSettled(runs);
      await stopping;
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(failed.map((f) => (f.reason as Error).message)).toEqual([]);

      // The stopped server answered its part of the run before it went away; the other did the rest.
      const servedByA = (await served(a)) - warmA;
      const servedByB = (await served(b)) - warmB;
      expect(servedByA).toBeGreaterThan(0);
      expect(servedByB).toBeGreaterThan(0);
      await pool.checkHealth();
      expect(pool.status().map((s) => s.health)).toEqual(['down', 'serving']);
      const retried = await metricValue(registry, 'keyless_edge_keyserver_sign_retries_total');
      console.info(`500 signs: ${servedByA} answered by the server that stopped, ${servedByB} by the other, ${retried} retried`);
    } finally {
      pool.close();
      await a.start();
    }
  });

  it('retries on the other key server what was in flight when a connection is cut', async () => {
    const relay = await startTcpRelay({ host: '127.0.0.1', port: a.port });
    const registry = new Registry();
    const pool = await newPool(
      [
        { address: relay.address, serverName: 'localhost' },
        { address: b.address, serverName: 'localhost' },
      ],
      { metrics: registry },
    );
    try {
      // Open both streams and learn that both servers are serving.
      for (let i = 0; i < 50 && !pool.status().every((s) => s.health === 'serving'); i++) {
        await pool.checkHealth();
        await Promise.all([signP256(pool, 'warm-up'), signP256(pool, 'warm-up')]);
      }
      expect(pool.status().map((s) => s.health)).toEqual(['serving', 'serving']);

      // 200 signs started in one turn are split over both streams and written by the flush;
      // cutting the link in the next check phase leaves the relayed half unanswered.
      const runs = Array.from({ length: 200 }, () => signP256(pool, 'cut'));
      await new Promise<void>((resolve) => setImmediate(() => (relay.cut(), resolve())));
      const results = await Promise.allSettled(runs);
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(await metricValue(registry, 'keyless_edge_keyserver_sign_retries_total')).toBeGreaterThan(0);
    } finally {
      pool.close();
      await relay.close();
    }
  });

  it('does not retry a refusal: an edge without a policy gets NOT_ALLOWED from one server', async () => {
    const registry = new Registry();
    const pool = new KeyServerPool({
      servers: [
        { address: a.address, serverName: 'localhost' },
        { address: b.address, serverName: 'localhost' },
      ],
      ...(await a.edgeCredentials('edge-2')),
      deadlineMs: 10_000,
      healthCheckIntervalMs: 100,
      metrics: registry,
    });
    try {
      expect(await pool.listKeys()).toEqual([]);
      const err = await rejection(signP256(pool, 'edge-2'));
      expect(err.code).toBe('SIGNER_REFUSED');
      expect(err.remoteCode).toBe('NOT_ALLOWED');
      expect(await metricValue(registry, 'keyless_edge_keyserver_sign_retries_total')).toBe(0);
      const answered =
        (await metricValue(registry, 'keyless_edge_keyserver_sign_seconds_count', { server: a.address, outcome: 'refused' })) +
        (await metricValue(registry, 'keyless_edge_keyserver_sign_seconds_count', { server: b.address, outcome: 'refused' }));
      expect(answered).toBe(1);
    } finally {
      pool.close();
    }
  });
});
