// `workers: 2` and the WAF's rate limits: the workers count in the primary's store, so a limit
// holds for the whole edge. With counters per worker, 4 per minute let 8 requests through two
// workers; shared, exactly 4 pass and the rest get 429 with Retry-After.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SharedRateLimitStore } from '../../../edge/cluster/shared-rate-limits.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterEdge, type ClusterEdge } from '../../helpers/cluster-edge.js';
import { request } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';

describe('keyless edge with workers: 2, a rate limit', () => {
  let keyServer: KeyServerFixture;
  let origin: https.Server;
  let cluster: ClusterEdge;

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    origin = https.createServer({ cert: await readFile(keyServer.pki.origin.cert), key: await readFile(keyServer.pki.origin.key) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    cluster = await startClusterEdge({
      keyServer,
      originUrl: `https://127.0.0.1:${(origin.address() as AddressInfo).port}`,
      extra: 'waf:\n  managed: { enabled: false }\n  rateLimits:\n    - { name: per-ip, key: ip, limit: 4, windowSeconds: 60 }\n',
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    await new Promise((r) => origin?.close(r));
    await keyServer?.stop();
  });

  it('admits the limit once for the whole edge, not once per worker', async () => {
    const stack = { edge: { port: cluster.port } as never, ca: await readFile(keyServer.pki.edge.ca) };
    const statuses: number[] = [];
    // A new TLS connection per request: the cluster hands them to both workers.
    for (let i = 0; i < 12; i++) {
      const r = await request(stack, '/page');
      statuses.push(r.status);
      if (r.status === 429) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200]);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8);
  });
});

describe('SharedRateLimitStore without an answering primary', () => {
  function capture(): { log: pino.Logger; lines: string[] } {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) });
    return { log: pino({ level: 'warn' }, sink), lines };
  }

  it('with no channel, or a channel that fails, counts in the worker alone and says so once', async () => {
    for (const send of [undefined, () => { throw new Error('channel closed'); }]) {
      const { log, lines } = capture();
      const store = new SharedRateLimitStore(log, send, new EventEmitter());
      const decisions = [];
      for (let i = 0; i < 3; i++) decisions.push(await store.hit('k', 2, 60_000, 1_000));
      expect(decisions.map((d) => d.limited)).toEqual([false, false, true]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/counting in this worker alone/);
    }
  });

  it('takes the primary\'s decision when it answers', async () => {
    const channel = new EventEmitter();
    const { log, lines } = capture();
    const store = new SharedRateLimitStore(log, (q) => {
      setImmediate(() => channel.emit('message', { keyless: 'rate-limit-decision', id: q.id, decision: { limited: true, count: 9, retryAfterSeconds: 7 } }));
      return true;
    }, channel);
    expect(await store.hit('k', 100, 60_000, 0)).toEqual({ limited: true, count: 9, retryAfterSeconds: 7 });
    expect(lines).toHaveLength(0);
  });
});
