// An HTTP/2 request's header section in the shape the rest of the edge reads, which is HTTP/1.1's
// (the WAF's REQUEST_HEADERS, the cache's Vary, the origin connection, which is HTTP/1.1).
// RFC 9113 §8.3.1: the pseudo-header fields are not header fields; :method and :path are already
// the request's method and url, and :authority takes the place of Host, which an intermediary
// converting to HTTP/1.1 must create from it. Node's http2 has already checked the pseudo-header
// fields themselves (§8.3: present, known, before the regular fields) and joined repeated cookie
// fields with "; " (§8.2.3).
import type { HeaderMap } from './types.js';

export type Http1Headers = { readonly headers: HeaderMap } | { readonly problem: string };

/** Host and :authority name the same thing when they are equal ignoring ASCII case (RFC 3986 §3.2.2). */
function sameAuthority(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/**
 * The fields without the pseudo-header fields, and Host from :authority. A request whose Host
 * differs from its :authority is refused (§8.3.1: a server SHOULD treat it as malformed), rather
 * than let the WAF, the cache and the origin each pick one of the two.
 */
export function http1Headers(fields: HeaderMap): Http1Headers {
  const headers: HeaderMap = {};
  for (const name of Object.keys(fields)) {
    if (name.charCodeAt(0) === 0x3a /* ':' */) continue;
    headers[name] = fields[name];
  }
  const authority = fields[':authority'];
  if (typeof authority === 'string' && authority !== '') {
    const host = headers.host;
    if (host !== undefined && (Array.isArray(host) || !sameAuthority(host, authority))) return { problem: 'the Host header and :authority name different hosts (RFC 9113 §8.3.1)' };
    headers.host = authority;
  }
  return { headers };
}
