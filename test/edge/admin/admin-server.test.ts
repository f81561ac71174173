// The admin API: purge URLs name cache keys exactly as clients sent the target (no WHATWG
// re-encoding or dot-segment removal), and the bearer token's scheme is case-insensitive.
// The purge tests run the real admin server (fastify inject) against a real HttpCache filled
// from a real origin (node:http through undici).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createAdminServer, parsePurge, purgeCache, type AdminTarget, type PurgeRequest } from '../../../edge/admin/admin-server.js';
import type { HttpCache } from '../../../edge/http/cache/index.js';
import { cacheHarness, fixed, silentLog, startOrigin, type CacheHarness, type TestOrigin } from '../http/cache/helpers.js';

const TOKEN = 'admin-token-0123456789abcdef';

/** What the edge does with a PurgeRequest (edge/edge.ts Edge.purge). */
function cacheTarget(cache: HttpCache): AdminTarget {
  return {
    readiness: async () => ({ ready: true, checks: {} }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    reload: async () => ({ applied: true }),
    purge: (request: PurgeRequest) => purgeCache(cache, request),
  };
}

describe('parsePurge', () => {
  it.each([
    ["https://site.test/s?q='x'", "/s?q='x'"],
    ['https://site.test/s/{id}?a="b"', '/s/{id}?a="b"'],
    ['https://site.test/<a>/`b`|^', '/<a>/`b`|^'],
    ['https://site.test/a/./b/../c', '/a/./b/../c'],
    ['https://site.test/caf%C3%A9?x=%27', '/caf%C3%A9?x=%27'],
    ['https://site.test/%zz{%7b}', '/%zz{%7b}'],
    ['https://site.test', '/'],
    ['https://site.test?x=1', '/?x=1'],
    ['https://site.test/p#fragment', '/p'],
  ])('keeps the target of %s as written', (url, path) => {
    expect(parsePurge({ url })).toEqual({ kind: 'url', host: 'site.test', path });
    expect(parsePurge({ prefix: url })).toEqual({ kind: 'prefix', host: 'site.test', path });
  });

  it.each([
    ['https://SITE.Test/x', 'site.test'],
    ['https://site.test:443/x', 'site.test'],
    ['http://site.test:443/x', 'site.test'],
    ['HTTPS://site.test:8443/x', 'site.test:8443'],
    ['https://user:pw@site.test/x', 'site.test'],
    ['https://[::1]:443/x', '[::1]'],
  ])('keys the host of %s as the edge keys requests', (url, host) => {
    expect(parsePurge({ url })).toEqual({ kind: 'url', host, path: '/x' });
  });

  it.each(['https://site.test/a b', 'https://site.test/a\tb', ' https://site.test/x', 'https://site.test/x\n', 'not a url', 'https:site.test/x', 'https:///x', 'https://site.test\\x/y', 'ftp://site.test/x'])('rejects %j', (url) => {
    expect(parsePurge({ url })).toHaveProperty('error');
  });
});

describe('the admin server', () => {
  let origin: TestOrigin;
  let h: CacheHarness;
  let app: FastifyInstance;

  beforeEach(async () => {
    origin = await startOrigin();
    h = await cacheHarness(origin);
    app = await createAdminServer({ token: TOKEN, target: cacheTarget(h.cache), log: silentLog });
  });

  afterEach(async () => {
    await app.close();
    await h.close();
    await origin.stop();
  });

  const purge = (body: unknown, authorization = `Bearer ${TOKEN}`) => app.inject({ method: 'POST', url: '/purge', headers: { authorization }, payload: body as object });
  const statusOf = async (target: string): Promise<string> => (await h.fetchText(target)).status;

  const targets = ["/s?q='x'", '/s/{id}', '/s?q="a"&r=<b>&t=`c`', '/a/./b'];

  /** The origin sees the target as undici sends it (re-encoded, dot segments resolved): route both forms. */
  const route = (target: string): void => {
    const path = target.split('?')[0]!;
    for (const p of [path, new URL(path, 'http://origin.test').pathname]) origin.route(p, fixed(200, { 'cache-control': 'max-age=600' }, 'x'));
  };

  it.each(targets)('purging the URL of %s makes the next request a miss', async (target) => {
    route(target);
    expect(await statusOf(target)).toContain('stored');
    await h.cache.settled();
    expect(await statusOf(target)).toContain('hit');
    const res = await purge({ url: `https://Site.Test:443${target}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ purged: 1 });
    expect(await statusOf(target)).toContain('fwd=uri-miss');
  });

  it('purging a prefix with such characters makes the next requests misses, and only those', async () => {
    for (const t of ['/s/{id}', "/s/{id}'2", '/s/other']) route(t);
    for (const t of ['/s/{id}', "/s/{id}'2", '/s/other']) expect(await statusOf(t)).toContain('stored');
    await h.cache.settled();
    const res = await purge({ prefix: 'https://site.test/s/{' });
    expect(res.json()).toEqual({ purged: 2 });
    expect(await statusOf('/s/{id}')).toContain('fwd=uri-miss');
    expect(await statusOf("/s/{id}'2")).toContain('fwd=uri-miss');
    expect(await statusOf('/s/other')).toContain('hit');
  });

  it('answers 400 to a purge URL no request target can match', async () => {
    const res = await purge({ url: 'https://site.test/a b' });
    expect(res.statusCode).toBe(400);
  });

  describe('the bearer token', () => {
    const metrics = (authorization?: string) => app.inject({ method: 'GET', url: '/metrics', headers: authorization === undefined ? {} : { authorization } });

    it.each([`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `bEaReR  ${TOKEN}`])('accepts %j (RFC 9110 §11.1: the scheme is case-insensitive)', async (authorization) => {
      expect((await metrics(authorization)).statusCode).toBe(200);
    });

    it.each([undefined, '', 'Bearer', 'Bearer ', `Bearer${TOKEN}`, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `xBearer ${TOKEN}`])('rejects %j', async (authorization) => {
      const res = await metrics(authorization);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('needs no token for /healthz', async () => {
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    });
  });
});
