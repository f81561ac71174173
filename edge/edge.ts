// The edge process: the TLS 1.3 terminator whose signatures come from the key servers, the HTTP
// pipeline on the decrypted connections (request filter → cache → origin), and the admin API.
// Reload swaps in new certificate chains, origins, cache rules and filter rules for new requests
// and connections; what is already running keeps what it started with.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { parseHostPort } from '../common/config-file.js';
import { createAdminServer, purgeCache, type AdminTarget, type PurgeRequest, type Readiness } from './admin/admin-server.js';
import { readAdminToken } from './admin/admin-token.js';
import { loadEdgeConfig, type EdgeConfig } from './config.js';
import { buildCache, buildOriginClient, buildWaf, pipelineMetrics, stagesOf, type BuiltStages } from './http-stages.js';
import { MemoryRateLimitStore, type RateLimitStore } from './http/waf/index.js';
import type { HttpCache } from './http/cache/index.js';
import { createEdgeHttp, type EdgeHttp } from './http/edge-http.js';
import type { OriginClient } from './http/origin/index.js';
import { createPipeline, type Pipeline } from './http/pipeline.js';
import { KeyServerPool } from './keyserver-client/index.js';
import { applyKeyList, checkClientCredential, loadServedChains, resolverFor, type ServedChain } from './served-chains.js';
import { cipherSuiteParams, type CipherSuiteParams } from './tls/crypto/cipher-suites.js';
import type { SupportedGroup } from './tls/crypto/key-exchange.js';
import { CipherSuite, NamedGroup } from './tls/enums.js';
import { systemEntropy, type HandshakeSettings } from './tls/handshake/handshake-io.js';
import type { SessionTickets } from './tls/resumption/session-tickets.js';
import { TlsServer } from './tls/server.js';
import { loadSessionTickets } from './session-ticket-keys.js';

export interface EdgeOptions {
  readonly config: EdgeConfig;
  /** The file the config came from: relative paths in it, and reload(), use it. */
  readonly configFile?: string;
  readonly log: Logger;
  /** Node process metrics in /metrics; off in tests that run several edges in one process. */
  readonly processMetrics?: boolean;
  /** The log message that says the edge is serving; a cluster worker says "edge worker ready". */
  readonly readyMessage?: string;
  /** Keys an unsafe request invalidated in this edge's cache, for the other workers (invalidateCacheKeys). */
  readonly onCacheInvalidated?: (keys: readonly string[]) => void;
  /** The WAF's rate-limit counters; default: in this process's memory (a cluster worker shares the primary's). */
  readonly rateLimitStore?: RateLimitStore;
}

export type EdgeReadiness = Readiness;

/** How long replaced origin connections are kept for requests still using them. */
const RETIRE_GRACE_MS = 30_000;

/**
 * What a reload cannot change in a running edge, compared with what it runs: the sockets, the
 * process layout, the key-server channels, the admin API, the HTTP server's limits, the logger,
 * and the cache itself (store, sizes, headers); only the cache's rules are swapped in.
 */
export function settingsNeedingRestart(running: EdgeConfig, next: EdgeConfig): string[] {
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  const out: string[] = (['listen', 'workers', 'keyServers', 'admin', 'http', 'log'] as const).filter((k) => !same(running[k], next[k]));
  // The ticket keys are made once, so that a reload does not forget the tickets already out.
  if (!same(running.tls.sessionTickets, next.tls.sessionTickets)) out.push('tls.sessionTickets');
  const { rules: _runningRules, ...runningCache } = running.cache ?? { rules: [] };
  const { rules: _nextRules, ...nextCache } = next.cache ?? { rules: [] };
  if (Boolean(running.cache) !== Boolean(next.cache)) out.push('cache (added or removed)');
  else for (const k of new Set([...Object.keys(runningCache), ...Object.keys(nextCache)])) {
    if (!same((runningCache as Record<string, unknown>)[k], (nextCache as Record<string, unknown>)[k])) out.push(`cache.${k}`);
  }
  if (Boolean(running.origins) !== Boolean(next.origins)) out.push('origins (added or removed)');
  return out;
}

export class Edge implements AdminTarget {
  /** The port of the first listen address. */
  port = 0;
  /** "host:port" of every listener, in the order of `listen`. */
  listening: readonly string[] = [];
  adminPort = 0;
  private chains: readonly ServedChain[] = [];
  private unlisted: readonly string[] = [];
  private keysListed = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<{ applied: boolean; reason?: string }> | undefined;
  private stages: BuiltStages | undefined;
  /** The origin client's metrics live in their own registry, replaced with it on reload. */
  private stageRegistry = new Registry();
  private admin: FastifyInstance | undefined;
  /** Rate-limit counters live across WAF reloads. */
  private rateLimitStore: RateLimitStore = new MemoryRateLimitStore();
  /** Kept across reloads: tickets already issued go on resuming. */
  private sessionTickets: SessionTickets | undefined;

  private constructor(
    readonly registry: Registry,
    private config: EdgeConfig,
    private readonly configFile: string | undefined,
    private readonly log: Logger,
    readonly pool: KeyServerPool,
    readonly tls: TlsServer,
    private readonly pipeline: Pipeline | undefined,
    readonly http: EdgeHttp,
  ) {}

  static async start(options: EdgeOptions): Promise<Edge> {
    const { config, log } = options;
    const configFile = options.configFile ?? 'edge.yaml';
    const registry = new Registry();
    if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'keyless_edge_' });
    const [ca, clientCert, clientKey] = await Promise.all([readFile(config.keyServers.ca), readFile(config.keyServers.clientCert), readFile(config.keyServers.clientKey)]);
    const pool = new KeyServerPool({
      servers: config.keyServers.servers.map((s) => ({ address: s.address, ...(s.serverName !== undefined ? { serverName: s.serverName } : {}) })),
      ca,
      clientCert,
      clientKey,
      deadlineMs: config.keyServers.deadlineMs,
      healthCheckIntervalMs: config.keyServers.healthCheckIntervalMs,
      maxInFlight: config.keyServers.maxInFlightPerServer,
      metrics: registry,
      log,
    });
    const opened: { close(): Promise<void> | void }[] = [{ close: () => pool.close() }];
    try {
      const chains = await loadServedChains(config, pool);
      await checkClientCredential(config, chains);
      const stageRegistry = new Registry();
      const origin = await buildOriginClient(config, configFile, siteKeyIds(chains), stageRegistry, log);
      if (origin) opened.push(origin);
      const cache = origin ? await buildCache(config, registry, log, options.onCacheInvalidated) : undefined;
      if (cache) opened.push(cache);
      const rateLimitStore = options.rateLimitStore ?? new MemoryRateLimitStore();
      const waf = origin ? await buildWaf(config, stageRegistry, log, rateLimitStore) : undefined;
      const stages = origin ? stagesOf(origin, cache, waf?.filter) : undefined;
      const accessLog = config.log.access ? log.child({ component: 'access' }) : log.child({ component: 'access' }, { level: 'warn' });
      const pipeline = stages ? createPipeline(stages, { maxBodyBytes: config.http.maxBodyBytes }, accessLog, pipelineMetrics(registry)) : undefined;
      const sessionTickets = await loadSessionTickets(config.tls.sessionTickets);
      const tls = new TlsServer({ settings: handshakeSettings(config, chains, sessionTickets), limits: config.limits, metrics: registry, log });
      const http = await createEdgeHttp({ log, limits: config.http, ...(pipeline ? { pipeline } : {}) });
      opened.push(http);
      const edge = new Edge(registry, config, options.configFile, log, pool, tls, pipeline, http);
      edge.chains = chains;
      edge.stages = stages;
      edge.stageRegistry = stageRegistry;
      edge.rateLimitStore = rateLimitStore;
      edge.sessionTickets = sessionTickets;
      tls.on('secureConnection', (connection) => http.accept(connection));
      opened.push({ close: () => tls.close(200) });
      const listening: string[] = [];
      for (const address of config.listen) {
        const { host, port } = parseHostPort(address)!;
        // Beside other addresses, an IPv6 one is IPv6 only: "[::]:443" next to "0.0.0.0:443"
        // would otherwise be dual-stack (Linux) and collide with it. Alone, it keeps the default.
        const bound = (await tls.listen(port, host, { ipv6Only: host.includes(':') && config.listen.length > 1 })).port;
        listening.push(`${host.includes(':') ? `[${host}]` : host}:${bound}`);
      }
      // The first address is the edge's port (tests, the demo); every one is in the ready line.
      edge.port = Number(listening[0]!.slice(listening[0]!.lastIndexOf(':') + 1));
      edge.listening = listening;
      if (config.admin) await edge.startAdmin(config.admin);
      await edge.refreshKeys();
      edge.refreshTimer = setInterval(() => void edge.refreshKeys(), config.keyServers.keyRefreshIntervalMs);
      edge.refreshTimer.unref();
      log.info(
        {
          listen: listening[0],
          ...(listening.length > 1 ? { listenAll: listening } : {}),
          ...(edge.adminPort ? { admin: `${parseHostPort(config.admin!.listen)!.host}:${edge.adminPort}` } : {}),
          certificates: chains.map((c) => c.name),
          keyServers: config.keyServers.servers.map((s) => s.address),
          origins: config.origins?.map((o) => `${o.hostnames.join(',')} → ${o.url} (${o.mode})`) ?? [],
          cache: config.cache ? config.cache.store.type : 'off',
          waf: waf ? waf.summary : 'off',
        },
        options.readyMessage ?? 'edge ready',
      );
      return edge;
    } catch (err) {
      for (const o of opened.reverse()) await Promise.resolve(o.close()).catch(() => undefined);
      throw err;
    }
  }

  private async startAdmin(admin: NonNullable<EdgeConfig['admin']>): Promise<void> {
    const token = await readAdminToken(admin);
    this.admin = await createAdminServer({ token, target: this, log: this.log });
    const { host, port } = parseHostPort(admin.listen)!;
    await this.admin.listen({ host, port });
    const address = this.admin.server.address();
    this.adminPort = typeof address === 'object' && address ? address.port : port;
  }

  /** ListKeys on the key servers: what each chain's key may sign. Never throws: a failure is logged and retried. */
  async refreshKeys(): Promise<void> {
    try {
      const keys = await this.pool.listKeys();
      const { unlisted } = applyKeyList(this.chains, keys);
      if (unlisted.length > 0 && unlisted.join() !== this.unlisted.join()) {
        this.log.error({ certificates: unlisted }, 'the key servers do not list the key of these certificates for this edge (policy?): their handshakes will fail');
      }
      this.unlisted = unlisted;
      this.keysListed = true;
    } catch (err) {
      this.log.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'ListKeys failed; keeping the schemes known from the certificates');
    }
  }

  /**
   * Re-reads the configuration file and swaps in new certificate chains, origins, cache rules
   * and filter rules. A bad new configuration is logged and rejected, and the old one keeps
   * serving. The listen addresses, the key servers and the cache store need a restart.
   */
  reload(): Promise<{ applied: boolean; reason?: string }> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<{ applied: boolean; reason?: string }> {
    if (!this.configFile) return { applied: false, reason: 'the edge was not started from a configuration file' };
    let newOrigin: OriginClient | undefined;
    try {
      const config = await loadEdgeConfig(this.configFile);
      const restartNeeded = settingsNeedingRestart(this.config, config);
      if (restartNeeded.length > 0) this.log.warn({ fields: restartNeeded }, 'these changes need a restart; the rest of the new configuration is applied');
      const chains = await loadServedChains(config, this.pool);
      await checkClientCredential(config, chains);
      const stageRegistry = new Registry();
      newOrigin = this.pipeline && config.origins ? await buildOriginClient(config, this.configFile, siteKeyIds(chains), stageRegistry, this.log) : undefined;
      const newFilter = newOrigin ? (await buildWaf(config, stageRegistry, this.log, this.rateLimitStore))?.filter : undefined;
      // Everything is built: swap.
      this.tls.updateSettings(handshakeSettings(config, chains, this.sessionTickets));
      this.chains = chains;
      if (newOrigin && this.stages && this.pipeline) {
        const previous = this.stages;
        this.stages.cache?.setRules(config.cache?.rules ?? []);
        this.stages = stagesOf(newOrigin, this.stages.cache, newFilter);
        this.pipeline.setStages(this.stages);
        this.stageRegistry = stageRegistry;
        setTimeout(() => void previous.origin.close(), RETIRE_GRACE_MS).unref();
      }
      // What could not change stays as it runs, so that the next reload still compares with it.
      this.config = {
        ...config,
        listen: this.config.listen,
        workers: this.config.workers,
        keyServers: this.config.keyServers,
        admin: this.config.admin,
        http: this.config.http,
        log: this.config.log,
        cache: this.config.cache ? { ...this.config.cache, rules: config.cache?.rules ?? [] } : undefined,
      };
      await this.refreshKeys();
      this.log.info({ certificates: chains.map((c) => c.name) }, 'configuration reloaded');
      return { applied: true };
    } catch (err) {
      await newOrigin?.close();
      const reason = (err as Error).message;
      this.log.error({ err: { message: reason, code: (err as { code?: string }).code } }, 'configuration reload rejected; the previous configuration keeps serving');
      return { applied: false, reason };
    }
  }

  async readiness(): Promise<Readiness> {
    const servers = this.pool.status();
    const serving = servers.filter((s) => s.health === 'serving').length;
    const checks: Record<string, string> = {
      tls: this.port > 0 ? `listening on ${this.port}` : 'not listening',
      keyServers: `${serving}/${servers.length} serving`,
      keys: !this.keysListed ? 'not listed yet' : this.unlisted.length > 0 ? `not granted for ${this.unlisted.join(', ')}` : `${this.chains.length} granted`,
    };
    let originsReady = true;
    const warnings: string[] = [];
    if (this.stages) {
      const probe = await this.stages.origin.readiness();
      originsReady = probe.ready;
      for (const o of probe.origins) {
        checks[`origin ${o.name}`] = o.ok ? `reachable (${o.mode}, ${o.protocol ?? 'http/1.1'}, ${Math.round(o.latencyMs)} ms)` : `unreachable: ${o.code ?? 'error'}`;
        if (o.warning) warnings.push(o.warning);
      }
      warnings.push(...this.stages.origin.warnings().filter((w) => !warnings.includes(w)));
    }
    return { ready: this.port > 0 && serving > 0 && this.keysListed && this.unlisted.length === 0 && originsReady, checks, ...(warnings.length ? { warnings } : {}) };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([this.registry, this.stageRegistry]);
    return { contentType: merged.contentType, body: await merged.metrics() };
  }

  /** The metrics as JSON, for the cluster primary to aggregate across workers. */
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]> {
    return Registry.merge([this.registry, this.stageRegistry]).getMetricsAsJSON();
  }

  /** Drops keys another worker's cache invalidated (an unsafe request it forwarded). */
  async invalidateCacheKeys(keys: readonly string[]): Promise<number> {
    return (await this.stages?.cache?.invalidate(keys)) ?? 0;
  }

  async purge(request: PurgeRequest): Promise<number> {
    const cache: HttpCache | undefined = this.stages?.cache;
    return cache ? purgeCache(cache, request) : 0;
  }

  get httpServer(): http.Server {
    return this.http.server;
  }

  /** The cache, when configured (tests wait on its background work). */
  get cache(): HttpCache | undefined {
    return this.stages?.cache;
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.admin?.close();
    await this.tls.close();
    await this.http.close();
    await this.stages?.origin.close();
    await this.stages?.cache?.close();
    this.pool.close();
  }
}

function siteKeyIds(chains: readonly ServedChain[]): Set<string> {
  return new Set(chains.map((c) => c.parsed.keyId));
}

function handshakeSettings(config: EdgeConfig, chains: readonly ServedChain[], sessionTickets: SessionTickets | undefined): HandshakeSettings {
  return {
    certificates: resolverFor(config, chains),
    cipherSuites: config.tls.cipherSuites.map((name) => cipherSuiteParams(CipherSuite[name])).filter((s): s is CipherSuiteParams => s !== undefined),
    groups: config.tls.groups.map((name) => NamedGroup[name] as SupportedGroup),
    alpnProtocols: config.tls.alpn,
    // The pool's own deadline (both attempts) plus a margin, so the pool answers first and says why.
    signatureTimeoutMs: config.keyServers.deadlineMs + 250,
    entropy: systemEntropy,
    sessionTickets,
  };
}
