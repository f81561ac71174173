// WebSocket through the Upgrade pass-through: a real `ws` echo origin over HTTPS, a real `ws`
// client, and between them a plain node http server whose 'upgrade' listener calls the origin
// client (as the edge's HTTP layer will).
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createOriginClient, pinOf, type OriginClient, type UpgradeOutcome } from '../../../../edge/http/origin/index.js';
import type { EdgeRequest, OriginUpgrade } from '../../../../edge/http/types.js';
import { makeTestPki, type TestPki } from './origin-fixture.js';

let pki: TestPki;
let originServer: https.Server;
let originUrl: string;
let seenHeaders: http.IncomingHttpHeaders[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  pki = await makeTestPki();
  originServer = https.createServer({ cert: pki.server.chainPem, key: pki.server.keyPem }, (_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  originServer.on('upgrade', (req, socket, head) => {
    seenHeaders.push(req.headers);
    if (req.url === '/hang') return;
    if (req.url === '/deny') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nx-origin: yes\r\n\r\ndenied');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((resolve) => originServer.listen(0, '127.0.0.1', resolve));
  originUrl = `https://127.0.0.1:${(originServer.address() as AddressInfo).port}`;
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        originServer.closeAllConnections();
        originServer.close(() => resolve());
      }),
  );
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

/** A plain http "edge" that hands every upgrade to the origin client. */
async function edgeFor(client: OriginClient): Promise<{ port: number; outcomes: UpgradeOutcome[]; client: OriginClient }> {
  const outcomes: UpgradeOutcome[] = [];
  // What the pipeline will hold: the shared type, not the origin client.
  const upgrade: OriginUpgrade = (request, socket, head) => client.upgrade(request, socket, head);
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  let n = 0;
  server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => {
    const request: EdgeRequest = {
      requestId: `ws-${++n}`,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      host: 'www.example.test',
      httpVersion: req.httpVersion,
      headers: req.headers,
      clientIp: req.socket.remoteAddress ?? '',
      clientPort: req.socket.remotePort ?? 0,
      servername: 'www.example.test',
    };
    void upgrade(request, socket, head).then((o) => outcomes.push(o as UpgradeOutcome));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await client.destroy();
  });
  return { port: (server.address() as AddressInfo).port, outcomes, client };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function unexpected(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => reject(new Error('expected no upgrade')));
    ws.once('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
  });
}

function next(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })));
}

describe('WebSocket through the upgrade pass-through', () => {
  it('echoes text and binary messages through a verified (strict) origin connection', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem }] }));
    seenHeaders = [];
    const ws = await open(`ws://127.0.0.1:${edge.port}/ws`);
    const text = next(ws);
    ws.send('hello through the edge');
    expect((await text).data.toString()).toBe('hello through the edge');
    const big = Buffer.alloc(1024 * 1024, 7);
    const binary = next(ws);
    ws.send(big);
    const echoed = await binary;
    expect(echoed.binary).toBe(true);
    expect(echoed.data.equals(big)).toBe(true);
    ws.close();
    expect(edge.outcomes).toEqual([{ outcome: 'upgraded', status: 101 }]);
    expect(seenHeaders[0]!['x-forwarded-for']).toBe('127.0.0.1');
    expect(seenHeaders[0]!.via).toBe('1.1 keyless-edge');
    expect(seenHeaders[0]!.host).toBe('www.example.test');
    expect(seenHeaders[0]!.upgrade).toBe('websocket');
  });

  it('connects over HTTP/1.1 even to an origin configured for h2 that also speaks h2', async () => {
    const h2Origin = http2.createSecureServer({ cert: pki.server.chainPem, key: pki.server.keyPem, allowHTTP1: true });
    const wss = new WebSocketServer({ noServer: true });
    wss.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    h2Origin.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
    await new Promise<void>((resolve) => h2Origin.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          h2Origin.close(() => resolve());
        }),
    );
    const url = `https://127.0.0.1:${(h2Origin.address() as AddressInfo).port}`;
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url, ca: pki.ca.certPem, http2: true }] }));
    const ws = await open(`ws://127.0.0.1:${edge.port}/ws`);
    const echoed = next(ws);
    ws.send('over http/1.1');
    expect((await echoed).data.toString()).toBe('over http/1.1');
    ws.close();
    expect(edge.outcomes).toEqual([{ outcome: 'upgraded', status: 101 }]);
  });

  it('relays a non-101 answer as it is', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem }] }));
    const res = await unexpected(`ws://127.0.0.1:${edge.port}/deny`);
    expect(res.status).toBe(403);
    expect(res.body).toBe('denied');
    expect(res.headers['x-origin']).toBe('yes');
  });

  it('verifies the origin as requests do: a wrong pin is a 502 and the origin sees no upgrade', async () => {
    const edge = await edgeFor(
      createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem, mode: 'pinned', pins: [pinOf(pki.unknownCa.certPem)] }] }),
    );
    seenHeaders = [];
    const res = await unexpected(`ws://127.0.0.1:${edge.port}/ws`);
    expect(res.status).toBe(502);
    expect(res.body).toContain('request id: ws-1');
    expect(res.body).not.toMatch(/pin|certificate/i);
    expect(seenHeaders).toEqual([]);
    expect(edge.outcomes[0]).toMatchObject({ outcome: 'failed', status: 502, error: { code: 'ORIGIN_ERR_PIN_MISMATCH' } });
  });

  it('an origin that does not answer the upgrade in time is a 504', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem, timeouts: { headersMs: 300 } }] }));
    const res = await unexpected(`ws://127.0.0.1:${edge.port}/hang`);
    expect(res.status).toBe(504);
    expect(edge.outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'ORIGIN_ERR_HEADERS_TIMEOUT' } });
  });

  it('an origin that is down is a 502', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: 'https://127.0.0.1:1', ca: pki.ca.certPem }] }));
    const res = await unexpected(`ws://127.0.0.1:${edge.port}/ws`);
    expect(res.status).toBe(502);
    expect(edge.outcomes[0]).toMatchObject({ outcome: 'failed', error: { code: 'ORIGIN_ERR_CONNECT' } });
  });

  it('closing the client closes the origin side of the tunnel', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem }] }));
    const before = await connections(originServer);
    const ws = await open(`ws://127.0.0.1:${edge.port}/ws`);
    expect(await connections(originServer)).toBe(before + 1);
    ws.terminate();
    await waitFor(async () => (await connections(originServer)) === before);
  });

  it('close() leaves open tunnels alone; destroy() closes them', async () => {
    const edge = await edgeFor(createOriginClient({ origins: [{ hostnames: ['www.example.test'], url: originUrl, ca: pki.ca.certPem }] }));
    const ws = await open(`ws://127.0.0.1:${edge.port}/ws`);
    await edge.client.close();
    const echoed = next(ws);
    ws.send('still here');
    expect((await echoed).data.toString()).toBe('still here');
    const closed = new Promise((resolve) => ws.once('close', resolve));
    await edge.client.destroy();
    await closed;
  });
});

function connections(server: https.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

async function waitFor(check: () => Promise<boolean>, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
