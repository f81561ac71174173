// The cache against a real origin (node:http, counting requests) through undici, once on the
// memory store and once on the disk store, with a controllable clock: hits and misses, Age,
// Vary, revalidation, the stale-* rules, coalescing, purge, what must not be stored,
// invalidation, rules, Cache-Status and streaming.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheConfigInput } from '../../../../edge/http/cache/config.js';
import { tempDir } from '../../../helpers/tmp.js';
import { bodyText, cacheHarness, delay, fixed, metricValue, startOrigin, type CacheHarness, type TestOrigin } from './helpers.js';

describe.each(['memory', 'disk'] as const)('on the %s store', (kind) => {
  let origin: TestOrigin;
  let h: CacheHarness;
  let dir: { dir: string; cleanup: () => Promise<void> } | undefined;
  /** A cache on this suite's store; a re-created one keeps the directory (a restart). */
  const harness = (config: CacheConfigInput = {}): Promise<CacheHarness> => cacheHarness(origin, dir ? { ...config, store: { type: 'disk', dir: dir.dir } } : config);

  beforeEach(async () => {
    origin = await startOrigin();
    dir = kind === 'disk' ? await tempDir('cache') : undefined;
    h = await harness();
  });

  afterEach(async () => {
    await h.close();
    await origin.stop();
    await dir?.cleanup();
  });

  describe('hits and misses', () => {
    it('serves a cacheable response as a MISS, then as a HIT; the origin sees one request', async () => {
      origin.route('/page', fixed(200, { 'cache-control': 'max-age=60', 'content-type': 'text/html' }, 'hello'));
      const first = await h.fetchText('/page');
      expect(first.text).toBe('hello');
      expect(first.status).toBe('keyless; fwd=uri-miss; fwd-status=200; ttl=60; stored');
      const second = await h.fetchText('/page');
      expect(second.text).toBe('hello');
      expect(second.status).toBe('keyless; hit; ttl=60');
      expect(second.response.headers['content-type']).toBe('text/html');
      expect(second.response.headers['content-length']).toBe('5');
      expect(origin.count('/page')).toBe(1);
      expect(await metricValue(h.registry, 'keyless_edge_cache_hits_total')).toBe(1);
      expect(await metricValue(h.registry, 'keyless_edge_cache_misses_total', { reason: 'uri-miss' })).toBe(1);
      expect(await metricValue(h.registry, 'keyless_edge_cache_stored_bytes_total')).toBeGreaterThan(5);
    });

    it('keeps Age correct: the stored Age plus the time in the cache, and ttl counts down', async () => {
      origin.route('/aged', fixed(200, { 'cache-control': 'max-age=100', age: '30' }, 'x'));
      await h.fetchText('/aged');
      h.clock.advance(20);
      const hit = await h.fetchText('/aged');
      expect(hit.response.headers.age).toBe('50');
      expect(hit.status).toBe('keyless; hit; ttl=50');
      // RFC 9110 §6.6.1: Date stays the origin's, not the time of the hit.
      const date = Date.parse(String(hit.response.headers.date));
      expect(Math.abs(date - Date.now())).toBeLessThan(5_000);
    });

    it('answers a HEAD from the stored GET, and forwards a HEAD miss without storing', async () => {
      origin.route('/h', fixed(200, { 'cache-control': 'max-age=60' }, 'body!'));
      const headMiss = await h.get('/h', { method: 'HEAD' });
      expect(headMiss.headers['cache-status']).toBe('keyless; fwd=uri-miss; fwd-status=200');
      await bodyText(headMiss);
      await h.fetchText('/h');
      const head = await h.get('/h', { method: 'HEAD' });
      expect(head.body).toBeNull();
      expect(head.headers['content-length']).toBe('5');
      expect(head.headers['cache-status']).toBe('keyless; hit; ttl=60');
      expect(origin.requests.map((r) => r.method)).toEqual(['HEAD', 'GET']);
    });

    it("answers the client's own If-None-Match with a 304 on a hit", async () => {
      origin.route('/etag', fixed(200, { 'cache-control': 'max-age=60', etag: '"v1"' }, 'content'));
      await h.fetchText('/etag');
      const conditional = await h.get('/etag', { headers: { 'if-none-match': 'W/"v1"' } });
      expect(conditional.status).toBe(304);
      expect(conditional.body).toBeNull();
      expect(conditional.headers.etag).toBe('"v1"');
      const other = await h.fetchText('/etag', { headers: { 'if-none-match': '"v0"' } });
      expect(other.response.status).toBe(200);
      expect(other.text).toBe('content');
      expect(origin.count('/etag')).toBe(1);
    });

    it('fills the cache even when the first client sent validators, and answers that client 304', async () => {
      origin.route('/cond', (req, res) => {
        // An origin would answer 304 here; the cache must not have forwarded the client's validator.
        if (req.headers['if-none-match']) return void res.writeHead(304, { etag: '"a"' }).end();
        res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"a"' }).end('full');
      });
      const first = await h.get('/cond', { headers: { 'if-none-match': '"a"' } });
      expect(first.status).toBe(304);
      expect(origin.requests[0]!.headers['if-none-match']).toBeUndefined();
      await h.cache.settled();
      const second = await h.fetchText('/cond');
      expect(second.text).toBe('full');
      expect(second.status).toContain('hit');
    });
  });

  describe('Vary', () => {
    it('keeps the variants apart and serves each from the cache', async () => {
      origin.route('/greet', (req, res) => {
        const lang = req.headers['accept-language'] === 'fr' ? 'fr' : 'en';
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' }).end(lang === 'fr' ? 'bonjour' : 'hello');
      });
      expect((await h.fetchText('/greet', { headers: { 'accept-language': 'en' } })).text).toBe('hello');
      const fr = await h.fetchText('/greet', { headers: { 'accept-language': 'fr' } });
      expect(fr.text).toBe('bonjour');
      expect(fr.status).toContain('fwd=vary-miss');
      const en = await h.fetchText('/greet', { headers: { 'accept-language': 'en' } });
      expect(en.text).toBe('hello');
      expect(en.status).toContain('hit');
      expect((await h.fetchText('/greet', { headers: { 'accept-language': 'fr' } })).text).toBe('bonjour');
      expect(origin.count('/greet')).toBe(2);
    });

    it('never stores a response with Vary: *', async () => {
      origin.route('/star', fixed(200, { 'cache-control': 'max-age=60', vary: '*' }, 's'));
      await h.fetchText('/star');
      await h.fetchText('/star');
      expect(origin.count('/star')).toBe(2);
    });
  });

  describe('revalidation', () => {
    it('revalidates an expired entry with If-None-Match; a 304 refreshes its headers (RFC 9111 §4.3.4)', async () => {
      origin.route('/v', (req, res, seen) => {
        if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=120', 'x-origin-says': 'refreshed' }).end();
        res.writeHead(200, { 'cache-control': 'max-age=10', etag: '"v1"', 'x-origin-says': 'first', 'content-type': 'text/plain' }).end(`body ${seen}`);
      });
      expect((await h.fetchText('/v')).text).toBe('body 1');
      h.clock.advance(11);
      const revalidated = await h.fetchText('/v');
      expect(revalidated.text).toBe('body 1');
      expect(revalidated.status).toBe('keyless; fwd=stale; fwd-status=304; ttl=120');
      expect(revalidated.response.headers['x-origin-says']).toBe('refreshed');
      expect(revalidated.response.headers['content-type']).toBe('text/plain');
      expect(origin.requests[1]!.headers['if-none-match']).toBe('"v1"');
      // The refreshed lifetime holds: a hit, no third origin request.
      h.clock.advance(60);
      const hit = await h.fetchText('/v');
      expect(hit.status).toContain('hit');
      expect(hit.response.headers['x-origin-says']).toBe('refreshed');
      expect(origin.count('/v')).toBe(2);
      expect(await metricValue(h.registry, 'keyless_edge_cache_revalidations_total', { result: 'not-modified' })).toBe(1);
    });

    it('revalidates with If-Modified-Since when there is only Last-Modified', async () => {
      const lastModified = new Date(Date.now() - 86_400_000).toUTCString();
      origin.route('/lm', (req, res) => {
        if (req.headers['if-modified-since'] === lastModified) return void res.writeHead(304, { 'last-modified': lastModified }).end();
        res.writeHead(200, { 'cache-control': 'max-age=5', 'last-modified': lastModified }).end('dated');
      });
      await h.fetchText('/lm');
      h.clock.advance(6);
      const again = await h.fetchText('/lm');
      expect(again.text).toBe('dated');
      expect(again.status).toContain('fwd-status=304');
      expect(origin.requests[1]!.headers['if-modified-since']).toBe(lastModified);
    });

    it('does not apply a 304 that names no validator of the stored response; it fetches afresh (RFC 9111 §4.3.4)', async () => {
      origin.route('/bare304', (req, res, seen) => {
        if (req.headers['if-none-match']) return void res.writeHead(304, {}).end();
        res.writeHead(200, { 'cache-control': 'max-age=5', etag: '"e"' }).end(`body ${seen}`);
      });
      await h.fetchText('/bare304');
      h.clock.advance(6);
      const again = await h.fetchText('/bare304');
      expect(again.text).toBe('body 3');
      expect(origin.requests.map((r) => r.headers['if-none-match'])).toEqual([undefined, '"e"', undefined]);
      expect(await metricValue(h.registry, 'keyless_edge_cache_revalidations_total', { result: 'mismatch' })).toBe(1);
    });

    it('stores the new body when the validator no longer matches (200 to a conditional request)', async () => {
      origin.route('/changed', (_req, res, seen) => {
        res.writeHead(200, { 'cache-control': 'max-age=10', etag: `"v${seen}"` }).end(`version ${seen}`);
      });
      await h.fetchText('/changed');
      h.clock.advance(11);
      const changed = await h.fetchText('/changed');
      expect(changed.text).toBe('version 2');
      expect(changed.status).toBe('keyless; fwd=stale; fwd-status=200; ttl=10; stored');
      await h.cache.settled();
      expect((await h.fetchText('/changed')).text).toBe('version 2');
      expect(origin.count('/changed')).toBe(2);
    });

    it('a fresh must-revalidate response is revalidated each time (the library, kornelski/http-cache-semantics#54)', async () => {
      // RFC 9111 §5.2.2.2 would allow serving it fresh; http-cache-semantics 4.3 revalidates. Safe,
      // one conditional request per use; this test notices when an upgrade changes it.
      origin.route('/mrf', (req, res) => {
        if (req.headers['if-none-match']) return void res.writeHead(304, { etag: '"m"' }).end();
        res.writeHead(200, { 'cache-control': 'max-age=600, must-revalidate', etag: '"m"' }).end('m');
      });
      await h.fetchText('/mrf');
      await h.cache.settled();
      const again = await h.fetchText('/mrf');
      expect(again.text).toBe('m');
      expect(again.status).toBe('keyless; fwd=request; fwd-status=304; ttl=600');
    });

    it('a client no-cache request revalidates a fresh entry (fwd=request)', async () => {
      origin.route('/nc', (req, res) => {
        if (req.headers['if-none-match']) return void res.writeHead(304, { etag: '"n"' }).end();
        res.writeHead(200, { 'cache-control': 'max-age=60', etag: '"n"' }).end('n');
      });
      await h.fetchText('/nc');
      // A no-cache request does not wait for the entry being committed: let it land.
      await h.cache.settled();
      const forced = await h.fetchText('/nc', { headers: { 'cache-control': 'no-cache' } });
      expect(forced.status).toBe('keyless; fwd=request; fwd-status=304; ttl=60');
      expect(origin.count('/nc')).toBe(2);
    });
  });

  describe('stale-while-revalidate and stale-if-error', () => {
    it('serves stale at once and lands the background refresh (RFC 5861 §3)', async () => {
      origin.route('/swr', (_req, res, seen) => {
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }).end(`gen ${seen}`);
      });
      expect((await h.fetchText('/swr')).text).toBe('gen 1');
      h.clock.advance(5);
      const stale = await h.fetchText('/swr');
      expect(stale.text).toBe('gen 1');
      expect(stale.status).toBe('keyless; hit; ttl=-4; detail=stale-while-revalidate');
      await h.cache.settled();
      expect(origin.count('/swr')).toBe(2);
      const fresh = await h.fetchText('/swr');
      expect(fresh.text).toBe('gen 2');
      expect(fresh.status).toBe('keyless; hit; ttl=1');
      expect(await metricValue(h.registry, 'keyless_edge_cache_stale_served_total', { reason: 'stale-while-revalidate' })).toBe(1);
    });

    it('refreshes once however many requests are served stale meanwhile', async () => {
      origin.route('/swr-many', (_req, res, seen) => {
        setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=60' }).end(`gen ${seen}`), 50);
      });
      await h.fetchText('/swr-many');
      h.clock.advance(5);
      const texts = await Promise.all(Array.from({ length: 10 }, async () => (await h.fetchText('/swr-many')).text));
      expect(new Set(texts)).toEqual(new Set(['gen 1']));
      await h.cache.settled();
      expect(origin.count('/swr-many')).toBe(2);
    });

    it('serves stale when the origin is down (RFC 5861 §4)', async () => {
      origin.route('/sie', fixed(200, { 'cache-control': 'max-age=1, stale-if-error=600' }, 'still here'));
      await h.fetchText('/sie');
      await origin.stop();
      h.clock.advance(30);
      const stale = await h.fetchText('/sie');
      expect(stale.text).toBe('still here');
      expect(stale.status).toBe('keyless; fwd=stale; ttl=-29; detail=stale-if-error');
      await origin.restart();
    });

    it('serves stale when the origin answers 5xx, and passes the 5xx once stale-if-error has run out', async () => {
      let broken = false;
      origin.route('/sie5', (_req, res) => {
        if (broken) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=60' }).end('good');
      });
      await h.fetchText('/sie5');
      broken = true;
      h.clock.advance(10);
      const stale = await h.fetchText('/sie5');
      expect(stale.text).toBe('good');
      expect(stale.status).toBe('keyless; fwd=stale; fwd-status=503; ttl=-9; detail=stale-if-error');
      h.clock.advance(100);
      const failed = await h.fetchText('/sie5');
      expect(failed.response.status).toBe(503);
      expect(failed.text).toBe('down');
    });

    it('concurrent requests during an origin 5xx cause one origin request and are all served stale', async () => {
      let broken = false;
      origin.route('/sie-many', (_req, res) => {
        if (broken) return void setTimeout(() => res.writeHead(502).end('bad gateway'), 50);
        res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=60' }).end('good');
      });
      await h.fetchText('/sie-many');
      await h.cache.settled();
      broken = true;
      h.clock.advance(10);
      const results = await Promise.all(Array.from({ length: 10 }, () => h.fetchText('/sie-many')));
      expect(new Set(results.map((r) => r.text))).toEqual(new Set(['good']));
      expect(results.every((r) => r.status.includes('detail=stale-if-error'))).toBe(true);
      expect(origin.count('/sie-many')).toBe(2);
    });

    it('without stale-if-error, an origin failure is the origin stage’s error', async () => {
      origin.route('/nosie', fixed(200, { 'cache-control': 'max-age=1' }, 'x'));
      await h.fetchText('/nosie');
      await origin.stop();
      h.clock.advance(5);
      await expect(h.get('/nosie')).rejects.toThrow();
      await origin.restart();
    });

    it('no-cache forbids stale-while-revalidate (RFC 9111 §4.2.4): the entry is revalidated first', async () => {
      origin.route('/nc-swr', (req, res, seen) => {
        if (req.headers['if-none-match']) return void res.writeHead(200, { 'cache-control': 'no-cache, stale-while-revalidate=600', etag: `"${seen}"` }).end(`v${seen}`);
        res.writeHead(200, { 'cache-control': 'no-cache, stale-while-revalidate=600', etag: '"1"' }).end('v1');
      });
      await h.fetchText('/nc-swr');
      const second = await h.fetchText('/nc-swr');
      expect(second.text).toBe('v2');
      expect(second.status).toContain('fwd=stale');
    });

    it('must-revalidate forbids stale-if-error (RFC 9111 §4.2.4)', async () => {
      origin.route('/mr', fixed(200, { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=600' }, 'x'));
      await h.fetchText('/mr');
      await origin.stop();
      h.clock.advance(5);
      await expect(h.get('/mr')).rejects.toThrow();
      await origin.restart();
    });
  });

  describe('request coalescing', () => {
    it('turns 50 concurrent misses into one origin request; every client gets the body', async () => {
      origin.route('/hot', (_req, res) => {
        setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('x'.repeat(100_000)), 100);
      });
      const responses = await Promise.all(Array.from({ length: 50 }, () => h.fetchText('/hot')));
      expect(origin.count('/hot')).toBe(1);
      for (const r of responses) expect(r.text.length).toBe(100_000);
      expect(responses.filter((r) => r.status.includes('collapsed'))).toHaveLength(49);
      expect(await metricValue(h.registry, 'keyless_edge_cache_coalesced_total')).toBe(49);
      await h.cache.settled();
      expect((await h.fetchText('/hot')).status).toContain('hit');
    });

    it('does not hand an uncacheable response to the waiters: each fetches its own, and later requests skip waiting', async () => {
      origin.route('/private', (_req, res, seen) => {
        setTimeout(() => res.writeHead(200, { 'cache-control': 'private, max-age=60' }).end(`user ${seen}`), 50);
      });
      const texts = await Promise.all(Array.from({ length: 5 }, async () => (await h.fetchText('/private')).text));
      expect(new Set(texts).size).toBe(5);
      expect(origin.count('/private')).toBe(5);
      // hit-for-pass: concurrent requests now go straight to the origin, in parallel.
      const started = Date.now();
      await Promise.all(Array.from({ length: 5 }, () => h.fetchText('/private')));
      expect(Date.now() - started).toBeLessThan(200);
      expect(origin.count('/private')).toBe(10);
    });

    it('coalesces a revalidation: concurrent requests for a stale entry cause one conditional request', async () => {
      origin.route('/stale-hot', (req, res) => {
        if (req.headers['if-none-match']) return void setTimeout(() => res.writeHead(304, { etag: '"s"' }).end(), 50);
        res.writeHead(200, { 'cache-control': 'max-age=1', etag: '"s"' }).end('same');
      });
      await h.fetchText('/stale-hot');
      h.clock.advance(5);
      const results = await Promise.all(Array.from({ length: 20 }, () => h.fetchText('/stale-hot')));
      for (const r of results) expect(r.text).toBe('same');
      expect(origin.count('/stale-hot')).toBe(2);
    });

    it('keeps variants apart among coalesced requests', async () => {
      origin.route('/vc', (req, res) => {
        setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' }).end(String(req.headers['accept-language'])), 50);
      });
      const [a, b, c] = await Promise.all([
        h.fetchText('/vc', { headers: { 'accept-language': 'en' } }),
        h.fetchText('/vc', { headers: { 'accept-language': 'de' } }),
        h.fetchText('/vc', { headers: { 'accept-language': 'en' } }),
      ]);
      expect([a.text, b.text, c.text]).toEqual(['en', 'de', 'en']);
      expect(origin.count('/vc')).toBe(2);
    });

    it('a waiter that goes away does not cancel the others', async () => {
      origin.route('/slow', (_req, res) => void setTimeout(() => res.writeHead(200, { 'cache-control': 'max-age=60' }).end('done'), 100));
      const leaving = new AbortController();
      const first = h.fetchText('/slow');
      const second = h.get('/slow', { signal: leaving.signal });
      await delay(20);
      leaving.abort();
      await expect(second).rejects.toMatchObject({ code: 'CACHE_ERR_ABORTED' });
      expect((await first).text).toBe('done');
    });
  });

  describe('purge', () => {
    beforeEach(() => {
      const tagged = (tags: string) => fixed(200, { 'cache-control': 'max-age=600', 'cache-tag': tags }, 'x');
      origin.route('/a/one', tagged('alpha, Shared'));
      origin.route('/a/two', tagged('beta'));
      origin.route('/b/three', tagged('shared'));
      origin.route('/q', tagged('q'));
    });

    const warm = async (): Promise<void> => {
      for (const u of ['/a/one', '/a/two', '/b/three', '/q?x=1']) await h.fetchText(u);
      await h.cache.settled();
    };
    const statusOf = async (u: string): Promise<string> => (await h.fetchText(u)).status;

    it('purges one URL (exactly as requested, query included)', async () => {
      await warm();
      expect(await h.cache.purgeUrl('site.test', '/a/one')).toBe(1);
      expect(await h.cache.purgeUrl('site.test', '/q')).toBe(0);
      expect(await statusOf('/a/one')).toContain('fwd=uri-miss');
      expect(await statusOf('/a/two')).toContain('hit');
      expect(await h.cache.purgeUrl('site.test', '/q?x=1')).toBe(1);
    });

    it('purges a prefix of one host', async () => {
      await warm();
      expect(await h.cache.purgePrefix('other.test', '/a/')).toBe(0);
      expect(await h.cache.purgePrefix('SITE.test', '/a/')).toBe(2);
      expect(await statusOf('/a/one')).toContain('miss');
      expect(await statusOf('/b/three')).toContain('hit');
    });

    it('purges by Cache-Tag, case-insensitively, and hides Cache-Tag from clients', async () => {
      await warm();
      const hit = await h.fetchText('/a/one');
      expect(hit.response.headers['cache-tag']).toBeUndefined();
      expect(await h.cache.purgeTags(['SHARED'])).toBe(2);
      expect(await statusOf('/a/one')).toContain('miss');
      expect(await statusOf('/b/three')).toContain('miss');
      expect(await statusOf('/a/two')).toContain('hit');
    });

    it('purges everything', async () => {
      await warm();
      expect(await h.cache.purgeAll()).toBe(4);
      expect(h.cache.stats()).toEqual({ entries: 0, bytes: 0 });
    });

    it('a purge during a fill wins: the response fetched before it is not stored after it', async () => {
      origin.route('/filling', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '8' });
        res.write('half');
        setTimeout(() => res.end('done'), 100);
      });
      const response = await h.get('/filling');
      expect(await h.cache.purgeUrl('site.test', '/filling')).toBe(0);
      expect(await bodyText(response)).toBe('halfdone');
      await h.cache.settled();
      expect(await statusOf('/filling')).toContain('fwd=uri-miss');
    });
  });

  describe('what is not stored', () => {
    it.each([
      ['no-store', { 'cache-control': 'no-store' }],
      ['private', { 'cache-control': 'private, max-age=60' }],
      ['set-cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'session=1' }],
      ['no explicit freshness on a 302', {}],
    ])('%s', async (_name, headers) => {
      origin.route('/n', fixed(_name.includes('302') ? 302 : 200, headers, 'n'));
      const first = await h.fetchText('/n');
      expect(first.status).not.toContain('stored');
      await h.fetchText('/n');
      expect(origin.count('/n')).toBe(2);
      expect(h.cache.stats().entries).toBe(0);
    });

    it('a request with Authorization is not stored, unless the response says public (RFC 9111 §3.5)', async () => {
      origin.route('/auth', fixed(200, { 'cache-control': 'max-age=60' }, 'secret'));
      origin.route('/auth-public', fixed(200, { 'cache-control': 'public, max-age=60' }, 'shared'));
      await h.fetchText('/auth', { headers: { authorization: 'Bearer x' } });
      await h.fetchText('/auth', { headers: { authorization: 'Bearer y' } });
      expect(origin.count('/auth')).toBe(2);
      await h.fetchText('/auth-public', { headers: { authorization: 'Bearer x' } });
      expect((await h.fetchText('/auth-public')).status).toContain('hit');
    });

    it('a request with no-store is not stored', async () => {
      origin.route('/rns', fixed(200, { 'cache-control': 'max-age=60' }, 'r'));
      await h.fetchText('/rns', { headers: { 'cache-control': 'no-store' } });
      expect((await h.fetchText('/rns')).status).toContain('miss');
    });
  });

  describe('invalidation on unsafe methods (RFC 9111 §4.4)', () => {
    it('a successful POST invalidates its URL and a same-host Location, not another host’s', async () => {
      origin.route('/item', (req, res) => {
        if (req.method === 'POST') return void res.writeHead(201, { location: '/items/1', 'content-location': 'https://evil.test/item' }).end('created');
        res.writeHead(200, { 'cache-control': 'max-age=600' }).end('item');
      });
      origin.route('/items/1', fixed(200, { 'cache-control': 'max-age=600' }, 'one'));
      await h.fetchText('/item');
      await h.fetchText('/items/1');
      await h.fetchText('/item', { host: 'evil.test' });
      const post = await h.fetchText('/item', { method: 'POST' });
      expect(post.status).toBe('keyless; fwd=method; fwd-status=201');
      expect(await statusOf('/item')).toContain('miss');
      expect(await statusOf('/items/1')).toContain('miss');
      expect((await h.fetchText('/item', { host: 'evil.test' })).status).toContain('hit');
    });

    it('a failed POST invalidates nothing', async () => {
      origin.route('/keep', (req, res) => {
        if (req.method === 'POST') return void res.writeHead(500).end();
        res.writeHead(200, { 'cache-control': 'max-age=600' }).end('k');
      });
      await h.fetchText('/keep');
      await h.fetchText('/keep', { method: 'POST' });
      expect(await statusOf('/keep')).toContain('hit');
    });

    const statusOf = async (u: string): Promise<string> => (await h.fetchText(u)).status;
  });

  describe('cache rules', () => {
    it('bypasses by host and path prefix; the first matching rule decides', async () => {
      await h.close();
      h = await harness({
        rules: [
          { name: 'api', host: '*.site.test', pathPrefix: '/api/', action: 'bypass' },
          { host: 'site.test', pathPrefix: '/api/', action: 'bypass' },
          { host: '*', pathPrefix: '/', action: 'cache' },
        ],
      });
      origin.route('/api/x', fixed(200, { 'cache-control': 'max-age=60' }, 'api'));
      const named = await h.fetchText('/api/x', { host: 'www.site.test' });
      expect(named.status).toBe('keyless; fwd=bypass; fwd-status=200; detail=rule:api');
      const unnamed = await h.fetchText('/api/x');
      expect(unnamed.status).toBe('keyless; fwd=bypass; fwd-status=200; detail=rule');
      await h.fetchText('/api/x');
      expect(origin.count('/api/x')).toBe(3);
      expect(await metricValue(h.registry, 'keyless_edge_cache_bypass_total', { reason: 'rule' })).toBe(3);
    });

    it('overrides the TTL for the edge while clients keep seeing the origin’s Cache-Control', async () => {
      await h.close();
      h = await harness({ rules: [{ pathPrefix: '/static/', action: 'cache', edgeTtl: { seconds: 300 } }] });
      origin.route('/static/app.js', fixed(200, { 'cache-control': 'no-cache', expires: 'Thu, 01 Jan 1970 00:00:00 GMT' }, 'js'));
      const first = await h.fetchText('/static/app.js');
      expect(first.status).toBe('keyless; fwd=uri-miss; fwd-status=200; ttl=300; stored');
      h.clock.advance(200);
      const hit = await h.fetchText('/static/app.js');
      expect(hit.status).toBe('keyless; hit; ttl=100');
      expect(hit.response.headers['cache-control']).toBe('no-cache');
      expect(hit.response.headers.expires).toBe('Thu, 01 Jan 1970 00:00:00 GMT');
      expect(origin.count('/static/app.js')).toBe(1);
    });

    it('never makes a no-store or private response storable', async () => {
      await h.close();
      h = await harness({ rules: [{ action: 'cache', edgeTtl: { seconds: 300 } }] });
      origin.route('/p', fixed(200, { 'cache-control': 'private' }, 'p'));
      await h.fetchText('/p');
      await h.fetchText('/p');
      expect(origin.count('/p')).toBe(2);
    });

    it('a fallback TTL applies only without explicit freshness', async () => {
      await h.close();
      h = await harness({ rules: [{ action: 'cache', edgeTtl: { seconds: 100, mode: 'fallback' } }] });
      origin.route('/none', fixed(200, {}, 'n'));
      origin.route('/explicit', fixed(200, { 'cache-control': 'max-age=5' }, 'e'));
      expect((await h.fetchText('/none')).status).toContain('ttl=100');
      expect((await h.fetchText('/explicit')).status).toContain('ttl=5');
    });

    it('setRules swaps the rules', async () => {
      origin.route('/later', fixed(200, { 'cache-control': 'max-age=60' }, 'l'));
      h.cache.setRules([{ host: '*', pathPrefix: '/later', action: 'bypass' }]);
      expect((await h.fetchText('/later')).status).toContain('fwd=bypass');
    });
  });

  describe('bypasses and Cache-Status', () => {
    it('only-if-cached: a stored response or a 504, never the origin (RFC 9111 §5.2.1.7)', async () => {
      origin.route('/oic', fixed(200, { 'cache-control': 'max-age=60' }, 'o'));
      const refused = await h.get('/oic', { headers: { 'cache-control': 'only-if-cached' } });
      expect(refused.status).toBe(504);
      expect(refused.headers['cache-status']).toBe('keyless; detail=only-if-cached');
      expect(origin.count('/oic')).toBe(0);
      await h.fetchText('/oic');
      await h.cache.settled();
      expect((await h.fetchText('/oic', { headers: { 'cache-control': 'only-if-cached' } })).text).toBe('o');
    });

    it('forwards ranges and other preconditions to the origin', async () => {
      origin.route('/r', fixed(200, { 'cache-control': 'max-age=60' }, 'range'));
      expect((await h.fetchText('/r', { headers: { range: 'bytes=0-1' } })).status).toBe('keyless; fwd=bypass; fwd-status=200; detail=range');
      expect((await h.fetchText('/r', { headers: { 'if-match': '"x"' } })).status).toBe('keyless; fwd=request; fwd-status=200; detail=precondition');
      expect((await h.fetchText('/r', { method: 'OPTIONS' })).status).toBe('keyless; fwd=method; fwd-status=200');
    });

    it('appends its member to an upstream Cache-Status (RFC 9211 §2)', async () => {
      origin.route('/up', fixed(200, { 'cache-control': 'max-age=60', 'cache-status': 'OriginCache; hit' }, 'u'));
      expect((await h.fetchText('/up')).status).toBe('OriginCache; hit, keyless; fwd=uri-miss; fwd-status=200; ttl=60; stored');
    });
  });

  describe('streaming and bounds', () => {
    it('streams a body larger than maxObjectBytes through unstored (with and without Content-Length)', async () => {
      await h.close();
      h = await harness({ maxObjectBytes: 1000, maxTotalBytes: 100_000 });
      const big = 'b'.repeat(5000);
      origin.route('/big-cl', fixed(200, { 'cache-control': 'max-age=60', 'content-length': String(big.length) }, big));
      origin.route('/big-chunked', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        for (let i = 0; i < 5; i++) res.write('b'.repeat(1000));
        res.end();
      });
      const cl = await h.fetchText('/big-cl');
      expect(cl.text).toBe(big);
      expect(cl.status).not.toContain('stored');
      const chunked = await h.fetchText('/big-chunked');
      expect(chunked.text).toBe(big);
      await h.cache.settled();
      expect((await h.fetchText('/big-chunked')).text).toBe(big);
      expect(origin.count('/big-chunked')).toBe(2);
      // Once for the announced length, twice for the chunked one (its size shows only while streaming).
      expect(await metricValue(h.registry, 'keyless_edge_cache_not_stored_total', { reason: 'too-large' })).toBe(3);
    });

    it('streams a miss to the client before the origin has finished', async () => {
      let finish: () => void = () => undefined;
      origin.route('/progressive', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.write('first,');
        finish = () => res.end('second');
      });
      const response = await h.get('/progressive');
      const body = response.body as NodeJS.ReadableStream;
      const firstChunk = await new Promise<string>((resolve) => body.once('data', (c: Buffer) => resolve(c.toString())));
      expect(firstChunk).toBe('first,');
      finish();
      let rest = '';
      for await (const c of body) rest += String(c);
      expect(rest).toBe('second');
      await h.cache.settled();
      expect((await h.fetchText('/progressive')).text).toBe('first,second');
    });

    it('never stores a body the origin cut short; the client sees an error, not a short body', async () => {
      origin.route('/cut', (req, res, seen) => {
        if (seen > 1) return void res.writeHead(200, { 'cache-control': 'max-age=60' }).end('whole');
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '100' });
        res.write('part');
        setTimeout(() => req.socket.destroy(), 20);
      });
      const response = await h.get('/cut');
      await expect(bodyText(response)).rejects.toThrow();
      await h.cache.settled();
      const next = await h.fetchText('/cut');
      expect(next.text).toBe('whole');
      expect(next.status).toContain('fwd=uri-miss');
    });

    it('a client that goes away mid-body leaves a complete entry or none, never a partial one', async () => {
      origin.route('/leave', (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.write('a'.repeat(10));
        setTimeout(() => res.end('z'.repeat(10)), 100);
      });
      const client = new AbortController();
      const response = await h.get('/leave', { signal: client.signal });
      const body = response.body as NodeJS.ReadableStream & { destroy(): void };
      await new Promise((resolve) => body.once('data', resolve));
      client.abort();
      body.destroy();
      await h.cache.settled();
      const next = await h.fetchText('/leave');
      expect(next.text).toBe('a'.repeat(10) + 'z'.repeat(10));
      expect(next.status).toContain('hit');
      expect(origin.count('/leave')).toBe(1);
    });

    it('aborts the origin request of an unstored response when its client goes away', async () => {
      let closed = false;
      origin.route('/uncached-stream', (req, res) => {
        res.writeHead(200, { 'cache-control': 'no-store' });
        res.write('start');
        res.on('close', () => (closed = true));
        void req;
      });
      const client = new AbortController();
      const response = await h.get('/uncached-stream', { signal: client.signal });
      await new Promise((resolve) => (response.body as NodeJS.ReadableStream).once('data', resolve));
      client.abort();
      for (let i = 0; i < 50 && !closed; i++) await delay(10);
      expect(closed).toBe(true);
    });
  });

  describe('robustness', () => {
    it('survives odd headers from the origin and the client', async () => {
      origin.route('/odd', (_req, res) => {
        res.setHeader('cache-control', ['max-age=60', 'public']);
        res.setHeader('vary', ['Accept', 'Accept-Encoding']);
        res.setHeader('age', 'banana');
        res.setHeader('expires', 'not a date');
        res.writeHead(200).end('odd');
      });
      const first = await h.fetchText('/odd', { headers: { accept: ['a', 'b'], 'cache-control': 'max-age=zzz' } });
      expect(first.text).toBe('odd');
      const second = await h.fetchText('/odd', { headers: { accept: ['a', 'b'] } });
      expect(second.text).toBe('odd');
    });

    it('passes a request it cannot key (odd host) straight through', async () => {
      origin.route('/x', fixed(200, { 'cache-control': 'max-age=60' }, 'x'));
      const odd = await h.fetchText('/x', { host: 'not a host' });
      expect(odd.status).toBe('keyless; fwd=bypass; fwd-status=200; detail=target');
      expect(h.cache.stats().entries).toBe(0);
    });

    it('a GET request body is not forwarded and does not disturb the cache', async () => {
      origin.route('/gb', fixed(200, { 'cache-control': 'max-age=60' }, 'gb'));
      expect((await h.fetchText('/gb', { body: Buffer.from('ignored') })).text).toBe('gb');
      expect((await h.fetchText('/gb')).status).toContain('hit');
    });
  });
});
