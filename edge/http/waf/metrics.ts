// Prometheus metrics of the WAF, on the registry the edge passes in (a private one otherwise).
import { Counter, Histogram, Registry } from 'prom-client';
import type { WafVerdict } from './verdict.js';

export interface WafMetrics {
  observe(verdict: WafVerdict, seconds: number): void;
}

export function createWafMetrics(registry: Registry | undefined): WafMetrics {
  const registers = [registry ?? new Registry()];
  const requests = new Counter({
    name: 'keyless_edge_waf_requests_total',
    help: 'Requests inspected by the WAF, by the action taken (allow, block, rate-limit, pass) and whether a block was only logged (detect mode).',
    labelNames: ['action', 'detect_only'] as const,
    registers,
  });
  const matches = new Counter({
    name: 'keyless_edge_waf_rule_matches_total',
    help: 'Rule matches that led to an action, by source (ip-list, rule, rate-limit, managed, body), rule (name or managed rule id) and action.',
    labelNames: ['source', 'rule', 'action'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'keyless_edge_waf_inspection_seconds',
    help: 'Time the WAF spent on a request (headers and body phases together).',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers,
  });
  return {
    observe(verdict, seconds) {
      requests.inc({ action: verdict.action, detect_only: verdict.wouldBlock ? 'true' : 'false' });
      for (const m of verdict.matches) matches.inc({ source: m.source, rule: m.rule, action: m.action });
      duration.observe(seconds);
    },
  };
}
