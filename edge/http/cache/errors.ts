// Errors of the edge's HTTP cache, each with a stable code. None of them is an outage: the cache
// degrades to forwarding (a store that cannot be read is a miss, one that cannot be written
// leaves the response unstored), so most of these end up in a log line and a metric.
export const CACHE_ERROR_CODES = {
  /** Reading an entry from the store failed; the request was treated as a miss. */
  CACHE_ERR_STORE_READ: 'reading a stored entry failed',
  /** Writing an entry failed (disk full, I/O error); the response was served but not stored. */
  CACHE_ERR_STORE_WRITE: 'writing an entry to the store failed',
  /** A stored entry failed its integrity check (metadata, size or checksum) and was discarded. */
  CACHE_ERR_CORRUPT_ENTRY: 'a stored entry is corrupt',
  /** The body grew beyond maxObjectBytes; it streamed through to the client unstored. */
  CACHE_ERR_TOO_LARGE: 'the body exceeds maxObjectBytes',
  /** The origin body failed or ended before its Content-Length; nothing was stored and the client response was aborted. */
  CACHE_ERR_INCOMPLETE_BODY: 'the origin body ended early',
  /** A purge or an unsafe request invalidated the URL while its response was being stored; the write was abandoned. */
  CACHE_ERR_INVALIDATED: 'the entry was invalidated while being written',
  /** The caller's AbortSignal fired before its response was ready. */
  CACHE_ERR_ABORTED: 'the request was aborted',
  /** The cache or its store is closed. */
  CACHE_ERR_CLOSED: 'the cache is closed',
} as const;

export type CacheErrorCode = keyof typeof CACHE_ERROR_CODES;

export class CacheError extends Error {
  constructor(
    readonly code: CacheErrorCode,
    message: string = CACHE_ERROR_CODES[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CacheError';
  }
}

export function isCacheError(err: unknown, code?: CacheErrorCode): err is CacheError {
  return err instanceof CacheError && (code === undefined || err.code === code);
}
