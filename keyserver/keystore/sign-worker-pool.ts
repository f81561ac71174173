// Worker threads that sign for the file key store, so that signing uses every core while the event
// loop (gRPC, policy, the audit log) keeps one of its own, and so that signatures no longer queue in
// libuv's thread pool in front of the audit log's write and fsync calls, which share that pool.
//
// Jobs submitted in one turn of the event loop are sent to the threads in batches (one message
// each way per batch, the messages packed into one transferred buffer) to the thread with the
// fewest jobs, at most `maxBatch` per message and `2 × maxBatch` outstanding per thread; the rest
// wait here, in submission order. Results come back per batch.
//
// Deadlines and cancellation are checked by the signing thread immediately before each signature
// (sign-worker.mjs): a cancelled job's flag in a SharedArrayBuffer is read with Atomics, and its
// deadline is compared on the process-wide monotonic clock. The number of jobs submitted and not
// finished is bounded by `maxPending` (the size of the flag table); beyond it sign() rejects at once.
//
// A thread that dies (a crash in native code, an uncaught exception) or stops answering (no
// answer to a batch within `stuckAfterMs`: it is terminated) fails the jobs it held (their
// signatures were not returned; they may or may not have been computed) and is replaced, with a
// growing delay if replacements keep dying young.
import { Worker } from 'node:worker_threads';

/** Mirrors the constants of sign-worker.mjs. */
const STATUS_OK = 0;
const STATUS_DEADLINE = 1;
const STATUS_CANCELLED = 2;

const WORKER_URL = new URL('./sign-worker.mjs', import.meta.url);

export type SignWorkerErrorCode =
  /** The deadline passed before the signature was made; nothing was signed. */
  | 'SIGN_WORKER_DEADLINE'
  /** The caller cancelled before the signature was made; nothing was signed. */
  | 'SIGN_WORKER_CANCELLED'
  /** maxPending jobs are already submitted. */
  | 'SIGN_WORKER_OVERLOADED'
  /** crypto.sign failed in the thread. */
  | 'SIGN_WORKER_FAILED'
  /** The thread holding the job stopped; its signature was not returned. */
  | 'SIGN_WORKER_CRASHED'
  | 'SIGN_WORKER_CLOSED';

export class SignWorkerError extends Error {
  constructor(
    readonly code: SignWorkerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignWorkerError';
  }
}

/** What crypto.sign takes besides the data: the hash (null for Ed25519) and the key with its padding options. */
export interface SignerParams {
  readonly hash: string | null;
  readonly key: import('node:crypto').KeyObject | import('node:crypto').SignKeyObjectInput;
}

export interface SignWorkerPoolOptions {
  readonly threads: number;
  /** Jobs submitted and not finished, at most. */
  readonly maxPending: number;
  /** Jobs per message to a thread; default 16. */
  readonly maxBatch?: number;
  /**
   * A thread that has not answered a batch after this long is stopped and replaced, and the
   * batch's jobs fail: signing time is bounded even if a thread wedges. Default 10 s.
   */
  readonly stuckAfterMs?: number;
  /**
   * Nice value of the signing threads (Linux; see sign-worker.mjs). Default 0, the process's
   * priority: at nice 10 (the default until 2026-12-03) bench:keyserver measured every cell equal
   * or slower, RSA SignStream at 64 callers about a quarter slower (README, "Key server"), as a thread
   * preempted in the middle of a batch holds the whole batch back.
   */
  readonly niceness?: number;
  /** The thread's script; tests substitute one that misbehaves. */
  readonly workerUrl?: URL;
}

export interface SignWorkerPoolStats {
  readonly threads: number;
  /** Threads running now (less than `threads` while a replacement waits out its delay). */
  readonly alive: number;
  /** Jobs waiting here for a thread. */
  readonly queued: number;
  /** Jobs submitted and not finished (queued or in a thread). */
  readonly pending: number;
  /** Threads replaced after they stopped. */
  readonly restarts: number;
}

/** The process-wide monotonic clock in ms, the one sign-worker.mjs reads. */
function hrNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

interface Job {
  readonly signer: number;
  readonly message: Buffer;
  /** On the hrNowMs() clock. */
  readonly deadline: number;
  readonly slot: number;
  readonly resolve: (signature: Buffer) => void;
  readonly reject: (err: Error) => void;
  readonly signal: AbortSignal | undefined;
}

/** The jobs of one caller's signal: one abort listener flags them all (a SignStream shares one signal across thousands). */
interface Watch {
  readonly slots: Set<number>;
  readonly onAbort: () => void;
}

interface ReadyMessage {
  readonly type: 'ready';
}

interface DoneMessage {
  readonly type: 'done';
  readonly id: number;
  readonly buffer: ArrayBuffer;
  /** By job index, for failed jobs only. */
  readonly errors?: (string | undefined)[];
}

/** Bytes of a batch message: Float64 deadlines[n], Int32 signers[n], slots[n], offsets[n + 1], then the messages. */
function batchBytes(count: number, messageBytes: number): number {
  return 8 * count + 4 * (3 * count + 1) + messageBytes;
}

interface Batch {
  readonly jobs: Job[];
  readonly watchdog: NodeJS.Timeout;
}

class SigningThread {
  readonly worker: Worker;
  readonly batches = new Map<number, Batch>();
  /** Why the thread was stopped by the pool, if it was. */
  stoppedBecause = '';
  /** Settles when the thread has booted (its script ran), or has exited before that. */
  readonly booted: Promise<void>;
  markBooted: () => void = () => undefined;
  failBoot: (err: Error) => void = () => undefined;
  jobs = 0;
  readonly startedAt = performance.now();

  constructor(url: URL, cancelFlags: SharedArrayBuffer, niceness: number) {
    this.booted = new Promise<void>((resolve, reject) => {
      this.markBooted = resolve;
      this.failBoot = reject;
    });
    // ready() may never be asked for (a replacement thread); its failure is reported through the jobs.
    this.booted.catch(() => undefined);
    this.worker = new Worker(url, { workerData: { cancelFlags, niceness } });
    // Idle threads must not keep the process alive; see SignWorkerPool.hold().
    this.worker.unref();
  }
}

export class SignWorkerPool {
  private readonly maxBatch: number;
  private readonly stuckAfterMs: number;
  private readonly url: URL;
  private readonly cancelFlagsBuffer: SharedArrayBuffer;
  private readonly cancelFlags: Int32Array;
  private readonly freeSlots: number[];
  private readonly signers: SignerParams[] = [];
  private readonly watches = new Map<AbortSignal, Watch>();
  private readonly threads: (SigningThread | undefined)[];
  private queue: Job[] = [];
  private flushScheduled = false;
  private nextBatchId = 1;
  private restarts = 0;
  /** Consecutive replacements that died young, per thread index: the backoff exponent. */
  private readonly youngDeaths: number[];
  private closed = false;
  /** hrNowMs() - performance.now(): both are the same monotonic clock, offset by Node's time origin. */
  private readonly clockOffset = hrNowMs() - performance.now();

  constructor(private readonly options: SignWorkerPoolOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError('threads must be a positive integer');
    if (!Number.isInteger(options.maxPending) || options.maxPending < 1) throw new RangeError('maxPending must be a positive integer');
    this.maxBatch = options.maxBatch ?? 16;
    this.stuckAfterMs = options.stuckAfterMs ?? 10_000;
    this.url = options.workerUrl ?? WORKER_URL;
    this.cancelFlagsBuffer = new SharedArrayBuffer(options.maxPending * Int32Array.BYTES_PER_ELEMENT);
    this.cancelFlags = new Int32Array(this.cancelFlagsBuffer);
    this.freeSlots = Array.from({ length: options.maxPending }, (_, i) => options.maxPending - 1 - i);
    this.youngDeaths = Array.from({ length: options.threads }, () => 0);
    this.threads = Array.from({ length: options.threads }, (_, i) => this.spawn(i));
  }

  /**
   * Resolves once every thread has started (a thread boots in tens of milliseconds, using CPU
   * that would otherwise delay the first handshakes); rejects if one exits first.
   */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t?.booted));
  }

  /** True while the pool is open and holds no job (none queued, none on a thread). */
  idle(): boolean {
    return !this.closed && this.freeSlots.length === this.options.maxPending;
  }

  stats(): SignWorkerPoolStats {
    return {
      threads: this.options.threads,
      alive: this.threads.filter((t) => t !== undefined).length,
      queued: this.queue.length,
      pending: this.options.maxPending - this.freeSlots.length,
      restarts: this.restarts,
    };
  }

  /** Makes a key usable in every thread (and in the replacements of threads that die); returns its id for sign(). */
  register(params: SignerParams): number {
    const id = this.signers.length;
    this.signers.push(params);
    for (const thread of this.threads) thread?.worker.postMessage({ type: 'signer', id, hash: params.hash, key: params.key });
    return id;
  }

  /**
   * Signs `message` with a registered signer. `deadlineAt` is a performance.now() value; the
   * signing thread refuses the job once it has passed, or once `signal` has aborted.
   */
  sign(signer: number, message: Buffer, deadlineAt: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.closed) return Promise.reject(new SignWorkerError('SIGN_WORKER_CLOSED', 'the signing threads are stopped'));
    if (signer < 0 || signer >= this.signers.length) return Promise.reject(new RangeError(`no signer ${signer}`));
    if (signal?.aborted) return Promise.reject(new SignWorkerError('SIGN_WORKER_CANCELLED', 'cancelled before signing'));
    const slot = this.freeSlots.pop();
    if (slot === undefined) return Promise.reject(new SignWorkerError('SIGN_WORKER_OVERLOADED', `${this.options.maxPending} signatures are already pending`));
    Atomics.store(this.cancelFlags, slot, 0);
    if (signal) this.watch(signal, slot);
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ signer, message, deadline: deadlineAt + this.clockOffset, slot, resolve, reject, signal });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the current task: every job submitted in it can share a batch.
        queueMicrotask(() => this.flush());
      }
    });
  }

  /** Stops the threads. Jobs not finished reject with SIGN_WORKER_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const queued = this.queue;
    this.queue = [];
    for (const job of queued) this.finish(job, new SignWorkerError('SIGN_WORKER_CLOSED', 'the signing threads were stopped'));
    await Promise.all(this.threads.map((t) => t?.worker.terminate()));
  }

  private spawn(index: number): SigningThread {
    const thread = new SigningThread(this.url, this.cancelFlagsBuffer, this.options.niceness ?? 0);
    this.signers.forEach((params, id) => thread.worker.postMessage({ type: 'signer', id, hash: params.hash, key: params.key }));
    let failure = '';
    thread.worker.on('message', (message: DoneMessage | ReadyMessage) => {
      if (message.type === 'ready') thread.markBooted();
      else this.completed(thread, message);
    });
    // Without a listener an error in the thread would be thrown here; its exit follows.
    thread.worker.on('error', (err: Error) => (failure = err.message));
    thread.worker.once('exit', (code) => this.exited(index, thread, code, failure));
    return thread;
  }

  private flush(): void {
    this.flushScheduled = false;
    const now = hrNowMs();
    const live = this.threads.filter((t): t is SigningThread => t !== undefined);
    while (this.queue.length > 0) {
      let target: SigningThread | undefined;
      for (const t of live) if (t.jobs < 2 * this.maxBatch && (!target || t.jobs < target.jobs)) target = t;
      if (!target) return; // every thread is full (or none is running): completed() and spawn() flush again
      const size = Math.min(this.maxBatch, Math.ceil(this.queue.length / live.length));
      const jobs: Job[] = [];
      while (jobs.length < size && this.queue.length > 0) {
        const job = this.queue.shift()!;
        // No point sending what the thread would refuse.
        if (Atomics.load(this.cancelFlags, job.slot) !== 0) this.finish(job, new SignWorkerError('SIGN_WORKER_CANCELLED', 'cancelled before signing'));
        else if (now >= job.deadline) this.finish(job, new SignWorkerError('SIGN_WORKER_DEADLINE', 'the deadline passed before signing'));
        else jobs.push(job);
      }
      if (jobs.length > 0) this.send(target, jobs);
    }
  }

  private send(thread: SigningThread, jobs: Job[]): void {
    const count = jobs.length;
    let total = 0;
    for (let i = 0; i < count; i++) total += jobs[i]!.message.length;
    // One buffer per batch (layout in sign-worker.mjs): transferring a buffer costs several µs
    // each, a few typed arrays of their own cost more than the signing they describe.
    const buffer = new ArrayBuffer(batchBytes(count, total));
    const deadlines = new Float64Array(buffer, 0, count);
    const ints = new Int32Array(buffer, 8 * count, 3 * count + 1);
    const data = new Uint8Array(buffer, 8 * count + 4 * (3 * count + 1));
    let at = 0;
    for (let i = 0; i < count; i++) {
      const job = jobs[i]!;
      deadlines[i] = job.deadline;
      ints[i] = job.signer;
      ints[count + i] = job.slot;
      ints[2 * count + i] = at;
      data.set(job.message, at);
      at += job.message.length;
    }
    ints[3 * count] = at;
    const id = this.nextBatchId++;
    const watchdog = setTimeout(() => {
      thread.stoppedBecause = `no answer within ${this.stuckAfterMs} ms`;
      void thread.worker.terminate();
    }, this.stuckAfterMs);
    watchdog.unref();
    thread.batches.set(id, { jobs, watchdog });
    if (thread.jobs === 0) thread.worker.ref();
    thread.jobs += count;
    thread.worker.postMessage({ type: 'batch', id, count, buffer }, [buffer]);
  }

  private completed(thread: SigningThread, message: DoneMessage): void {
    const batch = thread.batches.get(message.id);
    if (!batch) return;
    thread.batches.delete(message.id);
    clearTimeout(batch.watchdog);
    const { jobs } = batch;
    thread.jobs -= jobs.length;
    if (thread.jobs === 0) thread.worker.unref();
    const index = this.threads.indexOf(thread);
    if (index >= 0) this.youngDeaths[index] = 0;
    // Result layout (sign-worker.mjs): Int32 status[n], Int32 offsets[n + 1], then the signatures.
    const count = jobs.length;
    const ints = new Int32Array(message.buffer, 0, 2 * count + 1);
    const base = 4 * (2 * count + 1);
    for (let i = 0; i < count; i++) {
      const job = jobs[i]!;
      switch (ints[i]) {
        case STATUS_OK: {
          const start = ints[count + i]!;
          this.finish(job, undefined, Buffer.from(message.buffer, base + start, ints[count + i + 1]! - start));
          break;
        }
        case STATUS_DEADLINE:
          this.finish(job, new SignWorkerError('SIGN_WORKER_DEADLINE', 'the deadline passed before signing'));
          break;
        case STATUS_CANCELLED:
          this.finish(job, new SignWorkerError('SIGN_WORKER_CANCELLED', 'cancelled before signing'));
          break;
        default:
          this.finish(job, new SignWorkerError('SIGN_WORKER_FAILED', message.errors?.[i] ?? 'signing failed'));
      }
    }
    if (this.queue.length > 0) this.flush();
  }

  private exited(index: number, thread: SigningThread, code: number, failure: string): void {
    if (this.threads[index] === thread) this.threads[index] = undefined;
    thread.failBoot(new SignWorkerError('SIGN_WORKER_CRASHED', `signing thread stopped while starting (${failure || `exit code ${code}`})`));
    const why = `signing thread stopped (${thread.stoppedBecause || failure || `exit code ${code}`}); the signature was not returned`;
    for (const { jobs, watchdog } of thread.batches.values()) {
      clearTimeout(watchdog);
      for (const job of jobs) this.finish(job, new SignWorkerError(this.closed ? 'SIGN_WORKER_CLOSED' : 'SIGN_WORKER_CRASHED', why));
    }
    thread.batches.clear();
    if (this.closed) return;
    this.restarts++;
    // A thread that dies soon after it started is likely to die again: wait longer each time.
    const young = performance.now() - thread.startedAt < 1_000;
    this.youngDeaths[index] = young ? this.youngDeaths[index]! + 1 : 0;
    const delay = young ? Math.min(5_000, 50 * 2 ** (this.youngDeaths[index]! - 1)) : 0;
    const replace = (): void => {
      if (this.closed) return;
      this.threads[index] = this.spawn(index);
      this.flush();
    };
    if (delay === 0) replace();
    else setTimeout(replace, delay).unref();
  }

  private watch(signal: AbortSignal, slot: number): void {
    let watch = this.watches.get(signal);
    if (!watch) {
      const slots = new Set<number>();
      watch = { slots, onAbort: () => slots.forEach((s) => Atomics.store(this.cancelFlags, s, 1)) };
      signal.addEventListener('abort', watch.onAbort, { once: true });
      this.watches.set(signal, watch);
    }
    watch.slots.add(slot);
  }

  private unwatch(signal: AbortSignal, slot: number): void {
    const watch = this.watches.get(signal);
    if (!watch) return;
    watch.slots.delete(slot);
    if (watch.slots.size > 0) return;
    signal.removeEventListener('abort', watch.onAbort);
    this.watches.delete(signal);
  }

  private finish(job: Job, err: Error | undefined, signature?: Buffer): void {
    if (job.signal) this.unwatch(job.signal, job.slot);
    // The slot is free again only now: no thread will read its flag any more.
    this.freeSlots.push(job.slot);
    if (err) job.reject(err);
    else job.resolve(signature!);
  }
}
