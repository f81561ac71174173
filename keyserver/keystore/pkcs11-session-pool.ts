// A fixed set of PKCS#11 sessions. A session holds at most one active signing operation
// (C_SignInit … C_Sign), so each signature borrows a session for its duration; signatures beyond
// the pool size wait here in order. A waiter with a guard gives up when its deadline passes or its
// caller cancels, and the guard is checked again once a session is in hand: a request that waited
// past its deadline is never signed.
import type { Handle, Pkcs11 } from './pkcs11-module.js';
import { checkGuard, KeyStoreError } from './key-store.js';
import type { SignGuard } from './key-store.js';

interface Waiter {
  readonly resolve: (session: Handle) => void;
  readonly reject: (err: Error) => void;
  /** Clears the waiter's deadline timer and abort listener once it has a session (or the pool closed). */
  settled?: () => void;
}

export class SessionPool {
  private readonly idle: Handle[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly all = new Set<Handle>();
  /** Callers holding a session or waiting for one. */
  private borrowed = 0;
  private drained: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly lib: Pkcs11,
    private readonly openSession: () => Handle,
    sessions: readonly Handle[],
  ) {
    for (const s of sessions) {
      this.all.add(s);
      this.idle.push(s);
    }
  }

  /** Runs `fn` with a session of its own. When `fn` throws, the session is replaced: its operation state is unknown. */
  async use<T>(fn: (session: Handle) => Promise<T>, guard?: SignGuard, source = 'pkcs11'): Promise<T> {
    const session = await this.acquire(guard, source);
    try {
      checkGuard(source, guard);
    } catch (refusal) {
      // Nothing was started on the session: it goes back as it came.
      this.release(session, true);
      throw refusal;
    }
    let healthy = true;
    try {
      return await fn(session);
    } catch (err) {
      healthy = false;
      throw err;
    } finally {
      this.release(session, healthy);
    }
  }

  /** Any one session for a short synchronous call; the caller must not start an operation on it. */
  anySession(): Handle {
    const first = this.all.values().next();
    if (first.done) throw new KeyStoreError('KEYSTORE_PKCS11', 'the PKCS#11 store has no open session');
    return first.value;
  }

  /** Stops lending, waits for borrowed sessions to come back, and hands every session to `finish` (logout, close). */
  async close(finish: (sessions: Handle[]) => void): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      this.borrowed--;
      waiter.settled?.();
      waiter.reject(new KeyStoreError('KEYSTORE_PKCS11', 'the PKCS#11 store is closed'));
    }
    if (this.borrowed > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    finish([...this.all]);
    this.all.clear();
    this.idle.length = 0;
  }

  private acquire(guard: SignGuard | undefined, source: string): Promise<Handle> {
    if (this.closed) return Promise.reject(new KeyStoreError('KEYSTORE_PKCS11', 'the PKCS#11 store is closed'));
    try {
      checkGuard(source, guard);
    } catch (refusal) {
      return Promise.reject(refusal);
    }
    this.borrowed++;
    const session = this.idle.pop();
    if (session !== undefined) return Promise.resolve(session);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (guard !== undefined) {
        // Give up the place in the queue when the deadline passes or the caller goes away.
        const giveUp = (): void => {
          const i = this.waiters.indexOf(waiter);
          if (i < 0) return;
          // The timer and the abort listener go with the place in the queue (the signal may be a
          // whole stream's, living much longer than this request).
          waiter.settled?.();
          this.waiters.splice(i, 1);
          this.borrowed--;
          if (this.borrowed === 0 && this.drained) this.drained();
          try {
            checkGuard(source, guard);
            reject(new KeyStoreError('KEYSTORE_DEADLINE', `${source}: the deadline passed while waiting for a PKCS#11 session`));
          } catch (refusal) {
            reject(refusal);
          }
        };
        const left = guard.deadlineAt - performance.now();
        // setTimeout takes at most 2^31-1 ms (and fires at once beyond it): no timer for "no deadline".
        const timer = Number.isFinite(left) && left < 2 ** 31 - 1 ? setTimeout(giveUp, Math.max(0, Math.ceil(left))) : undefined;
        const onAbort = (): void => giveUp();
        guard.signal.addEventListener('abort', onAbort, { once: true });
        waiter.settled = () => {
          if (timer !== undefined) clearTimeout(timer);
          guard.signal.removeEventListener('abort', onAbort);
        };
      }
      this.waiters.push(waiter);
    });
  }

  private release(session: Handle, healthy: boolean): void {
    let next = session;
    if (!healthy) {
      try {
        const fresh = this.openSession();
        this.all.delete(session);
        this.all.add(fresh);
        next = fresh;
        this.lib.C_CloseSession(session);
      } catch {
        // Keep the old session: the next C_SignInit on it either works or reports why.
      }
    }
    // `borrowed` counts callers holding or waiting for a session; this one is done.
    this.borrowed--;
    const waiter = this.waiters.shift();
    if (waiter) {
      // Handed over directly (the waiter was counted in `borrowed` when it began to wait).
      waiter.settled?.();
      waiter.resolve(next);
      return;
    }
    this.idle.push(next);
    if (this.borrowed === 0 && this.drained) this.drained();
  }
}
