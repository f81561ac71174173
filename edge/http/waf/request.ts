// The request as both rule languages read it: the parts of an EdgeRequest taken apart once
// (path and query, headers as a list, cookies, query arguments), as byte strings.
import type { EdgeRequest } from '../types.js';
import { parseUrlEncoded } from './body/urlencoded.js';
import { normalizeHostName, normalizePath } from './normalize.js';

/**
 * What the WAF inspects: the request as the edge received it (edge/http/types.ts). Header values
 * and the URL are byte strings as Node's parser gives them (latin1).
 */
export type WafRequest = EdgeRequest;

export interface RequestData {
  readonly requestId: string;
  readonly method: string;
  /** The request target as sent (REQUEST_URI_RAW); absolute-form keeps its scheme and host. */
  readonly rawUri: string;
  /** Path and query, without scheme and host (REQUEST_URI). */
  readonly uri: string;
  /** The path, not decoded (REQUEST_FILENAME). */
  readonly path: string;
  /**
   * The path normalised as Cloudflare normalises incoming URLs (normalize.ts): unreserved
   * characters decoded, "\" as "/", slashes merged, dot segments removed. What custom rules read
   * as http.request.uri.path.
   */
  readonly normalizedPath: string;
  /** normalizedPath, then "?" and the query if there is one (http.request.uri). */
  readonly normalizedUri: string;
  /** The last path segment (REQUEST_BASENAME). */
  readonly basename: string;
  /** After the first "?", without a fragment (QUERY_STRING); '' when there is none. */
  readonly query: string;
  /** "HTTP/1.1" */
  readonly protocol: string;
  readonly requestLine: string;
  /** The host as the edge received it (lower case; without :443). */
  readonly host: string;
  /**
   * The host name as origin routing reads it: without any port and without a trailing dot
   * (normalize.ts). What selects the per-host settings and what http.host is.
   */
  readonly hostname: string;
  /** Every header line: lower-case name, value. Repeated headers are repeated entries. */
  readonly headers: readonly (readonly [string, string])[];
  readonly cookies: readonly (readonly [string, string])[];
  /** ARGS_GET, decoded. */
  readonly queryArgs: readonly (readonly [string, string])[];
  /** The query had more arguments than the limit; the rest were not parsed. */
  readonly queryArgsTruncated: boolean;
  readonly clientIp: string;
  readonly clientPort: number;
  readonly servername: string;
  /** The values of one header joined with ", " (cookies with "; "), or undefined when absent. */
  header(name: string): string | undefined;
}

export function requestData(req: WafRequest, maxArgs = 1000): RequestData {
  const rawUri = req.url;
  let uri = rawUri;
  const authority = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(rawUri);
  if (authority) uri = rawUri.slice(authority[0].length) || '/';
  const hash = uri.indexOf('#');
  const target = hash < 0 ? uri : uri.slice(0, hash);
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const basename = path.slice(slash + 1);
  const normalizedPath = normalizePath(path);

  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    const lname = name.toLowerCase();
    if (Array.isArray(value)) for (const v of value) headers.push([lname, v]);
    else headers.push([lname, value]);
  }
  // HTTP/2 carries the host as :authority; the rules expect a Host header.
  if (req.host !== '' && !headers.some(([n]) => n === 'host')) headers.push(['host', req.host]);

  const cookies: [string, string][] = [];
  for (const [name, value] of headers) {
    if (name !== 'cookie') continue;
    for (const part of value.split(';')) {
      const p = part.trim();
      if (p === '') continue;
      const eq = p.indexOf('=');
      const cname = eq < 0 ? p : p.slice(0, eq).trim();
      if (cname === '') continue;
      cookies.push([cname, eq < 0 ? '' : p.slice(eq + 1).trim()]);
    }
  }
  const { args: queryArgs, truncated } = parseUrlEncoded(query, maxArgs);
  const protocol = `HTTP/${req.httpVersion}`;
  return {
    requestId: req.requestId,
    method: req.method,
    rawUri,
    uri,
    path,
    normalizedPath,
    normalizedUri: q < 0 ? normalizedPath : `${normalizedPath}?${query}`,
    basename,
    query,
    protocol,
    requestLine: `${req.method} ${rawUri} ${protocol}`,
    host: req.host,
    hostname: normalizeHostName(req.host),
    headers,
    cookies,
    queryArgs,
    queryArgsTruncated: truncated,
    clientIp: normalizeIp(req.clientIp),
    clientPort: req.clientPort,
    servername: req.servername,
    header(name: string): string | undefined {
      const lname = name.toLowerCase();
      const values = headers.filter(([n]) => n === lname).map(([, v]) => v);
      if (values.length === 0) return undefined;
      return values.join(lname === 'cookie' ? '; ' : ', ');
    },
  };
}

/** "::ffff:192.0.2.1" (an IPv4 client on a dual-stack socket) → "192.0.2.1": lists are written in IPv4. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return m ? m[1]! : ip;
}
