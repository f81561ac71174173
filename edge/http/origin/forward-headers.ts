// Header rewriting at the edge, as an intermediary (RFC 9110 §7.6): what the origin sees of the
// client's request, and what the client sees of the origin's response. Pure functions over
// HeaderMaps, so the pipeline (and the cache, which stores responses) can reuse them.
import { isIP } from 'node:net';
import type { EdgeRequest, HeaderMap } from '../types.js';
import type { IncomingForwarded } from './settings.js';

/** Header fields as sent onward: lower-case names, each present value a string or a list. */
export type OutgoingHeaders = Record<string, string | string[]>;

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection and are never forwarded.
 * Proxy-Connection and Keep-Alive are obsolete but still sent by old clients; Transfer-Encoding
 * and Upgrade are connection framing (RFC 9112 §6.1, RFC 9110 §7.8); TE and Trailer are listed
 * as RFC 7230 §6.1 did.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export interface ForwardRequestOptions {
  /** The edge's name in Via (RFC 9110 §7.6.3 received-by, a pseudonym). */
  readonly via: string;
  /** Host sent to the origin instead of the client's (per-origin hostHeader). */
  readonly hostHeader?: string;
  readonly incomingForwarded: IncomingForwarded;
  /** The scheme the client used to reach the edge; the edge only listens for TLS. */
  readonly proto?: 'https' | 'http';
}

/**
 * The request header section for the origin: hop-by-hop fields removed, Expect removed (the edge's
 * own HTTP server has answered 100-continue already, RFC 9110 §10.1.1), Host kept or replaced, and
 * the client's address, host and scheme in X-Forwarded-For/-Host/-Proto, Forwarded (RFC 7239) and
 * Via.
 */
export function forwardRequestHeaders(request: EdgeRequest, options: ForwardRequestOptions): OutgoingHeaders {
  const out = endToEnd(request.headers, ['host', 'expect', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-for', 'forwarded']);
  out.host = options.hostHeader ?? request.host;
  const clientIp = normalizeIp(request.clientIp);
  const proto = options.proto ?? 'https';
  const keep = options.incomingForwarded === 'append';
  const priorXff = keep ? joined(request.headers['x-forwarded-for']) : '';
  out['x-forwarded-for'] = priorXff ? `${priorXff}, ${clientIp}` : clientIp;
  out['x-forwarded-proto'] = proto;
  out['x-forwarded-host'] = request.host;
  const element = forwardedElement(clientIp, request.host, proto);
  const priorForwarded = keep ? joined(request.headers.forwarded) : '';
  out.forwarded = priorForwarded ? `${priorForwarded}, ${element}` : element;
  out.via = appendVia(request.headers.via, request.httpVersion, options.via);
  return out;
}

/** The response header section for the client: hop-by-hop fields removed, the edge added to Via. */
export function forwardResponseHeaders(headers: HeaderMap, originHttpVersion: string, via: string): OutgoingHeaders {
  const out = endToEnd(headers, []);
  out.via = appendVia(headers.via, originHttpVersion, via);
  return out;
}

/** Every field except hop-by-hop ones, those named in Connection (RFC 9110 §7.6.1) and `drop`. */
export function endToEnd(headers: HeaderMap, drop: readonly string[]): OutgoingHeaders {
  const nominated = connectionOptions(headers.connection);
  const out: OutgoingHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    // HTTP/2 pseudo-headers are not fields and cannot be sent in HTTP/1.1.
    if (key.startsWith(':') || HOP_BY_HOP.has(key) || nominated.has(key) || drop.includes(key)) continue;
    out[key] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}

/** The field names listed in Connection (a comma-separated list of tokens, RFC 9110 §7.6.1). */
function connectionOptions(value: string | string[] | undefined): Set<string> {
  const names = new Set<string>();
  for (const token of joined(value).split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names;
}

/**
 * Via: the received-protocol (protocol-name omitted for HTTP, RFC 9110 §7.6.3) and our
 * pseudonym, appended to what earlier hops wrote.
 */
function appendVia(prior: string | string[] | undefined, httpVersion: string, pseudonym: string): string {
  // HTTP/2 and HTTP/3 are written "2" and "3"; HTTP/1.x keeps its minor version.
  const version = /^[23](\.0)?$/.test(httpVersion) ? httpVersion[0]! : httpVersion;
  const mine = `${version} ${pseudonym}`;
  const before = joined(prior);
  return before ? `${before}, ${mine}` : mine;
}

/**
 * One forwarded-element (RFC 7239 §4): for, host and proto. IPv6 addresses are bracketed and
 * quoted (§6); any value that is not a token is a quoted-string.
 */
function forwardedElement(clientIp: string, host: string, proto: string): string {
  const node = isIP(clientIp) === 6 ? `[${clientIp}]` : clientIp || 'unknown';
  return `for=${forwardedValue(node)};host=${forwardedValue(host)};proto=${proto}`;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function forwardedValue(value: string): string {
  if (TOKEN.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** "::ffff:192.0.2.1" (an IPv4 client on a dual-stack socket) is written as the IPv4 address. */
function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped ? mapped[1]! : ip;
}

/** A repeated field is one comma-separated list (RFC 9110 §5.3). */
function joined(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return (Array.isArray(value) ? value.join(', ') : value).trim();
}
