// One request through the edge: request filter (WAF) → cache → origin client, and the answer
// written back as the origin (or the cache) gave it. The edge writes the response itself on the
// raw http.ServerResponse: a proxy must not add, merge or reorder what the origin sent
// (multi-value Set-Cookie, no default Content-Type), only what RFC 9110 §7.6 asks of it.
//
// Every response, forwarded or the edge's own, carries X-Request-Id; the id is the connection's
// TLS handshake id plus a sequence number, so a request leads to the key server's audit line of
// the handshake it came over. One access-log line per request (no query string: it may hold
// secrets), and Prometheus counters by host and status.
import type http from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { TlsServerConnection } from '../tls/connection.js';
import { ClientGone, type ClientSignal } from './client-signal.js';
import { errorResponse } from './error-response.js';
import { isOriginError, type OriginClient } from './origin/index.js';
import { readBodyPrefix } from './body-prefix.js';
import { http1Headers } from './http2-request.js';
import type { EdgeRequest, EdgeResponse, HeaderMap, OriginFetch } from './types.js';

/** What the request filter (the WAF) decides before anything is forwarded. */
export type FilterVerdict =
  | { readonly action: 'forward'; readonly headers?: HeaderMap; readonly note?: string }
  | { readonly action: 'respond'; readonly status: number; readonly headers: HeaderMap; readonly body: Buffer; readonly note: string };

/** After the headers: decided, or the filter wants the body's first `bodyLimit` bytes. */
export type FilterInspection =
  | { readonly done: true; readonly verdict: FilterVerdict }
  | { readonly done: false; readonly bodyLimit: number; inspectBody(body: Buffer | null, truncated: boolean): Promise<FilterVerdict> };

export interface RequestFilter {
  inspectHeaders(request: EdgeRequest): Promise<FilterInspection>;
}

/** The cache stage, or a pass-through when there is no cache. */
export interface CacheStage {
  handle(request: EdgeRequest, body: Readable | Buffer | null, fetchOrigin: OriginFetch, client: ClientSignal): Promise<EdgeResponse>;
}

export interface PipelineStages {
  readonly filter: RequestFilter | undefined;
  readonly cache: CacheStage | undefined;
  readonly origin: OriginClient;
}

export interface PipelineLimits {
  /** Request bodies larger than this get 413 (RFC 9110 §15.5.14). */
  readonly maxBodyBytes: number;
}

export interface PipelineMetrics {
  readonly requests: Counter<'host' | 'status'>;
  readonly duration: Histogram<'host'>;
}

/** A request from node's http (HTTP/1.1) or from http2's compatibility API (HTTP/2). */
export type ServerRequest = http.IncomingMessage | Http2ServerRequest;
export type ServerResponse = http.ServerResponse | Http2ServerResponse;

export interface Pipeline {
  /** `connection` is the TLS connection the request came over (for HTTP/2, req.socket is not it). */
  handle(req: ServerRequest, res: ServerResponse, body: Readable | null, connection: TlsServerConnection): void;
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  setStages(stages: PipelineStages): void;
}

export class BodyTooLargeError extends Error {
  readonly code = 'EDGE_ERR_BODY_TOO_LARGE';
}

/** Counts a streamed request body and fails it past the limit (chunked bodies have no Content-Length to check). */
class BodyLimit extends Transform {
  private seen = 0;
  exceeded = false;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      this.exceeded = true;
      callback(new BodyTooLargeError(`request body over ${this.limit} bytes`));
      return;
    }
    callback(null, chunk);
  }
}

const requestSequence = new WeakMap<object, number>();

/** The handshake id of the connection plus a per-connection sequence number. */
export function requestIdFor(socket: object & { handshakeId?: string }): string {
  const n = (requestSequence.get(socket) ?? 0) + 1;
  requestSequence.set(socket, n);
  return `${socket.handshakeId ?? 'conn'}-${n}`;
}

/** RFC 9110 §7.2: the Host header, lower-case, without the default port 443. */
export function normalizeHost(host: string | undefined): string {
  const value = (host ?? '').trim().toLowerCase();
  return value.endsWith(':443') ? value.slice(0, -4) : value;
}

/** The request as the stages see it; for HTTP/2, its header section as HTTP/1.1 has it (http2-request.ts). */
export function edgeRequestOf(req: ServerRequest, connection: TlsServerConnection): EdgeRequest | { readonly problem: string; readonly request: EdgeRequest } {
  let headers: HeaderMap = req.headers;
  let problem: string | undefined;
  if (req.httpVersionMajor === 2) {
    const converted = http1Headers(req.headers);
    if ('problem' in converted) problem = converted.problem;
    else headers = converted.headers;
  }
  const request: EdgeRequest = {
    requestId: requestIdFor(connection),
    method: req.method ?? 'GET',
    url: req.url ?? '/',
    host: problem === undefined ? normalizeHost(headers.host as string | undefined) : '',
    httpVersion: req.httpVersion,
    headers,
    clientIp: connection.remoteAddress ?? '',
    clientPort: connection.remotePort ?? 0,
    servername: connection.servername || '',
  };
  return problem === undefined ? request : { problem, request };
}

/** RFC 9113 §8.2.2: fields that describe an HTTP/1.1 connection; an HTTP/2 message must not carry them. */
const HTTP2_CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Response headers as the raw [name, value, ...] list writeHead takes, arrays kept as repeated
 * fields, and X-Request-Id set to the edge's id (whatever the origin sent under that name). Over
 * HTTP/2 the connection-specific fields are left out (the edge's own answers may ask HTTP/1.1 to
 * close; what the origin sent has lost its hop-by-hop fields already).
 */
function rawHeaders(headers: HeaderMap, requestId: string, http2 = false): string[] {
  const out: string[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value === undefined || name === 'x-request-id' || (http2 && HTTP2_CONNECTION_SPECIFIC.has(name))) continue;
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else out.push(name, value);
  }
  out.push('x-request-id', requestId);
  return out;
}

export function createPipeline(initial: PipelineStages, limits: PipelineLimits, log: Logger, metrics: PipelineMetrics): Pipeline {
  let stages = initial;

  // The metric label of a Host header: the configured name, or "unrouted" (bounded cardinality).
  // Remembered per Host value for the current stages; the map is bounded like the label set.
  let labels = new Map<string, string>();
  let labelsFor: PipelineStages | undefined;
  const hostLabel = (host: string): string => {
    if (labelsFor !== stages || labels.size > 10_000) {
      labels = new Map();
      labelsFor = stages;
    }
    let label = labels.get(host);
    if (label === undefined) labels.set(host, (label = stages.origin.route(host) ? host.replace(/:\d+$/, '') : 'unrouted'));
    return label;
  };
  const accessLog = log.isLevelEnabled('info');
  // prom-client hashes a label object on every call; the per-label children are kept instead.
  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(value: number): void }>();
  const countRequest = (host: string, status: number, seconds: number): void => {
    const key = `${host} ${status}`;
    let counter = counters.get(key);
    if (!counter) counters.set(key, (counter = metrics.requests.labels(host, String(status))));
    counter.inc();
    let histogram = histograms.get(host);
    if (!histogram) histograms.set(host, (histogram = metrics.duration.labels(host)));
    histogram.observe(seconds);
  };

  /** Counts and logs the request when its response closes, and aborts its work if the client left first. */
  const finish = (request: EdgeRequest, res: http.ServerResponse, started: number, fields: Record<string, unknown>, client: ClientGone): void => {
    res.once('close', () => {
      if (!res.writableFinished) client.abort();
      const status = res.statusCode;
      countRequest(hostLabel(request.host), status, (performance.now() - started) / 1000);
      if (!accessLog) return;
      const path = request.url.split('?', 1)[0];
      log.info(
        {
          requestId: request.requestId,
          client: request.clientIp,
          host: request.host,
          method: request.method,
          // As nginx's $server_protocol: which of the edge's HTTP servers carried the request.
          protocol: `HTTP/${request.httpVersion}`,
          path: path!.length > 512 ? `${path!.slice(0, 512)}…` : path,
          status,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          completed: res.writableFinished,
          ...fields,
        },
        'request',
      );
    });
  };

  const send = (res: http.ServerResponse, response: EdgeResponse, requestId: string, http2: boolean, onError: (err: Error) => void): void => {
    res.writeHead(response.status, rawHeaders(response.headers, requestId, http2));
    const body = response.body;
    if (body === null) {
      res.end();
      return;
    }
    if (Buffer.isBuffer(body)) {
      res.end(body);
      return;
    }
    // Readable#pipe rather than stream.pipeline: pipeline makes (and aborts) an AbortController per
    // call, whose DOMException alone costs tens of microseconds on every proxied response. The
    // two failure paths it would cover are handled here: a failing body cuts the response, and a
    // client that goes away stops the body.
    body.once('error', (err: Error) => {
      onError(err);
      res.destroy(err);
    });
    res.once('close', () => {
      if (!res.writableFinished) body.destroy();
    });
    body.pipe(res);
  };

  const sendError = (res: http.ServerResponse, request: EdgeRequest, status: number, reason: string, extra: HeaderMap = {}): void => {
    if (res.headersSent) {
      // The answer was already under way: the only honest signal left is to cut the connection.
      res.destroy();
      return;
    }
    const page = errorResponse(status, reason, request.requestId, request.headers.accept as string | undefined, extra);
    res.writeHead(page.status, rawHeaders(page.headers, request.requestId, request.httpVersion === '2.0'));
    res.end(page.body);
  };

  async function handle(req: ServerRequest, response: ServerResponse, body: Readable | null, connection: TlsServerConnection): Promise<void> {
    const started = performance.now();
    // http2's compatibility response takes the same calls used here, the flat [name, value, ...]
    // header list of writeHead included (Node ≥ 18); its typings only name the object form.
    const res = response as http.ServerResponse;
    const head = edgeRequestOf(req, connection);
    const request = 'problem' in head ? head.request : head;
    const fields: Record<string, unknown> = {};
    // The client going away aborts everything done for it (an origin fetch, a cache fill it alone waits for).
    const client = new ClientGone();
    finish(request, res, started, fields, client);
    if ('problem' in head) return sendError(res, request, 400, head.problem);
    if (!request.host) return sendError(res, request, 400, 'a Host header is required (RFC 9110 §7.2)');

    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxBodyBytes) {
      body?.resume();
      return sendError(res, request, 413, `the request body is over ${limits.maxBodyBytes} bytes`);
    }
    const limiter = body ? new BodyLimit(limits.maxBodyBytes) : null;
    let forwardBody: Readable | Buffer | null = body && limiter ? body.pipe(limiter) : null;
    if (body && limiter) body.on('error', (err) => limiter.destroy(err));

    const current = stages;
    try {
      if (current.filter) {
        const inspection = await current.filter.inspectHeaders(request);
        let verdict: FilterVerdict;
        if (inspection.done) verdict = inspection.verdict;
        else if (!forwardBody || Buffer.isBuffer(forwardBody)) verdict = await inspection.inspectBody(forwardBody, false);
        else {
          // The filter reads the body's beginning; the origin still gets all of it.
          const read = await readBodyPrefix(forwardBody, inspection.bodyLimit);
          forwardBody = read.forward;
          verdict = await inspection.inspectBody(read.prefix, read.truncated);
        }
        fields.waf = verdict.note;
        if (verdict.action === 'respond') {
          if (forwardBody && !Buffer.isBuffer(forwardBody)) forwardBody.resume();
          res.writeHead(verdict.status, rawHeaders(verdict.headers, request.requestId, request.httpVersion === '2.0'));
          res.end(verdict.body);
          return;
        }
      }
      const response = current.cache
        ? await current.cache.handle(request, forwardBody, current.origin.fetch, client)
        : await current.origin.fetch(request, forwardBody, client.signal);
      // Headers go out as a raw list, which res.getHeader() cannot read back: the log takes it from here.
      if (response.headers['cache-status'] !== undefined) fields.cache = response.headers['cache-status'];
      send(res, response, request.requestId, request.httpVersion === '2.0', (err) => {
        fields.error = (err as { code?: string }).code ?? err.message;
        log.debug({ requestId: request.requestId, err: { message: err.message } }, 'response stream ended early');
      });
    } catch (err) {
      if (client.aborted) return;
      if (limiter?.exceeded || err instanceof BodyTooLargeError) return sendError(res, request, 413, `the request body is over ${limits.maxBodyBytes} bytes`);
      if (isOriginError(err)) {
        fields.error = err.code;
        if (err.code === 'ORIGIN_ERR_ABORTED') return;
        return sendError(res, request, err.status, err.publicReason);
      }
      fields.error = (err as { code?: string }).code ?? 'EDGE_ERR_INTERNAL';
      log.error({ requestId: request.requestId, err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'request failed inside the edge');
      return sendError(res, request, 500, 'the edge failed to handle the request');
    }
  }

  return {
    handle(req, res, body, connection) {
      handle(req, res, body, connection).catch((err: unknown) => {
        // handle() answers its own failures; this is the last guard, so a bug costs one request, not the process.
        log.error({ err: { message: (err as Error).message } }, 'request failed inside the edge');
        // HTTP/2 has no Connection field (RFC 9113 §8.2.2): there the stream ends, the connection stays.
        if (!res.headersSent) (res as http.ServerResponse).writeHead(500, req.httpVersionMajor === 2 ? { 'content-length': '0' } : { 'content-length': '0', connection: 'close' }).end();
        else res.destroy();
      });
    },
    upgrade(req, socket, head) {
      // Upgrade exists in HTTP/1.1 only, where req.socket is the TLS connection.
      const request = edgeRequestOf(req, req.socket as unknown as TlsServerConnection) as EdgeRequest;
      const started = performance.now();
      const current = stages;
      void (async () => {
        if (current.filter) {
          const inspection = await current.filter.inspectHeaders(request);
          const verdict = inspection.done ? inspection.verdict : await inspection.inspectBody(null, false);
          if (verdict.action === 'respond') {
            const page = `HTTP/1.1 ${verdict.status} ${verdict.status === 429 ? 'Too Many Requests' : 'Forbidden'}\r\n${rawHeaders({ ...verdict.headers, 'content-length': String(verdict.body.length), connection: 'close' }, request.requestId)
              .reduce<string[]>((lines, v, i, all) => (i % 2 === 0 ? [...lines, `${v}: ${all[i + 1]}`] : lines), [])
              .join('\r\n')}\r\n\r\n`;
            socket.end(Buffer.concat([Buffer.from(page, 'latin1'), verdict.body]));
            return;
          }
        }
        const outcome = await current.origin.upgrade(request, socket, head);
        log.info({ requestId: request.requestId, client: request.clientIp, host: request.host, path: request.url.split('?', 1)[0], upgrade: outcome.outcome, durationMs: Math.round(performance.now() - started) }, 'upgrade');
      })().catch((err: unknown) => {
        log.error({ requestId: request.requestId, err: { message: (err as Error).message } }, 'upgrade failed inside the edge');
        socket.destroy();
      });
    },
    setStages(next) {
      stages = next;
    },
  };
}

