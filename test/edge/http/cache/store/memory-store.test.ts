// The memory store: byte-bounded LRU (also as a property over random writes), the object size
// limit, deletes that cancel writes in progress, variants per key; and LRU eviction by bytes
// seen through the cache.
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../../../edge/http/cache/store/memory-store.js';
import { cacheHarness, fixed, metricValue, startOrigin, type CacheHarness, type TestOrigin } from '../helpers.js';
import { policyFor, put, read, roomy } from './store-helpers.js';

describe('the memory store', () => {
  it('never holds more bytes or entries than its bounds, whatever is written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ maxTotalBytes: fc.integer({ min: 2000, max: 20_000 }), maxEntries: fc.integer({ min: 1, max: 20 }) }),
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 30 }), size: fc.integer({ min: 0, max: 1500 }) }), { maxLength: 40 }),
        async (bounds, writes) => {
          const store = createMemoryStore({ ...roomy, ...bounds, maxObjectBytes: 1500 });
          for (const w of writes) {
            await put(store, `m.test/${w.key}`, 'x'.repeat(w.size));
            const { bytes, entries } = store.stats();
            expect(bytes).toBeLessThanOrEqual(bounds.maxTotalBytes);
            expect(entries).toBeLessThanOrEqual(bounds.maxEntries);
          }
          // The last write is always there: eviction never takes the entry being added.
          const last = writes.at(-1);
          if (last) expect(await read(store, `m.test/${last.key}`)).toBe('x'.repeat(last.size));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a body over maxObjectBytes with CACHE_ERR_TOO_LARGE', async () => {
    const store = createMemoryStore({ ...roomy, maxObjectBytes: 4 });
    await expect(put(store, 'm.test/big', '12345')).rejects.toMatchObject({ code: 'CACHE_ERR_TOO_LARGE' });
    expect(store.stats().entries).toBe(0);
  });

  it('a delete cancels a write in progress for that key', async () => {
    const store = createMemoryStore(roomy);
    const source = new PassThrough();
    const done = pipeline(source, store.createWriteStream({ key: 'm.test/w', variant: '', policy: policyFor('m.test/w'), tags: [], storedAt: 1 }));
    source.write('a');
    expect(await store.delete('m.test/w')).toBe(0);
    source.end('b');
    await expect(done).rejects.toMatchObject({ code: 'CACHE_ERR_INVALIDATED' });
    expect(await store.get('m.test/w')).toEqual([]);
  });

  it('keeps at most maxVariantsPerKey variants, dropping the least recently used', async () => {
    const store = createMemoryStore({ ...roomy, maxVariantsPerKey: 2 });
    await put(store, 'm.test/v', 'one', { variant: '1' });
    await put(store, 'm.test/v', 'two', { variant: '2' });
    expect(await read(store, 'm.test/v', '1')).toBe('one'); // now 2 is the least recently used
    await put(store, 'm.test/v', 'three', { variant: '3' });
    expect((await store.get('m.test/v')).map((m) => m.variant).sort()).toEqual(['1', '3']);
  });

  it('a body read before a replacement stays consistent: readBody by the old metadata is null', async () => {
    const store = createMemoryStore(roomy);
    await put(store, 'm.test/r', 'old');
    const [old] = await store.get('m.test/r');
    await put(store, 'm.test/r', 'new');
    expect(await store.readBody(old!)).toBeNull();
  });
});

describe('LRU eviction by bytes through the cache', () => {
  let origin: TestOrigin;
  let h: CacheHarness;
  beforeEach(async () => {
    origin = await startOrigin();
    for (const n of [1, 2, 3, 4]) origin.route(`/${n}`, fixed(200, { 'cache-control': 'max-age=600' }, String(n).repeat(1000)));
    // Room for three 1000-byte bodies with their metadata, not four.
    h = await cacheHarness(origin, { maxTotalBytes: 5500, maxObjectBytes: 2000 });
  });
  afterEach(async () => {
    await h.close();
    await origin.stop();
  });

  it('evicts the least recently used entry, not the oldest', async () => {
    for (const n of [1, 2, 3]) await h.fetchText(`/${n}`);
    await h.cache.settled();
    expect(h.cache.stats().entries).toBe(3);
    expect((await h.fetchText('/1')).status).toContain('hit'); // 2 is now the least recently used
    await h.fetchText('/4');
    await h.cache.settled();
    expect(h.cache.stats().bytes).toBeLessThanOrEqual(5500);
    expect((await h.fetchText('/1')).status).toContain('hit');
    expect((await h.fetchText('/3')).status).toContain('hit');
    expect((await h.fetchText('/2')).status).toContain('miss');
    expect(await metricValue(h.registry, 'keyless_edge_cache_evictions_total')).toBeGreaterThanOrEqual(1);
  });
});
