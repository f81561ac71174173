// HTTP on the decrypted connections: node's http.Server (llhttp: framing, header limits, the
// 408/431/400 answers), fed by the TLS layer with `server.emit('connection', tlsConnection)`; it
// never listens on a port of its own. A connection whose ALPN chose h2 goes to the HTTP/2 server
// of http2-server.ts instead, and its requests to the same pipeline. With a pipeline (origins configured) every request goes
// straight to it; without one, fastify answers every request with what the TLS layer negotiated.
//
// Why the pipeline is not behind fastify: it forwards every method and path as sent, parses no
// body and writes the response itself, so fastify's routing, request/reply objects, hooks and
// content-type parsing were pure per-request cost — about 35 µs of CPU of a 1 KiB cache hit that
// cost about 290 µs in all (bench:proxy, measured alternating). Fastify serves the admin API (admin/) and the built-in
// answer here.
import http from 'node:http';
import type http2 from 'node:http2';
import { fastify, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import type { TlsServerConnection } from '../tls/connection.js';
import { decryptedHttp2Server } from './http2-server.js';
import type { Pipeline } from './pipeline.js';

export interface EdgeHttpLimits {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  /** HTTP/2: streams a connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
}

export interface EdgeHttpOptions {
  readonly log: Logger;
  readonly limits?: EdgeHttpLimits;
  readonly pipeline?: Pipeline;
}

export interface EdgeHttp {
  /** HTTP/1.1: node's http.Server. */
  readonly server: http.Server;
  /** Takes a decrypted connection: HTTP/2 when ALPN chose h2, HTTP/1.1 otherwise (RFC 9113 §3.2). */
  accept(connection: TlsServerConnection): void;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: EdgeHttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 100 * 1024 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerConnection: 1_000,
  maxConcurrentStreams: 100,
};

/** The granularity of the header and request timeouts. */
const CONNECTION_CHECK_INTERVAL_MS = 1_000;

/** RFC 9112 §6.3: a request has a body exactly when it has Content-Length (not 0) or Transfer-Encoding. */
export function hasRequestBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  // llhttp has already refused a malformed Content-Length; "00" is still zero.
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/** The server the TLS layer hands decrypted connections to, with the edge's HTTP limits. */
function decryptedConnectionServer(limits: EdgeHttpLimits): http.Server {
  const server = http.createServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often headersTimeout and requestTimeout are checked (Node's default is 30 s,
    // which would let a 20 s header timeout run to 50 s).
    connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS,
    // Header names as the client sent them are not needed: a proxy forwards field values, not casing.
    joinDuplicateHeaders: false,
  });
  server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
  // This server never listens: connections arrive by emit('connection') from the TLS layer.
  // Node starts the headersTimeout/requestTimeout checks (408) on 'listening', so without
  // this event they would never run and a slow client could hold a request open forever.
  server.emit('listening');
  return server;
}

export async function createEdgeHttp(options: EdgeHttpOptions): Promise<EdgeHttp> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const log = options.log.child({ component: 'http' });
  const server = decryptedConnectionServer(limits);
  const pipeline = options.pipeline;
  const h2 = decryptedHttp2Server(limits, log, (req, res, body, connection) => {
    if (pipeline) pipeline.handle(req, res, body, connection);
    else void answerTlsFacts(req, res, body, connection);
  });
  const accept = (connection: TlsServerConnection): void => {
    if (connection.alpnProtocol === 'h2') h2.accept(connection);
    else server.emit('connection', connection);
  };
  const stopServers = (): void => {
    server.closeAllConnections();
    // Stops the timeout checks started by 'listening'.
    server.close(() => undefined);
    h2.close();
  };

  if (pipeline) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) =>
      pipeline.handle(req, res, hasRequestBody(req) ? req : null, req.socket as unknown as TlsServerConnection),
    );
    server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => pipeline.upgrade(req, socket, head));
    return {
      server,
      accept,
      async close() {
        stopServers();
      },
    };
  }

  const app = fastify({
    // No fastify logger on the data path: it would make a child logger per request.
    bodyLimit: Math.max(1, limits.maxBodyBytes),
    routerOptions: { ignoreDuplicateSlashes: false, ignoreTrailingSlash: false, maxParamLength: 65_535 },
    serverFactory: (handler) => server.on('request', handler),
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
    log.error({ err: { message: err.message, code: err.code }, url: request.url.split('?', 1)[0] }, 'HTTP request failed before the pipeline');
    void reply.code(status).send({ error: status < 500 ? err.message : 'internal error' });
  });
  // Bodies are streams, whatever their type: the answer counts them, it does not parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.all('*', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const socket = request.raw.socket as unknown as TlsServerConnection;
    const counted = countBody(request.body);
    // Without a body the answer goes out in this turn: a client that half-closes right after its
    // request still gets it, because node's http server has not yet seen the end of the stream.
    return reply.send(tlsFacts(socket, request.raw.headers.host, request.raw.url, typeof counted === 'number' ? counted : await counted));
  });
  await app.ready();
  return {
    server,
    accept,
    async close() {
      stopServers();
      await app.close();
    },
  };
}

/** The built-in answer over HTTP/2, where fastify does not run (it serves one HTTP version per instance). */
async function answerTlsFacts(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, body: unknown, connection: TlsServerConnection): Promise<void> {
  try {
    const counted = countBody(body);
    const facts = tlsFacts(connection, req.headers[':authority'] ?? req.headers.host, req.url, typeof counted === 'number' ? counted : await counted);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(facts));
  } catch {
    // The client reset the stream while its body was being counted.
    if (!res.headersSent && !res.stream.destroyed) res.writeHead(400).end();
  }
}

/** The bytes of a request body, read to its end; 0 at once when there is none. */
function countBody(body: unknown): number | Promise<number> {
  const stream = body as NodeJS.ReadableStream | null | undefined;
  if (!stream || typeof stream.on !== 'function') return 0;
  return (async () => {
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return bytes;
  })();
}

/** The built-in answer when no origin is configured: what this connection's handshake negotiated. */
function tlsFacts(socket: TlsServerConnection, host: string | undefined, path: string | undefined, bodyBytes: number): Record<string, unknown> {
  const p = socket.negotiatedParameters;
  return {
    edge: 'keyless',
    host,
    path,
    bodyBytes,
    tls: {
      servername: socket.servername,
      alpn: socket.alpnProtocol,
      cipher: p?.cipherSuite.name,
      group: p?.group,
      signatureScheme: p?.signatureScheme,
      certificate: p?.certificate,
      helloRetried: p?.helloRetried,
      resumed: p?.resumed,
      handshakeId: socket.handshakeId,
    },
  };
}
