// The edge's HTTP cache (RFC 9111), the middle stage of WAF → cache → origin client.
//
// ## API for the pipeline
//
//   const cache = await createHttpCache(config.cache, { log, metrics: registry, now? });
//   const response = await cache.handle(request, body, fetchOrigin, signal);
//
// - `config` is the validated `cache:` section (config.ts: `cacheConfigSchema`,
//   `resolveCachePaths(config, configFile)` for the disk store's directory).
// - `handle(request: EdgeRequest, body, fetchOrigin: OriginFetch, signal) → Promise<EdgeResponse>`
//   answers from the cache or through `fetchOrigin` (the origin stage), and always sets
//   `Cache-Status` (RFC 9211). It rejects only with what `fetchOrigin` rejected with (so the
//   origin stage's 502/504 errors reach the pipeline unchanged), or with CACHE_ERR_ABORTED when
//   `signal` fired first. A broken store never fails a request: it is a miss, or an unstored
//   response, with a log line and `keyless_edge_cache_errors_total`.
// - The response body is a Buffer (memory hits, small disk hits), a Readable (misses, large
//   disk hits), or null (HEAD, 304). The pipeline should destroy a Readable body when the client
//   goes away (fastify's reply.send does); the cache also destroys it when `signal` fires.
// - `signal` is the client's: it must fire when the client goes away. A response being stored
//   keeps downloading to the store after every client has gone (bounded by maxObjectBytes), so
//   the next request is a hit; an unstored one is aborted.
// - `fetchOrigin` receives the request to send. For cache fills it is the client's request
//   without If-None-Match / If-Modified-Since (the edge wants the full body, and answers the
//   client's conditional itself); for revalidations it carries the cache's own validators.
//   Request bodies of GET/HEAD are discarded (RFC 9110 §9.3.1); other methods' bodies pass.
// - Purge: `purgeUrl(host, target)`, `purgePrefix(host, prefix)`, `purgeTags(tags)`,
//   `purgeAll()`, each resolving with the number of entries removed. A purge also cancels
//   writes in progress for what it removes, so a response fetched before the purge can never
//   land after it.
// - `setRules(rules)` on config reload; `stats()`; `settled()` (background work done, for tests);
//   `close()`.
export { createHttpCache, type HttpCache, type HttpCacheOptions } from './http-cache.js';
export { cacheConfigSchema, cacheRuleSchema, parseCacheConfig, resolveCachePaths, type CacheConfig, type CacheConfigInput, type CacheRuleConfig } from './config.js';
export { CacheError, CACHE_ERROR_CODES, type CacheErrorCode } from './errors.js';
export { formatCacheStatus, type CacheStatus, type ForwardReason } from './cache-status.js';
export { createMemoryStore } from './store/memory-store.js';
export { openDiskStore } from './store/disk-store.js';
export type { CacheStore, EntryMeta, NewEntry, IndexedEntry, StoreLimits, StoreEvents } from './store/types.js';
