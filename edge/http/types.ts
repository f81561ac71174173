// What the stages of the edge's HTTP pipeline (WAF → cache → origin client) hand each other.
// Plain data, independent of fastify and undici, so each stage can be tested on its own.
import type { Duplex, Readable } from 'node:stream';

/** Header values as Node's http module gives them: lower-case names; repeated ones as arrays. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** A request as the edge received it, after the TLS layer. */
export interface EdgeRequest {
  /** Unique per request, echoed in error bodies and logs (X-Request-Id). */
  readonly requestId: string;
  readonly method: string;
  /** The request target as sent: path and query, e.g. "/a/b?c=d" (not decoded). */
  readonly url: string;
  /** The Host header (or :authority), lower-case, without a port when it is the default. */
  readonly host: string;
  /** e.g. "1.1" */
  readonly httpVersion: string;
  readonly headers: HeaderMap;
  /** The end client's address, as the TLS connection saw it. */
  readonly clientIp: string;
  readonly clientPort: number;
  /** The SNI the client sent, or '' when none. */
  readonly servername: string;
}

/** A response on its way back to the client. The body is a stream or, when cached, a buffer. */
export interface EdgeResponse {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Readable | Buffer | null;
}

/**
 * Fetches a request from the origin. `body` is the request body to forward (a stream, a buffer
 * the WAF already read, or null). The signal aborts the origin request (client went away).
 */
export type OriginFetch = (request: EdgeRequest, body: Readable | Buffer | null, signal: AbortSignal) => Promise<EdgeResponse>;

/**
 * Passes an HTTP/1.1 Upgrade (WebSocket) through to the origin, given what node's http server
 * hands its 'upgrade' listener: the request, the client socket and the bytes read past the request
 * head. It owns the socket from then on (writes the origin's answer or an error page, pipes after
 * a 101) and never rejects; the result says what happened, for the access log.
 */
export type OriginUpgrade = (request: EdgeRequest, socket: Duplex, head: Buffer) => Promise<{ readonly outcome: 'upgraded' | 'relayed' | 'failed'; readonly status: number }>;
