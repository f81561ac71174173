import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../keyserver/rate-limiter.js';

describe('rate limiter (token bucket, fake clock)', () => {
  it('allows a burst, refuses beyond it, and refills with time', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const limit = { perSecond: 10, burst: 3 };
    expect([1, 2, 3, 4].map(() => limiter.take('e', limit))).toEqual([true, true, true, false]);
    now += 100; // one token back
    expect(limiter.take('e', limit)).toBe(true);
    expect(limiter.take('e', limit)).toBe(false);
    now += 10_000;
    expect([1, 2, 3, 4].map(() => limiter.take('e', limit))).toEqual([true, true, true, false]);
  });

  it('keeps one bucket per name', () => {
    const limiter = new RateLimiter(() => 0);
    const limit = { perSecond: 1, burst: 1 };
    expect(limiter.take('a', limit)).toBe(true);
    expect(limiter.take('a', limit)).toBe(false);
    expect(limiter.take('b', limit)).toBe(true);
  });

  it('a changed limit (after a reload) starts a fresh bucket', () => {
    const limiter = new RateLimiter(() => 0);
    expect(limiter.take('a', { perSecond: 1, burst: 1 })).toBe(true);
    expect(limiter.take('a', { perSecond: 1, burst: 1 })).toBe(false);
    expect(limiter.take('a', { perSecond: 2, burst: 1 })).toBe(true);
  });
});
