// Recorded fresh hits (fresh-hit.ts): a plain request on an entry the library already served
// fresh gets the recorded answer, and that answer is exactly what the library would give — same
// fields in the same order, Age and ttl brought up to the clock — until the entry goes stale, the
// request carries directives or validators, the variant differs, or the Warning rule kicks in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshHitRecord, isPlainRequest } from '../../../../edge/http/cache/fresh-hit.js';
import { createPolicyFactory } from '../../../../edge/http/cache/policy.js';
import { cacheHarness, fixed, metricValue, startOrigin, type CacheHarness, type TestOrigin } from './helpers.js';

describe('isPlainRequest', () => {
  it('is false for any field the reuse decision reads, true otherwise', () => {
    expect(isPlainRequest({ host: 'a', accept: '*/*', 'user-agent': 'x', authorization: 'Bearer t' })).toBe(true);
    for (const name of ['cache-control', 'pragma', 'if-none-match', 'if-modified-since']) expect(isPlainRequest({ host: 'a', [name]: 'x' })).toBe(false);
  });
});

describe('freshHitRecord', () => {
  const policyAt = (t: { now: number }, headers: Record<string, string>) =>
    createPolicyFactory(() => t.now, 0.1).fromResponse({ url: '/x', method: 'GET', headers: { host: 'a' } }, 200, headers);

  it('holds until the entry goes stale', () => {
    const t = { now: Date.parse('2026-01-01T00:00:00Z') };
    const policy = policyAt(t, { 'cache-control': 'max-age=100', date: new Date(t.now).toUTCString() });
    t.now += 40_000;
    const record = freshHitRecord(policy, 200, [], { age: '40' }, t.now)!;
    expect(record.validUntil).toBe(t.now + 60_000);
    expect(record.maxAge).toBe(100);
  });

  it('never spans the moment a heuristic lifetime over a day would add a Warning', () => {
    const t = { now: Date.parse('2026-01-01T00:00:00Z') };
    const policy = policyAt(t, { date: new Date(t.now).toUTCString(), 'last-modified': new Date(t.now - 100 * 86_400_000).toUTCString() });
    expect(policy.maxAge()).toBeCloseTo(10 * 86_400, 0);
    expect(freshHitRecord(policy, 200, [], {}, t.now)!.validUntil).toBe(t.now + 86_400_000);
  });

  it('is not made for a stale entry', () => {
    const t = { now: Date.parse('2026-01-01T00:00:00Z') };
    const policy = policyAt(t, { 'cache-control': 'max-age=10', date: new Date(t.now).toUTCString() });
    t.now += 10_000;
    expect(freshHitRecord(policy, 200, [], {}, t.now)).toBeUndefined();
  });
});

describe('recorded hits through the cache', () => {
  let origin: TestOrigin;
  let h: CacheHarness;

  beforeEach(async () => {
    origin = await startOrigin();
    h = await cacheHarness(origin);
  });

  afterEach(async () => {
    await h.close();
    await origin.stop();
  });

  /** Fills the entry, waits for it to be stored, and takes the first hit (the library's, which makes the record). */
  const fillAndRecord = async (url: string, options?: Parameters<CacheHarness['fetchText']>[1]): Promise<void> => {
    await h.fetchText(url, options);
    await h.cache.settled();
    await h.fetchText(url, options);
  };

  it('serves exactly what the library served: the same fields, values and order, with Age and ttl moving with the clock', async () => {
    origin.route('/p', fixed(200, { 'cache-control': 'public, max-age=300', 'content-type': 'text/plain', etag: '"v1"', 'cache-status': 'upstream; hit', 'x-origin': 'o' }, 'body'));
    await h.fetchText('/p');
    await h.cache.settled();
    const byLibrary = await h.fetchText('/p');
    const recorded = await h.fetchText('/p');
    expect(Object.entries(recorded.response.headers)).toEqual(Object.entries(byLibrary.response.headers));
    expect(recorded.text).toBe('body');
    expect(recorded.status).toBe('upstream; hit, keyless; hit; ttl=300');

    h.clock.advance(42);
    const later = await h.fetchText('/p');
    expect(later.response.headers.age).toBe('42');
    expect(later.status).toBe('upstream; hit, keyless; hit; ttl=258');
    expect(Object.keys(later.response.headers)).toEqual(Object.keys(byLibrary.response.headers));
    expect(origin.count('/p')).toBe(1);
    expect(await metricValue(h.registry, 'keyless_edge_cache_hits_total')).toBe(3);
  });

  it('answers HEAD from the record without a body', async () => {
    origin.route('/h', fixed(200, { 'cache-control': 'max-age=60' }, 'hello'));
    await fillAndRecord('/h');
    const head = await h.get('/h', { method: 'HEAD' });
    expect(head.body).toBeNull();
    expect(head.headers['content-length']).toBe('5');
    expect(head.headers['cache-status']).toBe('keyless; hit; ttl=60');
  });

  it('stops at staleness: the next request goes to the origin, never served stale from the record', async () => {
    let n = 0;
    origin.route('/s', (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=10' }).end(`v${++n}`));
    await fillAndRecord('/s');
    h.clock.advance(9);
    expect((await h.fetchText('/s')).text).toBe('v1');
    h.clock.advance(1);
    const after = await h.fetchText('/s');
    expect(after.text).toBe('v2');
    expect(after.status).toContain('fwd=stale');
    expect(origin.count('/s')).toBe(2);
  });

  it('leaves requests with directives or validators to the library', async () => {
    origin.route('/d', fixed(200, { 'cache-control': 'max-age=60', etag: '"e"' }, 'd'));
    await fillAndRecord('/d');
    const revalidated = await h.fetchText('/d', { headers: { 'cache-control': 'no-cache' } });
    expect(revalidated.status).toContain('fwd=request');
    expect(origin.count('/d')).toBe(2);
    const notModified = await h.get('/d', { headers: { 'if-none-match': '"e"' } });
    expect(notModified.status).toBe(304);
    h.clock.advance(1);
    const tooOld = await h.fetchText('/d', { headers: { 'cache-control': 'max-age=0' } });
    expect(tooOld.status).toContain('fwd=request');
  });

  it('keeps variants apart: a record for one Vary value does not answer another', async () => {
    origin.route('/v', (req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' }).end(`lang=${req.headers['accept-language']}`));
    const en = { headers: { 'accept-language': 'en' } };
    const fr = { headers: { 'accept-language': 'fr' } };
    await fillAndRecord('/v', en);
    expect((await h.fetchText('/v', en)).text).toBe('lang=en');
    const french = await h.fetchText('/v', fr);
    expect(french.text).toBe('lang=fr');
    expect(french.status).toContain('fwd=vary-miss');
    await h.cache.settled();
    expect((await h.fetchText('/v', en)).text).toBe('lang=en');
    expect((await h.fetchText('/v', fr)).text).toBe('lang=fr');
    expect(origin.count('/v')).toBe(2);
  });

  it('forgets the record with the entry: a purge or a new fill is never answered from an old record', async () => {
    let n = 0;
    origin.route('/g', (_req, res) => void res.writeHead(200, { 'cache-control': 'max-age=60' }).end(`g${++n}`));
    await fillAndRecord('/g');
    expect(await h.cache.purgeUrl('site.test', '/g')).toBe(1);
    expect((await h.fetchText('/g')).text).toBe('g2');
    await h.cache.settled();
    expect((await h.fetchText('/g')).text).toBe('g2');
    expect((await h.fetchText('/g')).text).toBe('g2');
  });

  it('adds the heuristic Warning past a day, as the library does', async () => {
    const lastModified = new Date(Date.now() - 100 * 86_400_000).toUTCString();
    origin.route('/w', fixed(200, { 'last-modified': lastModified }, 'w'));
    await fillAndRecord('/w');
    expect((await h.fetchText('/w')).response.headers.warning).toBeUndefined();
    h.clock.advance(86_400 + 60);
    const old = await h.fetchText('/w');
    expect(old.status).toContain('hit');
    expect(old.response.headers.warning).toContain('113');
  });
});
