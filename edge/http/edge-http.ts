// HTTP on the decrypted connections: fastify, given the http.Server that the TLS layer feeds with
// `server.emit('connection', tlsConnection)` (fastify's serverFactory). The server never listens
// on a port of its own. With a pipeline (origins configured) every request goes through it;
// without one, every request is answered with what the TLS layer negotiated.
import http from 'node:http';
import type { Readable } from 'node:stream';
import { fastify, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
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
  readonly app: FastifyInstance<http.Server, http.IncomingMessage, http.ServerResponse, FastifyBaseLogger>;
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

export async function createEdgeHttp(options: EdgeHttpOptions): Promise<EdgeHttp> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  let server: http.Server | undefined;
  const log = options.log.child({ component: 'http' });
  const app = fastify({
    // No fastify logger on the data path: it would make a child logger per request. The pipeline
    // writes its own access log line; framework errors are logged below.
    bodyLimit: Math.max(1, limits.maxBodyBytes),
    // Paths are forwarded as the client sent them; fastify must not rewrite or reject them.
    routerOptions: { ignoreDuplicateSlashes: false, ignoreTrailingSlash: false, maxParamLength: 65_535 },
    serverFactory: (handler) => {
      server = http.createServer(
        {
          maxHeaderSize: limits.maxHeaderBytes,
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          // How often headersTimeout and requestTimeout are checked (Node's default is 30 s,
          // which would let a 20 s header timeout run to 50 s).
          connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS,
          // Header names as the client sent them are not needed: a proxy forwards field values, not casing.
          joinDuplicateHeaders: false,
        },
        handler,
      );
      server.maxRequestsPerSocket = limits.maxRequestsPerConnection;
      // This server never listens: connections arrive by emit('connection') from the TLS layer.
      // Node starts the headersTimeout/requestTimeout checks (408) on 'listening', so without
      // this event they would never run and a slow client could hold a request open forever.
      server.emit('listening');
      return server;
    },
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
    log.error({ err: { message: err.message, code: err.code }, url: request.url.split('?', 1)[0] }, 'HTTP request failed before the pipeline');
    void reply.code(status).send({ error: status < 500 ? err.message : 'internal error' });
  });
  // Bodies are streams, whatever their type: the edge forwards them, it does not parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  const pipeline = options.pipeline;
  if (pipeline) {
    app.all('*', (request, reply) => {
      // The pipeline writes the response itself, exactly as the origin or the cache gave it.
      reply.hijack();
      pipeline.handle(request.raw, reply.raw, (request.body as Readable | undefined) ?? null);
    });
  } else {
    app.all('*', async (request, reply) => tlsFacts(request.raw, reply, request.body));
  }
  await app.ready();
  if (pipeline) server!.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => pipeline.upgrade(req, socket, head));
  return {
    app,
    server: server!,
    async close() {
      server!.closeAllConnections();
      // Stops the timeout checks started above (fastify closes only a server it made listen).
      server!.close(() => undefined);
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
      handshakeId: socket.handshakeId,
    },
  });
}
