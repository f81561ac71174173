import { describe, expect, it } from 'vitest';
import { formatCacheStatus, withCacheStatus } from '../../../../edge/http/cache/cache-status.js';

describe('Cache-Status (RFC 9211)', () => {
  it('serialises the parameters in a fixed order', () => {
    expect(formatCacheStatus('keyless', { hit: true, ttl: 12.7 })).toBe('keyless; hit; ttl=12');
    expect(formatCacheStatus('keyless', { fwd: 'stale', fwdStatus: 304, ttl: -3, stored: true, collapsed: true })).toBe('keyless; fwd=stale; fwd-status=304; ttl=-3; stored; collapsed');
  });

  it('quotes a detail that is not a token', () => {
    expect(formatCacheStatus('c', { fwd: 'bypass', detail: 'rule:api' })).toBe('c; fwd=bypass; detail=rule:api');
    expect(formatCacheStatus('c', { fwd: 'bypass', detail: 'two words' })).toBe('c; fwd=bypass; detail="two words"');
  });

  it('appends to an upstream member, arrays included', () => {
    expect(withCacheStatus({ 'cache-status': ['A; hit', 'B; fwd=miss'] }, 'c', { hit: true })['cache-status']).toBe('A; hit, B; fwd=miss, c; hit');
    expect(withCacheStatus({}, 'c', { fwd: 'uri-miss' })['cache-status']).toBe('c; fwd=uri-miss');
  });
});
