// The demo origin on its own, over real HTTPS with the dev PKI's origin certificate: every route's
// caching headers and conditional answers, the JSON API, the WebSocket echo, request counting and
// authenticated origin pulls.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateDevPki, type DevPkiLayout } from '../../certs/index.js';
import { startDemoOrigin, type DemoOrigin } from '../../demo/origin/index.js';
import { tempDir } from '../helpers/tmp.js';

let pki: DevPkiLayout;
let ca: Buffer;
let origin: DemoOrigin;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir('demo-origin'));
  pki = await generateDevPki(path.join(dir, 'pki'));
  ca = await readFile(pki.edge.ca);
  origin = await startDemoOrigin({ cert: pki.origin.cert, key: pki.origin.key, port: 0 });
});
afterAll(async () => {
  await origin?.close();
  await cleanup?.();
});
beforeEach(() => origin.resetStats());

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function request(target: DemoOrigin, p: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string; cert?: Buffer; key?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: target.port, servername: 'localhost', path: p, method: opts.method ?? 'GET', headers: opts.headers, ca, cert: opts.cert, key: opts.key, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('the demo site', () => {
  it('serves a page titled "Keyless edge demo" that links its stylesheet and image, both served', async () => {
    const page = await request(origin, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const html = page.body.toString();
    expect(html).toContain('<title>Keyless edge demo</title>');
    expect(html).toContain('never held this site’s private key');
    expect(html).toContain('href="/static/style.css"');
    expect(html).toContain('src="/static/logo.svg"');
    expect(html).toMatch(/What the edge may cache/);
    const css = await request(origin, '/static/style.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['cache-control']).toBe('public, max-age=3600');
    const logo = await request(origin, '/static/logo.svg');
    expect(logo.headers['content-type']).toBe('image/svg+xml');
    expect(logo.body.toString()).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  });

  it('GET /api/time and POST /api/echo answer JSON, never cacheable', async () => {
    const time = await request(origin, '/api/time');
    expect(time.headers['cache-control']).toBe('no-store');
    const { now, epochMs } = JSON.parse(time.body.toString()) as { now: string; epochMs: number };
    expect(Math.abs(epochMs - Date.now())).toBeLessThan(5_000);
    expect(new Date(now).getTime()).toBe(epochMs);

    const echo = await request(origin, '/api/echo?x=1', { method: 'POST', body: '{"hello":"edge"}', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7', via: '1.1 keyless-edge' } });
    const answer = JSON.parse(echo.body.toString()) as Record<string, unknown>;
    expect(answer).toMatchObject({
      method: 'POST',
      path: '/api/echo?x=1',
      contentType: 'application/json',
      bytes: 16,
      body: '{"hello":"edge"}',
      headers: { 'x-forwarded-for': '203.0.113.7', via: '1.1 keyless-edge' },
      clientCertificate: null,
    });
    expect(answer.sha256).toBe(createHash('sha256').update('{"hello":"edge"}').digest('hex'));
    expect((await request(origin, '/api/echo')).status).toBe(405);
  });

  it('/cacheable has validators and answers conditionals with 304 (ETag first, then Last-Modified)', async () => {
    const first = await request(origin, '/cacheable');
    expect(first.headers['cache-control']).toBe('public, max-age=60, stale-if-error=86400');
    const etag = first.headers.etag as string;
    const lastModified = first.headers['last-modified'] as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(new Date(lastModified).getTime()).toBeLessThanOrEqual(Date.now());

    const byEtag = await request(origin, '/cacheable', { headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(byEtag.status).toBe(304);
    expect(byEtag.body.length).toBe(0);
    expect(byEtag.headers.etag).toBe(etag);
    expect(byEtag.headers['cache-control']).toBe('public, max-age=60, stale-if-error=86400');
    expect((await request(origin, '/swr')).headers['cache-control']).toBe('public, max-age=60, stale-while-revalidate=60');

    expect((await request(origin, '/cacheable', { headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    expect((await request(origin, '/cacheable', { headers: { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    expect((await request(origin, '/cacheable', { headers: { 'if-none-match': '"other"', 'if-modified-since': lastModified } })).status).toBe(200);

    origin.bumpVersion();
    const changed = await request(origin, '/cacheable', { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.body.toString()).toContain('version 2');
    expect(new Date(changed.headers['last-modified'] as string).getTime()).toBeGreaterThan(new Date(lastModified).getTime());
  });

  it('/no-store changes on every request; /tagged carries Cache-Tag; /vary varies on Accept-Language', async () => {
    const a = await request(origin, '/no-store');
    const b = await request(origin, '/no-store');
    expect(a.headers['cache-control']).toBe('no-store');
    expect(a.body.toString()).not.toBe(b.body.toString());

    const tagged = await request(origin, '/tagged/blue');
    expect(tagged.headers['cache-tag']).toBe('demo,tagged,blue');
    expect(tagged.headers['cache-control']).toBe('public, max-age=60');
    expect((await request(origin, '/tagged')).headers['cache-tag']).toBe('demo,tagged');

    const fr = await request(origin, '/vary', { headers: { 'accept-language': 'de;q=0.5, fr-CH, en;q=0.8' } });
    const en = await request(origin, '/vary');
    expect(fr.headers.vary).toBe('Accept-Language');
    expect(fr.headers['content-language']).toBe('fr');
    expect(fr.body.toString()).toContain('Bonjour');
    expect(en.body.toString()).toContain('Hello');
    expect(fr.headers.etag).not.toBe(en.headers.etag);
  });

  it('/slow answers late, or stalls in the body, and refuses an unbounded delay', async () => {
    const started = Date.now();
    const late = await request(origin, '/slow?ms=300');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(late.headers['cache-control']).toBe('no-store');
    expect(late.body.toString()).toBe('answered after 300 ms\n');

    const headAt = await new Promise<number>((resolve, reject) => {
      const t0 = Date.now();
      https.get({ host: '127.0.0.1', port: origin.port, servername: 'localhost', path: '/slow?ms=400&where=body', ca, agent: false }, (res) => {
        const at = Date.now() - t0;
        res.resume();
        res.on('end', () => resolve(at));
      }).on('error', reject);
    });
    expect(headAt).toBeLessThan(300);
    expect((await request(origin, '/slow?ms=999999')).status).toBe(400);
  });

  it('answers HEAD without a body, unknown paths with 404, wrong methods with 405 and Allow', async () => {
    const head = await request(origin, '/cacheable', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe(String((await request(origin, '/cacheable')).body.length));
    expect((await request(origin, '/nope')).status).toBe(404);
    const wrong = await request(origin, '/cacheable', { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET, HEAD');
  });

  it('echoes WebSocket messages at /ws', async () => {
    // The certificate names 127.0.0.1 too, so no servername is needed.
    const ws = new WebSocket(`wss://127.0.0.1:${origin.port}/ws`, { ca });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(String(d))));
    ws.send('ping');
    expect(await echoed).toBe('ping');
    ws.close();
  });

  it('counts requests per path, in process and at /__origin/stats (which is not counted)', async () => {
    await request(origin, '/cacheable');
    await request(origin, '/cacheable?x=1');
    await request(origin, '/no-store');
    const expected = { total: 3, byPath: { '/cacheable': 2, '/no-store': 1 } };
    expect(origin.stats()).toEqual(expected);
    const served = await request(origin, '/__origin/stats');
    expect(served.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(served.body.toString())).toEqual(expected);
    expect(origin.stats()).toEqual(expected);
  });
});

describe('authenticated origin pulls', () => {
  let pulled: DemoOrigin;
  beforeAll(async () => {
    pulled = await startDemoOrigin({ cert: pki.origin.cert, key: pki.origin.key, port: 0, clientCa: pki.origin.edgePullCa });
  });
  afterAll(async () => pulled?.close());

  it('accepts the edge’s client certificate and shows it to the page', async () => {
    const client = pki.edge.clients['edge-1'];
    const res = await request(pulled, '/api/headers', { cert: await readFile(client.cert), key: await readFile(client.key) });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { clientCertificate: { subjectAltName: string } };
    expect(seen.clientCertificate.subjectAltName).toBe('URI:spiffe://keyless/edge/edge-1');
  });

  it('refuses a client without a certificate, and counts nothing', async () => {
    pulled.resetStats();
    await expect(request(pulled, '/api/headers')).rejects.toThrow();
    expect(pulled.stats().total).toBe(0);
  });
});
