// HTTP/2 on the decrypted connections whose ALPN chose "h2" (RFC 9113 §3.2): node's http2 server
// (nghttp2: framing, HPACK, flow control, stream states), fed like the HTTP/1.1 server with
// emit('connection') and never listening itself. Requests come out of its compatibility API, which
// the pipeline handles like HTTP/1.1 ones. The edge's HTTP limits apply per stream or per
// connection, with HTTP/2's own mechanisms:
// - maxHeaderBytes → SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2), announced and enforced here (node's
//   http2 announces it without enforcing it): a larger header list gets 431 (RFC 6585 §5), as
//   over HTTP/1.1.
// - maxConcurrentStreams → SETTINGS_MAX_CONCURRENT_STREAMS; more streams are refused (§5.1.2).
// - keepAliveTimeoutMs → a connection idle that long gets GOAWAY (§6.8); open streams finish.
// - maxRequestsPerConnection → after that many streams, GOAWAY; the client opens a new connection.
// - requestTimeoutMs → a request whose body has not all arrived by then is reset (RST_STREAM CANCEL).
// Server push is off (SETTINGS_ENABLE_PUSH 0), and so is extended CONNECT: WebSocket goes over
// HTTP/1.1, which browsers do when a server does not offer RFC 8441.
import http2 from 'node:http2';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { TlsServerConnection } from '../tls/connection.js';

export interface Http2Limits {
  readonly maxHeaderBytes: number;
  readonly keepAliveTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly maxConcurrentStreams: number;
}

/** What the server hands on: the request, its response, its body (null when the HEADERS frame ended the stream) and its TLS connection. */
export type Http2RequestHandler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, body: Readable | null, connection: TlsServerConnection) => void;

export interface DecryptedHttp2 {
  accept(connection: TlsServerConnection): void;
  /** Closes every session at once (the edge is stopping). */
  close(): void;
}

/** RFC 9113 §6.5.2: the size of a header list is the sum of each field's name and value lengths plus 32. */
export function headerListSize(raw: readonly string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) size += raw[i]!.length + raw[i + 1]!.length + 32;
  return size;
}

export function decryptedHttp2Server(limits: Http2Limits, log: Logger, onRequest: Http2RequestHandler): DecryptedHttp2 {
  const server = http2.createServer({
    settings: {
      enablePush: false,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      maxHeaderListSize: limits.maxHeaderBytes,
    },
  });
  // req.socket of the compatibility API is not the TLS connection: each session remembers its own.
  const connectionOf = new WeakMap<http2.ServerHttp2Session, TlsServerConnection>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let arriving: TlsServerConnection | undefined;

  server.on('session', (session) => {
    // 'session' is emitted inside emit('connection'), so `arriving` is this session's connection.
    connectionOf.set(session, arriving!);
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(limits.keepAliveTimeoutMs, () => session.close());
    let streams = 0;
    session.on('stream', () => {
      if (limits.maxRequestsPerConnection > 0 && ++streams >= limits.maxRequestsPerConnection) session.close();
    });
    // Protocol errors end the session with GOAWAY (nghttp2 picks the code); they are the client's, not ours.
    session.on('error', (err: Error) => log.debug({ err: { message: err.message, code: (err as { code?: string }).code } }, 'HTTP/2 session error'));
  });
  server.on('sessionError', () => undefined);
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const connection = connectionOf.get(req.stream.session as http2.ServerHttp2Session);
    if (!connection) {
      req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (headerListSize(req.rawHeaders) > limits.maxHeaderBytes) {
      res.writeHead(431, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('Request Header Fields Too Large\n');
      return;
    }
    const body = req.stream.endAfterHeaders ? null : req;
    if (body) {
      const timer = setTimeout(() => req.stream.close(http2.constants.NGHTTP2_CANCEL), limits.requestTimeoutMs);
      timer.unref();
      const done = (): void => clearTimeout(timer);
      req.once('end', done);
      req.stream.once('close', done);
    }
    onRequest(req, res, body, connection);
  });

  return {
    accept(connection) {
      arriving = connection;
      try {
        server.emit('connection', connection);
      } finally {
        arriving = undefined;
      }
    },
    close() {
      for (const session of sessions) session.destroy();
      server.close();
    },
  };
}
