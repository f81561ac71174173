// The disk store ("Cache Reserve"): entries survive a restart. Each entry is a metadata file and
// a body file (disk-format.ts); writes go to a temporary file and are renamed into place, the
// metadata rename being the commit point, so a crash leaves either the old entry, the new one,
// or an orphan body that the next start removes. The index lives in memory and is rebuilt at
// start by reading every metadata file; anything unsound is discarded, never thrown.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, Writable, pipeline } from 'node:stream';
import { CacheError } from '../errors.js';
import { EntryIndex } from './entry-index.js';
import { LAYOUT_DIR, MAX_META_FILE_BYTES, TMP_DIR, bodyPath, entryName, metaPath, parseBodyFileName, parseMetaFile, serializeMetaFile } from './disk-format.js';
import type { CacheStore, EntryMeta, IndexedEntry, NewEntry, StoreEvents, StoreLimits } from './types.js';

/** Bodies up to this size are read whole and checked before they are served, so a corrupt one is a clean miss. */
const VERIFY_BEFORE_SERVING_BYTES = 1 << 20;
/** Metadata files read at once while the index is rebuilt. */
const SCAN_CONCURRENCY = 32;

interface DiskRecord extends IndexedEntry {
  /** entryName(key, variant): the file names. */
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
}

/** Runs operations on one entry's files one after another: a commit, a metadata update and a delete never interleave. */
class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(name: string, op: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(name) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(name, tail);
    void tail.then(() => {
      if (this.#tails.get(name) === tail) this.#tails.delete(name);
    });
    return result;
  }

  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

async function unlinkQuiet(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
}

function storeWriteError(err: unknown): CacheError {
  if (err instanceof CacheError) return err;
  return new CacheError('CACHE_ERR_STORE_WRITE', `writing a cache entry failed: ${(err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message}`, { cause: err });
}

export async function openDiskStore(root: string, limits: StoreLimits, events: StoreEvents = {}): Promise<CacheStore> {
  const index = new EntryIndex<DiskRecord>({ maxBytes: limits.maxTotalBytes, maxEntries: limits.maxEntries, maxVariantsPerKey: limits.maxVariantsPerKey });
  const queue = new KeyedQueue();
  const pending = new Set<DiskWrite>();
  const tmpDir = path.join(root, TMP_DIR);
  let closed = false;

  const report = (err: unknown): void => events.onError?.(err instanceof Error ? err : new Error(String(err)));

  /** Removes the files of a record already taken out of the index (unless a newer write took its place). */
  const discardFiles = (r: DiskRecord): Promise<void> =>
    queue
      .run(r.name, async () => {
        const current = index.find(r.key, r.variant);
        if (current === undefined) await unlinkQuiet(metaPath(root, r.name));
        if (current?.id !== r.id) await unlinkQuiet(bodyPath(root, r.name, r.id));
      })
      .catch(report);

  const discardCorrupt = (r: DiskRecord, reason: string): void => {
    events.onCorrupt?.(metaPath(root, r.name), reason);
    if (index.find(r.key, r.variant)?.id === r.id) index.remove(r.key, r.variant);
    void discardFiles(r);
  };

  class DiskWrite extends Writable {
    readonly #id = randomBytes(16).toString('hex');
    readonly #tmpBody = path.join(tmpDir, `${this.#id}.body`);
    readonly #hash: Hash = createHash('sha256');
    #handle: FileHandle | undefined;
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

    override _construct(callback: (err?: Error | null) => void): void {
      if (closed) return callback(new CacheError('CACHE_ERR_CLOSED'));
      fs.open(this.#tmpBody, 'wx', 0o600).then(
        (h) => {
          this.#handle = h;
          callback();
        },
        (err: unknown) => callback(storeWriteError(err)),
      );
    }

    override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk;
      this.#size += buf.length;
      if (this.#size > limits.maxObjectBytes) return callback(new CacheError('CACHE_ERR_TOO_LARGE'));
      this.#hash.update(buf);
      this.#writeAll(buf).then(
        () => callback(),
        (err: unknown) => callback(storeWriteError(err)),
      );
    }

    override _final(callback: (err?: Error | null) => void): void {
      this.#commit().then(
        () => callback(),
        (err: unknown) => callback(storeWriteError(err)),
      );
    }

    override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
      const handle = this.#handle;
      this.#handle = undefined;
      (handle ? handle.close() : Promise.resolve())
        .catch(() => undefined)
        .then(() => unlinkQuiet(this.#tmpBody))
        .catch(report)
        .finally(() => callback(err));
    }

    async #writeAll(buf: Buffer): Promise<void> {
      let offset = 0;
      while (offset < buf.length) offset += (await this.#handle!.write(buf, offset, buf.length - offset)).bytesWritten;
    }

    async #commit(): Promise<void> {
      const handle = this.#handle!;
      this.#handle = undefined;
      await handle.close();
      const meta: EntryMeta = { ...this.entry, id: this.#id, size: this.#size };
      const name = entryName(meta.key, meta.variant);
      const sha256 = this.#hash.digest('hex');
      const metaJson = serializeMetaFile({ meta, sha256 });
      const record: DiskRecord = { key: meta.key, variant: meta.variant, id: meta.id, tags: meta.tags, storedAt: meta.storedAt, bytes: meta.size + Buffer.byteLength(metaJson), name, sha256, size: meta.size };
      if (record.bytes > limits.maxTotalBytes) throw new CacheError('CACHE_ERR_TOO_LARGE', 'the entry with its metadata exceeds maxTotalBytes');
      await queue.run(name, async () => {
        const check = (): void => {
          if (closed) throw new CacheError('CACHE_ERR_CLOSED');
          if (this.#cancelled) throw this.#cancelled;
        };
        check();
        const finalBody = bodyPath(root, name, meta.id);
        const tmpMeta = path.join(tmpDir, `${meta.id}.meta`);
        let metaWritten = false;
        try {
          await fs.mkdir(path.dirname(finalBody), { recursive: true });
          await fs.rename(this.#tmpBody, finalBody);
          await fs.writeFile(tmpMeta, metaJson, { mode: 0o600 });
          await fs.rename(tmpMeta, metaPath(root, name));
          metaWritten = true;
          // A delete that ran while the files were moved must win: checked and indexed in one
          // synchronous step, so no purge can slip in between.
          check();
        } catch (err) {
          await unlinkQuiet(tmpMeta).catch(report);
          await unlinkQuiet(finalBody).catch(report);
          if (metaWritten) {
            // The metadata names the body just removed, and it overwrote the entry it replaced: both go.
            await unlinkQuiet(metaPath(root, name)).catch(report);
            const previous = index.remove(meta.key, meta.variant);
            if (previous) await unlinkQuiet(bodyPath(root, name, previous.id)).catch(report);
          }
          throw err;
        }
        const result = index.insert(record);
        if (result.replaced && result.replaced.id !== record.id) await unlinkQuiet(bodyPath(root, name, result.replaced.id)).catch(report);
        for (const e of result.evicted) {
          events.onEvict?.(e);
          void discardFiles(e);
        }
        events.onStored?.(record);
      });
    }
  }

  const cancelWhere = (predicate: (e: NewEntry) => boolean): void => {
    for (const w of pending) if (predicate(w.entry)) w.cancel(new CacheError('CACHE_ERR_INVALIDATED'));
  };

  /** Reads and checks one metadata file against its index record; null when it is gone. */
  const readMeta = async (r: DiskRecord): Promise<EntryMeta | null> => {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(metaPath(root, r.name));
    } catch (err) {
      if (isMissing(err)) return null;
      throw new CacheError('CACHE_ERR_STORE_READ', `reading ${metaPath(root, r.name)} failed`, { cause: err });
    }
    const parsed = parseMetaFile(bytes, r.name);
    if ('error' in parsed) {
      discardCorrupt(r, parsed.error);
      return null;
    }
    // Another id: a commit or delete of this entry is under way; the index catches up when it is done.
    return parsed.meta.id === r.id ? parsed.meta : null;
  };

  const verifiedStream = (handle: FileHandle, r: DiskRecord): Readable => {
    const hash = createHash('sha256');
    let seen = 0;
    const check = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length;
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        if (seen === r.size && hash.digest('hex') === r.sha256) return callback();
        discardCorrupt(r, 'body checksum mismatch');
        callback(new CacheError('CACHE_ERR_CORRUPT_ENTRY', 'the stored body does not match its checksum'));
      },
    });
    pipeline(handle.createReadStream({ autoClose: true }), check, () => undefined);
    return check;
  };

  await rebuildIndex();

  return {
    kind: 'disk',

    async get(key) {
      const metas = await Promise.all(index.variants(key).map(readMeta));
      return metas.filter((m): m is EntryMeta => m !== null);
    },

    async readBody(meta) {
      const r = index.find(meta.key, meta.variant);
      if (r === undefined || r.id !== meta.id) return null;
      let handle: FileHandle;
      try {
        // An open file stays readable even if the entry is deleted or replaced while it is served.
        handle = await fs.open(bodyPath(root, r.name, r.id), 'r');
      } catch (err) {
        if (isMissing(err)) return null;
        throw new CacheError('CACHE_ERR_STORE_READ', `opening a cached body failed`, { cause: err });
      }
      try {
        const { size } = await handle.stat();
        if (size !== r.size) {
          await handle.close();
          discardCorrupt(r, `body is ${size} bytes, metadata says ${r.size}`);
          return null;
        }
        index.touch(r.key, r.variant);
        if (size > VERIFY_BEFORE_SERVING_BYTES) return verifiedStream(handle, r);
        const body = await handle.readFile();
        await handle.close();
        if (createHash('sha256').update(body).digest('hex') !== r.sha256) {
          discardCorrupt(r, 'body checksum mismatch');
          return null;
        }
        return body;
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw new CacheError('CACHE_ERR_STORE_READ', 'reading a cached body failed', { cause: err });
      }
    },

    createWriteStream(entry) {
      return new DiskWrite(entry);
    },

    async updateMeta(meta) {
      const r = index.find(meta.key, meta.variant);
      if (r === undefined || r.id !== meta.id) return false;
      return queue.run(r.name, async () => {
        const current = index.find(meta.key, meta.variant);
        if (closed || current === undefined || current.id !== meta.id) return false;
        const metaJson = serializeMetaFile({ meta, sha256: current.sha256 });
        const tmpMeta = path.join(tmpDir, `${meta.id}.${randomBytes(4).toString('hex')}.meta`);
        try {
          await fs.writeFile(tmpMeta, metaJson, { mode: 0o600 });
          await fs.rename(tmpMeta, metaPath(root, current.name));
        } catch (err) {
          await unlinkQuiet(tmpMeta).catch(report);
          throw storeWriteError(err);
        }
        const evicted = index.replace({ ...current, tags: meta.tags, storedAt: meta.storedAt, bytes: current.size + Buffer.byteLength(metaJson) });
        for (const e of evicted ?? []) {
          events.onEvict?.(e);
          void discardFiles(e);
        }
        return evicted !== null;
      });
    },

    async delete(key) {
      cancelWhere((e) => e.key === key);
      const removed = index.removeKey(key);
      await Promise.all(removed.map(discardFiles));
      return removed.length;
    },

    async deleteWhere(predicate) {
      cancelWhere(predicate);
      const removed = index.removeWhere(predicate);
      await Promise.all(removed.map(discardFiles));
      return removed.length;
    },

    stats: () => ({ entries: index.size, bytes: index.bytes }),

    async close() {
      closed = true;
      const writes = [...pending].map((w) => new Promise<void>((resolve) => (w.destroyed ? resolve() : w.once('close', () => resolve()))));
      for (const w of pending) w.cancel(new CacheError('CACHE_ERR_CLOSED'));
      await Promise.all(writes);
      await queue.idle();
    },
  };

  /** Reads every metadata file; keeps the sound entries (oldest first in LRU order), removes the rest. */
  async function rebuildIndex(): Promise<void> {
    const layout = path.join(root, LAYOUT_DIR);
    await fs.mkdir(layout, { recursive: true });
    // Writes that were in progress when the process stopped are incomplete by definition.
    await fs.rm(tmpDir, { recursive: true, force: true });
    await fs.mkdir(tmpDir, { recursive: true });
    const found: DiskRecord[] = [];
    for (const shard of await fs.readdir(layout)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const dir = path.join(layout, shard);
      let files: string[];
      try {
        files = await fs.readdir(dir);
      } catch {
        continue;
      }
      const bodies = new Map<string, number>();
      const metas: string[] = [];
      for (const f of files) {
        if (parseBodyFileName(f)) bodies.set(f, 0);
        else if (/^[0-9a-f]{64}\.meta$/.test(f)) metas.push(f);
      }
      const referenced = new Set<string>();
      for (let i = 0; i < metas.length; i += SCAN_CONCURRENCY) {
        await Promise.all(
          metas.slice(i, i + SCAN_CONCURRENCY).map(async (f) => {
            const name = f.slice(0, 64);
            const r = await loadRecord(dir, name, bodies);
            if ('error' in r) {
              events.onCorrupt?.(path.join(dir, f), r.error);
              await unlinkQuiet(path.join(dir, f)).catch(report);
              return;
            }
            referenced.add(`${name}.${r.id}.body`);
            found.push(r);
          }),
        );
      }
      // Bodies no metadata names: an interrupted commit or replacement.
      for (const b of bodies.keys()) if (!referenced.has(b)) await unlinkQuiet(path.join(dir, b)).catch(report);
    }
    found.sort((a, b) => a.storedAt - b.storedAt);
    for (const r of found) {
      const result = index.insert(r);
      // Bounds may have shrunk since the entries were written.
      const dropped = result.admitted ? result.evicted : [r];
      for (const e of dropped) {
        events.onEvict?.(e);
        await discardFiles(e);
      }
    }
  }

  async function loadRecord(dir: string, name: string, bodies: Map<string, number>): Promise<DiskRecord | { error: string }> {
    const file = path.join(dir, `${name}.meta`);
    let bytes: Buffer;
    try {
      const { size } = await fs.stat(file);
      if (size > MAX_META_FILE_BYTES) return { error: `metadata file of ${size} bytes` };
      bytes = await fs.readFile(file);
    } catch (err) {
      return { error: `unreadable: ${(err as NodeJS.ErrnoException)?.code ?? String(err)}` };
    }
    const parsed = parseMetaFile(bytes, name);
    if ('error' in parsed) return parsed;
    const { meta, sha256 } = parsed;
    const bodyFile = `${name}.${meta.id}.body`;
    if (!bodies.has(bodyFile)) return { error: 'its body file is missing' };
    let size: number;
    try {
      size = (await fs.stat(path.join(dir, bodyFile))).size;
    } catch {
      return { error: 'its body file is unreadable' };
    }
    if (size !== meta.size) return { error: `body is ${size} bytes, metadata says ${meta.size}` };
    return { key: meta.key, variant: meta.variant, id: meta.id, tags: meta.tags, storedAt: meta.storedAt, bytes: meta.size + bytes.length, name, sha256, size: meta.size };
  }
}
