// The in-memory index both stores keep: which entries exist, their LRU order, and the bounds
// (bytes, entries, variants per key). Pure bookkeeping, so it can be property-tested on its own;
// the stores act on what it says left.
import type { IndexedEntry } from './types.js';

export interface IndexLimits {
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly maxVariantsPerKey: number;
}

export interface InsertResult<R> {
  /** False when the entry alone exceeds maxBytes: nothing changed. */
  readonly admitted: boolean;
  /** The entry with the same key and variant that this one replaced. */
  readonly replaced: R | undefined;
  /** Entries removed to make room, least recently used first. */
  readonly evicted: readonly R[];
}

const slotOf = (key: string, variant: string): string => `${key}\u0000${variant}`;

export class EntryIndex<R extends IndexedEntry> {
  /** Map iteration order is insertion order: re-inserting on use makes the first entry the LRU one. */
  readonly #lru = new Map<string, R>();
  readonly #variants = new Map<string, Map<string, R>>();
  /** When each slot was last used (a counter): picks a key's LRU variant without scanning the whole LRU. */
  readonly #used = new Map<string, number>();
  #clock = 0;
  #bytes = 0;

  constructor(private readonly limits: IndexLimits) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#lru.size;
  }

  find(key: string, variant: string): R | undefined {
    return this.#lru.get(slotOf(key, variant));
  }

  /** The variants of a key, most recently stored first. */
  variants(key: string): R[] {
    const v = this.#variants.get(key);
    return v ? [...v.values()].sort((a, b) => b.storedAt - a.storedAt) : [];
  }

  touch(key: string, variant: string): void {
    const slot = slotOf(key, variant);
    const r = this.#lru.get(slot);
    if (r === undefined) return;
    this.#lru.delete(slot);
    this.#lru.set(slot, r);
    this.#used.set(slot, ++this.#clock);
  }

  insert(record: R): InsertResult<R> {
    if (record.bytes > this.limits.maxBytes) return { admitted: false, replaced: undefined, evicted: [] };
    const replaced = this.remove(record.key, record.variant);
    this.#add(record);
    const evicted: R[] = [];
    const variants = this.#variants.get(record.key)!;
    while (variants.size > this.limits.maxVariantsPerKey) {
      const victim = this.#leastRecentVariant(variants, record);
      if (victim === undefined) break;
      evicted.push(this.remove(victim.key, victim.variant)!);
    }
    evicted.push(...this.#shrink(record));
    return { admitted: true, replaced, evicted };
  }

  /**
   * Swaps a record for one with the same key, variant and id (new metadata, maybe a new size).
   * Returns what had to be evicted for it, or null when there is no such record any more.
   */
  replace(record: R): R[] | null {
    const slot = slotOf(record.key, record.variant);
    const old = this.#lru.get(slot);
    if (old === undefined || old.id !== record.id) return null;
    this.#bytes += record.bytes - old.bytes;
    this.#lru.set(slot, record);
    this.#variants.get(record.key)!.set(record.variant, record);
    return this.#shrink(record);
  }

  remove(key: string, variant: string): R | undefined {
    const slot = slotOf(key, variant);
    const r = this.#lru.get(slot);
    if (r === undefined) return undefined;
    this.#lru.delete(slot);
    this.#used.delete(slot);
    const v = this.#variants.get(key)!;
    v.delete(variant);
    if (v.size === 0) this.#variants.delete(key);
    this.#bytes -= r.bytes;
    return r;
  }

  removeKey(key: string): R[] {
    return this.variants(key).map((r) => this.remove(r.key, r.variant)!);
  }

  removeWhere(predicate: (r: R) => boolean): R[] {
    const out: R[] = [];
    for (const r of [...this.#lru.values()]) if (predicate(r)) out.push(this.remove(r.key, r.variant)!);
    return out;
  }

  values(): IterableIterator<R> {
    return this.#lru.values();
  }

  #add(record: R): void {
    const slot = slotOf(record.key, record.variant);
    this.#lru.set(slot, record);
    this.#used.set(slot, ++this.#clock);
    let v = this.#variants.get(record.key);
    if (v === undefined) this.#variants.set(record.key, (v = new Map()));
    v.set(record.variant, record);
    this.#bytes += record.bytes;
  }

  #leastRecentVariant(variants: Map<string, R>, except: R): R | undefined {
    let victim: R | undefined;
    let oldest = Infinity;
    for (const r of variants.values()) {
      const used = this.#used.get(slotOf(r.key, r.variant)) ?? 0;
      if (r !== except && used < oldest) [victim, oldest] = [r, used];
    }
    return victim;
  }

  /** Evicts least recently used entries, never `keep`, until the byte and entry bounds hold. */
  #shrink(keep: R): R[] {
    const evicted: R[] = [];
    for (const victim of this.#lru.values()) {
      if (this.#bytes <= this.limits.maxBytes && this.#lru.size <= this.limits.maxEntries) break;
      if (victim === keep) continue;
      evicted.push(this.remove(victim.key, victim.variant)!);
    }
    return evicted;
  }
}
