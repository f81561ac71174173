import { describe, expect, it } from 'vitest';
import { primaryKey, splitKey, variantKey, varyFields } from '../../../../edge/http/cache/cache-key.js';
import { compileRules, hostMatches } from '../../../../edge/http/cache/rules.js';

describe('cache keys', () => {
  it('keys on host and the target exactly as sent', () => {
    expect(primaryKey('Example.COM', '/a%2Fb?x=1')).toBe('example.com/a%2Fb?x=1');
    expect(splitKey('example.com:8443/a?b')).toEqual({ host: 'example.com:8443', target: '/a?b' });
  });

  it('refuses targets and hosts it cannot key', () => {
    expect(primaryKey('example.com', '*')).toBeNull();
    expect(primaryKey('example.com', 'http://other/')).toBeNull();
    expect(primaryKey('evil.com/x', '/')).toBeNull();
    expect(primaryKey('a b', '/')).toBeNull();
  });

  it('reads Vary into sorted, unique, lower-case names; * is special', () => {
    expect(varyFields('Accept-Encoding, accept-language ,ACCEPT-ENCODING')).toEqual(['accept-encoding', 'accept-language']);
    expect(varyFields('Accept, *')).toBe('*');
    expect(varyFields(undefined)).toEqual([]);
  });

  it('tells an absent field from an empty one', () => {
    expect(variantKey(['a'], {})).not.toBe(variantKey(['a'], { a: '' }));
    expect(variantKey(['a', 'b'], { a: '1', b: '2', c: '3' })).toBe(variantKey(['a', 'b'], { b: '2', a: '1' }));
    expect(variantKey([], { a: '1' })).toBe('');
  });
});

describe('cache rules', () => {
  it('matches hosts exactly, by wildcard (not the apex), or all', () => {
    expect(hostMatches('example.com', 'example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'a.b.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('*.example.com', 'badexample.com')).toBe(false);
    expect(hostMatches('*', 'anything')).toBe(true);
  });

  it('takes the first rule that matches host (port ignored) and path prefix', () => {
    const match = compileRules([
      { host: 'example.com', pathPrefix: '/api/', action: 'bypass' },
      { host: '*', pathPrefix: '/', action: 'cache', edgeTtl: { seconds: 5, mode: 'override' } },
    ]);
    expect(match('EXAMPLE.com:8443', '/api/v1')?.index).toBe(0);
    expect(match('example.com', '/apix')?.index).toBe(1);
    expect(compileRules([])('example.com', '/')).toBeUndefined();
  });
});
