import { describe, expect, it } from 'vitest';
import { invalidatedKeys, isSafeMethod } from '../../../../edge/http/cache/invalidation.js';

describe('invalidation on unsafe methods (RFC 9111 §4.4)', () => {
  it('knows the safe methods; anything else is unsafe', () => {
    expect(['GET', 'head', 'OPTIONS', 'TRACE'].every(isSafeMethod)).toBe(true);
    expect(['POST', 'PUT', 'DELETE', 'PATCH', 'PURGE', 'BREW'].some(isSafeMethod)).toBe(false);
  });

  it('invalidates the target, and Location / Content-Location on the same host only', () => {
    expect(invalidatedKeys('ex.com', '/a/b?x', 303, { location: '../c?y', 'content-location': 'https://other.com/d' })).toEqual(['ex.com/a/b?x', 'ex.com/c?y']);
    expect(invalidatedKeys('ex.com', '/a', 204, { 'content-location': 'https://EX.com/z' })).toEqual(['ex.com/a', 'ex.com/z']);
  });

  it('nothing on an error status, nothing from a malformed reference', () => {
    expect(invalidatedKeys('ex.com', '/a', 404, {})).toEqual([]);
    expect(invalidatedKeys('ex.com', '/a', 500, { location: '/b' })).toEqual([]);
    expect(invalidatedKeys('ex.com', '/a', 200, { location: 'http://[bad' })).toEqual(['ex.com/a']);
  });
});
