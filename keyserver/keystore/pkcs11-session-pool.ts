// A fixed set of PKCS#11 sessions. A session holds at most one active signing operation
// (C_SignInit … C_Sign), so each signature borrows a session for its duration; signatures beyond
// the pool size wait here in order.
import type { Handle, Pkcs11 } from './pkcs11-module.js';
import { KeyStoreError } from './key-store.js';

export class SessionPool {
  private readonly idle: Handle[] = [];
  private readonly waiters: Array<{ resolve: (session: Handle) => void; reject: (err: Error) => void }> = [];
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
  async use<T>(fn: (session: Handle) => Promise<T>): Promise<T> {
    const session = await this.acquire();
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
      waiter.reject(new KeyStoreError('KEYSTORE_PKCS11', 'the PKCS#11 store is closed'));
    }
    if (this.borrowed > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    finish([...this.all]);
    this.all.clear();
    this.idle.length = 0;
  }

  private acquire(): Promise<Handle> {
    if (this.closed) return Promise.reject(new KeyStoreError('KEYSTORE_PKCS11', 'the PKCS#11 store is closed'));
    this.borrowed++;
    const session = this.idle.pop();
    if (session !== undefined) return Promise.resolve(session);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
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
      waiter.resolve(next);
      return;
    }
    this.idle.push(next);
    if (this.borrowed === 0 && this.drained) this.drained();
  }
}
