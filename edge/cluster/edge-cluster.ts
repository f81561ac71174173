// `workers: N`: the edge on every core. The primary process forks N workers (node:cluster), each
// running the whole stack (TLS, HTTP pipeline, cache, its own key-server connections) on the
// shared listening socket; the primary runs the admin API and asks the workers over IPC
// (readiness of all, metrics aggregated, purge and reload broadcast). A worker that dies is
// replaced; more than 5 deaths in a minute stop the edge.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { parseHostPort } from '../../common/config-file.js';
import { createAdminServer, type AdminTarget, type PurgeRequest, type Readiness } from '../admin/admin-server.js';
import type { EdgeConfig } from '../config.js';
import { clusterTicketSecretEnv } from '../session-ticket-keys.js';
import { readAdminToken } from '../admin/admin-token.js';
import { MemoryRateLimitStore } from '../http/waf/index.js';
import { askWorker, type InvalidationMessage } from './ipc.js';
import { serveSharedRateLimits } from './shared-rate-limits.js';

export interface EdgeClusterOptions {
  readonly config: EdgeConfig;
  readonly workers: number;
  readonly log: Logger;
}

interface ReadyMessage {
  readonly keyless: 'ready';
  readonly port: number;
}

const MAX_RESTARTS_PER_MINUTE = 5;

export class EdgeCluster implements AdminTarget {
  private readonly workers = new Map<number, Worker>();
  /** The rate-limit counters of every worker (shared-rate-limits.ts); they outlive a worker's restart. */
  private readonly rateLimits = new MemoryRateLimitStore();
  /** The session-ticket secret every worker uses (unless a key file is configured), so tickets resume on any of them. */
  private readonly ticketSecretEnv: Record<string, string>;
  private stopping = false;
  private restarts: number[] = [];
  private admin: Awaited<ReturnType<typeof createAdminServer>> | undefined;
  port = 0;
  adminPort = 0;
  /** Resolves when the edge must stop on its own (workers keep dying). */
  readonly failed: Promise<Error>;
  private fail!: (err: Error) => void;

  private constructor(private readonly options: EdgeClusterOptions) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
    this.ticketSecretEnv = clusterTicketSecretEnv(options.config.tls.sessionTickets);
  }

  static async start(options: EdgeClusterOptions): Promise<EdgeCluster> {
    const edge = new EdgeCluster(options);
    try {
      const ports = await Promise.all(Array.from({ length: options.workers }, (_, i) => edge.fork(i)));
      edge.port = ports[0]!;
      if (options.config.admin) {
        edge.admin = await createAdminServer({ token: await readAdminToken(options.config.admin), target: edge, log: options.log });
        const { host, port } = parseHostPort(options.config.admin.listen)!;
        await edge.admin.listen({ host, port });
        const address = edge.admin.server.address();
        edge.adminPort = typeof address === 'object' && address ? address.port : port;
      }
    } catch (err) {
      await edge.stop();
      throw err;
    }
    const { host } = parseHostPort(options.config.listen[0]!)!;
    const more = options.config.listen.slice(1);
    options.log.info({ listen: `${host}:${edge.port}`, ...(more.length > 0 ? { listenAll: [`${host}:${edge.port}`, ...more] } : {}), workers: options.workers, ...(edge.adminPort ? { admin: `${parseHostPort(options.config.admin!.listen)!.host}:${edge.adminPort}` } : {}) }, 'edge ready');
    return edge;
  }

  /** Forks worker `index` and resolves with the port it listens on. */
  private fork(index: number): Promise<number> {
    const worker = cluster.fork({ KEYLESS_EDGE_WORKER: String(index), ...this.ticketSecretEnv });
    this.workers.set(index, worker);
    worker.on('exit', (code, signal) => this.onExit(index, worker, code, signal));
    // What one worker's cache invalidated, every other worker drops too.
    worker.on('message', (message: InvalidationMessage) => {
      if (message?.keyless !== 'invalidated' || !Array.isArray(message.keys)) return;
      for (const [other, w] of this.workers) if (other !== index && !w.isDead()) w.send({ keyless: 'invalidate', keys: message.keys } satisfies InvalidationMessage);
    });
    serveSharedRateLimits(worker, this.rateLimits);
    return new Promise((resolve, reject) => {
      const onMessage = (message: ReadyMessage): void => {
        if (message?.keyless !== 'ready') return;
        worker.off('message', onMessage);
        worker.off('exit', onEarlyExit);
        resolve(message.port);
      };
      const onEarlyExit = (code: number | null): void => reject(new Error(`edge worker ${index} exited (${code}) before it was ready`));
      worker.on('message', onMessage);
      worker.once('exit', onEarlyExit);
    });
  }

  private onExit(index: number, worker: Worker, code: number | null, signal: string | null): void {
    if (this.workers.get(index) !== worker) return;
    this.workers.delete(index);
    if (this.stopping) return;
    const now = Date.now();
    this.restarts = [...this.restarts.filter((t) => now - t < 60_000), now];
    this.options.log.error({ worker: index, code, signal }, 'edge worker died');
    if (this.restarts.length > MAX_RESTARTS_PER_MINUTE) {
      this.fail(new Error(`edge workers died ${this.restarts.length} times within a minute`));
      return;
    }
    setTimeout(() => {
      if (!this.stopping) this.fork(index).catch((err: unknown) => this.options.log.error({ worker: index, err: { message: (err as Error).message } }, 'edge worker failed to restart'));
    }, 500).unref();
  }

  private all<T>(request: Parameters<typeof askWorker>[1]): Promise<T[]> {
    return Promise.all([...this.workers.values()].map((w) => askWorker<T>(w, request)));
  }

  async readiness(): Promise<Readiness> {
    const answers = await this.all<Readiness>({ op: 'readiness' }).catch((err: unknown) => [{ ready: false, checks: { workers: (err as Error).message } } as Readiness]);
    const ready = answers.length === this.options.workers && answers.every((a) => a.ready);
    const checks: Record<string, string> = { ...answers[0]?.checks, workers: `${answers.filter((a) => a.ready).length}/${this.options.workers} ready` };
    const warnings = [...new Set(answers.flatMap((a) => a.warnings ?? []))];
    return { ready, checks, ...(warnings.length ? { warnings } : {}) };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    const answers = await this.all<MetricObjectWithValues<MetricValue<string>>[]>({ op: 'metrics' });
    const aggregated = AggregatorRegistry.aggregate(answers);
    return { contentType: aggregated.contentType, body: await aggregated.metrics() };
  }

  async purge(request: PurgeRequest): Promise<number> {
    const counts = await this.all<number>({ op: 'purge', request });
    return counts.reduce((a, b) => a + b, 0);
  }

  async reload(): Promise<{ applied: boolean; reason?: string }> {
    const results = await this.all<{ applied: boolean; reason?: string }>({ op: 'reload' });
    const rejected = results.find((r) => !r.applied);
    return rejected ?? { applied: true };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.admin?.close();
    await Promise.all(
      [...this.workers.values()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), 10_000);
            worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      ),
    );
  }
}
