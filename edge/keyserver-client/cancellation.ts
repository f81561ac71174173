// The cancellation of one sign operation inside the client: fired by the operation's deadline
// timer or by the caller's AbortSignal, heard by the attempt in progress (one at a time: a retry
// starts only after the first attempt has settled). An AbortController per operation would do the
// same, but creating its AbortSignal costs ~8 µs on Node 20, more than the rest of the client's
// own work for a request.
export class Cancellation {
  private fired: { readonly reason: unknown } | undefined;
  private listener: (() => void) | undefined;

  get aborted(): boolean {
    return this.fired !== undefined;
  }

  /** Why it was cancelled (a SignerError); undefined while it is not. */
  get reason(): unknown {
    return this.fired?.reason;
  }

  /** The first call wins; the listener, if any, is called once. */
  cancel(reason: unknown): void {
    if (this.fired) return;
    this.fired = { reason };
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }

  /** Replaces the listener: the attempt in progress. */
  listen(listener: () => void): void {
    this.listener = listener;
  }

  unlisten(listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }
}
