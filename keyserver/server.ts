// The key server process: gRPC over mutually authenticated TLS 1.3, the observability
// listener, and reloads. A configuration generation (key stores + policy + limits) is built
// completely before it replaces the old one; requests already running keep the generation they
// started with, and old key stores are closed only once those requests are done.
import { readFile, stat } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService } from 'grpc-health-check';
import type { Logger } from 'pino';
import { parseHostPort } from '../common/config-file.js';
import { KEY_SERVICE_NAME, keyServiceDefinition } from '../proto/load.js';
import { AuditLog } from './audit/audit-log.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import type { KeyServerConfig, KeyStoreConfig } from './config.js';
import { loadKeyServerConfig } from './config.js';
import { createKeyServiceHandlers } from './grpc-service.js';
import type { ServiceHost, ServiceLimits } from './grpc-service.js';
import { FileKeyStore } from './keystore/file-store.js';
import { KeyStoreError } from './keystore/key-store.js';
import type { KeyStore, SigningKey } from './keystore/key-store.js';
import { Pkcs11KeyStore } from './keystore/pkcs11-store.js';
import { createKeyServerMetrics } from './metrics.js';
import type { KeyServerMetrics } from './metrics.js';
import { startObservability } from './observability.js';
import type { ObservabilityServer } from './observability.js';
import { Policy } from './policy.js';
import { RateLimiter } from './rate-limiter.js';
import type { AuditDecision, AuditSink, LoadedStore, PipelineState } from './sign-pipeline.js';
import { ReloadableTlsIdentity } from './tls-identity.js';

interface Generation {
  readonly number: number;
  readonly state: PipelineState & { listKeys(): readonly SigningKey[] };
  readonly limits: ServiceLimits;
  readonly stores: readonly LoadedStore[];
  active: number;
  retired: boolean;
}

async function readPin(store: Extract<KeyStoreConfig, { type: 'pkcs11' }>): Promise<string> {
  if (store.pinEnv !== undefined) {
    const pin = process.env[store.pinEnv];
    if (pin === undefined || pin === '') throw new Error(`PKCS#11 PIN environment variable ${store.pinEnv} is not set`);
    return pin;
  }
  // The PIN file is as secret as a key file, and refused on the same terms (as the config promises: "a 0600 file").
  const mode = (await stat(store.pinFile!)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyStoreError('KEYSTORE_INSECURE_PERMISSIONS', `PIN file ${store.pinFile} has mode 0${mode.toString(8).padStart(3, '0')}: group and others must have no access (chmod 600)`);
  }
  const text = await readFile(store.pinFile!, 'utf8');
  return text.trim();
}

/** Opens a configured key store as the server does at start and at reload (the PIN read from pinEnv or pinFile). */
export async function openKeyStore(config: KeyStoreConfig): Promise<KeyStore> {
  if (config.type === 'file') {
    // The threads' own bound matches the store's: the concurrency limit never lets more through.
    return FileKeyStore.load(config.dir, {
      maxPending: config.maxInFlight,
      inlineBudgetMs: config.inlineBudgetMs,
      ...(config.signingThreads !== undefined ? { signingThreads: config.signingThreads } : {}),
    });
  }
  return Pkcs11KeyStore.open({
    module: config.module,
    ...(config.tokenLabel !== undefined ? { tokenLabel: config.tokenLabel } : {}),
    ...(config.slot !== undefined ? { slot: config.slot } : {}),
    pin: await readPin(config),
    ...(config.keys !== undefined ? { keys: config.keys } : {}),
    sessions: config.sessions,
  });
}

/**
 * Settings a running key server cannot change (the sockets, the audit log's files, the gRPC
 * message limit, the logger), compared with what it started with, so that a later reload still
 * reports a change an earlier one could not apply.
 */
export function settingsNeedingRestart(running: KeyServerConfig, next: KeyServerConfig): string[] {
  const fields: Array<[string, unknown, unknown]> = [
    ['listen', running.listen, next.listen],
    ['observability.listen', running.observability.listen, next.observability.listen],
    ['audit.dir', running.audit.dir, next.audit.dir],
    ['audit.maxFileBytes', running.audit.maxFileBytes, next.audit.maxFileBytes],
    ['audit.maxBatchDelayMs', running.audit.maxBatchDelayMs, next.audit.maxBatchDelayMs],
    ['audit.checkpointBeforeReply', running.audit.checkpointBeforeReply, next.audit.checkpointBeforeReply],
    ['audit.checkpointSyncMs', running.audit.checkpointSyncMs, next.audit.checkpointSyncMs],
    ['limits.maxMessageBytes', running.limits.maxMessageBytes, next.limits.maxMessageBytes],
    ['log.level', running.log.level, next.log.level],
  ];
  return fields.filter(([, a, b]) => a !== b).map(([name]) => name);
}

async function buildGeneration(number: number, config: KeyServerConfig, log: Logger): Promise<Generation> {
  const stores: LoadedStore[] = [];
  try {
    for (const storeConfig of config.keyStores) {
      const store = await openKeyStore(storeConfig);
      // Keys on the token the store could not use (when no selector named them): say which and why.
      if (store instanceof Pkcs11KeyStore) for (const s of store.skipped) log.warn({ store: store.name, key: s.source, reason: s.reason }, 'PKCS#11 key skipped');
      stores.push({ store, limit: new ConcurrencyLimit(storeConfig.maxInFlight, config.limits.maxQueuedPerStore) });
    }
  } catch (err) {
    await Promise.allSettled(stores.map((s) => s.store.close()));
    throw err;
  }
  const index = new Map<string, { key: SigningKey; store: LoadedStore }>();
  for (const loaded of stores) {
    for (const key of loaded.store.list()) {
      const existing = index.get(key.keyId);
      if (existing) {
        log.warn({ keyId: key.keyId, kept: existing.key.source, ignored: key.source }, 'the same key is in two key stores; the first is used');
        continue;
      }
      index.set(key.keyId, { key, store: loaded });
    }
  }
  const keys = [...index.values()].map((e) => e.key);
  const policy = new Policy(config.policy.edges);
  return {
    number,
    stores,
    limits: config.limits,
    active: 0,
    retired: false,
    state: { policy, findKey: (id) => index.get(id), listKeys: () => keys },
  };
}

/** How long calls running on a drained connection may take to finish before it is cut. */
const DRAIN_GRACE_MS = 5_000;

export interface KeyServerOptions {
  readonly config: KeyServerConfig;
  /** When set, reload() re-reads this file. */
  readonly configFile?: string;
  readonly log: Logger;
  /** Node process metrics in /metrics; off in tests that run several servers in one process. */
  readonly processMetrics?: boolean;
}

export class KeyServer {
  private generation!: Generation;
  private generationCounter = 0;
  private readonly grpcServer: grpc.Server;
  private readonly health = new HealthImplementation({ '': 'NOT_SERVING', [KEY_SERVICE_NAME]: 'NOT_SERVING' });
  private readonly tlsIdentity = new ReloadableTlsIdentity();
  private readonly rateLimiter = new RateLimiter();
  private observability: ObservabilityServer | undefined;
  private reloading: Promise<boolean> | undefined;
  /** The configuration the process started with: what the settings a reload cannot change still are. */
  private readonly startedWith: KeyServerConfig;
  readonly metrics: KeyServerMetrics;
  port = 0;

  private constructor(
    private config: KeyServerConfig,
    private readonly audit: AuditLog,
    private readonly options: KeyServerOptions,
  ) {
    this.startedWith = config;
    this.metrics = createKeyServerMetrics({
      processMetrics: options.processMetrics ?? false,
      storeStats: () => this.generation?.stores.map((s) => ({ store: s.store.name, inFlight: s.limit.inFlight, queued: s.limit.queued })) ?? [],
    });
    this.grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': config.limits.maxMessageBytes,
      'grpc.max_send_message_length': config.limits.maxMessageBytes,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
  }

  get log(): Logger {
    return this.options.log;
  }

  get observabilityPort(): number {
    return this.observability?.port ?? 0;
  }

  static async start(options: KeyServerOptions): Promise<KeyServer> {
    const { config, log } = options;
    const audit = await AuditLog.open({ dir: config.audit.dir, maxFileBytes: config.audit.maxFileBytes, maxBatchDelayMs: config.audit.maxBatchDelayMs, checkpointBeforeReply: config.audit.checkpointBeforeReply, checkpointSyncMs: config.audit.checkpointSyncMs });
    const server = new KeyServer(config, audit, options);
    try {
      await server.tlsIdentity.load(config.tls);
      server.generation = await buildGeneration(++server.generationCounter, config, log);
      await server.listen();
      server.observability = await startObservability({
        listen: config.observability.listen,
        metrics: server.metrics,
        ready: () => server.readiness(),
        log,
      });
    } catch (err) {
      await server.stop().catch(() => undefined);
      throw err;
    }
    server.health.setStatus('', 'SERVING');
    server.health.setStatus(KEY_SERVICE_NAME, 'SERVING');
    log.info(
      { listen: `${parseHostPort(config.listen)!.host}:${server.port}`, observability: `${parseHostPort(config.observability.listen)!.host}:${server.observabilityPort}`, auditDir: config.audit.dir, keys: server.generation.state.listKeys().length, stores: server.generation.stores.map((s) => s.store.name) },
      'key server ready',
    );
    return server;
  }

  private async listen(): Promise<void> {
    const sink: AuditSink = { append: (d: AuditDecision) => this.audit.append(toAuditEntry(d)) };
    const host: ServiceHost = {
      deps: { audit: sink, rateLimiter: this.rateLimiter, metrics: this.metrics },
      log: this.log,
      acquire: () => {
        const g = this.generation;
        g.active++;
        return {
          state: g.state,
          limits: g.limits,
          release: () => {
            g.active--;
            if (g.retired && g.active === 0) void this.closeGeneration(g);
          },
        };
      },
    };
    this.grpcServer.addService(keyServiceDefinition(), createKeyServiceHandlers(host));
    this.health.addToServer(this.grpcServer);
    const credentials = this.tlsIdentity;
    const { host: bindHost, port } = parseHostPort(this.config.listen)!;
    const address = bindHost.includes(':') ? `[${bindHost}]:${port}` : `${bindHost}:${port}`;
    this.port = await new Promise<number>((resolve, reject) =>
      this.grpcServer.bindAsync(address, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort))),
    );
  }

  /**
   * The edge CA changed: an edge's identity was verified at its connection's handshake, against
   * the old bundle, so every open connection is closed (GOAWAY; calls running get
   * DRAIN_GRACE_MS to finish) and the edges reconnect, verified against the new one. An edge whose
   * CA was removed is refused from its next call.
   */
  private drainConnections(): void {
    const { host } = parseHostPort(this.config.listen)!;
    this.grpcServer.drain(`${host.includes(':') ? `[${host}]` : host}:${this.port}`, DRAIN_GRACE_MS);
    this.log.warn('the edge CA changed: open connections are closed, edges reconnect and are verified against the new CA');
  }

  private readiness(): { ready: boolean; checks: Record<string, string> } {
    const keys = this.generation.state.listKeys().length;
    const auditOk = this.audit.healthy();
    const checks = {
      grpc: this.port > 0 ? 'listening' : 'not listening',
      keys: keys > 0 ? `${keys} loaded` : 'no keys loaded',
      audit: auditOk ? 'writable' : 'failed: signatures are withheld',
    };
    return { ready: this.port > 0 && keys > 0 && auditOk, checks };
  }

  /**
   * Re-reads the configuration file (when started from one) and swaps in keys, certificates and
   * policy. A bad new configuration is logged and rejected; the old one keeps serving.
   */
  reload(): Promise<boolean> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<boolean> {
    const file = this.options.configFile;
    try {
      const config = file ? await loadKeyServerConfig(file) : this.config;
      const needRestart = settingsNeedingRestart(this.startedWith, config);
      if (needRestart.length > 0) {
        this.log.warn({ fields: needRestart }, `changes to ${needRestart.join(', ')} need a restart (the running values stay); the rest of the new configuration is applied`);
      }
      const next = await buildGeneration(++this.generationCounter, config, this.log);
      let edgeCaChanged: boolean;
      try {
        edgeCaChanged = await this.tlsIdentity.load(config.tls);
      } catch (err) {
        await Promise.allSettled(next.stores.map((s) => s.store.close()));
        throw err;
      }
      const previous = this.generation;
      this.generation = next;
      this.config = config;
      previous.retired = true;
      if (previous.active === 0) await this.closeGeneration(previous);
      if (edgeCaChanged) this.drainConnections();
      this.metrics.reloads.inc({ outcome: 'ok' });
      this.log.info({ generation: next.number, keys: next.state.listKeys().length }, 'configuration reloaded');
      return true;
    } catch (err) {
      this.metrics.reloads.inc({ outcome: 'rejected' });
      this.log.error({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'configuration reload rejected; the previous configuration keeps serving');
      return false;
    }
  }

  private async closeGeneration(g: Generation): Promise<void> {
    await Promise.allSettled(g.stores.map((s) => s.store.close()));
  }

  async stop(): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    this.health.setStatus(KEY_SERVICE_NAME, 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      // Give running calls a moment to finish, then cut the rest.
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 2_000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.observability?.close();
    if (this.generation) await this.closeGeneration(this.generation);
    await this.audit.close();
  }
}

function toAuditEntry(d: AuditDecision): Parameters<AuditLog['append']>[0] {
  return {
    decision: d.decision,
    identity: d.identity ? { subject: d.identity.subject, sans: [...d.identity.sans], fingerprint: d.identity.fingerprint } : null,
    peer: d.peer,
    keyId: d.keyId,
    scheme: d.scheme,
    operation: d.operation,
    sni: d.sni,
    clientIp: d.clientIp,
    requestId: d.requestId,
    latencyMs: d.latencyMs,
    outcome: d.outcome,
    ...(d.reason !== undefined ? { reason: d.reason } : {}),
  };
}

