// Validators and conditional requests for the demo's cacheable routes (RFC 9110 §8.8, §13), so
// that a cache revalidating an entry gets 304 Not Modified without the body.
import { createHash } from 'node:crypto';
import type http from 'node:http';

/** A strong entity tag over the bytes (RFC 9110 §8.8.3). */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/**
 * Whether the request's preconditions say the client's copy is current (RFC 9110 §13.2.2):
 * If-None-Match first, by weak comparison (§13.1.2); If-Modified-Since only when there is no
 * If-None-Match, and only for GET and HEAD (§13.1.3).
 */
export function isNotModified(req: http.IncomingMessage, etag: string, lastModified: Date): boolean {
  const ifNoneMatch = req.headers['if-none-match'];
  if (ifNoneMatch !== undefined) return etagListMatches(ifNoneMatch, etag);
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const ifModifiedSince = req.headers['if-modified-since'];
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  // An invalid date is ignored (§13.1.3); HTTP dates have one-second resolution.
  if (Number.isNaN(since)) return false;
  return Math.floor(lastModified.getTime() / 1000) <= Math.floor(since / 1000);
}

function etagListMatches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  const mine = opaque(etag);
  return header.split(',').some((candidate) => opaque(candidate) === mine);
}
