// The memory store: entries in a Map, bodies as one Buffer each, bounded in bytes and entries
// with LRU eviction. Commits are synchronous, so a delete can never race one.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { CacheError } from '../errors.js';
import { EntryIndex } from './entry-index.js';
import type { CacheStore, EntryMeta, IndexedEntry, NewEntry, StoreEvents, StoreLimits } from './types.js';

interface Stored {
  readonly meta: EntryMeta;
  readonly body: Buffer;
}

type MemoryRecord = IndexedEntry & { readonly stored: Stored };

/** Metadata is counted too: a million tiny responses are not free. */
function metaBytes(meta: EntryMeta): number {
  return Buffer.byteLength(JSON.stringify(meta));
}

export function createMemoryStore(limits: StoreLimits, events: StoreEvents = {}): CacheStore {
  const index = new EntryIndex<MemoryRecord>({ maxBytes: limits.maxTotalBytes, maxEntries: limits.maxEntries, maxVariantsPerKey: limits.maxVariantsPerKey });
  const pending = new Set<PendingWrite>();
  let closed = false;

  class PendingWrite extends Writable {
    readonly #chunks: Buffer[] = [];
    #size = 0;
    #cancelled: CacheError | undefined;

    constructor(readonly entry: NewEntry) {
      super();
      pending.add(this);
      this.once('close', () => pending.delete(this));
    }

    cancel(err: CacheError): void {
      this.#cancelled = err;
      this.destroy(err);
    }

    override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
      this.#size += buf.length;
      if (this.#size > limits.maxObjectBytes) return callback(new CacheError('CACHE_ERR_TOO_LARGE'));
      this.#chunks.push(buf);
      callback();
    }

    override _final(callback: (err?: Error | null) => void): void {
      if (closed) return callback(new CacheError('CACHE_ERR_CLOSED'));
      if (this.#cancelled) return callback(this.#cancelled);
      const meta: EntryMeta = { ...this.entry, id: randomBytes(16).toString('hex'), size: this.#size };
      const stored: Stored = { meta, body: Buffer.concat(this.#chunks, this.#size) };
      const record: MemoryRecord = { key: meta.key, variant: meta.variant, id: meta.id, tags: meta.tags, storedAt: meta.storedAt, bytes: this.#size + metaBytes(meta), stored };
      const result = index.insert(record);
      if (!result.admitted) return callback(new CacheError('CACHE_ERR_TOO_LARGE', 'the entry with its metadata exceeds maxTotalBytes'));
      for (const e of result.evicted) events.onEvict?.(e);
      events.onStored?.(record);
      callback();
    }
  }

  const cancelWhere = (predicate: (e: NewEntry) => boolean): void => {
    for (const w of pending) if (predicate(w.entry)) w.cancel(new CacheError('CACHE_ERR_INVALIDATED'));
  };

  return {
    kind: 'memory',

    async get(key) {
      return index.variants(key).map((r) => r.stored.meta);
    },

    async readBody(meta) {
      const r = index.find(meta.key, meta.variant);
      if (r === undefined || r.id !== meta.id) return null;
      index.touch(meta.key, meta.variant);
      return r.stored.body;
    },

    createWriteStream(entry) {
      const w = new PendingWrite(entry);
      if (closed) w.destroy(new CacheError('CACHE_ERR_CLOSED'));
      return w;
    },

    async updateMeta(meta) {
      const r = index.find(meta.key, meta.variant);
      if (r === undefined || r.id !== meta.id) return false;
      const stored: Stored = { meta, body: r.stored.body };
      const evicted = index.replace({ ...r, tags: meta.tags, storedAt: meta.storedAt, bytes: meta.size + metaBytes(meta), stored });
      for (const e of evicted ?? []) events.onEvict?.(e);
      return evicted !== null;
    },

    async delete(key) {
      cancelWhere((e) => e.key === key);
      return index.removeKey(key).length;
    },

    async deleteWhere(predicate) {
      cancelWhere(predicate);
      return index.removeWhere(predicate).length;
    },

    stats: () => ({ entries: index.size, bytes: index.bytes }),

    async close() {
      closed = true;
      for (const w of pending) w.cancel(new CacheError('CACHE_ERR_CLOSED'));
    },
  };
}
