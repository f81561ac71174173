// The demo site's routes. Each one exists to show (and let tests check) one behaviour of the edge
// in front of it: caching by Cache-Control, revalidation with validators, purge by tag, Vary,
// timeouts, request bodies and forwarded headers.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { LOGO_SVG, STYLESHEET, renderPage, type CacheableRoute } from './assets.js';
import { etagOf, isNotModified } from './conditional.js';

export interface SiteState {
  /** Part of every cacheable body, so bumping it changes their ETags (a "deploy"). */
  version: number;
  /** When the content last changed: start-up, then every bump. */
  lastModified: Date;
  /** max-age of the cacheable routes, seconds. */
  readonly maxAge: number;
  noStoreHits: number;
}

/** Longest /slow delay, so a request cannot hold a connection open for ever. */
export const MAX_SLOW_MS = 60_000;
/** Request bodies up to this size are returned as text by /api/echo; larger ones only hashed. */
const ECHO_TEXT_LIMIT = 64 * 1024;
const LANGUAGES: Readonly<Record<string, string>> = { en: 'Hello from the origin', fr: 'Bonjour de l’origine', de: 'Hallo vom Ursprung', es: 'Hola desde el origen' };

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, state: SiteState) => void;

interface Route {
  readonly methods: readonly string[];
  readonly handle: Handler;
}

function cacheableRoutes(state: SiteState): CacheableRoute[] {
  const cached = `public, max-age=${state.maxAge}`;
  return [
    { path: '/cacheable', cacheControl: `${cached}, stale-if-error=86400`, note: 'MISS, then HIT; revalidated with a 304 (ETag, Last-Modified) once stale; served stale if the origin fails' },
    { path: '/swr', cacheControl: `${cached}, stale-while-revalidate=60`, note: 'once stale, served stale at once while the edge refreshes it in the background' },
    { path: '/tagged/demo', cacheControl: cached, note: 'HIT until purged by tag (Cache-Tag: demo, tagged)' },
    { path: '/vary', cacheControl: cached, note: 'one cached copy per Accept-Language (Vary)' },
    { path: '/static/style.css', cacheControl: 'public, max-age=3600', note: 'HIT for an hour' },
    { path: '/no-store', cacheControl: 'no-store', note: 'never cached: every request reaches the origin' },
    { path: '/api/time', cacheControl: 'no-store', note: 'never cached' },
    { path: '/slow?ms=2000', cacheControl: 'no-store', note: 'answers late (the edge’s origin timeout shows as 504)' },
  ];
}

const routes: Readonly<Record<string, Route>> = {
  '/': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) => {
      // The page shows when it was rendered, so a copy served from the edge's cache is visible
      // as such on reload.
      const body = Buffer.from(renderPage({ renderedAt: new Date(), version: state.version, pageMaxAge: 30, routes: cacheableRoutes(state) }));
      representation(req, res, { body, contentType: 'text/html; charset=utf-8', cacheControl: 'public, max-age=30', lastModified: new Date() });
    },
  },
  '/static/style.css': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) => representation(req, res, { body: Buffer.from(STYLESHEET), contentType: 'text/css; charset=utf-8', cacheControl: 'public, max-age=3600', lastModified: state.lastModified }),
  },
  '/static/logo.svg': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) => representation(req, res, { body: Buffer.from(LOGO_SVG), contentType: 'image/svg+xml', cacheControl: 'public, max-age=3600', lastModified: state.lastModified }),
  },
  '/cacheable': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) =>
      representation(req, res, {
        body: Buffer.from(`cacheable content, version ${state.version}\n`),
        contentType: 'text/plain; charset=utf-8',
        // RFC 5861 §4: a cache may serve this stale for a day if the origin fails.
        cacheControl: `public, max-age=${state.maxAge}, stale-if-error=86400`,
        lastModified: state.lastModified,
      }),
  },
  '/swr': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) =>
      representation(req, res, {
        body: Buffer.from(`refreshed in the background, version ${state.version}\n`),
        contentType: 'text/plain; charset=utf-8',
        // RFC 5861 §3: for a minute after it goes stale, serve it and revalidate in the background.
        cacheControl: `public, max-age=${state.maxAge}, stale-while-revalidate=60`,
        lastModified: state.lastModified,
      }),
  },
  '/no-store': {
    methods: ['GET', 'HEAD'],
    handle: (_req, res, _url, state) => {
      state.noStoreHits++;
      text(res, 200, `not cacheable: response ${state.noStoreHits} at ${new Date().toISOString()}\n`, { 'cache-control': 'no-store' });
    },
  },
  '/vary': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) => {
      const language = pickLanguage(req.headers['accept-language']);
      representation(req, res, {
        body: Buffer.from(`${LANGUAGES[language]} (version ${state.version})\n`),
        contentType: 'text/plain; charset=utf-8',
        cacheControl: `public, max-age=${state.maxAge}`,
        lastModified: state.lastModified,
        // RFC 9110 §12.5.5: the answer depends on Accept-Language, so a cache keys on it too.
        headers: { vary: 'Accept-Language', 'content-language': language },
      });
    },
  },
  '/slow': {
    methods: ['GET', 'HEAD'],
    handle: (req, res, url) => {
      const ms = Number(url.searchParams.get('ms') ?? '1000');
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_SLOW_MS) {
        text(res, 400, `ms must be an integer from 0 to ${MAX_SLOW_MS}\n`, { 'cache-control': 'no-store' });
        return;
      }
      const inBody = url.searchParams.get('where') === 'body';
      if (inBody) {
        // The head and a first piece now, the rest late: a stalled body, not a late answer.
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.write('first part, ');
      }
      const timer = setTimeout(() => {
        if (inBody) res.end(`rest after ${ms} ms\n`);
        else text(res, 200, `answered after ${ms} ms\n`, { 'cache-control': 'no-store' });
      }, ms);
      req.socket.once('close', () => clearTimeout(timer));
    },
  },
  '/api/time': {
    methods: ['GET', 'HEAD'],
    handle: (_req, res) => {
      const now = new Date();
      json(res, 200, { now: now.toISOString(), epochMs: now.getTime() });
    },
  },
  '/api/headers': {
    methods: ['GET', 'HEAD'],
    handle: (req, res) => json(res, 200, { method: req.method, path: req.url, headers: req.headers, clientCertificate: clientCertificate(req) }),
  },
  '/api/echo': {
    methods: ['POST'],
    handle: (req, res, url) => {
      // Streams through a hash: a large body is counted, never held in memory.
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        if (bytes + chunk.length <= ECHO_TEXT_LIMIT) kept.push(chunk);
        bytes += chunk.length;
      });
      req.once('error', () => res.destroy());
      req.once('end', () => {
        json(res, 200, {
          method: req.method,
          path: url.pathname + url.search,
          contentType: req.headers['content-type'] ?? null,
          bytes,
          sha256: hash.digest('hex'),
          body: bytes <= ECHO_TEXT_LIMIT ? Buffer.concat(kept).toString('utf8') : null,
          headers: pick(req.headers, ['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'via']),
          clientCertificate: clientCertificate(req),
        });
      });
    },
  },
  '/ws': {
    methods: ['GET', 'HEAD'],
    // The WebSocket itself is served from the 'upgrade' event; a plain GET lands here.
    handle: (_req, res) => text(res, 426, 'this is a WebSocket echo: connect with Upgrade: websocket\n', { upgrade: 'websocket', connection: 'Upgrade', 'cache-control': 'no-store' }),
  },
};

/** Routes with a parameter in the path. */
function dynamicRoute(path: string): Route | undefined {
  const tagged = /^\/tagged(?:\/([a-z0-9-]{1,64}))?$/.exec(path);
  if (!tagged) return undefined;
  const name = tagged[1];
  return {
    methods: ['GET', 'HEAD'],
    handle: (req, res, _url, state) =>
      representation(req, res, {
        body: Buffer.from(`tagged content${name ? ` "${name}"` : ''}, version ${state.version}\n`),
        contentType: 'text/plain; charset=utf-8',
        cacheControl: `public, max-age=${state.maxAge}`,
        lastModified: state.lastModified,
        // Cloudflare's purge-by-tag header: a comma-separated list of tags.
        headers: { 'cache-tag': ['demo', 'tagged', ...(name && name !== 'demo' && name !== 'tagged' ? [name] : [])].join(',') },
      }),
  };
}

export function handleSiteRequest(req: http.IncomingMessage, res: http.ServerResponse, url: URL, state: SiteState): void {
  const route = routes[url.pathname] ?? dynamicRoute(url.pathname);
  if (!route) {
    text(res, 404, `not found: ${url.pathname}\n`, { 'cache-control': 'no-store' });
    return;
  }
  if (!route.methods.includes(req.method ?? '')) {
    // RFC 9110 §15.5.6: a 405 lists the methods the target does support.
    text(res, 405, `method ${req.method ?? ''} not allowed here\n`, { allow: route.methods.join(', '), 'cache-control': 'no-store' });
    return;
  }
  route.handle(req, res, url, state);
}

interface Representation {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly lastModified: Date;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A 200 with validators, or a 304 when the request's preconditions match. The 304 carries the
 * same Cache-Control, ETag, Vary and Last-Modified as the 200 would (RFC 9110 §15.4.5), so a
 * cache can refresh its stored headers from it.
 */
function representation(req: http.IncomingMessage, res: http.ServerResponse, r: Representation): void {
  const etag = etagOf(r.body);
  res.setHeader('cache-control', r.cacheControl);
  res.setHeader('etag', etag);
  res.setHeader('last-modified', r.lastModified.toUTCString());
  for (const [name, value] of Object.entries(r.headers ?? {})) res.setHeader(name, value);
  if (isNotModified(req, etag, r.lastModified)) {
    res.writeHead(304).end();
    return;
  }
  res.writeHead(200, { 'content-type': r.contentType, 'content-length': r.body.length });
  res.end(r.body);
}

function text(res: http.ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>>): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

/** The best supported language of an Accept-Language field (RFC 9110 §12.5.4), default English. */
export function pickLanguage(header: string | undefined): string {
  let best = 'en';
  let bestQ = 0;
  for (const part of (header ?? '').split(',')) {
    const [range = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    const primary = range.split('-')[0]!;
    if (Number.isFinite(q) && q > bestQ && primary in LANGUAGES) {
      best = primary;
      bestQ = q;
    }
  }
  return best;
}

function clientCertificate(req: http.IncomingMessage): { subject: string; subjectAltName: string | undefined; fingerprint256: string } | null {
  const cert = (req.socket as TLSSocket).getPeerX509Certificate?.();
  if (!cert) return null;
  return { subject: cert.subject.replace(/\n/g, ', '), subjectAltName: cert.subjectAltName, fingerprint256: cert.fingerprint256 };
}

function pick(headers: http.IncomingHttpHeaders, names: readonly string[]): Record<string, string | string[] | null> {
  return Object.fromEntries(names.map((n) => [n, headers[n] ?? null]));
}
