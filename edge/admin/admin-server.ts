// The edge's admin API: its own listener (plain HTTP, keep it private), every route but
// /healthz behind a bearer token. The token is read from a file or an environment variable,
// never from the config file itself, and compared in constant time.
//
//   GET  /healthz   the process answers (no token: for liveness probes)
//   GET  /readyz    key servers reachable, keys granted, origins reachable; 503 otherwise
//   GET  /metrics   Prometheus text format
//   POST /purge     {"url": "https://host/path"} | {"prefix": "https://host/path/"} | {"tags": ["t"]} | {"all": true}
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

const purgeBody = z.union([
  z.strictObject({ url: z.url({ protocol: /^https?$/ }) }),
  z.strictObject({ prefix: z.url({ protocol: /^https?$/ }) }),
  z.strictObject({ tags: z.array(z.string().min(1).max(1024)).min(1).max(1000) }),
  z.strictObject({ all: z.literal(true) }),
]);

/** Parses the body of POST /purge into a PurgeRequest, or returns the problem. */
export function parsePurge(body: unknown): PurgeRequest | { error: string } {
  const parsed = purgeBody.safeParse(body);
  if (!parsed.success) return { error: 'expected {"url": "https://host/path"}, {"prefix": "https://host/path/"}, {"tags": [...]} or {"all": true}' };
  const value = parsed.data;
  if ('url' in value) {
    const u = new URL(value.url);
    return { kind: 'url', host: u.host.toLowerCase(), path: u.pathname + u.search };
  }
  if ('prefix' in value) {
    const u = new URL(value.prefix);
    return { kind: 'prefix', host: u.host.toLowerCase(), path: u.pathname };
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

export async function createAdminServer(options: AdminServerOptions): Promise<FastifyInstance> {
  if (options.token.length < 16) throw new Error('the admin token must be at least 16 characters');
  const app = fastify({
    loggerInstance: options.log.child({ component: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  const { target } = options;

  app.addHook('onRequest', async (request, reply) => {
    if (request.url === '/healthz') return;
    const header = request.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
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
