// Time as the WAF reads it: injectable, so rate limits and collection expiry are tested with a fake clock.

export interface Clock {
  /** Milliseconds; only differences matter, except for TIME* variables which read wall time. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
