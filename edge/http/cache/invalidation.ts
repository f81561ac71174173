// Invalidation on unsafe methods (RFC 9111 §4.4): a non-error response to a method that is not
// known to be safe invalidates the stored responses of the target URI, and of the URIs in
// Location and Content-Location when they are on the same host (so that a response cannot be
// used to purge another site's entries).
import { fieldValue } from './headers.js';
import { primaryKey } from './cache-key.js';
import type { HeaderMap } from '../types.js';

/** RFC 9110 §9.2.1. Any other method, known or not, is treated as unsafe. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase());
}

/** The primary keys to invalidate after an unsafe request answered with `status`. */
export function invalidatedKeys(host: string, target: string, status: number, responseHeaders: HeaderMap): string[] {
  // "non-error status code": 2xx or 3xx.
  if (status < 200 || status >= 400) return [];
  const keys = new Set<string>();
  const own = primaryKey(host, target);
  if (own === null) return [];
  keys.add(own);
  const base = `https://${host}${target}`;
  for (const field of ['location', 'content-location']) {
    const value = fieldValue(responseHeaders, field);
    if (value === undefined) continue;
    let url: URL;
    try {
      url = new URL(value.trim(), base);
    } catch {
      continue; // a malformed reference invalidates nothing
    }
    if (url.host !== host.toLowerCase()) continue;
    const key = primaryKey(url.host, `${url.pathname}${url.search}`);
    if (key !== null) keys.add(key);
  }
  return [...keys];
}
