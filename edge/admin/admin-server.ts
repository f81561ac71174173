// The edge's admin API: its own listener (plain HTTP, keep it private), every route but
// /healthz behind a bearer token. The token is read from a file or an environment variable,
// never from the config file itself, and compared in constant time.
//
//   GET  /healthz   the process answers (no token: for liveness probes)
//   GET  /readyz    key servers reachable, keys granted, origins reachable; 503 otherwise
//   GET  /metrics   Prometheus text format
//   POST /purge     {"url": "https://host/path"} | {"prefix": "https://host/path/"} | {"tags": ["t"]} | {"all": true}
//                   (path and query exactly as clients send them: they are matched as written)
//   POST /reload    re-read the config file: certificates, origins, cache rules, WAF (as SIGHUP does)
import { createHash, timingSafeEqual } from 'node:crypto';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, string>;
  readonly warnings?: readonly string[];
}

export type PurgeRequest =
  | { readonly kind: 'url'; readonly host: string; readonly path: string }
  | { readonly kind: 'prefix'; readonly host: string; readonly path: string }
  | { readonly kind: 'tags'; readonly tags: readonly string[] }
  | { readonly kind: 'all' };

/** The part of the cache a purge uses. */
export interface PurgeableCache {
  purgeUrl(host: string, target: string): Promise<number>;
  purgePrefix(host: string, prefix: string): Promise<number>;
  purgeTags(tags: readonly string[]): Promise<number>;
  purgeAll(): Promise<number>;
}

/** Carries out a purge on one cache; the number of entries removed. */
export function purgeCache(cache: PurgeableCache, request: PurgeRequest): Promise<number> {
  switch (request.kind) {
    case 'url':
      return cache.purgeUrl(request.host, request.path);
    case 'prefix':
      return cache.purgePrefix(request.host, request.path);
    case 'tags':
      return cache.purgeTags(request.tags);
    case 'all':
      return cache.purgeAll();
  }
}

export interface AdminTarget {
  readiness(): Promise<Readiness>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Number of cache entries removed. */
  purge(request: PurgeRequest): Promise<number>;
  /** true when the new configuration was applied; false (with the reason logged) when rejected. */
  reload(): Promise<{ applied: boolean; reason?: string }>;
}

export interface AdminServerOptions {
  readonly token: string;
  readonly target: AdminTarget;
  readonly log: Logger;
}

const httpUrl = z.url({ protocol: /^https?$/ });
/** An http(s) URL, as written: z.url() would hand back a trimmed string without tabs and newlines. */
const rawHttpUrl = z.string().refine((s) => httpUrl.safeParse(s).success);

const purgeBody = z.union([
  z.strictObject({ url: rawHttpUrl }),
  z.strictObject({ prefix: rawHttpUrl }),
  z.strictObject({ tags: z.array(z.string().min(1).max(1024)).min(1).max(1000) }),
  z.strictObject({ all: z.literal(true) }),
]);

/** "scheme://" and the authority, then the request target as written; a fragment is never sent. */
const RAW_URL = /^https?:\/\/([^/?#]*)([^#]*)/i;
/** Nothing a client can send in a request target (RFC 9112 §3.2): whitespace and controls. */
const NOT_IN_TARGET = /[\x00-\x20\x7f]/;

/**
 * The cache key parts a purge URL names (cache-key.ts). The host as the edge keys requests
 * (normalizeHost): lower-case, without the default port; the edge only speaks https, so that
 * port is 443 whichever scheme the URL was written with. The target (path and query) is kept
 * exactly as written: cache keys keep it as the client sent it, and the WHATWG URL parser would
 * re-encode it (' { } " < > `) and resolve "." and ".." segments, naming another key.
 */
function purgeTarget(raw: string): { host: string; path: string } | undefined {
  const m = RAW_URL.exec(raw);
  if (!m || NOT_IN_TARGET.test(raw)) return undefined;
  const authority = m[1]!;
  const target = m[2]!;
  // A backslash ends the authority for the URL parser (it is "/" in special URLs): ambiguous.
  if (authority === '' || authority.includes('\\')) return undefined;
  let host: string;
  try {
    host = new URL(`https://${authority}/`).host.toLowerCase();
  } catch {
    return undefined;
  }
  const path = target === '' ? '/' : target.startsWith('?') ? `/${target}` : target;
  return { host, path };
}

const PURGE_USAGE = 'expected {"url": "https://host/path"}, {"prefix": "https://host/path/"}, {"tags": [...]} or {"all": true}';

/** Parses the body of POST /purge into a PurgeRequest, or returns the problem. */
export function parsePurge(body: unknown): PurgeRequest | { error: string } {
  const parsed = purgeBody.safeParse(body);
  if (!parsed.success) return { error: PURGE_USAGE };
  const value = parsed.data;
  if ('url' in value || 'prefix' in value) {
    const raw = 'url' in value ? value.url : value.prefix;
    const named = purgeTarget(raw);
    if (!named) return { error: `${PURGE_USAGE}; the URL must be "https://host" followed by the target exactly as clients send it (no spaces or control characters)` };
    return { kind: 'url' in value ? 'url' : 'prefix', ...named };
  }
  if ('tags' in value) return { kind: 'tags', tags: value.tags };
  return { kind: 'all' };
}

/** Constant-time comparison of the presented token with the configured one (hashes equalize lengths). */
function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The credentials of "Bearer <token>": the scheme is case-insensitive (RFC 9110 §11.1), one or more spaces follow it. */
const BEARER = /^bearer +(.+)$/i;

export function bearerToken(header: string | undefined): string {
  return BEARER.exec(header ?? '')?.[1] ?? '';
}

export async function createAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  if (options.token.length < 16) throw new Error('the admin token must be at least 16 characters');
  const app = fastify({
    loggerInstance: options.log.child({ component: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  const { target } = options;

  app.addHook('onRequest', async (request, reply) => {
    // The route fastify matched, not the raw target: "/healthz?probe=1" is /healthz, and a query
    // string naming /healthz ("/metrics?/healthz") opens nothing else.
    // (A request no route matches, POST /healthz say, has no route url: it needs the token.)
    if (request.routeOptions.url === '/healthz') return;
    const presented = bearerToken(request.headers.authorization);
    if (!presented || !tokenMatches(presented, options.token)) {
      request.log.warn({ client: request.ip, route: request.url }, 'admin request without a valid token');
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'a valid bearer token is required' });
    }
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = await target.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await target.metrics();
    return reply.header('content-type', contentType).send(body);
  });
  app.post('/purge', async (request, reply) => {
    const purge = parsePurge(request.body);
    if ('error' in purge) return reply.code(400).send(purge);
    const purged = await target.purge(purge);
    request.log.info({ purge, purged }, 'cache purge');
    return { purged };
  });
  app.post('/reload', async (_request, reply) => {
    const result = await target.reload();
    return reply.code(result.applied ? 200 : 409).send(result);
  });
  await app.ready();
  return app;
}
