// Token buckets per edge identity. A bucket refills continuously at perSecond up to burst.
export interface RateLimit {
  readonly perSecond: number;
  readonly burst?: number | undefined;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
  limit: RateLimit;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Takes one token for `name`; false when the bucket is empty. */
  take(name: string, limit: RateLimit): boolean {
    const capacity = limit.burst ?? Math.max(1, Math.ceil(limit.perSecond));
    const t = this.now();
    let bucket = this.buckets.get(name);
    if (!bucket || bucket.limit.perSecond !== limit.perSecond || bucket.limit.burst !== limit.burst) {
      // A new or changed limit (after a reload) starts full.
      bucket = { tokens: capacity, updatedMs: t, limit };
      this.buckets.set(name, bucket);
    }
    bucket.tokens = Math.min(capacity, bucket.tokens + ((t - bucket.updatedMs) / 1000) * limit.perSecond);
    bucket.updatedMs = t;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
