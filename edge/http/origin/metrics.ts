// Prometheus metrics of the origin client. Connection gauges read the pools when scraped, so they
// cannot drift from what the pools hold.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OriginErrorCode } from './errors.js';

export interface OriginPoolSnapshot {
  readonly origin: string;
  /** Open connections. */
  readonly connected: number;
  /** Requests sent and not yet answered. */
  readonly running: number;
  /** Requests waiting for a connection. */
  readonly pending: number;
}

export interface OriginMetrics {
  /** Time from dispatch to the response head, by origin and status class ("2xx"... or "error"). */
  observe(origin: string, statusClass: string, seconds: number): void;
  countError(origin: string, code: OriginErrorCode): void;
  /** A request sent again after the origin dropped it unanswered (fetch.ts). */
  countRetry(origin: string): void;
}

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

export function createOriginMetrics(registry: Registry | undefined, snapshot: () => readonly OriginPoolSnapshot[]): OriginMetrics {
  // Without a registry the metrics still work (a private one), which keeps the call sites free of ifs.
  const registers = [registry ?? new Registry()];
  const latency = new Histogram({
    name: 'keyless_edge_origin_request_seconds',
    help: 'Time from sending a request to the origin to its response head, by origin and status class ("error" when no response came).',
    labelNames: ['origin', 'status_class'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const errors = new Counter({
    name: 'keyless_edge_origin_errors_total',
    help: 'Failed origin requests and upgrades by origin and ORIGIN_ERR_* code.',
    labelNames: ['origin', 'code'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'keyless_edge_origin_retries_total',
    help: 'Safe requests without a body sent again after the origin closed their connection or reset their stream before answering.',
    labelNames: ['origin'] as const,
    registers,
  });
  const gauge = (name: string, help: string, pick: (s: OriginPoolSnapshot) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['origin'] as const,
      registers,
      collect() {
        for (const s of snapshot()) this.set({ origin: s.origin }, pick(s));
      },
    });
  };
  gauge('keyless_edge_origin_connections', 'Open pooled connections per origin.', (s) => s.connected);
  gauge('keyless_edge_origin_requests_running', 'Requests sent to the origin and not yet answered.', (s) => s.running);
  gauge('keyless_edge_origin_requests_pending', 'Requests waiting for a free origin connection.', (s) => s.pending);
  return {
    observe: (origin, cls, seconds) => latency.observe({ origin, status_class: cls }, seconds),
    countError: (origin, code) => errors.inc({ origin, code }),
    countRetry: (origin) => retries.inc({ origin }),
  };
}
