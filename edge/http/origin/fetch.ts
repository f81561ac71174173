// One request to the origin through its undici pool, with the response body streamed: bytes are
// pushed to the caller as they arrive and the origin socket is paused while the caller is not
// reading (backpressure end to end, nothing buffered beyond the streams' high-water marks).
//
// undici's dispatch API is used rather than request() so that every failure, before or after the
// response head, surfaces as an OriginError with a stable code, and a body that stalls fails with
// ORIGIN_ERR_BODY_TIMEOUT rather than an undici error type.
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { EdgeRequest, EdgeResponse } from '../types.js';
import { OriginError, toOriginError } from './errors.js';
import { forwardRequestHeaders, forwardResponseHeaders } from './forward-headers.js';
import { statusClass, type OriginMetrics } from './metrics.js';
import type { ResolvedOrigin } from './settings.js';

export interface FetchTarget {
  readonly origin: ResolvedOrigin;
  readonly dispatcher: Dispatcher;
  /** The edge's pseudonym in Via. */
  readonly via: string;
  readonly metrics: OriginMetrics;
  readonly log: Logger | undefined;
  /** HTTP version the origin's responses arrive over ("1.1" or "2"), for their Via. */
  readonly receivedProtocol: () => string;
}

export function fetchFromOrigin(target: FetchTarget, request: EdgeRequest, body: Readable | Buffer | null, signal: AbortSignal): Promise<EdgeResponse> {
  const { origin } = target;
  const started = performance.now();
  return new Promise<EdgeResponse>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let response: OriginBody | null = null;
    let bodyError: Error | null = null;
    let finished = false;

    const finish = (err: OriginError | null): void => {
      if (finished) return;
      finished = true;
      signal.removeEventListener('abort', onAbort);
      if (!err) return;
      if (response === null) {
        target.metrics.observe(origin.name, 'error', (performance.now() - started) / 1000);
        reject(err);
      } else {
        response.fail(err);
      }
      target.metrics.countError(origin.name, err.code);
      const level = err.code === 'ORIGIN_ERR_ABORTED' ? 'debug' : 'warn';
      target.log?.[level]({ origin: origin.name, requestId: request.requestId, code: err.code, reason: err.message }, 'origin request failed');
    };
    const abortError = (): OriginError => new OriginError('ORIGIN_ERR_ABORTED', `origin ${origin.name}: the client went away`);
    const onAbort = (): void => {
      // Before undici has started the request there is no controller yet; onRequestStart aborts.
      if (controller) controller.abort(abortError());
      else finish(abortError());
    };

    const path = originFormTarget(request.url);
    if (path === null) {
      finish(new OriginError('ORIGIN_ERR_BAD_REQUEST', `origin ${origin.name}: cannot forward the request target ${JSON.stringify(request.url.slice(0, 200))}`));
      return;
    }
    if (request.method === 'CONNECT') {
      finish(new OriginError('ORIGIN_ERR_BAD_REQUEST', `origin ${origin.name}: CONNECT is not forwarded`));
      return;
    }
    if (signal.aborted) {
      finish(abortError());
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    if (body instanceof Readable) body.once('error', (err) => (bodyError = err));

    const headers = forwardRequestHeaders(request, { via: target.via, hostHeader: origin.hostHeader, incomingForwarded: origin.incomingForwarded });
    const send = (attempt: number): void => {
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart(c) {
          controller = c;
          if (signal.aborted || finished) c.abort(abortError());
        },
        onResponseStart(c, statusCode, responseHeaders) {
          // 1xx answers (100 Continue, 103 Early Hints) are not relayed; the final answer follows.
          if (statusCode < 200) return;
          // undici holds HTTP/1.1 heads to maxHeaderSize while parsing; an h2 head arrives whole
          // (node caps it at 64 KiB), so the same limit is applied here.
          if (origin.http2 && headerBytes(responseHeaders) > origin.maxResponseHeaderBytes) {
            c.abort(new OriginError('ORIGIN_ERR_HEADERS_TOO_LARGE', `origin ${origin.name}: response header fields over ${origin.maxResponseHeaderBytes} bytes`));
            return;
          }
          target.metrics.observe(origin.name, statusClass(statusCode), (performance.now() - started) / 1000);
          response = new OriginBody(c);
          resolve({ status: statusCode, headers: forwardResponseHeaders(responseHeaders, target.receivedProtocol(), target.via), body: response });
        },
        onResponseData(c, chunk) {
          if (response && !response.push(chunk)) c.pause();
        },
        onResponseEnd() {
          response?.push(null);
          finish(null);
        },
        onResponseError(_c, err) {
          let mapped = toOriginError(err, origin.name);
          // A failing client body surfaces in undici as whatever the stream emitted.
          if (bodyError && (err === bodyError || mapped.code === 'ORIGIN_ERR_INTERNAL' || mapped.code === 'ORIGIN_ERR_RESET')) {
            mapped = signal.aborted ? abortError() : new OriginError('ORIGIN_ERR_REQUEST_BODY', `origin ${origin.name}: the request body failed: ${bodyError.message}`, { cause: bodyError });
          }
          if (attempt === 1 && response === null && !signal.aborted && retriable(request.method, body, mapped)) {
            target.metrics.countRetry(origin.name);
            target.log?.debug({ origin: origin.name, requestId: request.requestId, code: mapped.code, reason: mapped.message }, 'origin request sent again');
            controller = null;
            send(2);
            return;
          }
          finish(mapped);
        },
      };
      target.dispatcher.dispatch({ origin: origin.origin, path, method: request.method, headers, body }, handler);
    };
    send(1);
  });
}

/**
 * RFC 9110 §9.2.2 and RFC 9112 §9.3.1: a request whose connection failed before any answer may be
 * retried automatically if it is idempotent. Only safe methods without a body are (nothing to
 * replay, nothing changed at the origin by sending them twice), only when the origin dropped the
 * connection or reset the stream (a keep-alive connection it was just closing, an h2 GOAWAY or
 * REFUSED_STREAM during a restart), and only once: a timeout or a certificate failure would fail
 * the same way again, and a retry must not double the load on an origin that is struggling.
 */
function retriable(method: string, body: Readable | Buffer | null, err: OriginError): boolean {
  return body === null && SAFE_METHODS.has(method) && err.code === 'ORIGIN_ERR_RESET';
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Size of a header section as HTTP/1.1 would carry it: "name: value\r\n" per field. */
function headerBytes(headers: Record<string, string | string[] | undefined>): number {
  let n = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') n += name.length + value.length + 4;
    else for (const v of value) n += name.length + v.length + 4;
  }
  return n;
}

/**
 * The request target in origin-form (RFC 9112 §3.2.1). An absolute-form target (§3.2.2), which a
 * client may send to any server, is reduced to its path and query; the authority is in Host.
 * Anything else (asterisk-form, authority-form) is not forwarded.
 */
function originFormTarget(url: string): string | null {
  if (url.startsWith('/')) return url;
  if (/^https?:\/\//i.test(url) && URL.canParse(url)) {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  }
  return null;
}

/** The response body: a Readable fed by undici, pausing the origin socket while nobody reads. */
class OriginBody extends Readable {
  #ended = false;

  constructor(private readonly controller: Dispatcher.DispatchController) {
    super();
  }

  override push(chunk: unknown): boolean {
    if (chunk === null) this.#ended = true;
    return super.push(chunk);
  }

  override _read(): void {
    this.controller.resume();
  }

  /** The origin failed mid-body: the reader sees the OriginError. */
  fail(err: OriginError): void {
    this.#ended = true;
    this.destroy(err);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // The reader gave up (the client went away): stop the origin sending the rest.
    if (!this.#ended) this.controller.abort(err ?? new OriginError('ORIGIN_ERR_ABORTED', 'the response body was destroyed before its end'));
    callback(err);
  }
}
