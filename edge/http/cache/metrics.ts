// Prometheus metrics of the edge's HTTP cache. The size gauges read the store when scraped, so
// they cannot drift from what it holds.
import { Counter, Gauge, Registry } from 'prom-client';
import type { ForwardReason } from './cache-status.js';

export type StaleReason = 'stale-while-revalidate' | 'stale-if-error';
export type RevalidationResult = 'not-modified' | 'modified' | 'mismatch' | 'error';
export type NotStoredReason = 'authorization' | 'uncacheable' | 'set-cookie' | 'vary-star' | 'too-large' | 'incomplete' | 'write-failed' | 'invalidated';

export interface CacheMetrics {
  hit(): void;
  miss(reason: ForwardReason): void;
  staleServed(reason: StaleReason): void;
  bypass(reason: string): void;
  revalidation(result: RevalidationResult): void;
  coalesced(): void;
  stored(bytes: number): void;
  notStored(reason: NotStoredReason): void;
  evicted(): void;
  error(code: string): void;
  purged(kind: 'url' | 'prefix' | 'tag' | 'all' | 'invalidation', entries: number): void;
}

export function createCacheMetrics(registry: Registry | undefined, stats: () => { entries: number; bytes: number }): CacheMetrics {
  // Without a registry the metrics still work (a private one), which keeps the call sites free of ifs.
  const registers = [registry ?? new Registry()];
  const hits = new Counter({ name: 'keyless_edge_cache_hits_total', help: 'Requests answered from the cache without contacting the origin (fresh).', registers });
  const misses = new Counter({
    name: 'keyless_edge_cache_misses_total',
    help: 'Requests the cache forwarded to the origin, by RFC 9211 fwd reason (uri-miss, vary-miss, stale, request).',
    labelNames: ['reason'] as const,
    registers,
  });
  const stale = new Counter({ name: 'keyless_edge_cache_stale_served_total', help: 'Stale responses served, by the rule that allowed it.', labelNames: ['reason'] as const, registers });
  const bypass = new Counter({ name: 'keyless_edge_cache_bypass_total', help: 'Requests the cache did not handle (rule, method, range, ...).', labelNames: ['reason'] as const, registers });
  const revalidations = new Counter({
    name: 'keyless_edge_cache_revalidations_total',
    help: 'Conditional requests to the origin for stored responses, by result.',
    labelNames: ['result'] as const,
    registers,
  });
  const coalesced = new Counter({ name: 'keyless_edge_cache_coalesced_total', help: 'Requests served from another request\'s origin fetch (request collapsing).', registers });
  const storedBytes = new Counter({ name: 'keyless_edge_cache_stored_bytes_total', help: 'Bytes written to the store (bodies and their metadata).', registers });
  const storedEntries = new Counter({ name: 'keyless_edge_cache_stored_entries_total', help: 'Entries written to the store.', registers });
  const notStored = new Counter({ name: 'keyless_edge_cache_not_stored_total', help: 'Origin responses not stored, by reason.', labelNames: ['reason'] as const, registers });
  const evictions = new Counter({ name: 'keyless_edge_cache_evictions_total', help: 'Entries evicted to stay within maxTotalBytes, maxEntries or maxVariantsPerKey.', registers });
  const errors = new Counter({ name: 'keyless_edge_cache_errors_total', help: 'Cache failures by CACHE_ERR_* code (none of them fails a request).', labelNames: ['code'] as const, registers });
  const purged = new Counter({ name: 'keyless_edge_cache_purged_entries_total', help: 'Entries removed by purges and by unsafe-method invalidation.', labelNames: ['kind'] as const, registers });
  new Gauge({
    name: 'keyless_edge_cache_bytes',
    help: 'Bytes held by the store (bodies and metadata).',
    registers,
    collect() {
      this.set(stats().bytes);
    },
  });
  new Gauge({
    name: 'keyless_edge_cache_entries',
    help: 'Entries held by the store.',
    registers,
    collect() {
      this.set(stats().entries);
    },
  });
  return {
    hit: () => hits.inc(),
    miss: (reason) => misses.inc({ reason }),
    staleServed: (reason) => stale.inc({ reason }),
    bypass: (reason) => bypass.inc({ reason }),
    revalidation: (result) => revalidations.inc({ result }),
    coalesced: () => coalesced.inc(),
    stored: (bytes) => {
      storedBytes.inc(bytes);
      storedEntries.inc();
    },
    notStored: (reason) => notStored.inc({ reason }),
    evicted: () => evictions.inc(),
    error: (code) => errors.inc({ code }),
    purged: (kind, entries) => purged.inc({ kind }, entries),
  };
}
