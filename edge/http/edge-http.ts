// HTTP on the decrypted connections: fastify, given the http.Server that the TLS layer feeds with
// `server.emit('connection', tlsConnection)` (fastify's serverFactory). The server never listens
// on a port of its own.
import http from 'node:http';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { TlsServerConnection } from '../tls/connection.js';

export interface EdgeHttpOptions {
  readonly log: Logger;
}

export interface EdgeHttp {
  readonly app: FastifyInstance<http.Server, http.IncomingMessage, http.ServerResponse, FastifyBaseLogger>;
  readonly server: http.Server;
  close(): Promise<void>;
}

export async function createEdgeHttp(options: EdgeHttpOptions): Promise<EdgeHttp> {
  let server: http.Server | undefined;
  const app = fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    // The edge writes its own access log line per request; fastify's two lines per request are noise.
    logController: new LogController({ disableRequestLogging: true }),
    serverFactory: (handler) => {
      server = http.createServer(handler);
      return server;
    },
  });
  // Bodies are streams, whatever their type: the edge forwards them, it does not parse them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  app.all('/*', async (request, reply) => {
    let bodyBytes = 0;
    const body = request.body as NodeJS.ReadableStream | undefined;
    if (body && typeof body.on === 'function') for await (const chunk of body) bodyBytes += (chunk as Buffer).length;
    const socket = request.raw.socket as unknown as TlsServerConnection;
    const p = socket.negotiatedParameters;
    return reply.header('cache-control', 'no-store').send({
      edge: 'keyless',
      host: request.headers.host,
      path: request.url,
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
  });
  await app.ready();
  return {
    app,
    server: server!,
    async close() {
      server!.closeAllConnections();
      await app.close();
    },
  };
}
