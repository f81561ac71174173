// Header plumbing between the pipeline's HeaderMap and http-cache-semantics. The library expects
// one string per field (it calls .trim()/.split() on values), so repeated fields are combined the
// way RFC 9110 §5.3 allows: joined with ", ". Set-Cookie cannot be combined that way, but the
// cache never stores a response that sets a cookie, so its joined form only feeds the library's
// "is there a Set-Cookie" checks.
import type { HeaderMap } from '../types.js';

/** One string per lower-case field name: what http-cache-semantics is given. */
export type FieldMap = Record<string, string>;

export function toFieldMap(headers: HeaderMap): FieldMap {
  const out: FieldMap = {};
  for (const [rawName, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    const joined = Array.isArray(value) ? value.filter((v) => typeof v === 'string').join(', ') : typeof value === 'string' ? value : String(value);
    out[name] = out[name] === undefined ? joined : `${out[name]}, ${joined}`;
  }
  return out;
}

/** A field's value as one string (repeated lines joined), or undefined when absent. */
export function fieldValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Content-Length when it is one valid number (RFC 9110 §8.6); anything else is "unknown". */
export function contentLength(headers: HeaderMap): number | undefined {
  const v = fieldValue(headers, 'content-length');
  if (v === undefined || !/^\d{1,15}$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** At most this many tags per response, each at most this long: a header is not a database. */
const MAX_TAGS = 64;
const MAX_TAG_LENGTH = 256;

/**
 * Cache-Tag: comma-separated tags, compared case-insensitively (as Cloudflare does). Empty and
 * over-long tags are dropped rather than failing the response.
 */
export function parseCacheTags(value: string | undefined): string[] {
  if (value === undefined) return [];
  const tags = new Set<string>();
  for (const part of value.split(',')) {
    const tag = part.trim().toLowerCase();
    if (tag !== '' && tag.length <= MAX_TAG_LENGTH) tags.add(tag);
    if (tags.size >= MAX_TAGS) break;
  }
  return [...tags];
}

/** A copy without the named fields, in the same order (built up, not deleted from: deleting would make a slow dictionary object). */
export function withoutFields(headers: HeaderMap, names: readonly string[]): HeaderMap {
  const out: HeaderMap = {};
  for (const name of Object.keys(headers)) if (!names.includes(name)) out[name] = headers[name];
  return out;
}
