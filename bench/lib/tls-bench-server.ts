// A TLS server for the handshake and bulk benchmarks, run as its own process so that it does
// not share an event loop with the load generator:
//
//   node --import tsx bench/lib/tls-bench-server.ts --stack node|keyless --pki DIR
//
// `node`: node:tls (OpenSSL) holding the site keys itself, the baseline.
// `keyless`: the edge's own TLS 1.3 stack (edge/tls) with the key server's file store signing in
//   process; for the record layer (bulk), where where the signature comes from does not matter.
// Both serve the same HTTP handler: GET /bytes?n=N streams N bytes, GET /1k answers 1 KiB with the
// headers of a cache hit (the requests benchmark), anything else answers "ok".
// Ready when it prints {"msg":"ready","port":N}.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { generateDevPki } from '../../certs/index.js';

const CHUNK = Buffer.alloc(256 * 1024, 0x78);
const ONE_KIB = Buffer.alloc(1024, 0x61);

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === '/1k') {
    // What the edge sends for a 1 KiB cache hit, less the edge's own work.
    res.writeHead(200, ['content-type', 'application/octet-stream', 'cache-control', 'public, max-age=3600', 'age', '3', 'date', new Date().toUTCString(), 'cache-status', 'keyless; hit; ttl=3597', 'content-length', '1024', 'x-request-id', '0123456789abcdef-1']);
    res.end(ONE_KIB);
    return;
  }
  const url = new URL(req.url ?? '/', 'https://bench');
  if (url.pathname !== '/bytes') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
    res.end('ok');
    return;
  }
  let left = Number(url.searchParams.get('n') ?? 0);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
  const pump = (): void => {
    while (left > 0) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      if (!res.write(piece)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stack: { type: 'string' }, pki: { type: 'string' } }, strict: true });
  // An existing PKI directory is used as it is.
  const pki = await generateDevPki(values.pki!);
  let port: number;
  if (values.stack === 'node') {
    const [p256Key, p256Cert, rsaKey, rsaCert] = await Promise.all([
      readFile(pki.sites['site-ecdsa-p256'].key),
      readFile(pki.sites['site-ecdsa-p256'].chain),
      readFile(pki.sites['site-rsa-2048'].key),
      readFile(pki.sites['site-rsa-2048'].chain),
    ]);
    // Both keys in one context: OpenSSL picks the certificate by the client's signature_algorithms.
    const server = https.createServer({ key: [p256Key, rsaKey], cert: [p256Cert, rsaCert], minVersion: 'TLSv1.3' }, handler);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  } else if (values.stack === 'keyless') {
    const { inProcessTlsServer } = await import('./in-process-tls-server.js');
    port = await inProcessTlsServer(pki, handler);
  } else {
    throw new Error('--stack node|keyless');
  }
  process.stdout.write(JSON.stringify({ msg: 'ready', port }) + '\n');
}

// A normal exit on a signal, so that --cpu-prof profiles get written.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
await main();
