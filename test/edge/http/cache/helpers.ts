// Test helpers for the cache: a real HTTP origin (node:http) that counts and records requests,
// an OriginFetch over undici's request() to it, a controllable clock, and request builders.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Agent, request as undiciRequest } from 'undici';
import { createHttpCache, type HttpCache } from '../../../../edge/http/cache/index.js';
import { cacheConfigSchema, type CacheConfigInput } from '../../../../edge/http/cache/config.js';
import { clientSignalOf } from '../../../../edge/http/client-signal.js';
import type { EdgeRequest, EdgeResponse, HeaderMap, OriginFetch } from '../../../../edge/http/types.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, seen: number) => void;

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface TestOrigin {
  readonly port: number;
  /** Requests received, in order. */
  readonly requests: SeenRequest[];
  /** Requests received for one path (query included). */
  count(url: string): number;
  route(url: string, handler: Route): void;
  /** Stops listening and drops connections: the origin is down. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

export async function startOrigin(): Promise<TestOrigin> {
  const routes = new Map<string, Route>();
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', url, headers: req.headers });
    const seen = requests.filter((r) => r.url === url).length;
    const handler = routes.get(url) ?? routes.get(url.split('?')[0]!);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no route');
      return;
    }
    // Drain request bodies so keep-alive keeps working.
    req.resume();
    handler(req, res, seen);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    count: (url) => requests.filter((r) => r.url === url).length,
    route: (url, handler) => void routes.set(url, handler),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    restart: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
  };
}

/** Hop-by-hop fields are the origin client's job in the edge; here they are simply not sent. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'proxy-connection', 'trailer']);

/** An OriginFetch to the test origin with undici, the way the edge's origin stage fetches. */
export function undiciOriginFetch(origin: TestOrigin): OriginFetch & { close(): Promise<void> } {
  const agent = new Agent({ keepAliveTimeout: 1_000, connections: 128 });
  const fetch = async (req: EdgeRequest, body: Readable | Buffer | null, signal: AbortSignal): Promise<EdgeResponse> => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    const res = await undiciRequest(`http://127.0.0.1:${origin.port}${req.url}`, {
      method: req.method as 'GET',
      headers,
      body: body ?? undefined,
      signal,
      dispatcher: agent,
    });
    const out: HeaderMap = {};
    for (const [k, v] of Object.entries(res.headers)) if (!HOP_BY_HOP.has(k)) out[k] = v;
    return { status: res.statusCode, headers: out, body: res.body };
  };
  return Object.assign(fetch, { close: () => agent.close() });
}

export interface TestClock {
  now(): number;
  advance(seconds: number): void;
}

/** Starts at the real time (the origin's Date headers are real) and moves only when told. */
export function testClock(): TestClock {
  let t = Date.now();
  return { now: () => t, advance: (s) => void (t += s * 1000) };
}

let requestCounter = 0;

export function edgeRequest(url: string, options: { method?: string; headers?: HeaderMap; host?: string } = {}): EdgeRequest {
  const host = options.host ?? 'site.test';
  return {
    requestId: `r${++requestCounter}`,
    method: options.method ?? 'GET',
    url,
    host,
    httpVersion: '1.1',
    headers: { host, ...options.headers },
    clientIp: '203.0.113.7',
    clientPort: 50000,
    servername: host,
  };
}

export async function bodyText(response: EdgeResponse): Promise<string> {
  return (await bodyBytes(response)).toString('utf8');
}

export async function bodyBytes(response: EdgeResponse): Promise<Buffer> {
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export const silentLog = pino({ level: 'silent' });

export interface CacheHarness {
  readonly cache: HttpCache;
  readonly clock: TestClock;
  readonly registry: Registry;
  /** GET (or another method) through the cache to the test origin. */
  get(url: string, options?: { method?: string; headers?: HeaderMap; host?: string; signal?: AbortSignal; body?: Buffer | null }): Promise<EdgeResponse>;
  /** Like get(), and reads the body. */
  fetchText(url: string, options?: Parameters<CacheHarness['get']>[1]): Promise<{ response: EdgeResponse; text: string; status: string }>;
  close(): Promise<void>;
}

export async function cacheHarness(origin: TestOrigin, config: CacheConfigInput = {}, clock: TestClock = testClock()): Promise<CacheHarness> {
  const registry = new Registry();
  const cache = await createHttpCache(cacheConfigSchema.parse(config), { log: silentLog, metrics: registry, now: clock.now });
  const fetchOrigin = undiciOriginFetch(origin);
  const get: CacheHarness['get'] = (url, options = {}) =>
    cache.handle(edgeRequest(url, options), options.body ?? null, fetchOrigin, clientSignalOf(options.signal ?? new AbortController().signal));
  return {
    cache,
    clock,
    registry,
    get,
    async fetchText(url, options) {
      const response = await get(url, options);
      const text = await bodyText(response);
      return { response, text, status: String(response.headers['cache-status']) };
    },
    async close() {
      await cache.close();
      await fetchOrigin.close();
    },
  };
}

/** A route answering `body` with these headers, counting nothing itself (the origin counts). */
export function fixed(status: number, headers: http.OutgoingHttpHeaders, body: string | ((seen: number) => string)): Route {
  return (_req, res, seen) => {
    res.writeHead(status, headers).end(typeof body === 'function' ? body(seen) : body);
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The value of one metric (summed over label sets matching `labels`). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) return NaN;
  return (metric.values as { value: number; labels: Record<string, string | number> }[])
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

export { Readable };
