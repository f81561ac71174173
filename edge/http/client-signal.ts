// "The client went away", as the stages of one request see it. An AbortController per request
// is not free (an EventTarget with its own prototype set up, measured at several microseconds of
// a cache hit under load), and a cache hit never needs one: so the signal exists only once a stage
// asks for it (an origin fetch, a wait on another request's fill), already aborted if the client
// left before that.

export interface ClientSignal {
  /** Whether the client has gone; reading it makes no signal. */
  readonly aborted: boolean;
  /** A signal that fires when the client goes (made on first use). */
  readonly signal: AbortSignal;
}

/** The pipeline's per-request ClientSignal: abort() when the response closes unfinished. */
export class ClientGone implements ClientSignal {
  #controller: AbortController | undefined;
  #gone = false;

  get aborted(): boolean {
    return this.#gone;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#gone) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#controller?.abort();
  }
}

/** A ClientSignal over an existing AbortSignal (callers that already have one). */
export function clientSignalOf(signal: AbortSignal): ClientSignal {
  return {
    get aborted() {
      return signal.aborted;
    },
    signal,
  };
}
