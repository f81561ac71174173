// The origin client the edge's pipeline calls: routes a request by its host to the configured
// origin, and gives each origin one undici Pool (bounded connections; HTTP/1.1, or HTTP/2 where
// the origin is configured for it and accepts h2) whose every connection is made and verified by
// connect.ts.
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Client, Pool } from 'undici';
import type { EdgeRequest, EdgeResponse, OriginFetch } from '../types.js';
import { createOriginConnector, type OriginConnector } from './connect.js';
import { OriginError, toOriginError } from './errors.js';
import { fetchFromOrigin, type FetchTarget } from './fetch.js';
import { createOriginMetrics, type OriginMetrics } from './metrics.js';
import { originWarnings, probeOrigins, type OriginReadiness } from './readiness.js';
import { OriginSettingsError, resolveOrigin, type OriginSettings, type ResolvedOrigin } from './settings.js';
import { plainErrorRenderer, proxyUpgrade, writeErrorResponse, type ErrorRenderer, type UpgradeOutcome } from './upgrade.js';

export interface OriginClientOptions {
  readonly origins: readonly OriginSettings[];
  /** The edge's pseudonym in Via (RFC 9110 §7.6.3); default "keyless-edge". */
  readonly via?: string;
  readonly registry?: Registry;
  readonly log?: Logger;
  /** Error bodies written by `upgrade` (ordinary requests leave rendering to the pipeline). */
  readonly renderError?: ErrorRenderer;
}

export interface OriginClient {
  /** Forwards one request to the origin of its host; rejects with an OriginError. */
  readonly fetch: OriginFetch;
  /**
   * WebSocket / HTTP/1.1 Upgrade pass-through, for the http server's 'upgrade' event (an
   * OriginUpgrade of edge/http/types.ts). Resolves when the upgrade is done (piping), relayed or
   * failed; never rejects, and owns `socket` from then on.
   */
  upgrade(request: EdgeRequest, socket: Duplex, head: Buffer): Promise<UpgradeOutcome>;
  /** The origin that serves a host ("example.com" or "example.com:8443"), if any. */
  route(host: string): ResolvedOrigin | undefined;
  /** Loud start-up warnings (origins in mode full); the edge logs each at warn level. */
  warnings(): string[];
  /** For /readyz: one verified TLS connection to each origin. */
  readiness(): Promise<OriginReadiness>;
  /**
   * Stops taking requests and closes each pooled connection once its request has finished (for a
   * config reload: the old client drains while the new one serves). Open WebSocket tunnels stay.
   */
  close(): Promise<void>;
  /** Closes everything now, tunnels included; requests in flight fail. For shutdown. */
  destroy(): Promise<void>;
}

interface Entry {
  readonly origin: ResolvedOrigin;
  readonly connector: OriginConnector;
  readonly pool: Pool;
  readonly fetchTarget: FetchTarget;
}

export function createOriginClient(options: OriginClientOptions): OriginClient {
  const via = options.via ?? 'keyless-edge';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(via)) throw new OriginSettingsError('via', 'the Via pseudonym is one token (RFC 9110 §7.6.3)');
  const resolved = options.origins.map((s, i) => withField(`origins[${i}]`, () => resolveOrigin(s)));
  const routes = routeTable(resolved);
  const entries: Entry[] = [];
  const metrics: OriginMetrics = createOriginMetrics(options.registry, () =>
    entries.map((e) => ({ origin: e.origin.name, connected: e.pool.stats.connected, running: e.pool.stats.running, pending: e.pool.stats.pending })),
  );
  const byOrigin = new Map<ResolvedOrigin, Entry>();
  const tunnels = new Set<Duplex>();
  for (const origin of resolved) {
    const connector = createOriginConnector(origin);
    const received = new ReceivedProtocol();
    const pool = new Pool(origin.origin, {
      connections: origin.connections,
      factory: (url, opts) => {
        // Its connect() runs after the constructor has returned, when `client` is set.
        const client: Client = new Client(url, {
          ...opts,
          pipelining: 1,
          // undici speaks h2 on a connection whose ALPN chose it, HTTP/1.1 on the others.
          ...(origin.http2 ? { allowH2: true, maxConcurrentStreams: origin.maxConcurrentStreams } : {}),
          headersTimeout: origin.timeouts.headersMs,
          bodyTimeout: origin.timeouts.bodyMs,
          keepAliveTimeout: origin.timeouts.keepAliveMs,
          // An origin's Keep-Alive: timeout=N hint may shorten the idle time, never lengthen it.
          keepAliveMaxTimeout: origin.timeouts.keepAliveMs,
          maxHeaderSize: origin.maxResponseHeaderBytes,
          strictContentLength: true,
          connect: (_options, callback) => {
            connector.connect().then(
              (socket) => {
                received.connected(socket.alpnProtocol);
                // HTTP/1.1 carries one request at a time (no pipelining to origins); an h2
                // connection carries up to maxConcurrentStreams. undici holds every connection to
                // its `pipelining`, h2 ones included, so it is set per connection, before the
                // socket is handed over (a reconnect that falls back to HTTP/1.1 goes back to 1).
                client.pipelining = socket.alpnProtocol === 'h2' ? origin.maxConcurrentStreams : 1;
                callback(null, socket);
              },
              (err: unknown) => callback(toOriginError(err, origin.name), null),
            );
          },
        });
        return client;
      },
    });
    // Connection failures reach the requests that waited for them; the event itself needs no action.
    pool.on('connectionError', () => {});
    const entry: Entry = { origin, connector, pool, fetchTarget: { origin, dispatcher: pool, via, metrics, log: options.log, receivedProtocol: () => received.version } };
    entries.push(entry);
    byOrigin.set(origin, entry);
  }

  const lookup = (host: string): Entry | undefined => {
    const origin = routes(host);
    return origin ? byOrigin.get(origin) : undefined;
  };
  const noRoute = (request: EdgeRequest): OriginError => new OriginError('ORIGIN_ERR_NO_ROUTE', `no origin is configured for host ${JSON.stringify(request.host.slice(0, 255))}`);

  return {
    fetch(request: EdgeRequest, body: Readable | Buffer | null, signal: AbortSignal): Promise<EdgeResponse> {
      const entry = lookup(request.host);
      if (!entry) {
        const err = noRoute(request);
        options.log?.info({ requestId: request.requestId, code: err.code, reason: err.message }, 'origin request failed');
        return Promise.reject(err);
      }
      return fetchFromOrigin(entry.fetchTarget, request, body, signal);
    },
    upgrade(request, socket, head) {
      const entry = lookup(request.host);
      const renderError = options.renderError ?? plainErrorRenderer;
      if (!entry) {
        const err = noRoute(request);
        socket.on('error', () => socket.destroy());
        writeErrorResponse(socket, err, request, renderError);
        return Promise.resolve({ outcome: 'failed', status: err.status, error: err });
      }
      return proxyUpgrade({ connector: entry.connector, via, metrics, log: options.log, renderError, tunnels }, request, socket, head);
    },
    route: (host) => lookup(host)?.origin,
    warnings: () => originWarnings(resolved),
    readiness: () => probeOrigins(entries.map((e) => e.connector)),
    async close() {
      await Promise.all(entries.map((e) => (e.pool.closed || e.pool.destroyed ? undefined : e.pool.close().catch(() => undefined))));
    },
    async destroy() {
      for (const socket of tunnels) socket.destroy();
      tunnels.clear();
      await Promise.all(entries.map((e) => (e.pool.destroyed ? undefined : e.pool.destroy().catch(() => undefined))));
    },
  };
}

/** Exact names first, then "*.example.com" for exactly one more label (RFC 6125 §6.4.3). */
function routeTable(origins: readonly ResolvedOrigin[]): (host: string) => ResolvedOrigin | undefined {
  const exact = new Map<string, ResolvedOrigin>();
  const wildcard = new Map<string, ResolvedOrigin>();
  origins.forEach((origin, i) => {
    origin.hostnames.forEach((name, j) => {
      const table = name.startsWith('*.') ? wildcard : exact;
      const key = name.startsWith('*.') ? name.slice(2) : name;
      if (table.has(key)) throw new OriginSettingsError(`origins[${i}].hostnames[${j}]`, `${name} is already served by origin ${table.get(key)!.name}`);
      table.set(key, origin);
    });
  });
  return (host) => {
    const name = hostWithoutPort(host).toLowerCase().replace(/\.$/, '');
    const hit = exact.get(name);
    if (hit) return hit;
    const dot = name.indexOf('.');
    return dot > 0 ? wildcard.get(name.slice(dot + 1)) : undefined;
  };
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.lastIndexOf(':');
  // More than one colon without brackets is an IPv6 literal, not host:port.
  return colon > 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

function withField<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OriginSettingsError) throw new OriginSettingsError(`${prefix}.${err.field}`, err.reason);
    throw err;
  }
}

/**
 * The HTTP version of what an origin's responses arrive over, for their Via (RFC 9110 §7.6.3):
 * that of the newest connection. undici does not say which connection carried a response; an
 * origin answers every connection's ALPN alike unless its configuration changes.
 */
class ReceivedProtocol {
  version = '1.1';

  connected(alpn: string | false | null | undefined): void {
    this.version = alpn === 'h2' ? '2' : '1.1';
  }
}
