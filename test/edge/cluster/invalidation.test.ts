// `workers: 2` and RFC 9111 §4.4: an unsafe request forwarded by one worker invalidates the URL
// in every worker's cache (the primary passes the keys on), not only in the worker that saw it.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterEdge, type ClusterEdge } from '../../helpers/cluster-edge.js';
import { request } from '../../helpers/full-stack.js';
import { startKeyServerFixture, type KeyServerFixture } from '../../helpers/keyserver-fixture.js';

describe('keyless edge with workers: 2, an unsafe request', () => {
  let keyServer: KeyServerFixture;
  let origin: https.Server;
  let cluster: ClusterEdge;
  let port: number;
  let gets = 0;

  beforeAll(async () => {
    keyServer = await startKeyServerFixture();
    // An origin with one cacheable resource that also takes POST.
    origin = https.createServer({ cert: await readFile(keyServer.pki.origin.cert), key: await readFile(keyServer.pki.origin.key) }, (req, res) => {
      if (req.url === '/item' && req.method === 'GET') {
        gets++;
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' }).end(`item, version ${gets}\n`);
      } else if (req.url === '/item' && req.method === 'POST') {
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('updated\n'));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    cluster = await startClusterEdge({ keyServer, originUrl: url });
    port = cluster.port;
  });
  afterAll(async () => {
    await cluster?.stop();
    await new Promise((r) => origin?.close(r));
    await keyServer?.stop();
  });

  it('invalidates the URL in both workers, so each asks the origin again', async () => {
    const stack = { edge: { port } as never, ca: await readFile(keyServer.pki.edge.ca) };
    // A new TLS connection per request: the cluster hands them to the workers in turn, and each
    // worker fills its own cache once.
    for (let i = 0; i < 6; i++) expect((await request(stack, '/item')).status).toBe(200);
    expect(gets).toBe(2);
    expect((await request(stack, '/item', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(200);
    // The invalidation travels worker → primary → worker.
    await sleep(500);
    const after = await Promise.all(Array.from({ length: 6 }, () => request(stack, '/item')));
    expect(after.every((r) => r.status === 200)).toBe(true);
    // Both workers fetched it again: neither served its pre-POST copy.
    expect(gets).toBe(4);
    expect(after.every((r) => r.text.startsWith('item, version 3') || r.text.startsWith('item, version 4'))).toBe(true);
  });
});
