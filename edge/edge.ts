// The edge process: the TLS 1.3 terminator whose signatures come from the key servers, and the
// HTTP server on the decrypted connections. Reload swaps in new certificate chains for new
// connections; connections already open keep theirs.
import type http from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { parseHostPort } from '../common/config-file.js';
import { loadEdgeConfig, type EdgeConfig } from './config.js';
import { createEdgeHttp, type EdgeHttp } from './http/edge-http.js';
import { KeyServerPool } from './keyserver-client/index.js';
import { applyKeyList, checkClientCredential, loadServedChains, resolverFor, type ServedChain } from './served-chains.js';
import { cipherSuiteParams, type CipherSuiteParams } from './tls/crypto/cipher-suites.js';
import type { SupportedGroup } from './tls/crypto/key-exchange.js';
import { CipherSuite, NamedGroup } from './tls/enums.js';
import { systemEntropy, type HandshakeSettings } from './tls/handshake/handshake-io.js';
import { TlsServer } from './tls/server.js';
import { readFile } from 'node:fs/promises';

export interface EdgeOptions {
  readonly config: EdgeConfig;
  /** When set, reload() re-reads this file. */
  readonly configFile?: string;
  readonly log: Logger;
  /** Node process metrics in /metrics; off in tests that run several edges in one process. */
  readonly processMetrics?: boolean;
}

export interface EdgeReadiness {
  readonly ready: boolean;
  readonly checks: Record<string, string>;
}

export class Edge {
  port = 0;
  private chains: readonly ServedChain[] = [];
  private unlisted: readonly string[] = [];
  private keysListed = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<{ applied: boolean; reason?: string }> | undefined;
  private configFile: string | undefined;

  private constructor(
    readonly registry: Registry,
    private config: EdgeConfig,
    private readonly log: Logger,
    readonly pool: KeyServerPool,
    readonly tls: TlsServer,
    readonly http: EdgeHttp,
  ) {}

  static async start(options: EdgeOptions): Promise<Edge> {
    const { config, log } = options;
    const registry = new Registry();
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
    try {
      const chains = await loadServedChains(config, pool);
      await checkClientCredential(config, chains);
      const tls = new TlsServer({ settings: handshakeSettings(config, chains), limits: config.limits, metrics: registry, log });
      const http = await createEdgeHttp({ log });
      const edge = new Edge(registry, config, log, pool, tls, http);
      edge.configFile = options.configFile;
      edge.chains = chains;
      tls.on('secureConnection', (connection) => http.server.emit('connection', connection));
      const { host, port } = parseHostPort(config.listen)!;
      edge.port = (await tls.listen(port, host)).port;
      await edge.refreshKeys();
      edge.refreshTimer = setInterval(() => void edge.refreshKeys(), config.keyServers.keyRefreshIntervalMs);
      edge.refreshTimer.unref();
      log.info({ listen: `${host}:${edge.port}`, certificates: chains.map((c) => c.name), keyServers: config.keyServers.servers.map((s) => s.address) }, 'edge ready');
      return edge;
    } catch (err) {
      pool.close();
      throw err;
    }
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
   * Re-reads the configuration file and swaps in new certificate chains (and everything else that
   * can change without a restart) for new connections; open connections keep what they started
   * with. A bad new configuration is logged and rejected, and the old one keeps serving.
   */
  reload(): Promise<{ applied: boolean; reason?: string }> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<{ applied: boolean; reason?: string }> {
    if (!this.configFile) return { applied: false, reason: 'the edge was not started from a configuration file' };
    try {
      const config = await loadEdgeConfig(this.configFile);
      const restartNeeded = ['listen', 'keyServers'].filter((k) => JSON.stringify(config[k as keyof EdgeConfig]) !== JSON.stringify(this.config[k as keyof EdgeConfig]));
      if (restartNeeded.length > 0) this.log.warn({ fields: restartNeeded }, 'these changes need a restart; the rest of the new configuration is applied');
      const chains = await loadServedChains(config, this.pool);
      await checkClientCredential(config, chains);
      this.tls.updateSettings(handshakeSettings(config, chains));
      this.chains = chains;
      this.config = { ...config, listen: this.config.listen, keyServers: this.config.keyServers };
      await this.refreshKeys();
      this.log.info({ certificates: chains.map((c) => c.name) }, 'configuration reloaded');
      return { applied: true };
    } catch (err) {
      const reason = (err as Error).message;
      this.log.error({ err: { message: reason, code: (err as { code?: string }).code } }, 'configuration reload rejected; the previous configuration keeps serving');
      return { applied: false, reason };
    }
  }

  readiness(): EdgeReadiness {
    const servers = this.pool.status();
    const serving = servers.filter((s) => s.health === 'serving').length;
    const checks: Record<string, string> = {
      tls: this.port > 0 ? `listening on ${this.port}` : 'not listening',
      keyServers: `${serving}/${servers.length} serving`,
      keys: !this.keysListed ? 'not listed yet' : this.unlisted.length > 0 ? `not granted for ${this.unlisted.join(', ')}` : `${this.chains.length} granted`,
    };
    return { ready: this.port > 0 && serving > 0 && this.keysListed && this.unlisted.length === 0, checks };
  }

  get httpServer(): http.Server {
    return this.http.server;
  }

  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.tls.close();
    await this.http.close();
    this.pool.close();
  }
}

function handshakeSettings(config: EdgeConfig, chains: readonly ServedChain[]): HandshakeSettings {
  return {
    certificates: resolverFor(config, chains),
    cipherSuites: config.tls.cipherSuites.map((name) => cipherSuiteParams(CipherSuite[name])).filter((s): s is CipherSuiteParams => s !== undefined),
    groups: config.tls.groups.map((name) => NamedGroup[name] as SupportedGroup),
    alpnProtocols: config.tls.alpn,
    // The pool's own deadline (both attempts) plus a margin, so the pool answers first and says why.
    signatureTimeoutMs: config.keyServers.deadlineMs + 250,
    entropy: systemEntropy,
  };
}
