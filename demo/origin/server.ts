// The demo origin: a node https server with its own certificate (the dev PKI's
// certs/dev/origin/server.crt|key), serving the demo site, a WebSocket echo at /ws and its
// request counts at /__origin/stats. With `clientCa` it requires a client certificate chaining to
// that CA (authenticated origin pulls: only the edge gets in).
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { handleSiteRequest, type SiteState } from './site.js';
import { RequestCounter, type DemoOriginStats } from './stats.js';

export interface DemoOriginOptions {
  /** PEM certificate (chain) file, e.g. certs/dev/origin/server.crt. */
  readonly cert: string;
  /** PEM private key file, e.g. certs/dev/origin/server.key. */
  readonly key: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 9443 (ARCHITECTURE.md); 0 picks a free port. */
  readonly port?: number;
  /** A CA file: when set, every client must present a certificate that chains to it. */
  readonly clientCa?: string;
  /** max-age of the cacheable routes, seconds; default 60. Tests use 1 to see entries go stale. */
  readonly maxAgeSeconds?: number;
  readonly log?: Logger;
}

export interface DemoOrigin {
  readonly port: number;
  /** "https://127.0.0.1:9443" */
  readonly url: string;
  /** Requests that reached the origin, per path (as /__origin/stats answers). */
  stats(): DemoOriginStats;
  resetStats(): void;
  /** Changes the content of the cacheable routes (and so their ETags), like a deploy would. */
  bumpVersion(): number;
  close(): Promise<void>;
}

/** Where the origin's own statistics are served; not counted. */
export const STATS_PATH = '/__origin/stats';

export async function startDemoOrigin(options: DemoOriginOptions): Promise<DemoOrigin> {
  const [cert, key, clientCa] = await Promise.all([readFile(options.cert), readFile(options.key), options.clientCa ? readFile(options.clientCa) : undefined]);
  const counter = new RequestCounter();
  const state: SiteState = { version: 1, lastModified: wholeSecond(new Date()), maxAge: options.maxAgeSeconds ?? 60, noStoreHits: 0 };
  const log = options.log;

  const server = https.createServer(
    {
      cert,
      key,
      ...(clientCa ? { requestCert: true, rejectUnauthorized: true, ca: clientCa } : {}),
      // Longer than the edge's pooled-connection idle time (4 s by default), so the edge closes first.
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      const url = parseTarget(req.url);
      if (!url) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end('bad request target\n');
        return;
      }
      if (url.pathname === STATS_PATH) {
        const body = JSON.stringify(counter.snapshot());
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      counter.count(url.pathname);
      try {
        handleSiteRequest(req, res, url, state);
      } catch (err) {
        log?.error({ err, path: url.pathname }, 'demo origin route failed');
        if (!res.headersSent) res.writeHead(500, { 'cache-control': 'no-store' });
        res.end();
      }
    },
  );
  // A failed handshake (no client certificate, a scanner) concerns that client only.
  server.on('tlsClientError', (err) => log?.debug({ code: (err as NodeJS.ErrnoException).code }, 'demo origin TLS handshake failed'));
  server.on('clientError', (_err, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = parseTarget(req.url);
    if (url) counter.count(url.pathname);
    if (url?.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 10\r\nconnection: close\r\n\r\nnot found\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9443, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    port: address.port,
    url: `https://${hostPart}:${address.port}`,
    stats: () => counter.snapshot(),
    resetStats: () => counter.reset(),
    bumpVersion: () => {
      state.version++;
      // Last-Modified must move forward visibly at one-second resolution (RFC 9110 §8.8.2).
      state.lastModified = wholeSecond(new Date(Math.max(Date.now(), state.lastModified.getTime() + 1_000)));
      return state.version;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseTarget(target: string | undefined): URL | null {
  // Only origin-form targets (RFC 9112 §3.2.1) are served; the base only makes URL parse them.
  if (!target?.startsWith('/')) return null;
  try {
    return new URL(target, 'https://origin.invalid');
  } catch {
    return null;
  }
}

function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}
