// Rate limiting with a sliding window (the weighted two-window approximation: the count of the
// previous fixed window, weighted by how much of it still overlaps the sliding window, plus the
// count of the current one). It needs two numbers per key instead of a log of timestamps, and
// it cannot be gamed at window boundaries the way a fixed window can.
//
// The counter store is an interface (one implementation per backend: memory here; the workers of
// one edge share the primary's through edge/cluster/shared-rate-limits.ts; a shared store such as
// Redis would let replicas count together). Requests that are refused are not counted, so
// that a client that waits for Retry-After does get through.
import type { Clock } from './clock.js';

export interface WindowCounts {
  /** Start (ms) of the current fixed window. */
  readonly windowStart: number;
  readonly current: number;
  readonly previous: number;
}

export interface RateLimitStore {
  /**
   * Decides for one request to `key` at `now` (limit requests per windowMs) and counts it when it
   * is allowed, as one step: callers sharing a store (the workers of one edge) cannot both take
   * the last place of a window.
   */
  hit(key: string, limit: number, windowMs: number, now: number): Promise<RateLimitDecision> | RateLimitDecision;
}

interface Entry {
  windowStart: number;
  current: number;
  previous: number;
}

/** Counters in memory, bounded in number of keys; the least recently counted keys go first. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxKeys = 100_000) {}

  private roll(key: string, windowMs: number, now: number): Entry {
    const start = Math.floor(now / windowMs) * windowMs;
    let e = this.entries.get(key);
    if (!e) return { windowStart: start, current: 0, previous: 0 };
    if (e.windowStart !== start) {
      e = { windowStart: start, current: 0, previous: e.windowStart === start - windowMs ? e.current : 0 };
    }
    return e;
  }

  peek(key: string, windowMs: number, now: number): WindowCounts {
    const e = this.roll(key, windowMs, now);
    return { windowStart: e.windowStart, current: e.current, previous: e.previous };
  }

  add(key: string, windowMs: number, now: number): void {
    const e = this.roll(key, windowMs, now);
    e.current++;
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string);
  }

  hit(key: string, limit: number, windowMs: number, now: number): RateLimitDecision {
    const { windowStart, current, previous } = this.peek(key, windowMs, now);
    const elapsed = now - windowStart;
    const count = previous * (1 - elapsed / windowMs) + current;
    if (count + 1 <= limit) {
      this.add(key, windowMs, now);
      return { limited: false, count, retryAfterSeconds: 0 };
    }
    return { limited: true, count, retryAfterSeconds: retryAfter(limit, current, previous, elapsed, windowMs) };
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface RateLimitDecision {
  readonly limited: boolean;
  /** The sliding-window estimate before this request. */
  readonly count: number;
  /** Seconds until a request would be allowed again (for Retry-After), when limited. */
  readonly retryAfterSeconds: number;
}

export class SlidingWindowLimiter {
  constructor(
    private readonly store: RateLimitStore,
    private readonly clock: Clock,
  ) {}

  /** Decides for one request, and counts it when it is allowed. */
  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    return this.store.hit(key, limit, windowSeconds * 1000, this.clock.now());
  }
}

/**
 * When the estimate drops so that one more request fits: within this window if the previous
 * window's weight shrinking is enough, otherwise in the next one, where this window's count
 * becomes the weighted one.
 */
function retryAfter(limit: number, current: number, previous: number, elapsed: number, windowMs: number): number {
  let waitMs: number;
  const room = limit - 1 - current;
  if (room >= 0 && previous > 0) {
    // previous * (1 - t / W) + current <= limit - 1  ⇒  t >= W * (1 - room / previous)
    waitMs = windowMs * (1 - room / previous) - elapsed;
  } else {
    // Next window: current * (1 - t' / W) <= limit - 1  ⇒  t' >= W * (1 - (limit - 1) / current)
    const inNext = current > 0 ? windowMs * Math.max(0, 1 - (limit - 1) / current) : 0;
    waitMs = windowMs - elapsed + inNext;
  }
  return Math.max(1, Math.ceil(waitMs / 1000));
}
