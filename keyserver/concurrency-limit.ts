// Bounds the signatures in flight on one key store. Callers beyond the bound wait in a FIFO
// queue of bounded length; a waiter whose deadline passes or whose call is cancelled leaves the
// queue without ever being signed.
export class OverloadedError extends Error {
  readonly code = 'OVERLOADED';
  constructor() {
    super('too many signatures queued for this key store');
  }
}

export class AbortedWhileQueuedError extends Error {
  readonly code = 'ABORTED';
  constructor(readonly reason: unknown) {
    super('aborted while waiting for a signing slot');
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class ConcurrencyLimit {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly maxInFlight: number,
    readonly maxQueued: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Runs fn once a slot is free. `signal` is asked for only when the caller has to wait, so the
   * common uncontended path creates no timers.
   */
  async run<T>(fn: () => Promise<T>, signal?: () => AbortSignal): Promise<T> {
    if (this.active < this.maxInFlight) this.active++;
    else await this.acquire(signal?.());
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedWhileQueuedError(signal.reason));
    if (this.waiters.length >= this.maxQueued) return Promise.reject(new OverloadedError());
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new AbortedWhileQueuedError(signal?.reason));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) {
      // The slot passes straight to the next waiter.
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
      return;
    }
    this.active--;
  }
}
