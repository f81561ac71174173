// The Cache-Status response header (RFC 9211): one list member per cache, closest to the origin
// first, so the edge appends its own member to whatever an upstream cache put there (§2).
import type { HeaderMap } from '../types.js';

/** Why the request went to the origin (RFC 9211 §2.2). */
export type ForwardReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

export interface CacheStatus {
  /** Satisfied from the cache without contacting the origin (§2.1). */
  readonly hit?: boolean;
  readonly fwd?: ForwardReason;
  /** The status the origin answered the forwarded request with (§2.3). */
  readonly fwdStatus?: number;
  /** Remaining freshness in seconds, negative when stale (§2.4). */
  readonly ttl?: number;
  /** The response was (is being) stored (§2.5). */
  readonly stored?: boolean;
  /** The request was collapsed onto another one's origin request and reused its response (§2.6). */
  readonly collapsed?: boolean;
  /** Implementation detail (§2.8): why bypassed, or which stale rule served the response. */
  readonly detail?: string;
}

const TOKEN = /^[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*$/;

/** Serialises one member as an RFC 8941 item with parameters. */
export function formatCacheStatus(name: string, s: CacheStatus): string {
  const parts = [name];
  if (s.hit) parts.push('hit');
  if (s.fwd !== undefined) parts.push(`fwd=${s.fwd}`);
  if (s.fwdStatus !== undefined) parts.push(`fwd-status=${s.fwdStatus}`);
  if (s.ttl !== undefined && Number.isFinite(s.ttl)) parts.push(`ttl=${Math.trunc(s.ttl)}`);
  if (s.stored) parts.push('stored');
  if (s.collapsed) parts.push('collapsed');
  if (s.detail !== undefined) parts.push(`detail=${TOKEN.test(s.detail) ? s.detail : JSON.stringify(s.detail.replace(/[^\x20-\x7e]/g, '?'))}`);
  return parts.join('; ');
}

/** This cache's member after the members of caches upstream (§2: closest to the origin first). */
export function appendCacheStatus(previous: string | undefined, member: string): string {
  return previous ? `${previous}, ${member}` : member;
}

/** The headers with this cache's member appended to any Cache-Status already present. */
export function withCacheStatus(headers: HeaderMap, name: string, s: CacheStatus): HeaderMap {
  const existing = headers['cache-status'];
  const previous = Array.isArray(existing) ? existing.join(', ') : existing;
  return { ...headers, 'cache-status': appendCacheStatus(previous, formatCacheStatus(name, s)) };
}
