// A rule's edge TTL must never make a response to a request with Authorization shareable when
// the origin did not allow it (RFC 9111 §3.5: only public, s-maxage or must-revalidate do).
// Real cache, real origin (node:http) through undici, memory and disk stores.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CacheConfigInput } from '../../../../edge/http/cache/config.js';
import { tempDir } from '../../../helpers/tmp.js';
import { cacheHarness, fixed, metricValue, startOrigin, type CacheHarness, type TestOrigin } from './helpers.js';

describe.each(['memory', 'disk'] as const)('edge TTL and Authorization on the %s store', (kind) => {
  let origin: TestOrigin;
  let h: CacheHarness | undefined;
  let dir: { dir: string; cleanup: () => Promise<void> } | undefined;
  const harness = async (config: CacheConfigInput): Promise<CacheHarness> => {
    h = await cacheHarness(origin, dir ? { ...config, store: { type: 'disk', dir: dir.dir } } : config);
    return h;
  };

  beforeEach(async () => {
    origin = await startOrigin();
    dir = kind === 'disk' ? await tempDir('cache-auth') : undefined;
  });

  afterEach(async () => {
    await h?.close();
    h = undefined;
    await origin.stop();
    await dir?.cleanup();
  });

  describe.each(['override', 'fallback'] as const)('%s mode', (mode) => {
    const rules = (): CacheConfigInput => ({ rules: [{ action: 'cache', edgeTtl: { seconds: 300, mode } }] });

    it.each([
      ['max-age=60', { 'cache-control': 'max-age=60' }],
      ['no Cache-Control', {}],
      ['no Cache-Control but Expires', { expires: new Date(Date.now() + 60_000).toUTCString() }],
      ['max-age=60 with Last-Modified', { 'cache-control': 'max-age=60', 'last-modified': 'Tue, 01 Jan 2019 00:00:00 GMT' }],
    ])('does not store a response to an Authorization request with %s', async (_name, headers) => {
      const c = await harness(rules());
      origin.route('/me', fixed(200, headers, 'alice-secret'));
      const alice = await c.fetchText('/me', { headers: { authorization: 'Bearer alice' } });
      expect(alice.text).toBe('alice-secret');
      expect(alice.status).not.toContain('stored');
      await c.cache.settled();
      expect(c.cache.stats().entries).toBe(0);
      const bob = await c.fetchText('/me', { headers: { authorization: 'Bearer bob' } });
      expect(bob.status).toContain('fwd=uri-miss');
      expect(bob.status).not.toContain('hit');
      const anonymous = await c.fetchText('/me');
      expect(anonymous.status).not.toContain('hit');
      expect(origin.count('/me')).toBe(3);
      expect(await metricValue(c.registry, 'keyless_edge_cache_not_stored_total', { reason: 'authorization' })).toBe(2);
    });

    it.each([
      ['public, max-age=60', { 'cache-control': 'public, max-age=60' }, { override: 300, fallback: 60 }],
      ['s-maxage=60', { 'cache-control': 's-maxage=60' }, { override: 300, fallback: 60 }],
      // In fallback mode must-revalidate stays, and the library revalidates it on every request.
      ['must-revalidate, max-age=60', { 'cache-control': 'must-revalidate, max-age=60' }, { override: 300, fallback: undefined }],
      ['public alone', { 'cache-control': 'public' }, { override: 300, fallback: 300 }],
    ])('stores a response to an Authorization request when the origin says %s', async (_name, headers, ttl) => {
      const c = await harness(rules());
      origin.route('/shared', fixed(200, headers, 'everyone'));
      const first = await c.fetchText('/shared', { headers: { authorization: 'Bearer alice' } });
      expect(first.status).toContain('stored');
      await c.cache.settled();
      expect(c.cache.stats().entries).toBe(1);
      if (ttl[mode] === undefined) return;
      expect(first.status).toContain(`ttl=${ttl[mode]}`);
      const other = await c.fetchText('/shared', { headers: { authorization: 'Bearer bob' } });
      expect(other.status).toBe(`keyless; hit; ttl=${ttl[mode]}`);
      expect(other.text).toBe('everyone');
      expect(origin.count('/shared')).toBe(1);
    });

    it('still applies the edge TTL to requests without Authorization', async () => {
      const c = await harness(rules());
      origin.route('/plain', fixed(200, {}, 'p'));
      expect((await c.fetchText('/plain')).status).toContain('ttl=300; stored');
      await c.cache.settled();
      expect((await c.fetchText('/plain', { headers: { authorization: 'Bearer bob' } })).status).toContain('hit');
      expect(origin.count('/plain')).toBe(1);
    });
  });

  it('override: a 304 to an Authorization revalidation that drops public does not keep the entry shareable', async () => {
    const c = await harness({ rules: [{ action: 'cache', edgeTtl: { seconds: 60, mode: 'override' } }] });
    origin.route('/doc', (req, res, seen) => {
      if (seen === 1) return void res.writeHead(200, { 'cache-control': 'public, max-age=5', etag: '"v1"' }).end('doc');
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"' }).end();
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"' }).end('doc');
    });
    await c.fetchText('/doc');
    await c.cache.settled();
    c.clock.advance(61);
    const revalidated = await c.fetchText('/doc', { headers: { authorization: 'Bearer alice' } });
    expect(revalidated.text).toBe('doc');
    expect(revalidated.status).toContain('fwd-status=304');
    await c.cache.settled();
    const bob = await c.fetchText('/doc', { headers: { authorization: 'Bearer bob' } });
    expect(bob.status).not.toContain('hit');
    expect(origin.count('/doc')).toBe(3);
  });
});
