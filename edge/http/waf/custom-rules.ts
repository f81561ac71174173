// Our own rules, compiled from the config: custom rules (an expression and an action), rate
// limits, IP lists — globally and per host. A host's rules come before the global ones; its IP
// lists and rate limits add to the global ones; its mode and managed settings replace them.
import type { CustomRuleConfig, HostConfig, RateLimitConfig, SkipConfig, WafConfig } from './config.js';
import { compileExpression, FIELDS } from './expr/compile.js';
import type { CompiledExpression } from './expr/compile.js';
import { IpList } from './ip-list.js';
import { normalizeHostName } from './normalize.js';
import type { RequestData } from './request.js';
import type { IdRanges } from './seclang/rule.js';
import { parseIdRanges } from './seclang/rule.js';

export interface CompiledSkip {
  readonly rules: ReadonlySet<string>;
  readonly managedAll: boolean;
  readonly managedIds: IdRanges;
  readonly managedTags: readonly string[];
}

export interface CompiledRule {
  readonly name: string;
  readonly description: string | undefined;
  readonly expression: CompiledExpression;
  readonly action: CustomRuleConfig['action'];
  readonly status: number | undefined;
  readonly skip: CompiledSkip | null;
}

export interface CompiledRateLimit {
  readonly name: string;
  readonly filter: CompiledExpression | null;
  readonly keyOf: (r: RequestData) => string;
  readonly keyName: string;
  readonly limit: number;
  readonly windowSeconds: number;
  readonly action: RateLimitConfig['action'];
}

export interface ManagedSettings {
  readonly enabled: boolean;
  readonly paranoiaLevel: number;
  readonly executingParanoiaLevel: number;
  readonly inboundAnomalyThreshold: number;
  readonly outboundAnomalyThreshold: number;
  readonly removeIds: IdRanges;
  readonly removeTags: readonly string[];
}

/** Everything that applies to requests for one host (or to hosts without a section of their own). */
export interface Scope {
  readonly name: string;
  readonly mode: WafConfig['mode'];
  readonly ipAllow: readonly IpList[];
  readonly ipBlock: readonly IpList[];
  /** The scope's custom rules in order (host rules, then global ones), skip rules included. */
  readonly rules: readonly CompiledRule[];
  /**
   * The skip rules, evaluated before every other rule so that a matching skip exempts the rules
   * it names wherever they are listed. Ordered so that a skip rule comes after every skip rule
   * that names it (which decides first whether it is itself exempt); config validation refuses
   * skip rules that name each other in a cycle.
   */
  readonly skipRules: readonly CompiledRule[];
  readonly rateLimits: readonly CompiledRateLimit[];
  readonly managed: ManagedSettings;
}

export function idRanges(list: readonly (number | string)[]): IdRanges {
  return list.flatMap((v) => parseIdRanges(String(v)) ?? []);
}

function compileSkip(skip: SkipConfig): CompiledSkip {
  const managed = skip.managed;
  return {
    rules: new Set(skip.rules),
    managedAll: managed === true,
    managedIds: typeof managed === 'object' ? idRanges(managed.ids) : [],
    managedTags: typeof managed === 'object' ? managed.tags : [],
  };
}

function compileRule(rule: CustomRuleConfig): CompiledRule {
  return {
    name: rule.name,
    description: rule.description,
    expression: compileExpression(rule.expression),
    action: rule.action,
    status: rule.status,
    skip: rule.skip ? compileSkip(rule.skip) : null,
  };
}

function rateKey(key: string): (r: RequestData) => string {
  if (key === 'ip') return (r) => r.clientIp;
  const [kind, name] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (kind === 'header') {
    const lname = name.toLowerCase();
    return (r) => r.header(lname) ?? '(none)';
  }
  if (kind === 'cookie') return (r) => r.cookies.find(([n]) => n === name)?.[1] ?? '(none)';
  const field = FIELDS.get(name);
  if (!field || field.keyed) throw new Error(`rate limit key ${key}: not a field`);
  return (r) => String(field.read(r, null));
}

function compileRateLimit(rl: RateLimitConfig): CompiledRateLimit {
  return {
    name: rl.name,
    filter: rl.expression === undefined ? null : compileExpression(rl.expression),
    keyOf: rateKey(rl.key),
    keyName: rl.key,
    limit: rl.limit,
    windowSeconds: rl.windowSeconds,
    action: rl.action,
  };
}

function managedSettings(config: WafConfig, host: HostConfig | undefined): ManagedSettings {
  const g = config.managed;
  const h = host?.managed;
  const paranoiaLevel = h?.paranoiaLevel ?? g.paranoiaLevel;
  const executing = Math.max(paranoiaLevel, h?.executingParanoiaLevel ?? (h?.paranoiaLevel !== undefined ? paranoiaLevel : (g.executingParanoiaLevel ?? paranoiaLevel)));
  return {
    enabled: (h?.enabled ?? true) && g.enabled,
    paranoiaLevel,
    executingParanoiaLevel: executing,
    inboundAnomalyThreshold: h?.inboundAnomalyThreshold ?? g.inboundAnomalyThreshold,
    outboundAnomalyThreshold: g.outboundAnomalyThreshold,
    // Global removals are applied when loading; a host's at run time.
    removeIds: idRanges(h?.removeRuleIds ?? []),
    removeTags: h?.removeRuleTags ?? [],
  };
}

/** The skip rules of a scope, each after the skip rules that name it (stable otherwise). */
export function orderSkipRules(rules: readonly CompiledRule[]): CompiledRule[] {
  const skips = rules.filter((r) => r.skip !== null);
  const byName = new Map(skips.map((r) => [r.name, r]));
  // How many skip rules of this scope name each one: it waits for all of them.
  const waiting = new Map<string, number>(skips.map((r) => [r.name, 0]));
  for (const r of skips) for (const n of r.skip!.rules) if (byName.has(n) && n !== r.name) waiting.set(n, waiting.get(n)! + 1);
  const ordered: CompiledRule[] = [];
  const done = new Set<string>();
  while (ordered.length < skips.length) {
    const next = skips.find((r) => !done.has(r.name) && waiting.get(r.name) === 0);
    if (next === undefined) {
      const cycle = skips.filter((r) => !done.has(r.name)).map((r) => r.name);
      throw new Error(`skip rules name each other in a cycle: ${cycle.join(', ')}`);
    }
    ordered.push(next);
    done.add(next.name);
    for (const n of next.skip!.rules) if (waiting.has(n) && n !== next.name) waiting.set(n, waiting.get(n)! - 1);
  }
  return ordered;
}

export function compileScopes(config: WafConfig): { global: Scope; hosts: ReadonlyMap<string, Scope> } {
  const globalRules = config.rules.filter((r) => r.enabled).map(compileRule);
  const globalLimits = config.rateLimits.filter((r) => r.enabled).map(compileRateLimit);
  const globalAllow = new IpList(config.ipLists.allow);
  const globalBlock = new IpList(config.ipLists.block);
  const global: Scope = {
    name: '*',
    mode: config.enabled ? config.mode : 'off',
    ipAllow: [globalAllow],
    ipBlock: [globalBlock],
    rules: globalRules,
    skipRules: orderSkipRules(globalRules),
    rateLimits: globalLimits,
    managed: managedSettings(config, undefined),
  };
  const hosts = new Map<string, Scope>();
  for (const [host, h] of Object.entries(config.hosts)) {
    const rules = [...h.rules.filter((r) => r.enabled).map(compileRule), ...globalRules];
    const key = normalizeHostName(host);
    hosts.set(key, {
      name: key,
      mode: config.enabled ? (h.mode ?? config.mode) : 'off',
      ipAllow: h.ipLists ? [new IpList(h.ipLists.allow), globalAllow] : [globalAllow],
      ipBlock: h.ipLists ? [new IpList(h.ipLists.block), globalBlock] : [globalBlock],
      rules,
      skipRules: orderSkipRules(rules),
      rateLimits: [...h.rateLimits.filter((r) => r.enabled).map(compileRateLimit), ...globalLimits],
      managed: managedSettings(config, h),
    });
  }
  return { global, hosts };
}

/**
 * The scope for a host name: an exact section, else the longest matching "*.domain", else the
 * global one. `hostname` is the request's host as origin routing reads it (RequestData.hostname,
 * normalizeHostName: no port, no trailing dot), so "api.example.com." and "api.example.com:8443",
 * which reach the api origin, get its settings too.
 */
export function scopeFor(hostname: string, global: Scope, hosts: ReadonlyMap<string, Scope>): Scope {
  if (hosts.size === 0) return global;
  const h = hostname;
  const exact = hosts.get(h);
  if (exact) return exact;
  for (let dot = h.indexOf('.'); dot >= 0; dot = h.indexOf('.', dot + 1)) {
    const wild = hosts.get(`*${h.slice(dot)}`);
    if (wild) return wild;
  }
  return global;
}
