// Conditional requests answered from the cache (RFC 9111 §4.3.2): when a stored response can
// satisfy a request carrying If-None-Match or If-Modified-Since, the cache evaluates them itself
// (RFC 9110 §13.2.2 order: If-None-Match first; If-Modified-Since only without it) and answers
// 304 instead of sending a body the client already has.
import { fieldValue } from './headers.js';
import type { HeaderMap } from '../types.js';

/** Preconditions the cache does not evaluate; a request carrying one goes to the origin. */
export const ORIGIN_PRECONDITIONS = ['if-match', 'if-unmodified-since', 'if-range'] as const;

/** The validators a client sends for its own copy; stripped when the edge fills its cache. */
export const CACHE_VALIDATORS = ['if-none-match', 'if-modified-since'] as const;

/** The opaque tags of an entity-tag list ("W/" dropped: If-None-Match uses weak comparison, RFC 9110 §8.8.3.2). */
function opaqueTags(list: string): string[] {
  const tags: string[] = [];
  for (const m of list.matchAll(/(?:W\/)?("[^"]*")/g)) tags.push(m[1]!);
  return tags;
}

/**
 * True when the client's copy is current: the stored response (status 200; RFC 9110 §13.2.1
 * evaluates preconditions only where the response would be 2xx, and 304 answers only 200) may
 * be answered with 304.
 */
export function clientCopyIsCurrent(request: HeaderMap, status: number, stored: HeaderMap): boolean {
  if (status !== 200) return false;
  const inm = fieldValue(request, 'if-none-match');
  if (inm !== undefined) {
    // RFC 9110 §13.1.2: "*" matches any current representation; otherwise weak comparison.
    if (inm.trim() === '*') return true;
    const etag = fieldValue(stored, 'etag');
    if (etag === undefined) return false;
    const current = opaqueTags(etag)[0];
    return current !== undefined && opaqueTags(inm).includes(current);
  }
  const ims = fieldValue(request, 'if-modified-since');
  if (ims === undefined) return false;
  // RFC 9110 §13.1.3: an invalid date, or a representation without Last-Modified, is not evaluated.
  const since = Date.parse(ims);
  const lastModified = Date.parse(fieldValue(stored, 'last-modified') ?? '');
  if (!Number.isFinite(since) || !Number.isFinite(lastModified)) return false;
  return lastModified <= since;
}

/** Fields a 304 carries (RFC 9110 §15.4.5): those a 200 would have sent that describe freshness and identity. */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'age', 'last-modified', 'cache-status'];

export function notModifiedHeaders(headers: HeaderMap): HeaderMap {
  const out: HeaderMap = {};
  for (const name of NOT_MODIFIED_FIELDS) if (headers[name] !== undefined) out[name] = headers[name];
  return out;
}
