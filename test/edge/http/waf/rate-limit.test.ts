import { describe, expect, it } from 'vitest';
import { MemoryRateLimitStore, SlidingWindowLimiter } from '../../../../edge/http/waf/rate-limit.js';

function fakeClock(start = 1_000_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('sliding-window rate limits', () => {
  it('allows up to the limit in a window, then refuses with Retry-After', async () => {
    const clock = fakeClock();
    const limiter = new SlidingWindowLimiter(new MemoryRateLimitStore(), clock);
    for (let i = 0; i < 5; i++) expect((await limiter.hit('k', 5, 60)).limited).toBe(false);
    const refused = await limiter.hit('k', 5, 60);
    expect(refused.limited).toBe(true);
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('keys are counted apart', async () => {
    const limiter = new SlidingWindowLimiter(new MemoryRateLimitStore(), fakeClock());
    for (let i = 0; i < 3; i++) await limiter.hit('a', 3, 10);
    expect((await limiter.hit('a', 3, 10)).limited).toBe(true);
    expect((await limiter.hit('b', 3, 10)).limited).toBe(false);
  });

  it('the previous window weighs less as it slides out', async () => {
    const clock = fakeClock(0);
    const limiter = new SlidingWindowLimiter(new MemoryRateLimitStore(), clock);
    for (let i = 0; i < 10; i++) await limiter.hit('k', 10, 10);
    clock.advance(10_000); // the next window starts; the previous one still weighs fully
    expect((await limiter.hit('k', 10, 10)).limited).toBe(true);
    clock.advance(5_000); // halfway: 10 × 0.5 = 5 counted
    for (let i = 0; i < 4; i++) expect((await limiter.hit('k', 10, 10)).limited).toBe(false);
    expect((await limiter.hit('k', 10, 10)).limited).toBe(false);
    expect((await limiter.hit('k', 10, 10)).limited).toBe(true);
    clock.advance(20_000); // two windows later: nothing counts
    expect((await limiter.hit('k', 10, 10)).count).toBe(0);
  });

  it('Retry-After is when a request would be allowed again', async () => {
    const clock = fakeClock(0);
    const limiter = new SlidingWindowLimiter(new MemoryRateLimitStore(), clock);
    for (let i = 0; i < 4; i++) await limiter.hit('k', 4, 60);
    clock.advance(30_000);
    const refused = await limiter.hit('k', 4, 60);
    expect(refused.limited).toBe(true);
    clock.advance(refused.retryAfterSeconds * 1000 - 1000);
    expect((await limiter.hit('k', 4, 60)).limited).toBe(true);
    clock.advance(1000);
    expect((await limiter.hit('k', 4, 60)).limited).toBe(false);
  });

  it('refused requests are not counted', async () => {
    const clock = fakeClock(0);
    const store = new MemoryRateLimitStore();
    const limiter = new SlidingWindowLimiter(store, clock);
    await limiter.hit('k', 1, 10);
    for (let i = 0; i < 100; i++) await limiter.hit('k', 1, 10);
    expect(store.peek('k', 10_000, 0).current).toBe(1);
  });

  it('the memory store is bounded', async () => {
    const store = new MemoryRateLimitStore(100);
    const limiter = new SlidingWindowLimiter(store, fakeClock());
    for (let i = 0; i < 1000; i++) await limiter.hit(`key-${i}`, 5, 60);
    expect(store.size).toBe(100);
  });
});
