// Builds the HTTP pipeline's stages from the edge configuration: the origin client (with the
// served site keys forbidden as origin-pull keys), the cache, and the request filter (WAF). A
// reload builds a new set completely before it replaces the old one.
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EdgeConfig } from './config.js';
import { createHttpCache, type HttpCache } from './http/cache/index.js';
import { createOriginClient, loadOrigins, type OriginClient } from './http/origin/index.js';
import type { PipelineMetrics, PipelineStages, RequestFilter } from './http/pipeline.js';
import { createWaf, type RateLimitStore } from './http/waf/index.js';
import { wafFilter } from './http/waf-filter.js';

export interface BuiltStages extends PipelineStages {
  readonly origin: OriginClient;
  readonly cache: HttpCache | undefined;
}

/** The origin client for the config's origins (none configured: undefined). */
export async function buildOriginClient(config: EdgeConfig, configFile: string, siteKeyIds: ReadonlySet<string>, registry: Registry | undefined, log: Logger): Promise<OriginClient | undefined> {
  if (!config.origins) return undefined;
  const origins = await loadOrigins(config.origins, configFile, { forbiddenKeyIds: siteKeyIds });
  const client = createOriginClient({ origins, ...(registry ? { registry } : {}), log: log.child({ component: 'origin' }) });
  for (const warning of client.warnings()) log.warn({ warning }, 'origin TLS is not verified');
  return client;
}

export async function buildCache(config: EdgeConfig, registry: Registry, log: Logger, onInvalidated?: (keys: readonly string[]) => void): Promise<HttpCache | undefined> {
  if (!config.cache) return undefined;
  return createHttpCache(config.cache, { log, metrics: registry, onInvalidated });
}

/** The WAF for the config's waf: section (none: undefined); says at start-up which rules are active. */
export async function buildWaf(config: EdgeConfig, registry: Registry, log: Logger, rateLimitStore: RateLimitStore): Promise<{ filter: RequestFilter; summary: string } | undefined> {
  if (!config.waf) return undefined;
  const waf = await createWaf(config.waf, { log: log.child({ component: 'waf' }), metrics: registry, rateLimitStore });
  const description = waf.describe();
  log.info({ mode: description.mode, managed: description.managed.active ? `${description.managed.ruleSet} PL${description.managed.paranoiaLevel}` : `none: ${description.managed.reason}`, customRules: description.customRules, rateLimits: description.rateLimits }, description.summary);
  return { filter: wafFilter(waf), summary: description.summary };
}

export function pipelineMetrics(registry: Registry): PipelineMetrics {
  return {
    requests: new Counter({ name: 'keyless_edge_http_requests_total', help: 'HTTP requests answered, by host (configured hosts only) and status.', labelNames: ['host', 'status'], registers: [registry] }),
    duration: new Histogram({
      name: 'keyless_edge_http_request_duration_seconds',
      help: 'Time from the request to the end of its response, by host.',
      labelNames: ['host'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
  };
}

export function stagesOf(origin: OriginClient, cache: HttpCache | undefined, filter: RequestFilter | undefined): BuiltStages {
  return { origin, cache, filter };
}
