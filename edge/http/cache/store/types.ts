// The store contract of the edge's HTTP cache, in the spirit of undici's CacheStore (get /
// createWriteStream / delete): the store keeps entries — metadata plus a body — and bounds; it
// never decides what may be stored or reused (the cache does, with http-cache-semantics).
import type { Readable, Writable } from 'node:stream';
import type { PolicyObject, RestoredFields } from '../policy.js';

/** What the store keeps beside a body. */
export interface EntryMeta {
  /** Primary key: host + request target (cache-key.ts). */
  readonly key: string;
  /** Secondary key: the Vary-nominated request fields ('' without Vary). */
  readonly variant: string;
  /** Unique per write: names the body, so metadata and body can never be mixed across writes. */
  readonly id: string;
  /** The http-cache-semantics policy: status, response headers, freshness inputs. */
  readonly policy: PolicyObject;
  /** From the Cache-Tag response header, lower-case. */
  readonly tags: readonly string[];
  /** When the entry was written, by the cache's clock (ms). */
  readonly storedAt: number;
  /** Body bytes. */
  readonly size: number;
  /** Client-facing header values an edge TTL replaced for the policy. */
  readonly restore?: RestoredFields | undefined;
}

/** An entry about to be written: the store names it (id) and counts its size once the body has ended. */
export type NewEntry = Omit<EntryMeta, 'size' | 'id'>;

/** What the index holds for every entry (in memory, also for the disk store). */
export interface IndexedEntry {
  readonly key: string;
  readonly variant: string;
  readonly id: string;
  readonly tags: readonly string[];
  readonly storedAt: number;
  /** Bytes counted against maxTotalBytes: body plus metadata. */
  readonly bytes: number;
}

export interface StoreLimits {
  readonly maxObjectBytes: number;
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
  readonly maxVariantsPerKey: number;
}

export interface StoreEvents {
  /** An entry left to keep the store within its bounds (not for deletes or replacements). */
  onEvict?(entry: IndexedEntry): void;
  /** An entry was committed. */
  onStored?(entry: IndexedEntry): void;
  /** An entry failed an integrity check and was discarded. */
  onCorrupt?(what: string, reason: string): void;
  /** A background file operation failed (the entry is already gone from the index). */
  onError?(err: Error): void;
}

export interface CacheStore {
  readonly kind: 'memory' | 'disk';
  /** Metadata of every stored variant of a primary key, most recent first. */
  get(key: string): Promise<readonly EntryMeta[]>;
  /**
   * The body of exactly this entry (by meta.id), or null when it was replaced, deleted or found
   * corrupt meanwhile. Counts as a use for LRU.
   */
  readBody(meta: EntryMeta): Promise<Buffer | Readable | null>;
  /**
   * Streams an entry in. It becomes visible only when the stream has finished ('finish'); an
   * error, destroy(), more than maxObjectBytes (CACHE_ERR_TOO_LARGE) or a delete of its key
   * while it is being written (CACHE_ERR_INVALIDATED) discards it. A previous entry with the same
   * key and variant is replaced.
   */
  createWriteStream(entry: NewEntry): Writable;
  /** New metadata for an entry whose body stays (after a 304, RFC 9111 §4.3.4); false when it is gone or was replaced. */
  updateMeta(meta: EntryMeta): Promise<boolean>;
  /** Deletes every variant of a primary key, and cancels writes to it. Resolves with the number of entries deleted. */
  delete(key: string): Promise<number>;
  /** Deletes (and cancels writes of) every entry the predicate selects. */
  deleteWhere(predicate: (entry: Pick<IndexedEntry, 'key' | 'variant' | 'tags'>) => boolean): Promise<number>;
  stats(): { readonly entries: number; readonly bytes: number };
  /** Cancels writes in progress and waits for file operations to finish. */
  close(): Promise<void>;
}
