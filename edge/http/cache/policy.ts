// The bridge to http-cache-semantics, which makes every RFC 9111 decision the cache relies on
// (storability §3, freshness §4.2, Vary matching §4.1, Age §4.2.3/§5.1, revalidation §4.3,
// stale-while-revalidate / stale-if-error, RFC 5861). This module only adapts: it gives the
// library the cache's clock, rewrites freshness for a rule's edge TTL, and serialises policies
// without the request's private fields.
import CachePolicy from 'http-cache-semantics';
import { toFieldMap, type FieldMap } from './headers.js';
import { varyFields } from './cache-key.js';
import type { HeaderMap } from '../types.js';

export type Clock = () => number;
export type Policy = CachePolicy;
export type PolicyObject = CachePolicy.CachePolicyObject;

/** What the library is told about a request: always the cacheable method (see lookupRequest). */
export interface PolicyRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: FieldMap;
}

export interface PolicyFactory {
  fromResponse(request: PolicyRequest, status: number, headers: FieldMap): Policy;
  fromStored(object: PolicyObject): Policy;
}

export function createPolicyFactory(now: Clock, heuristicFraction: number): PolicyFactory {
  // The library reads time through its own now() method (documented as the place to patch);
  // a subclass gives it the cache's clock. revalidatedPolicy() and fromObject() build new
  // policies with `new this.constructor`, so they keep the clock.
  class EdgePolicy extends CachePolicy {
    now(): number {
      return now();
    }
  }
  const options: CachePolicy.Options = { shared: true, cacheHeuristic: heuristicFraction };
  return {
    fromResponse: (request, status, headers) => new EdgePolicy(request, { status, headers }, options),
    fromStored: (object) => EdgePolicy.fromObject(object),
  };
}

/**
 * The request as the library sees it. HEAD is looked up as GET: a stored GET response can answer
 * it (RFC 9110 §9.3.2, RFC 9111 §4). The library matches Host against the stored one, so the
 * edge's normalised host is what it gets.
 */
export function policyRequest(url: string, host: string, headers: HeaderMap): PolicyRequest {
  return { url, method: 'GET', headers: { ...toFieldMap(headers), host } };
}

/** Original header values a rule's edge TTL replaced, restored in what clients see. */
export interface RestoredFields {
  readonly 'cache-control': string | null;
  readonly expires: string | null;
}

export interface EdgeTtl {
  readonly seconds: number;
  readonly mode: 'override' | 'fallback';
}

const FRESHNESS_DIRECTIVES = new Set(['max-age', 's-maxage', 'no-cache', 'must-revalidate', 'proxy-revalidate']);

/** The directive names of a Cache-Control value, lower-case, in order. */
function directiveNames(cacheControl: string | undefined): string[] {
  return (cacheControl ?? '')
    .split(',')
    .map((d) => d.split('=', 1)[0]!.trim().toLowerCase())
    .filter((d) => d !== '');
}

/** Whether the request carries Authorization (however empty: presence is what counts here). */
export function hasAuthorization(request: PolicyRequest): boolean {
  return request.headers.authorization !== undefined;
}

/**
 * RFC 9111 §3.5: a shared cache must not store a response to a request with Authorization
 * unless the response has `public`, `s-maxage` or `must-revalidate`. Asked of the ORIGIN's own
 * Cache-Control, never of one the edge rewrote.
 */
export function originAllowsSharingAuthenticated(cacheControl: string | undefined): boolean {
  return directiveNames(cacheControl).some((d) => d === 'public' || d === 's-maxage' || d === 'must-revalidate');
}

/**
 * A rule's edge TTL, applied by telling the library the origin had sent `s-maxage=N` (RFC 9111
 * §5.2.2.10, the shared-cache lifetime). The library still decides everything else: no-store
 * and private keep a response out of the cache. Authorization needs more care: s-maxage is one
 * of the directives that let a shared cache store a response to a request with Authorization
 * (RFC 9111 §3.5, with public and must-revalidate), so injecting it would make authenticated
 * responses shareable. For such a request the edge TTL is therefore not applied unless the
 * origin's own Cache-Control already had public, s-maxage or must-revalidate; the library then
 * sees the origin's response as it is, and refuses to store it (http-cache.ts checks the same
 * on the origin's fields before storing or sharing anything). Clients keep seeing the origin's
 * own Cache-Control and Expires (returned in `restore`): the edge TTL is the edge's business.
 */
export function applyEdgeTtl(
  fields: FieldMap,
  ttl: EdgeTtl | undefined,
  request: PolicyRequest,
): { fields: FieldMap; restore: RestoredFields | undefined } {
  if (ttl === undefined) return { fields, restore: undefined };
  if (hasAuthorization(request) && !originAllowsSharingAuthenticated(fields['cache-control'])) return { fields, restore: undefined };
  const directives = (fields['cache-control'] ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  const name = (d: string): string => d.split('=', 1)[0]!.trim().toLowerCase();
  if (ttl.mode === 'fallback') {
    const explicit = fields.expires !== undefined || directives.some((d) => name(d) === 'max-age' || name(d) === 's-maxage');
    if (explicit) return { fields, restore: undefined };
  }
  const kept = ttl.mode === 'override' ? directives.filter((d) => !FRESHNESS_DIRECTIVES.has(name(d))) : directives;
  const rewritten: FieldMap = { ...fields, 'cache-control': [...kept, `s-maxage=${ttl.seconds}`].join(', ') };
  delete rewritten.expires;
  return {
    fields: rewritten,
    restore: { 'cache-control': fields['cache-control'] ?? null, expires: fields.expires ?? null },
  };
}

/**
 * The 304's fields as the library should merge them into a stored response (RFC 9111 §4.3.4),
 * and what clients should see afterwards. With an edge TTL, a 304 that carries Cache-Control is
 * rewritten like a full response (so, for a request with Authorization, only when the 304's own
 * Cache-Control allows sharing: applyEdgeTtl); one without keeps the stored (rewritten)
 * Cache-Control, as the merge would. The restored values follow the 304 where it carries the field.
 */
export function revalidationFields(
  fields304: FieldMap,
  ttl: EdgeTtl | undefined,
  stored: { readonly restore: RestoredFields | undefined; readonly headers: CachePolicy.Headers },
  request: PolicyRequest,
): { fields: FieldMap; restore: RestoredFields | undefined } {
  const hadRestore = stored.restore !== undefined;
  if (!hadRestore && ttl === undefined) return { fields: fields304, restore: undefined };
  const asString = (v: string | string[] | undefined): string | null => (v === undefined ? null : Array.isArray(v) ? v.join(', ') : v);
  const base: RestoredFields = stored.restore ?? { 'cache-control': asString(stored.headers['cache-control']), expires: asString(stored.headers.expires) };
  const restore: RestoredFields = {
    'cache-control': fields304['cache-control'] ?? base['cache-control'],
    expires: fields304.expires ?? base.expires,
  };
  const fields = ttl !== undefined && fields304['cache-control'] !== undefined ? applyEdgeTtl(fields304, ttl, request).fields : fields304;
  return { fields, restore };
}

/**
 * A policy as stored. The library keeps every request header when the response has a Vary; only
 * the nominated ones are needed to match later requests, so the user's Cookie or Authorization
 * of the request that filled the cache is never written to the store.
 */
export function serializePolicy(policy: Policy): PolicyObject {
  const object = policy.toObject();
  if (object.reqh === null) return object;
  const fields = varyFields(typeof object.resh.vary === 'string' ? object.resh.vary : undefined);
  const kept: CachePolicy.Headers = {};
  if (fields !== '*') for (const f of fields) if (object.reqh[f] !== undefined) kept[f] = object.reqh[f];
  return { ...object, reqh: kept };
}

/** Remaining freshness in whole seconds, negative once stale: Cache-Status `ttl` (RFC 9211 §2.6). */
export function remainingTtl(policy: Policy): number {
  return Math.round(policy.maxAge() - policy.age());
}

/**
 * The headers a stored response is served with. The library removes hop-by-hop fields and sets
 * Age (RFC 9111 §5.1); it also replaces Date with "now", which a cache must not do (RFC 9110
 * §6.6.1: Date is when the origin generated the response; downstream caches compute age and
 * Expires lifetimes from it), so the stored Date is put back.
 */
export function presentedHeaders(policy: Policy, restore: RestoredFields | undefined): HeaderMap {
  const headers: HeaderMap = { ...policy.responseHeaders() };
  headers.date = new Date(policy.date()).toUTCString();
  if (restore) {
    for (const name of ['cache-control', 'expires'] as const) {
      const v = restore[name];
      if (v === null) delete headers[name];
      else headers[name] = v;
    }
  }
  return headers;
}

/**
 * RFC 9111 §4.2.4: a cache MUST NOT generate a stale response when no-cache, must-revalidate or
 * proxy-revalidate forbid it. The library honours must-revalidate itself but would still apply
 * stale-while-revalidate / stale-if-error to a no-cache response, hence this check. (s-maxage
 * also implies proxy-revalidate, §5.2.2.10, but an explicit stale-* directive beside it is the
 * origin's permission, and the common way to ask a CDN for it.)
 */
export function forbidsStale(policy: Policy): boolean {
  const cc = policy.toObject().rescc;
  return 'no-cache' in cc || 'must-revalidate' in cc || 'proxy-revalidate' in cc;
}

/**
 * May a stale response be served because the origin failed (RFC 5861 §4)? The library decides
 * with revalidatedPolicy(): given an error (or no response) it hands back the old policy only
 * when stale-if-error allows it, else it builds a new one (or throws for "no response").
 * Directives that forbid serving stale (RFC 9111 §4.2.4: no-cache, must-revalidate,
 * proxy-revalidate) win over stale-if-error.
 */
export function allowsStaleIfError(policy: Policy, request: PolicyRequest, errorResponse: { status: number; headers: FieldMap } | undefined): boolean {
  if (forbidsStale(policy)) return false;
  try {
    const result = policy.revalidatedPolicy(request, errorResponse);
    return result.policy === policy && !result.modified;
  } catch {
    return false;
  }
}
