// Fans one origin body out to the store and to every client reading it (the request that missed
// and the requests coalesced onto it): the tee of a miss. The origin is read at the pace of the
// slowest reader (backpressure), so memory stays bounded by the streams' own buffers; no whole
// body is held. A body that fails or ends short is never committed, and its readers see an
// error instead of a silently truncated response.
import { PassThrough, Readable, type Writable } from 'node:stream';
import { CacheError } from './errors.js';

export interface FanoutOptions {
  /** The sink is dropped (the body streams on unstored) once more bytes than this arrived. */
  readonly maxStoredBytes: number;
  /** Content-Length of the response: a body of another length is incomplete. */
  readonly expectedLength: number | undefined;
  /** The sink was dropped before it committed: too large, a write error, invalidated. */
  readonly onSinkDropped?: (err: Error) => void;
}

export interface FanoutResult {
  /** The whole body arrived. */
  readonly complete: boolean;
  readonly bytes: number;
  /** The sink committed the entry. */
  readonly stored: boolean;
}

/** Larger than a stream's default: fewer drain round trips per origin chunk, still bounded. */
const BRANCH_BUFFER_BYTES = 64 * 1024;

function toReadable(body: Readable | Buffer | null): Readable {
  if (body === null) return Readable.from([]);
  if (Buffer.isBuffer(body)) return Readable.from([body]);
  return body;
}

function writableGone(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

export class BodyFanout {
  readonly #source: Readable;
  readonly #branches = new Set<PassThrough>();
  #sink: Writable | undefined;
  #sinkDropped = false;
  #started = false;

  constructor(
    source: Readable | Buffer | null,
    private readonly options: FanoutOptions,
  ) {
    this.#source = toReadable(source);
  }

  /** A reader of the whole body. Only before run(): a later reader would miss bytes. */
  branch(): Readable {
    if (this.#started) throw new Error('BodyFanout.branch() after run()');
    const b = new PassThrough({ highWaterMark: BRANCH_BUFFER_BYTES });
    // The consumer may destroy its branch with an error (a client that went away); that is its
    // business, not a crash of the fan-out.
    b.on('error', () => undefined);
    b.once('close', () => {
      this.#branches.delete(b);
      this.#abandonIfUnread();
    });
    this.#branches.add(b);
    return b;
  }

  /** The store writer. It keeps the origin body flowing even when every client has gone. */
  store(sink: Writable): void {
    if (this.#started) throw new Error('BodyFanout.store() after run()');
    this.#sink = sink;
    sink.on('error', (err: Error) => this.#dropSink(err));
  }

  async run(): Promise<FanoutResult> {
    this.#started = true;
    let bytes = 0;
    let failure: CacheError | undefined;
    try {
      for await (const raw of this.#source) {
        const chunk: Buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
        bytes += chunk.length;
        if (this.#sink && bytes > this.options.maxStoredBytes) this.#dropSink(new CacheError('CACHE_ERR_TOO_LARGE'));
        if (this.#branches.size === 0 && this.#sink === undefined) return { complete: false, bytes, stored: false };
        await this.#writeToAll(chunk);
      }
      const expected = this.options.expectedLength;
      if (expected !== undefined && bytes !== expected) {
        failure = new CacheError('CACHE_ERR_INCOMPLETE_BODY', `the origin sent ${bytes} of ${expected} bytes`);
      }
    } catch (err) {
      failure = err instanceof CacheError ? err : new CacheError('CACHE_ERR_INCOMPLETE_BODY', `the origin body failed: ${(err as Error)?.message}`, { cause: err });
    }
    if (failure) {
      this.#sink?.destroy(failure);
      for (const b of this.#branches) b.destroy(failure);
      return { complete: false, bytes, stored: false };
    }
    for (const b of this.#branches) b.end();
    const stored = this.#sink ? await this.#commit(this.#sink) : false;
    return { complete: true, bytes, stored };
  }

  #commit(sink: Writable): Promise<boolean> {
    return new Promise((resolve) => {
      if (sink.destroyed) return resolve(false);
      sink.once('finish', () => resolve(true));
      sink.once('close', () => resolve(sink.writableFinished));
      sink.end();
    });
  }

  async #writeToAll(chunk: Buffer): Promise<void> {
    const waits: Promise<void>[] = [];
    const targets: Writable[] = [...this.#branches];
    if (this.#sink) targets.push(this.#sink);
    for (const t of targets) {
      if (t.destroyed || t.writableEnded) continue;
      if (!t.write(chunk)) waits.push(writableGone(t));
    }
    if (waits.length > 0) await Promise.all(waits);
  }

  #dropSink(err: Error): void {
    const sink = this.#sink;
    if (sink === undefined) return;
    this.#sink = undefined;
    if (!this.#sinkDropped) {
      this.#sinkDropped = true;
      this.options.onSinkDropped?.(err);
    }
    sink.destroy(err instanceof CacheError ? err : new CacheError('CACHE_ERR_STORE_WRITE', err.message, { cause: err }));
    this.#abandonIfUnread();
  }

  /** Nobody reads and nothing is stored: stop the origin transfer instead of draining it. */
  #abandonIfUnread(): void {
    if (this.#started && this.#branches.size === 0 && this.#sink === undefined && !this.#source.readableEnded) this.#source.destroy();
  }
}
