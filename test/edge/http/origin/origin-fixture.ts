// Real HTTPS origins for the origin-client tests: node https servers on 127.0.0.1 with
// certificates made by the dev PKI generator (certs/), each counting the requests that reached it.
import https from 'node:https';
import type http from 'node:http';
import http2 from 'node:http2';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createCa, issueCert, type IssuedCert } from '../../../../certs/index.js';
import type { EdgeRequest } from '../../../../edge/http/types.js';

/** A CA with the certificates the tests need, all ECDSA P-256 (fast to make). */
export interface TestPki {
  readonly ca: IssuedCert;
  /** localhost, origin.test and 127.0.0.1, from `ca`. */
  readonly server: IssuedCert;
  /** Only for other.example, from `ca`. */
  readonly wrongName: IssuedCert;
  /** Expired yesterday, from `ca`. */
  readonly expired: IssuedCert;
  /** From a CA the edge does not know. */
  readonly unknownCa: IssuedCert;
  /** Self-signed (a root used as the server certificate). */
  readonly selfSigned: IssuedCert;
  /** The edge's client certificate for authenticated origin pulls, from `ca`. */
  readonly edgeClient: IssuedCert;
}

export async function makeTestPki(): Promise<TestPki> {
  const ca = await createCa({ commonName: 'Origin Test CA' });
  const otherCa = await createCa({ commonName: 'Unknown Test CA' });
  const names = { dnsNames: ['localhost', 'origin.test'], ipAddresses: ['127.0.0.1'] };
  const [server, wrongName, expired, unknownCa, selfSigned, edgeClient] = await Promise.all([
    issueCert(ca, { commonName: 'origin', keyAlgorithm: 'ec-p256', usage: 'server', ...names }),
    issueCert(ca, { commonName: 'other', keyAlgorithm: 'ec-p256', usage: 'server', dnsNames: ['other.example'] }),
    issueCert(ca, { commonName: 'expired', keyAlgorithm: 'ec-p256', usage: 'server', ...names, notAfter: new Date(Date.now() - 86_400_000) }),
    issueCert(otherCa, { commonName: 'unknown', keyAlgorithm: 'ec-p256', usage: 'server', ...names }),
    createCa({ commonName: 'localhost' }),
    issueCert(ca, { commonName: 'edge-1', keyAlgorithm: 'ec-p256', usage: 'client', uris: ['spiffe://keyless/edge/edge-1'] }),
  ]);
  return { ca, server, wrongName, expired, unknownCa, selfSigned, edgeClient };
}

export interface TestOrigin {
  readonly port: number;
  readonly url: string;
  /** Requests whose head reached the origin's HTTP layer. */
  requests(): number;
  readonly server: tls.Server;
  close(): Promise<void>;
}

export interface TestOriginOptions {
  readonly cert: IssuedCert;
  /** Require a client certificate chaining to this CA (authenticated origin pulls). */
  readonly clientCa?: IssuedCert;
  readonly handler?: http.RequestListener;
  /** Default 1.3. */
  readonly maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Serve HTTP/2 (node:http2): 'h2-or-http1' also answers clients that offer only HTTP/1.1. */
  readonly http2?: 'h2-only' | 'h2-or-http1';
  /** With http2: the SETTINGS_MAX_CONCURRENT_STREAMS it announces. */
  readonly maxConcurrentStreams?: number;
}

/** Answers with what it received: method, url and headers as JSON. */
export const echoHandler: http.RequestListener = (req, res) => {
  let bytes = 0;
  req.on('data', (c: Buffer) => (bytes += c.length));
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, url: req.url, httpVersion: req.httpVersion, headers: req.headers, bodyBytes: bytes }));
  });
};

export async function startTestOrigin(options: TestOriginOptions): Promise<TestOrigin> {
  let count = 0;
  const handler = options.handler ?? echoHandler;
  const tlsOptions = {
    cert: options.cert.chainPem,
    key: options.cert.keyPem,
    maxVersion: options.maxVersion ?? 'TLSv1.3',
    ...(options.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: options.clientCa.certPem } : {}),
  } as const;
  const listener: http.RequestListener = (req, res) => {
    count++;
    handler(req, res);
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  const server: https.Server | http2.Http2SecureServer = options.http2
    ? http2.createSecureServer({ ...tlsOptions, allowHTTP1: options.http2 === 'h2-or-http1', ...(options.maxConcurrentStreams ? { settings: { maxConcurrentStreams: options.maxConcurrentStreams } } : {}) }, listener as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)
    : https.createServer(tlsOptions, listener);
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  // HTTP/1.1 connections to an http2 server are no sessions: close() would wait for them.
  const sockets = new Set<tls.TLSSocket>();
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    requests: () => count,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let nextId = 0;

/** An EdgeRequest as the pipeline would hand it over. */
export function edgeRequest(overrides: Partial<EdgeRequest> = {}): EdgeRequest {
  return {
    requestId: `req-${++nextId}`,
    method: 'GET',
    url: '/',
    host: 'www.example.test',
    httpVersion: '1.1',
    headers: { host: 'www.example.test', accept: '*/*' },
    clientIp: '203.0.113.7',
    clientPort: 50_000,
    servername: 'www.example.test',
    ...overrides,
  };
}

export async function readBody(body: NodeJS.ReadableStream | Buffer | null): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
