// Many sign operations over one long-lived SignStream per key server. Requests issued in the same
// turn of the event loop go out as one SignBatch; answers come back in any order and are matched
// by request id. A broken stream fails what is pending on it (the pool may retry elsewhere) and
// the next request reopens it, after a backoff if streams keep breaking.
import type * as grpc from '@grpc/grpc-js';
import type { SignBatchMessage, SignRequestMessage, SignResponseMessage, SignResultBatchMessage } from '../../proto/load.js';
import { keyServiceDefinition } from '../../proto/load.js';
import { SignerError } from '../signer.js';
import type { Cancellation } from './cancellation.js';

/** A request as the pool builds it; `deadline_ms` is filled in when the batch is written. */
export type OutgoingSignRequest = Omit<SignRequestMessage, 'deadline_ms'>;

interface Entry {
  readonly request: OutgoingSignRequest;
  /** performance.now() value of the operation's deadline; the key server gets what is left of it. */
  readonly deadlineAt: number;
  readonly cancellation: Cancellation;
  readonly onAbort: () => void;
  readonly resolve: (response: SignResponseMessage) => void;
  readonly reject: (err: unknown) => void;
}

export interface StreamBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export interface SignStreamOptions {
  /** Label for errors and metrics ("host:port"). */
  readonly server: string;
  /** Requests per SignBatch message; the key server closes a stream that sends more than its limit (512 by default). */
  readonly maxBatchSize: number;
  readonly backoff: StreamBackoff;
  /** Called when a stream ends in an error, so the pool can stop routing here until a health check passes. */
  readonly onBroken: (reason: string) => void;
  /** Called for every answer that arrives, so the pool knows the server is alive. */
  readonly onAnswer?: () => void;
  /** Called with the size of every SignBatch written. */
  readonly onBatch?: (size: number) => void;
}

function unavailable(server: string, why: string): SignerError {
  return new SignerError('SIGNER_UNAVAILABLE', `key server ${server}: ${why}`);
}

/** One SignStream call and the requests waiting for an answer on it. */
class StreamSession {
  private readonly pending = new Map<string, Entry>();
  private queue: Entry[] = [];
  private flushScheduled = false;
  private state: 'open' | 'draining' | 'closed' = 'open';
  private readonly call: grpc.ClientDuplexStream<SignBatchMessage, SignResultBatchMessage>;

  constructor(
    client: grpc.Client,
    private readonly options: SignStreamOptions,
    private readonly onClosed: (session: StreamSession, failure: string | undefined) => void,
  ) {
    const method = keyServiceDefinition().SignStream!;
    this.call = client.makeBidiStreamRequest(
      method.path,
      method.requestSerialize as (value: SignBatchMessage) => Buffer,
      method.responseDeserialize as (bytes: Buffer) => SignResultBatchMessage,
    );
    this.call.on('data', (batch: SignResultBatchMessage) => this.receive(batch));
    // The status event carries the outcome; the error event repeats it and must only be consumed.
    this.call.on('error', () => undefined);
    this.call.on('status', (status: grpc.StatusObject) => {
      // Answers already received are still being emitted by the readable side; let them through first.
      setImmediate(() => this.finish(status));
    });
  }

  get open(): boolean {
    return this.state === 'open';
  }

  get size(): number {
    return this.pending.size;
  }

  add(entry: Entry): void {
    if (this.pending.has(entry.request.request_id)) {
      entry.reject(new Error(`duplicate request id ${entry.request.request_id} on one stream`));
      return;
    }
    this.pending.set(entry.request.request_id, entry);
    entry.cancellation.listen(entry.onAbort);
    this.queue.push(entry);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // setImmediate runs after the promise jobs of this turn: every sign started now shares the batch.
      setImmediate(() => this.flush());
    }
  }

  /** Forgets an entry whose caller gave up (deadline, abort); a late answer is ignored. */
  forget(entry: Entry): void {
    if (this.pending.get(entry.request.request_id) === entry) this.pending.delete(entry.request.request_id);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === 'closed') return;
    const now = performance.now();
    // Entries forgotten while queued (aborted, timed out) are not sent at all, nor are those whose
    // deadline has passed (the key server would only answer DEADLINE_EXCEEDED; their timer rejects them).
    const ready = this.queue.filter((e) => this.pending.get(e.request.request_id) === e && e.deadlineAt > now);
    this.queue = [];
    for (let i = 0; i < ready.length; i += this.options.maxBatchSize) {
      const requests = ready.slice(i, i + this.options.maxBatchSize).map((e) => ({
        ...e.request,
        // Rounded up: 0 would mean "the server's default".
        deadline_ms: Math.ceil(e.deadlineAt - now),
      }));
      this.call.write({ requests });
      this.options.onBatch?.(requests.length);
    }
  }

  private receive(batch: SignResultBatchMessage): void {
    for (const response of batch.results) {
      const entry = this.pending.get(response.request_id);
      if (!entry) continue;
      this.pending.delete(response.request_id);
      entry.cancellation.unlisten(entry.onAbort);
      entry.resolve(response);
    }
    this.options.onAnswer?.();
  }

  /** Half-closes the stream: what is pending still gets its answers, nothing new is sent here. */
  drain(): void {
    if (this.state !== 'open') return;
    this.flush();
    this.state = 'draining';
    this.call.end();
  }

  /** Cuts the stream now; pending requests fail. */
  cancel(reason: string): void {
    if (this.state === 'closed') return;
    this.failPending(reason);
    this.call.cancel();
  }

  private finish(status: grpc.StatusObject): void {
    if (this.state === 'closed') return;
    const wasDraining = this.state === 'draining';
    const ok = status.code === 0;
    const failure = ok ? (wasDraining ? undefined : 'the key server ended the stream') : `stream failed: ${status.details || `gRPC status ${status.code}`}`;
    this.failPending(failure ?? 'the stream ended before every request was answered');
    this.onClosed(this, failure);
  }

  private failPending(reason: string): void {
    this.state = 'closed';
    this.queue = [];
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const e of entries) {
      e.cancellation.unlisten(e.onAbort);
      e.reject(unavailable(this.options.server, reason));
    }
  }
}

/** The sign streams to one key server: at most one open, plus any still draining. */
export class SignStreamMultiplexer {
  private current: StreamSession | undefined;
  private readonly draining = new Set<StreamSession>();
  private failures = 0;
  private retryAt = 0;
  private closed = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly options: SignStreamOptions,
  ) {}

  /** Requests sent (or queued) and not yet answered, on every stream to this server. */
  get inFlight(): number {
    let n = this.current?.size ?? 0;
    for (const s of this.draining) n += s.size;
    return n;
  }

  /** False while waiting out the backoff after broken streams. */
  get available(): boolean {
    return !this.closed && (this.current?.open === true || performance.now() >= this.retryAt);
  }

  /**
   * Sends one request and resolves with the key server's answer (which may be a refusal). Rejects
   * with SIGNER_UNAVAILABLE when the stream cannot be used or breaks, and with the cancellation's
   * reason when the operation is cancelled first.
   */
  sign(request: OutgoingSignRequest, deadlineAt: number, cancellation: Cancellation): Promise<SignResponseMessage> {
    if (cancellation.aborted) return Promise.reject(cancellation.reason);
    const session = this.session();
    if (!session) return Promise.reject(unavailable(this.options.server, this.closed ? 'client closed' : 'waiting to reopen the sign stream'));
    return new Promise<SignResponseMessage>((resolve, reject) => {
      const entry: Entry = {
        request,
        deadlineAt,
        cancellation,
        resolve,
        reject,
        onAbort: () => {
          session.forget(entry);
          reject(cancellation.reason);
        },
      };
      session.add(entry);
    });
  }

  /** Stops sending here; the open stream finishes what it has and closes. */
  drain(): void {
    const s = this.current;
    if (!s) return;
    this.current = undefined;
    this.draining.add(s);
    s.drain();
  }

  /** A health check passed: a new stream may be opened at once. */
  resetBackoff(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  close(): void {
    this.closed = true;
    const sessions = [...this.draining, ...(this.current ? [this.current] : [])];
    this.current = undefined;
    this.draining.clear();
    for (const s of sessions) s.cancel('client closed');
  }

  private session(): StreamSession | undefined {
    if (this.current?.open) return this.current;
    if (this.closed || performance.now() < this.retryAt) return undefined;
    this.current = new StreamSession(
      this.client,
      { ...this.options, onAnswer: () => this.answered() },
      (session, failure) => this.sessionClosed(session, failure),
    );
    return this.current;
  }

  private answered(): void {
    this.failures = 0;
    this.options.onAnswer?.();
  }

  private sessionClosed(session: StreamSession, failure: string | undefined): void {
    this.draining.delete(session);
    if (this.current === session) this.current = undefined;
    if (failure === undefined || this.closed) return;
    this.failures++;
    const delay = Math.min(this.options.backoff.maxMs, this.options.backoff.initialMs * 2 ** (this.failures - 1));
    this.retryAt = performance.now() + delay;
    this.options.onBroken(failure);
  }
}
