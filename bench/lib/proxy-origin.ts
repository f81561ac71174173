// The origin of the proxy benchmarks, in its own process: an https server with the dev PKI's
// origin certificate serving 1 KiB bodies, one cacheable route and one that is never cached.
//
//   node --import tsx bench/lib/proxy-origin.ts --pki DIR [--http2]
//
// With --http2 it is a node:http2 server that also answers HTTP/1.1 (allowHTTP1).
// GET /cached/...  1 KiB, Cache-Control: public, max-age=3600
// GET /pass/...    1 KiB, Cache-Control: no-store
// Ready when it prints {"msg":"ready","port":N}.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const BODY = Buffer.alloc(1024, 0x61);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { pki: { type: 'string' }, http2: { type: 'boolean', default: false } }, strict: true });
  const [cert, key] = await Promise.all([readFile(`${values.pki}/origin/server.crt`), readFile(`${values.pki}/origin/server.key`)]);
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const cached = req.url?.startsWith('/cached');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BODY.length, 'cache-control': cached ? 'public, max-age=3600' : 'no-store' });
    res.end(BODY);
  };
  const server = values.http2
    ? http2.createSecureServer({ cert, key, allowHTTP1: true }, handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
    : https.createServer({ cert, key, keepAliveTimeout: 60_000 }, handler);
  if (server instanceof https.Server) server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(JSON.stringify({ msg: 'ready', port: (server.address() as AddressInfo).port }) + '\n');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
await main();
