// The disk store on a real directory: entries survive a reopen, anything unsound on disk is
// discarded (not thrown), writes are atomic, deletes win over writes in progress, bounds hold
// at start. And through the cache: a "restart" of the edge keeps serving hits.
import { mkdir, readdir, readFile, rm, writeFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDiskStore } from '../../../../../edge/http/cache/store/disk-store.js';
import { entryName } from '../../../../../edge/http/cache/store/disk-format.js';
import type { StoreEvents } from '../../../../../edge/http/cache/store/types.js';
import { tempDir } from '../../../../helpers/tmp.js';
import { cacheHarness, startOrigin, fixed, metricValue } from '../helpers.js';
import { policyFor, put, read, roomy } from './store-helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('disk-store'));
});
afterEach(async () => {
  await cleanup();
});

const files = async (): Promise<string[]> => {
  const out: string[] = [];
  for (const sub of ['v1', 'tmp']) {
    const root = path.join(dir, sub);
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])) if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath, entry.name)));
  }
  return out.sort();
};

const metaFile = (key: string, variant = ''): string => {
  const name = entryName(key, variant);
  return path.join(dir, 'v1', name.slice(0, 2), `${name}.meta`);
};

async function bodyFile(key: string): Promise<string> {
  const name = entryName(key, '');
  const shard = path.join(dir, 'v1', name.slice(0, 2));
  const body = (await readdir(shard)).find((f) => f.startsWith(name) && f.endsWith('.body'))!;
  return path.join(shard, body);
}

function recording(): StoreEvents & { corrupt: string[]; evicted: string[] } {
  const corrupt: string[] = [];
  const evicted: string[] = [];
  return { corrupt, evicted, onCorrupt: (_what, reason) => corrupt.push(reason), onEvict: (e) => evicted.push(e.key) };
}

describe('the disk store', () => {
  it('keeps entries, variants, tags and updated metadata across a reopen', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/one', 'first');
    await put(store, 'a.test/one', 'second variant', { variant: 'v2', tags: ['t'] });
    const meta = (await store.get('a.test/one')).find((m) => m.variant === '')!;
    expect(await store.updateMeta({ ...meta, tags: ['updated'] })).toBe(true);
    await store.close();

    const events = recording();
    const reopened = await openDiskStore(dir, roomy, events);
    expect(await read(reopened, 'a.test/one')).toBe('first');
    expect(await read(reopened, 'a.test/one', 'v2')).toBe('second variant');
    expect((await reopened.get('a.test/one')).find((m) => m.variant === '')!.tags).toEqual(['updated']);
    expect(reopened.stats().entries).toBe(2);
    expect(events.corrupt).toEqual([]);
    await reopened.close();
  });

  it('replaces an entry without leaving the old body behind', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/r', 'old');
    await put(store, 'a.test/r', 'new');
    await store.close();
    expect(await read(await openDiskStore(dir, roomy), 'a.test/r')).toBe('new');
    expect((await files()).filter((f) => f.endsWith('.body'))).toHaveLength(1);
  });

  it('discards a corrupt metadata file at start and keeps the rest', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/good', 'good');
    await put(store, 'a.test/bad', 'bad');
    await store.close();
    await writeFile(metaFile('a.test/bad'), '{"format":1,"sha256":"nonsense", garbage');
    const events = recording();
    const reopened = await openDiskStore(dir, roomy, events);
    expect(events.corrupt).toEqual(['not JSON']);
    expect(await read(reopened, 'a.test/good')).toBe('good');
    expect(await read(reopened, 'a.test/bad')).toBeNull();
    // The corrupt entry's files are gone, the orphaned body with them.
    expect((await files()).filter((f) => f.includes(entryName('a.test/bad', '')))).toEqual([]);
    await reopened.close();
  });

  it('discards metadata that parses but lies: wrong schema, moved to another name', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/x', 'x');
    await put(store, 'a.test/y', 'y');
    await store.close();
    const json = JSON.parse(await readFile(metaFile('a.test/x'), 'utf8')) as { meta: { size: unknown } };
    json.meta.size = -1;
    await writeFile(metaFile('a.test/x'), JSON.stringify(json));
    // y's metadata under z's name: it would answer for the wrong URL.
    const zName = entryName('a.test/z', '');
    await mkdir(path.join(dir, 'v1', zName.slice(0, 2)), { recursive: true });
    await writeFile(path.join(dir, 'v1', zName.slice(0, 2), `${zName}.meta`), await readFile(metaFile('a.test/y')));
    const events = recording();
    const reopened = await openDiskStore(dir, roomy, events);
    expect(events.corrupt.sort()).toEqual(['bad metadata: Too small: expected number to be >=0', 'file name does not match its key'].sort());
    expect(await read(reopened, 'a.test/y')).toBe('y');
    expect(reopened.stats().entries).toBe(1);
    await reopened.close();
  });

  it('discards an entry whose body was truncated', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/t', 'twelve bytes');
    await store.close();
    await truncate(await bodyFile('a.test/t'), 5);
    const events = recording();
    const reopened = await openDiskStore(dir, roomy, events);
    expect(events.corrupt).toEqual(['body is 5 bytes, metadata says 12']);
    expect(reopened.stats().entries).toBe(0);
    await reopened.close();
  });

  it('a small body with a flipped byte is a miss, and the entry is discarded', async () => {
    const store = await openDiskStore(dir, roomy, recording());
    await put(store, 'a.test/flip', 'pristine');
    const file = await bodyFile('a.test/flip');
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0xff;
    await writeFile(file, bytes);
    expect(await read(store, 'a.test/flip')).toBeNull();
    expect(store.stats().entries).toBe(0);
    await store.close();
  });

  it('a large body is checked while it streams: a flipped byte ends the stream with CACHE_ERR_CORRUPT_ENTRY', async () => {
    const store = await openDiskStore(dir, roomy);
    const big = Buffer.alloc(3 << 20, 0x61);
    await put(store, 'a.test/big', big);
    const file = await bodyFile('a.test/big');
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = 0x62;
    await writeFile(file, bytes);
    await expect(read(store, 'a.test/big')).rejects.toMatchObject({ code: 'CACHE_ERR_CORRUPT_ENTRY' });
    expect(store.stats().entries).toBe(0);
    await store.close();
  });

  it('removes orphan bodies and abandoned temporary files at start', async () => {
    const store = await openDiskStore(dir, roomy);
    await put(store, 'a.test/keep', 'k');
    await store.close();
    const name = entryName('a.test/orphan', '');
    await mkdir(path.join(dir, 'v1', name.slice(0, 2)), { recursive: true });
    await writeFile(path.join(dir, 'v1', name.slice(0, 2), `${name}.${'0'.repeat(32)}.body`), 'orphan');
    await writeFile(path.join(dir, 'tmp', 'abandoned.body'), 'half');
    const reopened = await openDiskStore(dir, roomy);
    expect((await files()).filter((f) => f.endsWith('.body'))).toHaveLength(1);
    expect(await read(reopened, 'a.test/keep')).toBe('k');
    await reopened.close();
  });

  it('an abandoned write leaves nothing: not visible, no files', async () => {
    const store = await openDiskStore(dir, roomy);
    const w = store.createWriteStream({ key: 'a.test/w', variant: '', policy: policyFor('a.test/w'), tags: [], storedAt: 1 });
    w.write('partial');
    await new Promise((resolve) => setTimeout(resolve, 20));
    w.destroy();
    await new Promise((resolve) => w.once('close', resolve));
    expect(await store.get('a.test/w')).toEqual([]);
    expect(await files()).toEqual([]);
    await store.close();
  });

  it('a delete during a write wins: the write is cancelled with CACHE_ERR_INVALIDATED', async () => {
    const store = await openDiskStore(dir, roomy);
    const source = new PassThrough();
    const w = store.createWriteStream({ key: 'a.test/d', variant: '', policy: policyFor('a.test/d'), tags: ['x'], storedAt: 1 });
    const done = pipeline(source, w);
    source.write('some');
    await store.deleteWhere((e) => e.tags.includes('x'));
    source.end('more');
    await expect(done).rejects.toMatchObject({ code: 'CACHE_ERR_INVALIDATED' });
    expect(await store.get('a.test/d')).toEqual([]);
    await store.close();
    expect(await files()).toEqual([]);
  });

  it('refuses a body over maxObjectBytes', async () => {
    const store = await openDiskStore(dir, { ...roomy, maxObjectBytes: 10 });
    await expect(put(store, 'a.test/huge', 'x'.repeat(11))).rejects.toMatchObject({ code: 'CACHE_ERR_TOO_LARGE' });
    expect(await files()).toEqual([]);
    await store.close();
  });

  it('a write that cannot reach the disk fails with CACHE_ERR_STORE_WRITE and leaves the store usable', async () => {
    const store = await openDiskStore(dir, roomy);
    await rm(path.join(dir, 'tmp'), { recursive: true });
    await expect(put(store, 'a.test/nowhere', 'x')).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_WRITE' });
    await mkdir(path.join(dir, 'tmp'));
    await put(store, 'a.test/later', 'ok');
    expect(await read(store, 'a.test/later')).toBe('ok');
    await store.close();
  });

  it('evicts the least recently used entries at start when the bounds have shrunk', async () => {
    const store = await openDiskStore(dir, roomy);
    for (const n of [1, 2, 3, 4]) await put(store, `a.test/${n}`, 'x'.repeat(1000));
    await store.close();
    const events = recording();
    const small = await openDiskStore(dir, { ...roomy, maxEntries: 2 }, events);
    expect(events.evicted).toEqual(['a.test/1', 'a.test/2']);
    expect(await read(small, 'a.test/4')).not.toBeNull();
    expect((await files()).filter((f) => f.endsWith('.meta'))).toHaveLength(2);
    await small.close();
  });
});

describe('the cache on the disk store', () => {
  it('survives a restart: close the cache, create it again on the same directory, and it hits', async () => {
    const origin = await startOrigin();
    origin.route('/persist', fixed(200, { 'cache-control': 'max-age=600', etag: '"p"' }, 'kept across restarts'));
    const config = { store: { type: 'disk' as const, dir } };
    const first = await cacheHarness(origin, config);
    expect((await first.fetchText('/persist')).status).toContain('stored');
    await first.cache.settled();
    await first.close();

    const second = await cacheHarness(origin, config);
    const hit = await second.fetchText('/persist');
    expect(hit.text).toBe('kept across restarts');
    expect(hit.status).toContain('hit');
    expect(origin.count('/persist')).toBe(1);
    await second.close();
    await origin.stop();
  });

  it('a corrupted file is a miss after the restart, counted, and refilled', async () => {
    const origin = await startOrigin();
    origin.route('/c', fixed(200, { 'cache-control': 'max-age=600' }, 'refill me'));
    const config = { store: { type: 'disk' as const, dir } };
    const first = await cacheHarness(origin, config);
    await first.fetchText('/c');
    await first.cache.settled();
    await first.close();
    await writeFile(metaFile('site.test/c'), Buffer.from([0xde, 0xad, 0xbe, 0xef]));

    const second = await cacheHarness(origin, config);
    // Found while the index was rebuilt, before the first request.
    expect(await metricValue(second.registry, 'keyless_edge_cache_errors_total', { code: 'CACHE_ERR_CORRUPT_ENTRY' })).toBe(1);
    const again = await second.fetchText('/c');
    expect(again.text).toBe('refill me');
    expect(again.status).toContain('fwd=uri-miss');
    await second.close();
    await origin.stop();
  });

  it('a disk that cannot be written costs the entry, not the response', async () => {
    const origin = await startOrigin();
    origin.route('/unwritable', fixed(200, { 'cache-control': 'max-age=600' }, 'served anyway'));
    const h = await cacheHarness(origin, { store: { type: 'disk', dir } });
    await rm(path.join(dir, 'tmp'), { recursive: true });
    const first = await h.fetchText('/unwritable');
    expect(first.text).toBe('served anyway');
    await h.cache.settled();
    expect(await metricValue(h.registry, 'keyless_edge_cache_not_stored_total', { reason: 'write-failed' })).toBe(1);
    expect(await metricValue(h.registry, 'keyless_edge_cache_errors_total', { code: 'CACHE_ERR_STORE_WRITE' })).toBe(1);
    await mkdir(path.join(dir, 'tmp'));
    expect((await h.fetchText('/unwritable')).status).toContain('fwd=uri-miss');
    await h.cache.settled();
    expect((await h.fetchText('/unwritable')).status).toContain('hit');
    await h.close();
    await origin.stop();
  });

  it('serves large disk hits as a verified stream', async () => {
    const origin = await startOrigin();
    const big = 'L'.repeat(2 << 20);
    origin.route('/large', fixed(200, { 'cache-control': 'max-age=600' }, big));
    const h = await cacheHarness(origin, { store: { type: 'disk', dir } });
    await h.fetchText('/large');
    await h.cache.settled();
    const hit = await h.get('/large');
    expect(hit.body).toBeInstanceOf(Readable);
    const chunks: Buffer[] = [];
    for await (const c of hit.body as Readable) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(big);
    await h.close();
    await origin.stop();
  });
});
