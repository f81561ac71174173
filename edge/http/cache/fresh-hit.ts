// A fresh stored response served again without re-asking http-cache-semantics, for requests that
// carry nothing the library's reuse decision reads (RFC 9111 §4: no request Cache-Control or
// Pragma, §5.2.1 and §5.4; no validators of the client's own copy, §4.3.2).
//
// For such a request the library's answer (`evaluateRequest`) depends on the stored response
// and the clock only: its URL, Host and method match by construction of the cache key, its Vary
// fields match when the variant key does, and it stays "fresh, serve as is" until the policy's
// time to live runs out. So the first plain hit on an entry asks the library and records what
// it answered — the headers it presented and until when the answer holds; later plain hits on
// the same entry within that window only recompute the two time-dependent fields, Age (§5.1) and
// Cache-Status's ttl (RFC 9211 §2.4). Anything else (stale, must-revalidate, a request with
// directives or validators, an entry without a record) goes the full way through the library.
//
// Records are kept per stored entry object (a WeakMap): an entry's metadata is immutable, and a
// revalidation or a new fill stores a new object, so a record can never outlive what it describes.
import type { HeaderMap } from '../types.js';
import type { Policy } from './policy.js';

/** Request fields the library's reuse decision reads besides URL, Host, method and Vary. */
const REUSE_FIELDS = ['cache-control', 'pragma', 'if-none-match', 'if-modified-since'] as const;

/** True when the request carries none of the fields that change whether or how a stored response is reused. */
export function isPlainRequest(headers: HeaderMap): boolean {
  for (const name of REUSE_FIELDS) if (headers[name] !== undefined) return false;
  return true;
}

/**
 * The library adds a "113" Warning to responses older than a day with a heuristic lifetime over
 * a day (RFC 7234 §5.5.4); a record never spans that moment, so its headers stay what the library
 * would present.
 */
const WARNING_AGE_SECONDS = 86_400;

/** What the library answered for a plain request on one stored entry, and until when that holds. */
export interface FreshHit {
  readonly policy: Policy;
  readonly status: number;
  /** Vary-nominated request fields (sorted, lower-case); the variant key is compared, not the values. */
  readonly vary: readonly string[];
  /** The presented headers, upstream Cache-Status included; Age and Cache-Status are rewritten per hit. */
  readonly headers: HeaderMap;
  /** Cache-Status members of caches upstream of this one (RFC 9211 §2: they come first). */
  readonly upstreamStatus: string | undefined;
  /** The policy's freshness lifetime in seconds (constant for a stored response). */
  readonly maxAge: number;
  /** Cache clock (ms) until which a plain request gets this response as is. */
  readonly validUntil: number;
}

/**
 * The record for a response the library just served fresh to a plain request at `now`, or
 * undefined when its answer may change before the next second (no window worth keeping).
 */
export function freshHitRecord(policy: Policy, status: number, vary: readonly string[], headers: HeaderMap, now: number): FreshHit | undefined {
  const age = policy.age();
  const maxAge = policy.maxAge();
  const windowSeconds = Math.min(maxAge - age, WARNING_AGE_SECONDS - age);
  if (!(windowSeconds > 0)) return undefined;
  const upstream = headers['cache-status'];
  return {
    policy,
    status,
    vary,
    headers,
    upstreamStatus: Array.isArray(upstream) ? upstream.join(', ') : upstream,
    maxAge,
    validUntil: now + windowSeconds * 1000,
  };
}
