// Prometheus metrics of the key server. One registry per server instance so that tests can run
// several key servers in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface KeyServerMetrics {
  readonly registry: Registry;
  readonly operations: Counter<'key' | 'scheme' | 'identity' | 'operation' | 'outcome'>;
  readonly signSeconds: Histogram<'scheme'>;
  readonly inFlight: Gauge<'store'>;
  readonly queued: Gauge<'store'>;
  readonly reloads: Counter<'outcome'>;
  readonly auditFailures: Counter;
}

export interface StoreStats {
  readonly store: string;
  readonly inFlight: number;
  readonly queued: number;
}

export function createKeyServerMetrics(options: { processMetrics: boolean; storeStats: () => readonly StoreStats[] }): KeyServerMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'keyless_keyserver_' });
  return {
    registry,
    operations: new Counter({
      name: 'keyless_keyserver_operations_total',
      help: 'Key operations by key id, scheme, edge identity, operation and outcome (error code).',
      labelNames: ['key', 'scheme', 'identity', 'operation', 'outcome'] as const,
      registers: [registry],
    }),
    signSeconds: new Histogram({
      name: 'keyless_keyserver_sign_duration_seconds',
      help: 'Time from receiving a sign request to its durable audit line, allowed requests only.',
      labelNames: ['scheme'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'keyless_keyserver_signatures_in_flight',
      help: 'Signatures being computed now, per key store.',
      labelNames: ['store'] as const,
      registers: [registry],
      // Read from the live limiters at scrape time.
      collect() {
        this.reset();
        for (const s of options.storeStats()) this.set({ store: s.store }, s.inFlight);
      },
    }),
    queued: new Gauge({
      name: 'keyless_keyserver_signatures_queued',
      help: 'Signatures waiting for a slot, per key store.',
      labelNames: ['store'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of options.storeStats()) this.set({ store: s.store }, s.queued);
      },
    }),
    reloads: new Counter({
      name: 'keyless_keyserver_reloads_total',
      help: 'Configuration reloads by outcome.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    auditFailures: new Counter({
      name: 'keyless_keyserver_audit_failures_total',
      help: 'Audit log writes that failed; the signature was withheld.',
      registers: [registry],
    }),
  };
}
