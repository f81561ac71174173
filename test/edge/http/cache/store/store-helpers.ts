// Writing and reading store entries directly, for the store tests.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import CachePolicy from 'http-cache-semantics';
import type { CacheStore, EntryMeta, StoreLimits } from '../../../../../edge/http/cache/store/types.js';

export const roomy: StoreLimits = { maxObjectBytes: 8 << 20, maxTotalBytes: 64 << 20, maxEntries: 1000, maxVariantsPerKey: 4 };

export function policyFor(key: string): EntryMeta['policy'] {
  const slash = key.indexOf('/');
  return new CachePolicy({ url: key.slice(slash), method: 'GET', headers: { host: key.slice(0, slash) } }, { status: 200, headers: { 'cache-control': 'max-age=60' } }).toObject();
}

let clock = 1_000;

export async function put(store: CacheStore, key: string, body: Buffer | string, options: { variant?: string; tags?: string[] } = {}): Promise<void> {
  const w = store.createWriteStream({ key, variant: options.variant ?? '', policy: policyFor(key), tags: options.tags ?? [], storedAt: clock++ });
  await pipeline(Readable.from([Buffer.from(body)]), w);
}

export async function read(store: CacheStore, key: string, variant = ''): Promise<string | null> {
  const meta = (await store.get(key)).find((m) => m.variant === variant);
  if (meta === undefined) return null;
  const body = await store.readBody(meta);
  if (body === null) return null;
  if (Buffer.isBuffer(body)) return body.toString();
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}
