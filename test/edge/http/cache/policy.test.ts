// The adapter to http-cache-semantics: the cache's clock, the edge TTL rewrite, what is persisted.
import { describe, expect, it } from 'vitest';
import { applyEdgeTtl, createPolicyFactory, hasAuthorization, originAllowsSharingAuthenticated, policyRequest, presentedHeaders, remainingTtl, revalidationFields, serializePolicy } from '../../../../edge/http/cache/policy.js';
import type { FieldMap } from '../../../../edge/http/cache/headers.js';

const anonymous = policyRequest('/x', 'h.test', {});
const authenticated = policyRequest('/x', 'h.test', { authorization: 'Bearer alice' });

describe('the policy adapter', () => {
  it('gives the library the cache clock, also for policies loaded or revalidated', () => {
    let t = 1_000_000;
    const policies = createPolicyFactory(() => t, 0.1);
    const req = policyRequest('/x', 'h.test', {});
    const policy = policies.fromResponse(req, 200, { 'cache-control': 'max-age=100', etag: '"e"' });
    t += 40_000;
    expect(remainingTtl(policy)).toBe(60);
    const loaded = policies.fromStored(serializePolicy(policy));
    expect(remainingTtl(loaded)).toBe(60);
    const { policy: refreshed } = loaded.revalidatedPolicy(req, { status: 304, headers: { etag: '"e"', 'cache-control': 'max-age=10' } });
    t += 5_000;
    expect(remainingTtl(refreshed)).toBe(5);
  });

  it('does not persist request fields beyond the Vary-nominated ones', () => {
    const policies = createPolicyFactory(Date.now, 0.1);
    const req = policyRequest('/x', 'h.test', { cookie: 'session=secret', authorization: 'Bearer t', 'accept-language': 'fr' });
    const stored = serializePolicy(policies.fromResponse(req, 200, { 'cache-control': 'public, max-age=60', vary: 'Accept-Language' }));
    expect(stored.reqh).toEqual({ 'accept-language': 'fr' });
    expect(JSON.stringify(stored)).not.toContain('secret');
  });

  it('override: the edge TTL replaces freshness directives and Expires, keeps the others', () => {
    const { fields, restore } = applyEdgeTtl({ 'cache-control': 'no-cache, max-age=0, public, stale-if-error=30', expires: '0' }, { seconds: 90, mode: 'override' }, anonymous);
    expect(fields['cache-control']).toBe('public, stale-if-error=30, s-maxage=90');
    expect(fields.expires).toBeUndefined();
    expect(restore).toEqual({ 'cache-control': 'no-cache, max-age=0, public, stale-if-error=30', expires: '0' });
  });

  it('fallback: only without explicit freshness', () => {
    expect(applyEdgeTtl({ 'cache-control': 'max-age=5' }, { seconds: 90, mode: 'fallback' }, anonymous).restore).toBeUndefined();
    expect(applyEdgeTtl({ expires: 'Thu, 01 Jan 2099 00:00:00 GMT' }, { seconds: 90, mode: 'fallback' }, anonymous).restore).toBeUndefined();
    expect(applyEdgeTtl({}, { seconds: 90, mode: 'fallback' }, anonymous).fields['cache-control']).toBe('s-maxage=90');
  });

  it('never applies the edge TTL to a response to an Authorization request the origin did not make shareable (RFC 9111 §3.5)', () => {
    const policies = createPolicyFactory(Date.now, 0.1);
    for (const mode of ['override', 'fallback'] as const) {
      const origins: FieldMap[] = [{ 'cache-control': 'max-age=60' }, {}, { 'cache-control': 'no-cache' }, { 'cache-control': 'private="x, public"' }];
      for (const origin of origins) {
        const { fields, restore } = applyEdgeTtl(origin, { seconds: 90, mode }, authenticated);
        expect(fields).toEqual(origin);
        expect(restore).toBeUndefined();
        expect(policies.fromResponse(authenticated, 200, fields).storable()).toBe(false);
      }
      for (const cc of ['public', 'Public, max-age=60', 's-maxage=0', 'must-revalidate']) {
        const { fields } = applyEdgeTtl({ 'cache-control': cc }, { seconds: 90, mode: 'override' }, authenticated);
        expect(fields['cache-control']).toContain('s-maxage=90');
      }
    }
    const stored = { restore: { 'cache-control': 'public, max-age=1', expires: null }, headers: { 'cache-control': 'public, s-maxage=90' } };
    expect(revalidationFields({ 'cache-control': 'max-age=1' }, { seconds: 90, mode: 'override' }, stored, authenticated).fields).toEqual({ 'cache-control': 'max-age=1' });
    expect(originAllowsSharingAuthenticated(undefined)).toBe(false);
    expect(hasAuthorization(authenticated)).toBe(true);
    expect(hasAuthorization(anonymous)).toBe(false);
  });

  it('a 304 keeps a rewritten Cache-Control unless it brings its own', () => {
    const stored = { restore: { 'cache-control': 'no-cache', expires: null }, headers: { 'cache-control': 's-maxage=90' } };
    const ttl = { seconds: 90, mode: 'override' as const };
    expect(revalidationFields({ etag: '"e"' }, ttl, stored, anonymous)).toEqual({ fields: { etag: '"e"' }, restore: { 'cache-control': 'no-cache', expires: null } });
    expect(revalidationFields({ 'cache-control': 'max-age=1' }, ttl, stored, anonymous)).toEqual({ fields: { 'cache-control': 's-maxage=90' }, restore: { 'cache-control': 'max-age=1', expires: null } });
    expect(revalidationFields({ etag: '"e"' }, undefined, { restore: undefined, headers: {} }, anonymous)).toEqual({ fields: { etag: '"e"' }, restore: undefined });
  });

  it('presents the stored Date, not the time of serving (RFC 9110 §6.6.1)', () => {
    let t = Date.parse('Tue, 01 Jan 2030 00:00:00 GMT');
    const policies = createPolicyFactory(() => t, 0.1);
    const policy = policies.fromResponse(policyRequest('/x', 'h.test', {}), 200, { 'cache-control': 'max-age=100', date: 'Tue, 01 Jan 2030 00:00:00 GMT', connection: 'close' });
    t += 30_000;
    const headers = presentedHeaders(policy, undefined);
    expect(headers.date).toBe('Tue, 01 Jan 2030 00:00:00 GMT');
    expect(headers.age).toBe('30');
    expect(headers.connection).toBeUndefined();
  });
});
