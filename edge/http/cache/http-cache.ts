// The cache stage of the edge's HTTP pipeline: per request it looks up the store, serves a hit,
// revalidates or fills from the origin (one origin fetch per URL at a time), and answers with a
// Cache-Status. Every "may this be stored / reused / served stale" question is put to
// http-cache-semantics (policy.ts); this module sequences the answers.
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { primaryKey, splitKey, targetPath, variantKey, varyFields } from './cache-key.js';
import { appendCacheStatus, formatCacheStatus, withCacheStatus, type CacheStatus, type ForwardReason } from './cache-status.js';
import { CACHE_VALIDATORS, ORIGIN_PRECONDITIONS, clientCopyIsCurrent, notModifiedHeaders } from './conditional.js';
import type { CacheConfig, CacheRuleConfig } from './config.js';
import { CacheError, isCacheError } from './errors.js';
import { BodyFanout } from './fanout.js';
import { freshHitRecord, isPlainRequest, type FreshHit } from './fresh-hit.js';
import { Flight, type WaiterOutcome } from './flight.js';
import { contentLength, fieldValue, parseCacheTags, toFieldMap, withoutFields } from './headers.js';
import { invalidatedKeys, isSafeMethod } from './invalidation.js';
import { createCacheMetrics, type CacheMetrics, type NotStoredReason } from './metrics.js';
import {
  allowsStaleIfError,
  applyEdgeTtl,
  createPolicyFactory,
  forbidsStale,
  hasAuthorization,
  originAllowsSharingAuthenticated,
  policyRequest,
  presentedHeaders,
  remainingTtl,
  revalidationFields,
  serializePolicy,
  type EdgeTtl,
  type Policy,
  type PolicyFactory,
  type PolicyRequest,
} from './policy.js';
import { compileRules, type RuleMatcher } from './rules.js';
import { openDiskStore } from './store/disk-store.js';
import { createMemoryStore } from './store/memory-store.js';
import type { CacheStore, EntryMeta, StoreEvents, StoreLimits } from './store/types.js';
import type { ClientSignal } from '../client-signal.js';
import type { EdgeRequest, EdgeResponse, HeaderMap, OriginFetch } from '../types.js';

export interface HttpCacheOptions {
  readonly log: Logger;
  /** Where the cache's Prometheus metrics go; a private registry when absent. */
  readonly metrics?: Registry | undefined;
  /** The clock for freshness, in ms since the epoch (tests pass a controllable one). */
  readonly now?: (() => number) | undefined;
  /** A store to use instead of the one the config names. */
  readonly store?: CacheStore | undefined;
  /**
   * Called with the keys an unsafe request invalidated here (RFC 9111 §4.4), so that other caches
   * in front of the same origin (the other workers) can drop them too: see invalidate().
   */
  readonly onInvalidated?: ((keys: readonly string[]) => void) | undefined;
}

export interface HttpCache {
  /**
   * Answers one request: from the cache, or through `fetchOrigin` (at most one origin fetch per
   * URL at a time). The response carries Cache-Status. Rejects only with what `fetchOrigin`
   * rejected with (the origin stage's own 502/504 errors), or CACHE_ERR_ABORTED when the client
   * went first; a failing store never fails a request. The client's signal is only made when
   * the origin or another request's fill is waited for (a hit does not need it).
   */
  handle(request: EdgeRequest, body: Readable | Buffer | null, fetchOrigin: OriginFetch, client: ClientSignal): Promise<EdgeResponse>;
  /** Removes every variant stored for host + target ("/a/b?c=d", exactly as requested). Resolves with the number removed. */
  purgeUrl(host: string, target: string): Promise<number>;
  /** Removes every entry of host whose request target starts with prefix. */
  purgePrefix(host: string, prefix: string): Promise<number>;
  /** Removes every entry carrying one of these Cache-Tag tags (case-insensitive). */
  purgeTags(tags: readonly string[]): Promise<number>;
  purgeAll(): Promise<number>;
  /** Drops these keys (as onInvalidated gave them) because another cache saw an unsafe request for them. */
  invalidate(keys: readonly string[]): Promise<number>;
  /** Swaps the cache rules (config reload); entries already stored keep the TTL they were stored with. */
  setRules(rules: readonly CacheRuleConfig[]): void;
  stats(): { readonly entries: number; readonly bytes: number };
  /** Resolves when background work (stale-while-revalidate refreshes, bodies being stored) has finished. */
  settled(): Promise<void>;
  /** Aborts origin fetches the cache owns, abandons writes in progress and closes the store. */
  close(): Promise<void>;
}

/** One GET or HEAD the cache handles. */
interface Lookup {
  readonly request: EdgeRequest;
  readonly key: string;
  readonly head: boolean;
  readonly policyRequest: PolicyRequest;
  readonly edgeTtl: EdgeTtl | undefined;
  readonly fetchOrigin: OriginFetch;
  /** The client's signal (made on first read: see ClientSignal). */
  readonly signal: AbortSignal;
}

/** A stored response selected for a request, with its policy. */
interface Candidate {
  readonly meta: EntryMeta;
  readonly policy: Policy;
}

interface Waiter {
  readonly lookup: Lookup;
  readonly fwd: ForwardReason;
}

/** Remembered "this URL answered something unshareable" markers; bounded like everything else. */
const MAX_PASS_MARKERS = 10_000;
/** Flights one request may wait on before it fetches for itself. */
const MAX_WAITS = 3;

export async function createHttpCache(config: CacheConfig, options: HttpCacheOptions): Promise<HttpCache> {
  const log = options.log.child({ component: 'http-cache' });
  const now = options.now ?? Date.now;
  const policies: PolicyFactory = createPolicyFactory(now, config.heuristicFraction);
  // Metrics exist before the store opens: the disk store reports what it discards while rebuilding its index.
  let opened: CacheStore | undefined;
  const m: CacheMetrics = createCacheMetrics(options.metrics, () => opened?.stats() ?? { entries: 0, bytes: 0 });
  const events: StoreEvents = {
    onEvict: () => m.evicted(),
    onStored: (e) => m.stored(e.bytes),
    onCorrupt: (what, reason) => {
      m.error('CACHE_ERR_CORRUPT_ENTRY');
      log.warn({ code: 'CACHE_ERR_CORRUPT_ENTRY', what, reason }, 'discarded a corrupt cache entry');
    },
    onError: (err) => {
      m.error('CACHE_ERR_STORE_WRITE');
      log.warn({ code: 'CACHE_ERR_STORE_WRITE', err }, 'a cache file operation failed');
    },
  };
  const limits: StoreLimits = {
    maxObjectBytes: config.maxObjectBytes,
    maxTotalBytes: config.maxTotalBytes,
    maxEntries: config.maxEntries,
    maxVariantsPerKey: config.maxVariantsPerKey,
  };
  const store: CacheStore =
    options.store ?? (config.store.type === 'disk' ? await openDiskStore(config.store.dir, limits, events) : createMemoryStore(limits, events));
  opened = store;

  let rules: RuleMatcher = compileRules(config.rules);
  const flights = new Map<string, Flight<Waiter>>();
  const passUntil = new Map<string, number>();
  const background = new Set<Promise<unknown>>();
  const closing = new AbortController();
  let closed = false;

  const status = (headers: HeaderMap, s: CacheStatus): HeaderMap => withCacheStatus(headers, config.statusName, s);
  const hideTags = (headers: HeaderMap): HeaderMap => (config.exposeCacheTag ? headers : withoutFields(headers, ['cache-tag']));

  const track = (p: Promise<unknown>): void => {
    const guarded = p.catch((err: unknown) => log.warn({ err }, 'cache background task failed'));
    background.add(guarded);
    void guarded.finally(() => background.delete(guarded));
  };

  const storeFailure = (err: unknown, what: string): void => {
    const code = isCacheError(err) ? err.code : 'CACHE_ERR_STORE_READ';
    m.error(code);
    log.warn({ code, err }, what);
  };

  // ---- pass-through -----------------------------------------------------------------------

  const passThrough = async (request: EdgeRequest, body: Readable | Buffer | null, fetchOrigin: OriginFetch, signal: AbortSignal, s: CacheStatus): Promise<EdgeResponse> => {
    const res = await fetchOrigin(request, body, signal);
    return { ...res, headers: status(hideTags(res.headers), { ...s, fwdStatus: res.status }) };
  };

  /** RFC 9111 §4.4: forward, then invalidate what a successful unsafe request may have changed. */
  const forwardUnsafe = async (request: EdgeRequest, body: Readable | Buffer | null, fetchOrigin: OriginFetch, signal: AbortSignal): Promise<EdgeResponse> => {
    const res = await fetchOrigin(request, body, signal);
    const keys = invalidatedKeys(request.host, request.url, res.status, res.headers);
    if (keys.length > 0) {
      try {
        let n = 0;
        for (const key of keys) n += await store.delete(key);
        m.purged('invalidation', n);
        options.onInvalidated?.(keys);
      } catch (err) {
        storeFailure(err, 'invalidating after an unsafe request failed');
      }
    }
    m.bypass('method');
    return { ...res, headers: status(hideTags(res.headers), { fwd: 'method', fwdStatus: res.status }) };
  };

  /** Why the cache stays out of this GET/HEAD, or undefined when it handles it. */
  const bypassReason = (request: EdgeRequest, key: string | null, rule: CacheRuleConfig | undefined): { fwd: ForwardReason; detail: string } | undefined => {
    if (closed) return { fwd: 'bypass', detail: 'closed' };
    if (key === null) return { fwd: 'bypass', detail: 'target' };
    if (rule?.action === 'bypass') return { fwd: 'bypass', detail: rule.name ? `rule:${rule.name}` : 'rule' };
    // The library does not understand partial content (206) or ranges; those go to the origin.
    if (request.headers.range !== undefined) return { fwd: 'bypass', detail: 'range' };
    if (request.headers.upgrade !== undefined) return { fwd: 'bypass', detail: 'upgrade' };
    // Preconditions meant for the origin (RFC 9111 §4.3.2: the cache evaluates only validators of its own copy).
    if (ORIGIN_PRECONDITIONS.some((h) => request.headers[h] !== undefined)) return { fwd: 'request', detail: 'precondition' };
    return undefined;
  };

  // ---- serving stored responses -------------------------------------------------------------

  // Loaded policies and fresh-hit records, per stored entry object (immutable; see fresh-hit.ts).
  const loadedPolicies = new WeakMap<EntryMeta, Policy>();
  const freshHits = new WeakMap<EntryMeta, FreshHit>();

  /** The request's variant key; without Vary it is '' and the library request is not built. */
  const variantOf = (fields: readonly string[], lookup: Lookup): string => (fields.length === 0 ? '' : variantKey(fields, lookup.policyRequest.headers));

  const select = async (lookup: Lookup, metas: readonly EntryMeta[]): Promise<Candidate | undefined> => {
    // Most recent first: RFC 9111 §4.1 picks the most recent of several matching responses.
    for (const meta of metas) {
      const fields = varyFields(fieldOf(meta.policy.resh, 'vary'));
      if (fields === '*' || variantOf(fields, lookup) !== meta.variant) continue;
      try {
        let policy = loadedPolicies.get(meta);
        if (policy === undefined) loadedPolicies.set(meta, (policy = policies.fromStored(meta.policy)));
        return { meta, policy };
      } catch (err) {
        storeFailure(new CacheError('CACHE_ERR_CORRUPT_ENTRY', 'a stored policy cannot be loaded', { cause: err }), 'discarding a cache entry');
        await store.deleteWhere((e) => e.key === meta.key && e.variant === meta.variant).catch(() => 0);
      }
    }
    return undefined;
  };

  /**
   * A stored response as the client gets it: a 304 when the client's own validators match
   * (RFC 9111 §4.3.2), else the stored status, headers and body. Null when the body is gone.
   */
  /** A stored response's headers as served, before Cache-Status: the library's, tags hidden, the stored length. */
  const servedHeaders = (meta: EntryMeta, policy: Policy): HeaderMap => {
    const headers = hideTags(presentedHeaders(policy, meta.restore));
    const stored = meta.policy.st;
    // A 304 answer picks its own fields (notModifiedHeaders), never Content-Length.
    if (stored !== 204 && stored !== 304) headers['content-length'] = String(meta.size);
    return headers;
  };

  /** The stored body for a GET (null when it is gone), tied to the client's signal when it streams. */
  const storedBody = async (lookup: Lookup, meta: EntryMeta): Promise<Buffer | Readable | null> => {
    let content: Buffer | Readable | null;
    try {
      content = await store.readBody(meta);
    } catch (err) {
      storeFailure(err, 'reading a cached body failed');
      return null;
    }
    if (content !== null && !Buffer.isBuffer(content)) destroyOnAbort(content, lookup.signal);
    return content;
  };

  const present = async (lookup: Lookup, meta: EntryMeta, policy: Policy, s: CacheStatus, body?: Buffer | Readable | null): Promise<EdgeResponse | null> => {
    const headers = servedHeaders(meta, policy);
    const stored = meta.policy.st;
    if (clientCopyIsCurrent(lookup.request.headers, stored, headers)) {
      if (body && !Buffer.isBuffer(body)) body.destroy();
      return { status: 304, headers: status(notModifiedHeaders(headers), s), body: null };
    }
    if (lookup.head) {
      if (body && !Buffer.isBuffer(body)) body.destroy();
      return { status: stored, headers: status(headers, s), body: null };
    }
    let content = body;
    if (content === undefined) content = await storedBody(lookup, meta);
    else if (content !== null && !Buffer.isBuffer(content)) destroyOnAbort(content, lookup.signal);
    if (content === null) return null;
    return { status: stored, headers: status(headers, s), body: content };
  };

  /**
   * A plain request (fresh-hit.ts) on an entry the library already served fresh: the recorded
   * answer with Age and Cache-Status brought up to now. Null when the full way must decide: the
   * most recent matching entry has no record, the record's window has passed, or the body is gone.
   */
  const serveRecordedHit = async (lookup: Lookup, metas: readonly EntryMeta[]): Promise<EdgeResponse | null> => {
    for (const meta of metas) {
      const record = freshHits.get(meta);
      if (record === undefined) return null;
      if (variantOf(record.vary, lookup) !== meta.variant) continue;
      if (now() >= record.validUntil) {
        freshHits.delete(meta);
        return null;
      }
      const body = lookup.head ? null : await storedBody(lookup, meta);
      if (body === null && !lookup.head) return null;
      const age = record.policy.age();
      const member = formatCacheStatus(config.statusName, { hit: true, ttl: Math.round(record.maxAge - age) });
      m.hit();
      return { status: record.status, headers: { ...record.headers, age: String(Math.round(age)), 'cache-status': appendCacheStatus(record.upstreamStatus, member) }, body };
    }
    return null;
  };

  // The disk store reads metadata afresh on every lookup (new objects), so a record would never be found again.
  const recordsHold = store.kind === 'memory';
  /** Remembers what the library answered a plain request on a fresh entry (see serveRecordedHit). */
  const recordFreshHit = (lookup: Lookup, candidate: Candidate): void => {
    if (!recordsHold || !isPlainRequest(lookup.request.headers)) return;
    const vary = varyFields(fieldOf(candidate.meta.policy.resh, 'vary'));
    if (vary === '*') return;
    const record = freshHitRecord(candidate.policy, candidate.meta.policy.st, vary, servedHeaders(candidate.meta, candidate.policy), now());
    if (record) freshHits.set(candidate.meta, record);
  };

  const serveStaleIfError = async (lookup: Lookup, candidate: Candidate, fwdStatus: number | undefined): Promise<EdgeResponse | null> => {
    const served = await present(lookup, candidate.meta, candidate.policy, {
      fwd: 'stale',
      fwdStatus,
      ttl: remainingTtl(candidate.policy),
      detail: 'stale-if-error',
    });
    if (served) m.staleServed('stale-if-error');
    return served;
  };

  // ---- lookup -------------------------------------------------------------------------------

  const lookupAndServe = async (lookup: Lookup, attempt: number): Promise<EdgeResponse> => {
    // The flight in progress before the store is read: if it commits while we read, we saw
    // neither its entry nor (afterwards) the flight, and would fetch again for nothing.
    const before = flights.get(lookup.key);
    let metas: readonly EntryMeta[] = [];
    try {
      metas = await store.get(lookup.key);
    } catch (err) {
      storeFailure(err, 'reading the cache failed; treated as a miss');
    }
    if (metas.length > 0 && isPlainRequest(lookup.request.headers)) {
      const recorded = await serveRecordedHit(lookup, metas);
      if (recorded) return recorded;
    }
    const candidate = await select(lookup, metas);
    if (candidate) {
      let evaluation: ReturnType<Policy['evaluateRequest']> | undefined;
      try {
        evaluation = candidate.policy.evaluateRequest(lookup.policyRequest);
      } catch (err) {
        storeFailure(new CacheError('CACHE_ERR_CORRUPT_ENTRY', 'a stored policy cannot be evaluated', { cause: err }), 'ignoring a cache entry');
      }
      if (evaluation?.response && !evaluation.revalidation) {
        const served = await present(lookup, candidate.meta, candidate.policy, { hit: true, ttl: remainingTtl(candidate.policy) });
        if (served) {
          m.hit();
          recordFreshHit(lookup, candidate);
          return served;
        }
        return viaOrigin(lookup, undefined, 'uri-miss', attempt, before);
      }
      if (evaluation?.response && evaluation.revalidation && !evaluation.revalidation.synchronous && !forbidsStale(candidate.policy)) {
        // stale-while-revalidate (RFC 5861 §3): serve the stale response now, refresh behind it.
        const served = await present(lookup, candidate.meta, candidate.policy, { hit: true, ttl: remainingTtl(candidate.policy), detail: 'stale-while-revalidate' });
        if (served) {
          m.staleServed('stale-while-revalidate');
          refreshInBackground(lookup, candidate);
          return served;
        }
        return viaOrigin(lookup, undefined, 'uri-miss', attempt, before);
      }
      if (evaluation) {
        // Stale, or the request's own directives (no-cache, max-age=0) want validation.
        const fwd: ForwardReason = candidate.policy.stale() ? 'stale' : 'request';
        const refused = onlyIfCached(lookup);
        if (refused) return refused;
        if (lookup.head) return headViaOrigin(lookup, fwd, attempt, before);
        return viaOrigin(lookup, candidate, fwd, attempt, before);
      }
    }
    const fwd: ForwardReason = metas.length > 0 ? 'vary-miss' : 'uri-miss';
    const refused = onlyIfCached(lookup);
    if (refused) return refused;
    if (lookup.head) return headViaOrigin(lookup, fwd, attempt, before);
    return viaOrigin(lookup, undefined, fwd, attempt, before);
  };

  /**
   * RFC 9111 §5.2.1.7: a client that asks only-if-cached gets a stored response or a 504, never
   * a trip to the origin.
   */
  const onlyIfCached = (lookup: Lookup): EdgeResponse | undefined => {
    if (!/\bonly-if-cached\b/i.test(fieldValue(lookup.request.headers, 'cache-control') ?? '')) return undefined;
    return { status: 504, headers: status({ 'content-length': '0', 'cache-control': 'no-store' }, { detail: 'only-if-cached' }), body: null };
  };

  /** Requests whose own directives ask for a response of their own do not wait on another's. */
  const coalescable = (lookup: Lookup): boolean => {
    const cc = fieldValue(lookup.request.headers, 'cache-control') ?? '';
    const pragma = fieldValue(lookup.request.headers, 'pragma') ?? '';
    if (/\b(no-cache|no-store|max-age|min-fresh)\b/i.test(cc) || /\bno-cache\b/i.test(pragma)) return false;
    const until = passUntil.get(lookup.key);
    if (until !== undefined && until > now()) return false;
    if (until !== undefined) passUntil.delete(lookup.key);
    return true;
  };

  const markPass = (key: string): void => {
    if (config.hitForPassSeconds === 0) return;
    passUntil.delete(key);
    passUntil.set(key, now() + config.hitForPassSeconds * 1000);
    if (passUntil.size > MAX_PASS_MARKERS) passUntil.delete(passUntil.keys().next().value!);
  };

  /**
   * Goes to the origin for a GET, through the URL's flight: waits on the one in progress (at
   * most MAX_WAITS times, so a request whose variant keeps not matching ends up fetching for
   * itself), or leads a new one that later requests can wait on.
   */
  const viaOrigin = async (lookup: Lookup, candidate: Candidate | undefined, fwd: ForwardReason, attempt: number, before: Flight<Waiter> | undefined): Promise<EdgeResponse> => {
    const coalesce = coalescable(lookup);
    // A flight seen before the lookup and done since answers "look again" at once.
    const existing = coalesce ? (flights.get(lookup.key) ?? before) : undefined;
    if (existing && attempt < MAX_WAITS) return afterWaiting(lookup, candidate, await existing.join({ lookup, fwd }, lookup.signal), attempt);
    m.miss(fwd);
    const flight = new Flight<Waiter>(false);
    if (coalesce && existing === undefined) register(lookup.key, flight);
    try {
      return (await lead(lookup, flight, candidate, fwd, true))!;
    } catch (err) {
      // Whatever went wrong, nobody may be left waiting on this flight.
      flight.fail(err);
      throw err;
    }
  };

  /**
   * A HEAD that the store cannot answer waits for a GET of the same URL in flight (its headers
   * answer the HEAD), else goes to the origin as it is: a HEAD has no body to store (RFC 9110 §9.3.2).
   */
  const headViaOrigin = async (lookup: Lookup, fwd: ForwardReason, attempt: number, before: Flight<Waiter> | undefined): Promise<EdgeResponse> => {
    const existing = coalescable(lookup) ? (flights.get(lookup.key) ?? before) : undefined;
    if (existing && attempt < MAX_WAITS) return afterWaiting(lookup, undefined, await existing.join({ lookup, fwd }, lookup.signal), attempt);
    m.miss(fwd);
    return passThrough(lookup.request, null, lookup.fetchOrigin, lookup.signal, { fwd });
  };

  const afterWaiting = async (lookup: Lookup, candidate: Candidate | undefined, outcome: WaiterOutcome, attempt: number): Promise<EdgeResponse> => {
    switch (outcome.kind) {
      case 'response':
        m.coalesced();
        return outcome.response;
      case 'retry':
        return lookupAndServe(lookup, attempt + 1);
      case 'failed': {
        if (candidate && candidate.policy.stale() && allowsStaleIfError(candidate.policy, lookup.policyRequest, undefined)) {
          const served = await serveStaleIfError(lookup, candidate, undefined);
          if (served) return served;
        }
        if (outcome.error === undefined) return lookupAndServe(lookup, attempt + 1);
        throw outcome.error;
      }
    }
  };

  const register = (key: string, flight: Flight<Waiter>): void => {
    flights.set(key, flight);
    void flight.done.then(() => {
      if (flights.get(key) === flight) flights.delete(key);
    });
  };

  const refreshInBackground = (lookup: Lookup, candidate: Candidate): void => {
    if (closed || flights.has(lookup.key)) return; // one refresh at a time per URL
    const flight = new Flight<Waiter>(true);
    register(lookup.key, flight);
    const detached: Lookup = { ...lookup, signal: closing.signal };
    track(
      lead(detached, flight, candidate, 'stale', false).then(
        (res) => discardBody(res?.body ?? null),
        (err: unknown) => {
          flight.fail(err);
          log.info({ err: (err as Error)?.message, key: lookup.key }, 'stale-while-revalidate refresh failed; the stale response stays');
        },
      ),
    );
  };

  // ---- the origin fetch of a flight --------------------------------------------------------

  /** The request a cache fill sends: the client's own validators are for its copy, not ours (see README). */
  const fillRequest = (lookup: Lookup): EdgeRequest => {
    const until = passUntil.get(lookup.key);
    if (until !== undefined && until > now()) return lookup.request;
    return { ...lookup.request, headers: withoutFields(lookup.request.headers, CACHE_VALIDATORS) };
  };

  /** A conditional request for our stored copy (RFC 9111 §4.3.1), validators chosen by the library. */
  const revalidationRequest = (lookup: Lookup, candidate: Candidate): EdgeRequest => {
    const own = withoutFields(lookup.request.headers, CACHE_VALIDATORS);
    const validators = candidate.policy.revalidationHeaders({ ...lookup.policyRequest, headers: { ...toFieldMap(own), host: lookup.policyRequest.headers.host! } });
    const headers: HeaderMap = { ...own };
    for (const h of CACHE_VALIDATORS) if (typeof validators[h] === 'string') headers[h] = validators[h];
    return { ...lookup.request, headers };
  };

  /**
   * Leads a flight: fetches from the origin and turns the answer into the leader's response
   * (null for a background refresh, `wantsBody` false), settling the waiters on the way.
   */
  const lead = async (lookup: Lookup, flight: Flight<Waiter>, candidate: Candidate | undefined, fwd: ForwardReason, wantsBody: boolean): Promise<EdgeResponse | null> => {
    const releaseInterest = wantsBody ? flight.watch(lookup.signal) : () => undefined;
    const onClose = (): void => flight.controller.abort(new CacheError('CACHE_ERR_CLOSED'));
    closing.signal.addEventListener('abort', onClose, { once: true });
    const cleanup = (): void => closing.signal.removeEventListener('abort', onClose);
    let res: EdgeResponse;
    try {
      res = await lookup.fetchOrigin(candidate ? revalidationRequest(lookup, candidate) : fillRequest(lookup), null, flight.controller.signal);
    } catch (err) {
      cleanup();
      releaseInterest();
      flight.fail(err);
      if (candidate) m.revalidation('error');
      if (!wantsBody) throw err;
      if (candidate && fwd === 'stale' && allowsStaleIfError(candidate.policy, lookup.policyRequest, undefined)) {
        const served = await serveStaleIfError(lookup, candidate, undefined);
        if (served) return served;
      }
      if (lookup.signal.aborted) throw new CacheError('CACHE_ERR_ABORTED', undefined, { cause: err });
      throw err;
    }
    cleanup();
    releaseInterest();
    if (candidate) {
      if (res.status === 304) return revalidated(lookup, flight, candidate, res, fwd, wantsBody);
      if (fwd === 'stale' && res.status >= 500 && allowsStaleIfError(candidate.policy, lookup.policyRequest, { status: res.status, headers: toFieldMap(res.headers) })) {
        // RFC 5861 §4: the origin answered an error; the stale response is the better answer.
        discardBody(res.body);
        m.revalidation('error');
        // Waiters serve stale as well, or (where their variant may not) ask the origin themselves.
        flight.fail(undefined);
        if (!wantsBody) return null;
        const served = await serveStaleIfError(lookup, candidate, res.status);
        if (served) return served;
        // The stale body vanished meanwhile (evicted, purged): nothing better than asking again.
        return passThrough(fillRequest(lookup), null, lookup.fetchOrigin, lookup.signal, { fwd: 'uri-miss' });
      }
      m.revalidation(res.status >= 500 ? 'error' : 'modified');
    }
    return received(lookup, flight, res, fwd, wantsBody);
  };

  /** A 304 for our stored copy: merge its headers (RFC 9111 §4.3.4) and serve the stored body. */
  const revalidated = async (lookup: Lookup, flight: Flight<Waiter>, candidate: Candidate, res: EdgeResponse, fwd: ForwardReason, wantsBody: boolean): Promise<EdgeResponse | null> => {
    discardBody(res.body);
    const { fields, restore } = revalidationFields(toFieldMap(res.headers), lookup.edgeTtl, { restore: candidate.meta.restore, headers: candidate.meta.policy.resh }, lookup.policyRequest);
    let updated: ReturnType<Policy['revalidatedPolicy']> | undefined;
    try {
      updated = candidate.policy.revalidatedPolicy(lookup.policyRequest, { status: 304, headers: fields });
    } catch {
      updated = undefined;
    }
    const applies = updated !== undefined && updated.matches && !updated.modified;
    // The leader needs the stored body; a background refresh only updates the metadata.
    const body = applies && wantsBody ? await store.readBody(candidate.meta).catch(() => null) : null;
    // Not for our copy (another validator): RFC 9111 §4.3.4 forbids using it, so fetch afresh.
    if (updated === undefined || !applies || (wantsBody && body === null)) {
      m.revalidation('mismatch');
      let fresh: EdgeResponse;
      try {
        fresh = await lookup.fetchOrigin(fillRequest(lookup), null, flight.controller.signal);
      } catch (err) {
        flight.fail(err);
        throw err;
      }
      return received(lookup, flight, fresh, fwd, wantsBody);
    }
    m.revalidation('not-modified');
    const policy = updated.policy;
    const serialized = serializePolicy(policy);
    const meta: EntryMeta = { ...candidate.meta, policy: serialized, tags: parseCacheTags(fieldOf(serialized.resh, 'cache-tag')), storedAt: now(), restore };
    try {
      await store.updateMeta(meta);
    } catch (err) {
      storeFailure(err, 'updating a revalidated cache entry failed');
    }
    // Waiters look again and find the refreshed entry.
    flight.finish();
    if (!wantsBody) return null;
    const served = await present(lookup, meta, policy, { fwd, fwdStatus: 304, ttl: remainingTtl(policy) }, body);
    return served ?? passThrough(fillRequest(lookup), null, lookup.fetchOrigin, lookup.signal, { fwd: 'uri-miss' });
  };

  /**
   * Why a response may not be shared (stored or handed to coalesced requests), or undefined when
   * it may. `fields` are the origin's own, before any edge TTL rewrite.
   */
  const notShareable = (policy: Policy | undefined, fields: Record<string, string>, request: PolicyRequest): NotStoredReason | undefined => {
    // RFC 9111 §3.5, asked of the origin's own Cache-Control: an edge TTL (s-maxage, policy.ts)
    // must never be what makes a response to a request with Authorization shareable.
    if (hasAuthorization(request) && !originAllowsSharingAuthenticated(fields['cache-control'])) return 'authorization';
    if (policy === undefined || !policy.storable()) return 'uncacheable';
    // A response that sets a cookie is somebody's session: never handed to anyone else.
    if (fields['set-cookie'] !== undefined) return 'set-cookie';
    // "Vary: *" can never be matched again (RFC 9111 §4.1); storing it would only take room.
    if (varyFields(fields.vary) === '*') return 'vary-star';
    return undefined;
  };

  /** A full response from the origin: stream it to the leader, the store and the waiters it suits. */
  const received = (lookup: Lookup, flight: Flight<Waiter>, res: EdgeResponse, fwd: ForwardReason, wantsBody: boolean): EdgeResponse | null => {
    const fields = toFieldMap(res.headers);
    const { fields: policyFields, restore } = applyEdgeTtl(fields, lookup.edgeTtl, lookup.policyRequest);
    let policy: Policy | undefined;
    try {
      policy = policies.fromResponse(lookup.policyRequest, res.status, policyFields);
    } catch {
      policy = undefined;
    }
    const unshareable = notShareable(policy, fields, lookup.policyRequest);
    const length = contentLength(res.headers);
    const tooLarge = length !== undefined && length > config.maxObjectBytes;
    const storing = unshareable === undefined && !tooLarge && !closed;
    if (unshareable) {
      m.notStored(unshareable);
      // An error is not a property of the URL: coalescing keeps protecting an origin in trouble.
      if (res.status < 500) markPass(lookup.key);
    } else if (tooLarge) m.notStored('too-large');
    const ttl = policy && unshareable === undefined ? remainingTtl(policy) : undefined;

    const fanout = new BodyFanout(res.body, {
      maxStoredBytes: config.maxObjectBytes,
      expectedLength: length,
      onSinkDropped: (err) => {
        const code = isCacheError(err) ? err.code : 'CACHE_ERR_STORE_WRITE';
        const reason: NotStoredReason =
          code === 'CACHE_ERR_TOO_LARGE' ? 'too-large' : code === 'CACHE_ERR_INCOMPLETE_BODY' ? 'incomplete' : code === 'CACHE_ERR_INVALIDATED' ? 'invalidated' : 'write-failed';
        m.notStored(reason);
        if (reason === 'write-failed') storeFailure(err, 'storing a response failed; it was served unstored');
      },
    });
    let readers = 0;

    // The waiters: each gets the response when it could have been served it from the cache.
    const shared = policy !== undefined && unshareable === undefined ? hideTags(presentedHeaders(policy, restore)) : undefined;
    flight.settle((waiter) => {
      if (shared === undefined || policy === undefined) return { kind: 'retry' };
      const evaluation = policy.evaluateRequest(waiter.lookup.policyRequest);
      if (!evaluation.response || evaluation.revalidation) return { kind: 'retry' };
      const s: CacheStatus = { fwd: waiter.fwd, fwdStatus: res.status, collapsed: true, stored: storing, ttl };
      if (clientCopyIsCurrent(waiter.lookup.request.headers, res.status, shared)) {
        return { kind: 'response', response: { status: 304, headers: status(notModifiedHeaders(shared), s), body: null } };
      }
      if (waiter.lookup.head) return { kind: 'response', response: { status: res.status, headers: status(shared, s), body: null } };
      const branch = fanout.branch();
      readers += 1;
      destroyOnAbort(branch, waiter.lookup.signal);
      return { kind: 'response', response: { status: res.status, headers: status(shared, s), body: branch } };
    });

    const leaderStatus: CacheStatus = { fwd, fwdStatus: res.status, stored: storing, ttl };
    const leaderHeaders = hideTags(res.headers);
    // The client's validators were not sent (fillRequest); evaluate them on the full response.
    const leaderNotModified = wantsBody && res.status === 200 && clientCopyIsCurrent(lookup.request.headers, res.status, leaderHeaders);
    let leaderBody: Readable | Buffer | null = null;
    if (wantsBody && !leaderNotModified && (storing || readers > 0)) {
      leaderBody = fanout.branch();
      destroyOnAbort(leaderBody, lookup.signal);
      readers += 1;
    }

    if (storing || readers > 0) {
      if (storing) {
        fanout.store(
          store.createWriteStream({
            key: lookup.key,
            variant: variantOf(varyFields(fields.vary) as readonly string[], lookup),
            policy: serializePolicy(policy!),
            tags: parseCacheTags(fields['cache-tag']),
            storedAt: now(),
            restore,
          }),
        );
      }
      const abortOrigin = (): void => flight.controller.abort(new CacheError('CACHE_ERR_CLOSED'));
      closing.signal.addEventListener('abort', abortOrigin, { once: true });
      track(
        fanout.run().then((result) => {
          closing.signal.removeEventListener('abort', abortOrigin);
          if (!result.complete) flight.controller.abort(new CacheError('CACHE_ERR_INCOMPLETE_BODY'));
          flight.finish();
        }),
      );
    } else {
      // Nothing shared: the leader reads the origin body directly, and its going away aborts the fetch.
      flight.finish();
      if (wantsBody && !leaderNotModified) {
        leaderBody = res.body;
        abortWith(lookup.signal, flight.controller);
      } else {
        discardBody(res.body);
      }
    }

    if (!wantsBody) return null;
    if (leaderNotModified) return { status: 304, headers: status(notModifiedHeaders(leaderHeaders), leaderStatus), body: null };
    return { status: res.status, headers: status(leaderHeaders, leaderStatus), body: leaderBody };
  };

  // ---- purge --------------------------------------------------------------------------------

  const purged = (kind: 'url' | 'prefix' | 'tag' | 'all', n: number): number => {
    m.purged(kind, n);
    log.info({ kind, entries: n }, 'cache purge');
    return n;
  };

  return {
    async handle(request, body, fetchOrigin, client) {
      if (client.aborted) throw new CacheError('CACHE_ERR_ABORTED');
      const method = request.method.toUpperCase();
      if (!isSafeMethod(method)) return forwardUnsafe(request, body, fetchOrigin, client.signal);
      if (method !== 'GET' && method !== 'HEAD') {
        m.bypass('method');
        return passThrough(request, body, fetchOrigin, client.signal, { fwd: 'method' });
      }
      const rule = rules(request.host, targetPath(request.url));
      const key = primaryKey(request.host, request.url);
      const bypass = bypassReason(request, key, rule);
      if (bypass) {
        m.bypass(bypass.detail.startsWith('rule') ? 'rule' : bypass.detail);
        return passThrough(request, body, fetchOrigin, client.signal, bypass);
      }
      // A GET body has no defined meaning (RFC 9110 §9.3.1) and is never part of a cache key.
      discardBody(body);
      let libraryRequest: PolicyRequest | undefined;
      const lookup: Lookup = {
        request,
        key: key!,
        head: method === 'HEAD',
        // Built when first needed: a recorded hit without Vary never reads it.
        get policyRequest() {
          return (libraryRequest ??= policyRequest(request.url, request.host.toLowerCase(), request.headers));
        },
        edgeTtl: rule?.action === 'cache' ? rule.edgeTtl : undefined,
        fetchOrigin,
        get signal() {
          return client.signal;
        },
      };
      return lookupAndServe(lookup, 0);
    },

    async purgeUrl(host, target) {
      const key = primaryKey(host, target);
      if (key === null) return 0;
      passUntil.delete(key);
      return purged('url', await store.delete(key));
    },

    async purgePrefix(host, prefix) {
      const h = host.toLowerCase();
      return purged(
        'prefix',
        await store.deleteWhere((e) => {
          const k = splitKey(e.key);
          return k.host === h && k.target.startsWith(prefix);
        }),
      );
    },

    async purgeTags(tags) {
      const wanted = new Set(tags.map((t) => t.trim().toLowerCase()).filter((t) => t !== ''));
      if (wanted.size === 0) return 0;
      return purged('tag', await store.deleteWhere((e) => e.tags.some((t) => wanted.has(t))));
    },

    async invalidate(keys) {
      let n = 0;
      try {
        for (const key of keys) n += await store.delete(key);
      } catch (err) {
        storeFailure(err, 'invalidating for another cache failed');
      }
      m.purged('invalidation', n);
      return n;
    },

    async purgeAll() {
      passUntil.clear();
      return purged('all', await store.deleteWhere(() => true));
    },

    setRules(next) {
      rules = compileRules(next);
    },

    stats: () => store.stats(),

    async settled() {
      while (background.size > 0) await Promise.all([...background]);
    },

    async close() {
      if (closed) return;
      closed = true;
      closing.abort(new CacheError('CACHE_ERR_CLOSED'));
      for (const f of flights.values()) f.controller.abort(new CacheError('CACHE_ERR_CLOSED'));
      await store.close();
      while (background.size > 0) await Promise.all([...background]);
    },
  };
}

/** A header of a stored policy as one string. */
function fieldOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Reads an unwanted body to its end (so the origin connection can be reused), ignoring its errors. */
function discardBody(body: Readable | Buffer | null): void {
  if (body === null || Buffer.isBuffer(body)) return;
  body.on('error', () => undefined);
  body.resume();
}

function destroyOnAbort(stream: Readable, signal: AbortSignal): void {
  if (signal.aborted) return void stream.destroy();
  const onAbort = (): void => void stream.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', onAbort));
}

function abortWith(signal: AbortSignal, controller: AbortController): void {
  if (signal.aborted) return controller.abort(signal.reason);
  signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
}
