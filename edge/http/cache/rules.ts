// Cache rules from the config, per host and path prefix, in the spirit of Cloudflare's Cache
// Rules: bypass the cache, or cache with an edge TTL. The first rule that matches, in file
// order, decides; no rule means plain RFC 9111 behaviour.
import type { CacheRuleConfig } from './config.js';

export type CacheRule = CacheRuleConfig & { readonly index: number };

export type RuleMatcher = (host: string, path: string) => CacheRule | undefined;

export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  // "*.example.com" covers any name below example.com, not example.com itself.
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return host === pattern;
}

/** The name without a port: rules name hosts, not listeners ("[::1]:8443" → "[::1]"). */
function hostname(host: string): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host);
  return m?.[1] ?? host;
}

export function compileRules(rules: readonly CacheRuleConfig[]): RuleMatcher {
  const compiled: CacheRule[] = rules.map((r, index) => ({ ...r, host: r.host.toLowerCase(), index }));
  if (compiled.length === 0) return () => undefined;
  return (host, path) => {
    const h = hostname(host.toLowerCase());
    return compiled.find((r) => hostMatches(r.host, h) && path.startsWith(r.pathPrefix));
  };
}
