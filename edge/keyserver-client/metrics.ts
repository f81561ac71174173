// Prometheus metrics of the edge's key-server client. Gauges read the live state when scraped
// (prom-client's collect hook), so the numbers cannot drift from what the pool actually holds.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SignerErrorCode } from '../signer.js';

/** What the gauges read at scrape time, one entry per configured key server. */
export interface ServerSnapshot {
  readonly server: string;
  readonly inFlight: number;
  readonly serving: boolean;
}

export interface KeyServerClientMetrics {
  /** One observation per answered attempt (signature or refusal), by server. */
  observeLatency(server: string, outcome: 'ok' | 'refused', seconds: number): void;
  /** One count per failed operation, as the caller sees it. */
  countError(code: SignerErrorCode, remoteCode: string | undefined): void;
  /** One count per operation sent to a second key server after the first was unavailable. */
  countRetry(): void;
  /** Requests per SignBatch message written. */
  observeBatch(size: number): void;
}

export function createKeyServerClientMetrics(
  registry: Registry | undefined,
  snapshot: () => readonly ServerSnapshot[],
): KeyServerClientMetrics {
  // Without a registry the metrics still work (a private one), which keeps the call sites free of ifs.
  const registers = [registry ?? new Registry()];
  const latency = new Histogram({
    name: 'keyless_edge_keyserver_sign_seconds',
    help: 'Time from sending a sign request to its answer, per key server (signature or refusal).',
    labelNames: ['server', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const errors = new Counter({
    name: 'keyless_edge_keyserver_sign_errors_total',
    help: 'Failed remote signatures by SignerError code and, when the key server answered, its error name.',
    labelNames: ['code', 'remote_code'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'keyless_edge_keyserver_sign_retries_total',
    help: 'Sign operations retried on another key server after the first was unavailable.',
    registers,
  });
  const batches = new Histogram({
    name: 'keyless_edge_keyserver_sign_batch_size',
    help: 'Sign requests per SignBatch message (requests started in the same event-loop turn share one).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers,
  });
  new Gauge({
    name: 'keyless_edge_keyserver_in_flight',
    help: 'Sign requests sent and not yet answered, per key server.',
    labelNames: ['server'] as const,
    registers,
    collect() {
      for (const s of snapshot()) this.set({ server: s.server }, s.inFlight);
    },
  });
  new Gauge({
    name: 'keyless_edge_keyserver_up',
    help: '1 when the key server passed its last health check (grpc.health.v1 SERVING), else 0.',
    labelNames: ['server'] as const,
    registers,
    collect() {
      for (const s of snapshot()) this.set({ server: s.server }, s.serving ? 1 : 0);
    },
  });

  return {
    observeLatency: (server, outcome, seconds) => latency.observe({ server, outcome }, seconds),
    countError: (code, remoteCode) => errors.inc({ code, remote_code: remoteCode ?? '' }),
    countRetry: () => retries.inc(),
    observeBatch: (size) => batches.observe(size),
  };
}
