// Request coalescing: one origin fetch per URL at a time. The first request that must go to the
// origin leads a flight; requests for the same URL arriving before the origin's response headers
// wait on it, and when the headers arrive the leader tells each waiter what to do — read the same
// body (the response is one the waiter could have been served from the cache), or look again.
// Requests arriving after the headers wait for the body to be stored, then find it in the cache.
import { CacheError } from './errors.js';
import type { EdgeResponse } from '../types.js';

export type WaiterOutcome =
  /** Served from the leader's origin fetch. */
  | { readonly kind: 'response'; readonly response: EdgeResponse }
  /** Look the request up again, without joining a flight: the store has news, or the response was not for this request. */
  | { readonly kind: 'retry' }
  /** The origin failed: serve stale if allowed, else fail with `error` (or, without one — it answered a 5xx — look again). */
  | { readonly kind: 'failed'; readonly error: unknown };

interface Waiting<W> {
  readonly waiter: W;
  readonly resolve: (outcome: WaiterOutcome) => void;
  readonly stopWatching: () => void;
}

export class Flight<W> {
  /** The origin request's own lifetime, independent of any one client. */
  readonly controller = new AbortController();
  #phase: 'headers' | 'body' | 'done' = 'headers';
  readonly #waiting = new Set<Waiting<W>>();
  #interested = 0;
  readonly #done: Promise<void>;
  #markDone!: () => void;

  /** A background flight (stale-while-revalidate) is not cancelled by the clients waiting on it. */
  constructor(private readonly background: boolean) {
    this.#done = new Promise((resolve) => (this.#markDone = resolve));
  }

  /**
   * Counts a client as interested until the response headers arrive: when every interested
   * client has gone away, nobody wants the answer yet and the origin request is aborted.
   */
  watch(signal: AbortSignal): () => void {
    if (this.background) return () => undefined;
    this.#interested += 1;
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      signal.removeEventListener('abort', onAbort);
      this.#interested -= 1;
    };
    const onAbort = (): void => {
      release();
      if (this.#phase === 'headers' && this.#interested === 0) this.controller.abort(new CacheError('CACHE_ERR_ABORTED', 'every client waiting for this origin response went away'));
    };
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener('abort', onAbort, { once: true });
    return release;
  }

  join(waiter: W, signal: AbortSignal): Promise<WaiterOutcome> {
    if (this.#phase !== 'headers') return this.#afterDone(signal);
    if (signal.aborted) return Promise.reject(new CacheError('CACHE_ERR_ABORTED'));
    return new Promise<WaiterOutcome>((resolve, reject) => {
      const release = this.watch(signal);
      const onAbort = (): void => {
        if (this.#waiting.delete(entry)) reject(new CacheError('CACHE_ERR_ABORTED'));
      };
      const entry: Waiting<W> = {
        waiter,
        resolve,
        stopWatching: () => {
          signal.removeEventListener('abort', onAbort);
          release();
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.add(entry);
    });
  }

  /** The origin's headers arrived: each waiter gets its outcome; later arrivals wait for done(). */
  settle(decide: (waiter: W) => WaiterOutcome): void {
    if (this.#phase !== 'headers') return;
    this.#phase = 'body';
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const w of waiting) {
      w.stopWatching();
      let outcome: WaiterOutcome;
      try {
        outcome = decide(w.waiter);
      } catch {
        outcome = { kind: 'retry' };
      }
      w.resolve(outcome);
    }
  }

  /** The origin could not be reached (or answered an error the waiters may serve stale for). */
  fail(error: unknown): void {
    this.settle(() => ({ kind: 'failed', error }));
    this.finish();
  }

  /** Nothing more will be stored by this flight. */
  finish(): void {
    this.settle(() => ({ kind: 'retry' }));
    this.#phase = 'done';
    this.#markDone();
  }

  get done(): Promise<void> {
    return this.#done;
  }

  async #afterDone(signal: AbortSignal): Promise<WaiterOutcome> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(new CacheError('CACHE_ERR_ABORTED'));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void this.#done.then(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return { kind: 'retry' };
  }
}
