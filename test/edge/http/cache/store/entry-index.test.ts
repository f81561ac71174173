// The LRU index both stores use, checked against a plain reference model over random operation
// sequences: the byte, entry and per-key variant bounds always hold, the byte count is exact,
// and what leaves is always the least recently used.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EntryIndex, type IndexLimits } from '../../../../../edge/http/cache/store/entry-index.js';
import type { IndexedEntry } from '../../../../../edge/http/cache/store/types.js';

type Op =
  | { op: 'insert'; key: string; variant: string; bytes: number }
  | { op: 'touch'; key: string; variant: string }
  | { op: 'remove'; key: string; variant: string }
  | { op: 'replace'; key: string; variant: string; bytes: number };

const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
const variant = fc.constantFrom('', 'v1', 'v2');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), key, variant, bytes: fc.integer({ min: 0, max: 600 }) }),
  fc.record({ op: fc.constant('touch' as const), key, variant }),
  fc.record({ op: fc.constant('remove' as const), key, variant }),
  fc.record({ op: fc.constant('replace' as const), key, variant, bytes: fc.integer({ min: 0, max: 600 }) }),
);
const limitsArb = fc.record({ maxBytes: fc.integer({ min: 100, max: 2000 }), maxEntries: fc.integer({ min: 1, max: 8 }), maxVariantsPerKey: fc.integer({ min: 1, max: 3 }) });

/** The reference: an array in LRU order (least recent first), evicting exactly as specified. */
class Model {
  list: IndexedEntry[] = [];
  constructor(private readonly limits: IndexLimits) {}
  private find = (k: string, v: string): number => this.list.findIndex((r) => r.key === k && r.variant === v);
  private bytes = (): number => this.list.reduce((s, r) => s + r.bytes, 0);
  insert(r: IndexedEntry): string[] {
    if (r.bytes > this.limits.maxBytes) return [];
    const i = this.find(r.key, r.variant);
    if (i >= 0) this.list.splice(i, 1);
    this.list.push(r);
    const evicted: string[] = [];
    while (this.list.filter((x) => x.key === r.key).length > this.limits.maxVariantsPerKey) {
      const j = this.list.findIndex((x) => x.key === r.key && x !== r);
      evicted.push(...this.list.splice(j, 1).map((x) => x.id));
    }
    this.shrink(r, evicted);
    return evicted;
  }
  replace(r: IndexedEntry): string[] | null {
    const i = this.find(r.key, r.variant);
    if (i < 0 || this.list[i]!.id !== r.id) return null;
    this.list[i] = r;
    const evicted: string[] = [];
    this.shrink(r, evicted);
    return evicted;
  }
  private shrink(keep: IndexedEntry, evicted: string[]): void {
    while (this.bytes() > this.limits.maxBytes || this.list.length > this.limits.maxEntries) {
      const j = this.list.findIndex((x) => x !== keep);
      if (j < 0) break;
      evicted.push(...this.list.splice(j, 1).map((x) => x.id));
    }
  }
  touch(k: string, v: string): void {
    const i = this.find(k, v);
    if (i >= 0) this.list.push(...this.list.splice(i, 1));
  }
  remove(k: string, v: string): void {
    const i = this.find(k, v);
    if (i >= 0) this.list.splice(i, 1);
  }
}

describe('EntryIndex', () => {
  it('matches the reference model and never exceeds its bounds', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(opArb, { maxLength: 80 }), (limits, ops) => {
        const index = new EntryIndex<IndexedEntry>(limits);
        const model = new Model(limits);
        let n = 0;
        for (const o of ops) {
          if (o.op === 'insert') {
            const r: IndexedEntry = { key: o.key, variant: o.variant, id: `id${n++}`, tags: [], storedAt: n, bytes: o.bytes };
            const result = index.insert(r);
            expect(result.evicted.map((e) => e.id)).toEqual(model.insert(r));
            expect(result.admitted).toBe(o.bytes <= limits.maxBytes);
          } else if (o.op === 'replace') {
            const current = index.find(o.key, o.variant);
            const r: IndexedEntry = { key: o.key, variant: o.variant, id: current?.id ?? 'absent', tags: [], storedAt: n, bytes: Math.min(o.bytes, limits.maxBytes) };
            expect(index.replace(r)?.map((e) => e.id) ?? null).toEqual(model.replace(r));
          } else if (o.op === 'touch') {
            index.touch(o.key, o.variant);
            model.touch(o.key, o.variant);
          } else {
            index.remove(o.key, o.variant);
            model.remove(o.key, o.variant);
          }
          const values = [...index.values()];
          expect(values.map((r) => r.id)).toEqual(model.list.map((r) => r.id));
          expect(index.bytes).toBe(values.reduce((s, r) => s + r.bytes, 0));
          expect(index.bytes).toBeLessThanOrEqual(limits.maxBytes);
          expect(index.size).toBeLessThanOrEqual(limits.maxEntries);
          for (const k of new Set(values.map((r) => r.key))) expect(index.variants(k).length).toBeLessThanOrEqual(limits.maxVariantsPerKey);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an entry larger than the whole store, changing nothing', () => {
    const index = new EntryIndex<IndexedEntry>({ maxBytes: 100, maxEntries: 10, maxVariantsPerKey: 2 });
    index.insert({ key: 'a', variant: '', id: '1', tags: [], storedAt: 1, bytes: 50 });
    const result = index.insert({ key: 'a', variant: '', id: '2', tags: [], storedAt: 2, bytes: 101 });
    expect(result).toEqual({ admitted: false, replaced: undefined, evicted: [] });
    expect(index.find('a', '')?.id).toBe('1');
  });
});
