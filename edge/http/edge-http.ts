// HTTP on the decrypted connections: node's http.Server (llhttp: framing, header limits, the
// 408/431/400 answers), fed by the TLS layer with `server.emit('connection', tlsConnection)`; it
// never listens on a port of its own. With a pipeline (origins configured) every request goes
// straight to it; without one, fastify answers every request with what the TLS layer negotiated.
//
// Why the pipeline is not behind fastify: it forwards every method and path as sent, parses no
// body and writes the response itself, so fastify's routing, request/reply objects, hooks and
// content-type parsing were pure per-request cost — about 35 µs of CPU of a 1 KiB cache hit that
// cost about 290 µs in all (bench:proxy, measured alternating). Fastify serves the admin API (admin/) and the built-in
// answer here.
import http from 'node:http';
import { fastify, type FastifyError } from 'fastify';
import type { Logger } from 'pino';
import type { TlsServerConnection } from '../tls/connection.js';
import type { Pipeline } from './pipeline.js';

export interface EdgeHttpLimits {
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
}

export interface EdgeHttpOptions {
  readonly log: Logger;
  readonly limits?: EdgeHttpLimits;
  readonly pipeline?: Pipeline;
}

export interface EdgeHttp {
  readonly server: http.Server;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: EdgeHttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 100 * 1024 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerConnection: 1_000,
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
  const stopServer = (): void => {
    server.closeAllConnections();
    // Stops the timeout checks started by 'listening'.
    server.close(() => undefined);
  };

  const pipeline = options.pipeline;
  if (pipeline) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => pipeline.handle(req, res, hasRequestBody(req) ? req : null));
    server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => pipeline.upgrade(req, socket, head));
    return {
      server,
      async close() {
        stopServer();
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
  app.all('*', async (request, reply) => tlsFacts(request.raw, reply, request.body));
  await app.ready();
  return {
    server,
    async close() {
      stopServer();
      await app.close();
    },
  };
}

/** The built-in answer when no origin is configured: what this connection's handshake negotiated. */
async function tlsFacts(raw: http.IncomingMessage, reply: { header(name: string, value: string): unknown; send(payload: unknown): unknown }, body: unknown): Promise<unknown> {
  let bodyBytes = 0;
  const stream = body as NodeJS.ReadableStream | undefined;
  if (stream && typeof stream.on === 'function') for await (const chunk of stream) bodyBytes += (chunk as Buffer).length;
  const socket = raw.socket as unknown as TlsServerConnection;
  const p = socket.negotiatedParameters;
  reply.header('cache-control', 'no-store');
  return reply.send({
    edge: 'keyless',
    host: raw.headers.host,
    path: raw.url,
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
  });
}
