// Persistent collections (IP, GLOBAL, SESSION, USER, RESOURCE): what initcol binds and setvar /
// expirevar write across requests (Reference Manual v2.x, "Persistent storage"). CRS uses them
// only for IP reputation (910) and DoS protection (912) when those are configured.
//
// The store is an interface; the default keeps records in memory, bounded in number (the oldest
// record goes first), each expiring SecCollectionTimeout (default 3600 s) after its last write,
// and each variable optionally earlier (expirevar).
import type { Clock } from '../clock.js';

export interface CollectionRecord {
  /** Lower-case variable name → value. */
  readonly values: Map<string, string>;
  /** Per-variable expiry (ms since epoch), from expirevar. */
  readonly expires: Map<string, number>;
}

export interface CollectionStore {
  /** The live record (expired variables removed), or undefined. */
  read(collection: string, key: string): CollectionRecord | undefined;
  /** The record to write to, created if needed; its lifetime restarts. */
  write(collection: string, key: string): CollectionRecord;
}

export class MemoryCollectionStore implements CollectionStore {
  private readonly records = new Map<string, { record: CollectionRecord; expiresAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly options: { readonly maxRecords: number; readonly timeoutSeconds: number } = { maxRecords: 100_000, timeoutSeconds: 3600 },
  ) {}

  read(collection: string, key: string): CollectionRecord | undefined {
    const id = `${collection}\0${key}`;
    const entry = this.records.get(id);
    if (!entry) return undefined;
    const now = this.clock.now();
    if (entry.expiresAt <= now) {
      this.records.delete(id);
      return undefined;
    }
    for (const [name, at] of entry.record.expires) {
      if (at <= now) {
        entry.record.values.delete(name);
        entry.record.expires.delete(name);
      }
    }
    return entry.record;
  }

  write(collection: string, key: string): CollectionRecord {
    const id = `${collection}\0${key}`;
    const existing = this.read(collection, key);
    const record = existing ?? { values: new Map(), expires: new Map() };
    // Re-inserting moves the record to the end: the map's order is the eviction order.
    this.records.delete(id);
    this.records.set(id, { record, expiresAt: this.clock.now() + this.options.timeoutSeconds * 1000 });
    while (this.records.size > this.options.maxRecords) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
    return record;
  }
}
