// The WAF: our rules first (IP lists, custom rules, rate limits), then the managed rule set
// (OWASP CRS on the SecLang engine), over the request headers (phase 1) and then its body
// (phase 2). One Waf is built per configuration; a reload builds a new one.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { DEFAULT_BODY_LIMITS, emptyBody, parseBody, processorFor } from './body/index.js';
import type { BodyLimits, ParsedBody } from './body/index.js';
import { bytesOf, displayText } from './bytes.js';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import type { WafConfig } from './config.js';
import { crsSources, ENV_EXECUTING_PARANOIA, ENV_INBOUND_THRESHOLD, ENV_OUTBOUND_THRESHOLD, ENV_PARANOIA, locateCrs } from './crs.js';
import { compileScopes, idRanges, scopeFor } from './custom-rules.js';
import type { Scope } from './custom-rules.js';
import { WafError, WafErrorCode } from './errors.js';
import { logVerdict, Redactor } from './events.js';
import { createWafMetrics } from './metrics.js';
import type { WafMetrics } from './metrics.js';
import { MemoryRateLimitStore, SlidingWindowLimiter } from './rate-limit.js';
import type { RateLimitStore } from './rate-limit.js';
import { requestData } from './request.js';
import type { RequestData, WafRequest } from './request.js';
import { MemoryCollectionStore } from './seclang/collections.js';
import type { CollectionStore } from './seclang/collections.js';
import { runPhase } from './seclang/engine.js';
import { loadRuleset } from './seclang/loader.js';
import type { Diagnostic, Ruleset } from './seclang/loader.js';
import type { IdRanges } from './seclang/rule.js';
import { SEVERITIES } from './seclang/rule.js';
import { Transaction } from './seclang/transaction.js';
import type { RuleMatch } from './seclang/transaction.js';
import type { WafMatch, WafMatchedVariable, WafVerdict } from './verdict.js';

export interface WafOptions {
  readonly log: Logger;
  /** Prometheus registry for the WAF's metrics (a private one if absent). */
  readonly metrics?: Registry;
  readonly clock?: Clock;
  /** Where rate-limit counters live (default: memory, per process). */
  readonly rateLimitStore?: RateLimitStore;
  /** Where the managed rules' IP/GLOBAL collections live (default: memory, per process). */
  readonly collectionStore?: CollectionStore;
}

export type ManagedDescription =
  | {
      readonly active: true;
      /** From SecComponentSignature, e.g. "OWASP_CRS/3.3.4". */
      readonly ruleSet: string;
      readonly source: string;
      readonly paranoiaLevel: number;
      readonly executingParanoiaLevel: number;
      readonly inboundAnomalyThreshold: number;
      readonly rules: number;
      /** Rules reported at load (disabled, bounded regex fallback, errors), by level. */
      readonly errors: number;
      readonly warnings: number;
      readonly loadMs: number;
    }
  | { readonly active: false; readonly reason: string };

export interface WafDescription {
  readonly mode: WafConfig['mode'];
  readonly managed: ManagedDescription;
  readonly customRules: number;
  readonly rateLimits: number;
  readonly hosts: readonly string[];
  /** Everything the rule loader reported, with file and line. */
  readonly diagnostics: readonly Diagnostic[];
  /** One line for the start-up output. */
  readonly summary: string;
}

export interface BodyOptions {
  /** The request body was longer than `bodyLimit`; `body` is its beginning. */
  readonly truncated?: boolean;
}

/** After the headers: decided, or waiting for the body. */
export type WafInspection =
  | { readonly done: true; readonly verdict: WafVerdict }
  | {
      readonly done: false;
      /** Read at most this many bytes of the body for inspectBody (more: pass truncated). */
      readonly bodyLimit: number;
      inspectBody(body: Buffer | null, options?: BodyOptions): Promise<WafVerdict>;
    };

export interface Waf {
  describe(): WafDescription;
  /** Bytes of a request body the WAF inspects. */
  readonly bodyLimit: number;
  /** Phase 1: IP lists, custom rules, rate limits, managed rules on the headers. */
  inspectHeaders(request: WafRequest): Promise<WafInspection>;
  /** Both phases, for a request whose body (at most bodyLimit bytes, or truncated) is at hand. */
  evaluate(request: WafRequest, body: Buffer | null, options?: BodyOptions): Promise<WafVerdict>;
}

interface Managed {
  readonly ruleset: Ruleset;
  readonly description: Extract<ManagedDescription, { active: true }>;
}

export async function createWaf(config: WafConfig, options: WafOptions): Promise<Waf> {
  const clock = options.clock ?? systemClock;
  const { global, hosts } = compileScopes(config);
  let managed: Managed | null = null;
  let managedReason = '';
  let diagnostics: readonly Diagnostic[] = [];
  const anyManaged = config.managed.enabled && config.enabled && config.mode !== 'off';
  if (!anyManaged) {
    managedReason = !config.enabled || config.mode === 'off' ? 'the WAF is off' : 'waf.managed.enabled is false';
  } else {
    const lookup = locateCrs(config.managed.crs, config.managed.setup);
    if (!lookup.found) {
      managedReason = lookup.reason;
      if (config.managed.required) throw new WafError(WafErrorCode.MANAGED_RULES, lookup.reason);
    } else {
      const started = performance.now();
      const ruleset = loadRuleset(crsSources(lookup.layout, config.managed.before, config.managed.after, config.managed.tx).items, {
        fallbackLimits: config.managed.regexFallback,
        removeIds: idRanges(config.managed.removeRuleIds),
        removeTags: config.managed.removeRuleTags,
      });
      const loadMs = performance.now() - started;
      diagnostics = ruleset.diagnostics;
      const errors = diagnostics.filter((d) => d.level === 'error');
      for (const d of diagnostics) {
        if (d.level === 'info') continue;
        options.log[d.level === 'error' ? 'error' : 'warn']({ event: 'waf-load', code: d.code, file: d.file, line: d.line, ruleId: d.ruleId }, `waf: ${d.message}`);
      }
      if (errors.length > 0 && config.managed.strict) {
        throw new WafError(WafErrorCode.MANAGED_RULES, `the managed rules have ${errors.length} error(s):\n${errors.map((d) => `  ${d.file ?? ''}:${d.line ?? ''}: ${d.message}`).join('\n')}`);
      }
      if (ruleset.rulesById.size === 0) {
        managedReason = `no rules could be loaded from ${lookup.layout.description}`;
        if (config.managed.required) throw new WafError(WafErrorCode.MANAGED_RULES, managedReason);
      } else {
        managed = {
          ruleset,
          description: {
            active: true,
            ruleSet: ruleset.componentSignatures.find((s) => s.startsWith('OWASP_CRS')) ?? ruleset.componentSignatures[0] ?? 'unknown rule set',
            source: lookup.layout.description,
            paranoiaLevel: global.managed.paranoiaLevel,
            executingParanoiaLevel: global.managed.executingParanoiaLevel,
            inboundAnomalyThreshold: global.managed.inboundAnomalyThreshold,
            rules: ruleset.rulesById.size,
            errors: errors.length,
            warnings: diagnostics.filter((d) => d.level === 'warning').length,
            loadMs: Math.round(loadMs),
          },
        };
      }
    }
  }
  return new WafImpl(config, global, hosts, managed, managedReason, diagnostics, {
    log: options.log,
    clock,
    metrics: createWafMetrics(options.metrics),
    limiter: new SlidingWindowLimiter(options.rateLimitStore ?? new MemoryRateLimitStore(), clock),
    store: options.collectionStore ?? new MemoryCollectionStore(clock),
  });
}

interface Runtime {
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: WafMetrics;
  readonly limiter: SlidingWindowLimiter;
  readonly store: CollectionStore;
}

/** What phase 1 left for phase 2. */
interface Pending {
  readonly request: RequestData;
  readonly scope: Scope;
  readonly matches: WafMatch[];
  readonly tx: Transaction;
  readonly started: number;
  wouldBlock: { status: number; reason: string } | undefined;
}

class WafImpl implements Waf {
  readonly bodyLimit: number;
  private readonly bodyLimits: BodyLimits;

  constructor(
    private readonly config: WafConfig,
    private readonly global: Scope,
    private readonly hosts: ReadonlyMap<string, Scope>,
    private readonly managed: Managed | null,
    private readonly managedReason: string,
    private readonly diagnostics: readonly Diagnostic[],
    private readonly rt: Runtime,
  ) {
    this.bodyLimit = config.body.limit;
    this.bodyLimits = { ...DEFAULT_BODY_LIMITS, maxArgs: config.body.maxArgs, maxJsonDepth: config.body.maxJsonDepth };
  }

  describe(): WafDescription {
    const m: ManagedDescription = this.managed?.description ?? { active: false, reason: this.managedReason };
    const customRules = this.global.rules.length + [...this.hosts.values()].reduce((n, s) => n + s.rules.length - this.global.rules.length, 0);
    const rateLimits = this.global.rateLimits.length + [...this.hosts.values()].reduce((n, s) => n + s.rateLimits.length - this.global.rateLimits.length, 0);
    const mode = this.global.mode;
    const managedText = m.active
      ? `${m.ruleSet} (${m.source}) at paranoia level ${m.paranoiaLevel}${m.executingParanoiaLevel > m.paranoiaLevel ? ` (running up to ${m.executingParanoiaLevel})` : ''}, anomaly threshold ${m.inboundAnomalyThreshold}, ${m.rules} rules${m.errors > 0 ? `, ${m.errors} load errors` : ''}`
      : `no managed rules: ${m.reason}`;
    const summary =
      mode === 'off'
        ? 'WAF off'
        : `WAF ${mode === 'detect' ? 'in detect mode (logs, never blocks)' : 'blocking'}: ${managedText}; ${customRules} custom rule${customRules === 1 ? '' : 's'}, ${rateLimits} rate limit${rateLimits === 1 ? '' : 's'}${this.hosts.size > 0 ? `, settings for ${this.hosts.size} host${this.hosts.size === 1 ? '' : 's'}` : ''}`;
    return { mode, managed: m, customRules, rateLimits, hosts: [...this.hosts.keys()], diagnostics: this.diagnostics, summary };
  }

  async evaluate(request: WafRequest, body: Buffer | null, options: BodyOptions = {}): Promise<WafVerdict> {
    const first = await this.inspectHeaders(request);
    if (first.done) return first.verdict;
    return first.inspectBody(body, options);
  }

  async inspectHeaders(request: WafRequest): Promise<WafInspection> {
    const started = performance.now();
    const r = requestData(request, this.config.body.maxArgs);
    const scope = scopeFor(r.hostname, this.global, this.hosts);
    if (scope.mode === 'off') return { done: true, verdict: { action: 'pass', matches: [], anomalyScore: 0 } };
    const detect = scope.mode === 'detect';
    const matches: WafMatch[] = [];
    let wouldBlock: { status: number; reason: string } | undefined;
    const finish = (verdict: WafVerdict): WafInspection => ({ done: true, verdict: this.finish(r, verdict, started, scope) });
    /** A block: carried out, or in detect mode remembered and not carried out. */
    const block = (status: number, reason: string, extra: Partial<WafVerdict> = {}): WafInspection | null => {
      if (detect) {
        wouldBlock ??= { status, reason };
        return null;
      }
      return finish({ ...this.blockVerdict(r, status), ...extra, matches, anomalyScore: 0 });
    };

    // 1. IP lists
    if (scope.ipAllow.some((l) => l.has(r.clientIp))) {
      matches.push({ source: 'ip-list', rule: 'ip-allow', action: 'allow', message: `client ${r.clientIp} is on the allow list` });
      return finish({ action: 'allow', matches, anomalyScore: 0 });
    }
    if (scope.ipBlock.some((l) => l.has(r.clientIp))) {
      matches.push({ source: 'ip-list', rule: 'ip-block', action: 'block', message: `client ${r.clientIp} is on the block list` });
      const done = block(this.config.blockResponse.status, 'ip-block');
      if (done) return done;
    }

    // 2. A query with more arguments than body.maxArgs: the rest were not parsed, so no rule
    // would see them (1000 harmless arguments, then the attack). Like a body that cannot be
    // parsed: onParseError block → 400 (ModSecurity's recommended rule 200007 denies
    // &ARGS >= 1000), ignore → logged, and the arguments that were parsed are inspected.
    if (r.queryArgsTruncated) {
      const message = `the query has more than ${this.config.body.maxArgs} arguments (waf.body.maxArgs); the rest would not be inspected`;
      if (this.config.body.onParseError === 'block') {
        matches.push({ source: 'body', rule: 'query-args', action: 'block', message });
        const done = block(400, 'query-args');
        if (done) return done;
      } else {
        matches.push({ source: 'body', rule: 'query-args', action: 'log', message });
      }
    }

    // 3. Custom rules. Skip rules first, wherever they are listed: a matching skip exempts the
    // rules it names (before or after it, host or global). Then the others, in order.
    const skippedRules = new Set<string>();
    let skipManaged = false;
    const managedRemovals: IdRanges[] = [];
    const managedTagRemovals: string[] = [];
    for (const rule of scope.skipRules) {
      if (skippedRules.has(rule.name) || !rule.expression.test(r)) continue;
      const s = rule.skip!;
      matches.push({ source: 'rule', rule: rule.name, action: 'skip', message: `${rule.description ?? rule.expression.source} (skips ${describeSkip(s)})` });
      for (const n of s.rules) skippedRules.add(n);
      if (s.managedAll) skipManaged = true;
      if (s.managedIds.length > 0) managedRemovals.push(s.managedIds);
      managedTagRemovals.push(...s.managedTags);
    }
    for (const rule of scope.rules) {
      if (rule.action === 'skip' || skippedRules.has(rule.name) || !rule.expression.test(r)) continue;
      const base = { source: 'rule' as const, rule: rule.name, message: rule.description ?? rule.expression.source };
      switch (rule.action) {
        case 'log':
          matches.push({ ...base, action: 'log' });
          break;
        case 'allow':
          matches.push({ ...base, action: 'allow' });
          return finish({ action: 'allow', matches, anomalyScore: 0, ...(wouldBlock ? { wouldBlock } : {}) });
        case 'block': {
          matches.push({ ...base, action: 'block' });
          const done = block(rule.status ?? this.config.blockResponse.status, rule.name);
          if (done) return done;
          break;
        }
      }
    }

    // 4. Rate limits
    for (const rl of scope.rateLimits) {
      if (skippedRules.has(rl.name) || (rl.filter !== null && !rl.filter.test(r))) continue;
      const decision = await this.rt.limiter.hit(`${rl.name}\0${rl.keyOf(r)}`, rl.limit, rl.windowSeconds);
      if (!decision.limited) continue;
      const message = `more than ${rl.limit} requests in ${rl.windowSeconds} s by ${rl.keyName}`;
      if (rl.action === 'log') {
        matches.push({ source: 'rate-limit', rule: rl.name, action: 'log', message });
        continue;
      }
      matches.push({ source: 'rate-limit', rule: rl.name, action: 'rate-limit', message });
      if (detect) {
        wouldBlock ??= { status: 429, reason: rl.name };
        continue;
      }
      return finish({
        action: 'rate-limit',
        status: 429,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': String(decision.retryAfterSeconds), 'cache-control': 'no-store' },
        body: `Too many requests. Retry in ${decision.retryAfterSeconds} s.\nRequest id: ${r.requestId}\n`,
        matches,
        anomalyScore: 0,
      });
    }

    // 5. Managed rules, phase 1
    const managed = this.managed;
    if (managed === null || skipManaged || !scope.managed.enabled) {
      return finish({ action: 'pass', matches, anomalyScore: 0, ...(wouldBlock ? { wouldBlock } : {}) });
    }
    const contentLength = Number(r.header('content-length') ?? '0');
    if (this.config.body.onLimit === 'reject' && Number.isFinite(contentLength) && contentLength > this.bodyLimit) {
      matches.push({ source: 'body', rule: 'body-limit', action: 'block', message: `a body of ${contentLength} bytes is over the limit of ${this.bodyLimit}` });
      const done = block(413, 'body-limit', this.tooLarge(r));
      if (done) return done;
    }
    const tx = new Transaction({
      request: r,
      clock: this.rt.clock,
      store: this.rt.store,
      fallbackLimits: this.config.managed.regexFallback,
      engineMode: detect ? 'DetectionOnly' : 'On',
      env: managedEnv(scope),
      bodyProcessor: processorFor(r.header('content-type')),
      memo: managed.ruleset.memo,
    });
    if (scope.managed.removeIds.length > 0) tx.removedIds.push(scope.managed.removeIds);
    tx.removedIds.push(...managedRemovals);
    for (const tag of [...scope.managed.removeTags, ...managedTagRemovals]) tx.removedTagsExact.add(tag);
    runPhase(managed.ruleset, tx, 1);
    const pending: Pending = { request: r, scope, matches, tx, started, wouldBlock };
    if (tx.interruption !== null || tx.allowed === 'request') return { done: true, verdict: this.managedVerdict(pending) };
    return {
      done: false,
      bodyLimit: this.bodyLimit,
      inspectBody: async (body, options = {}) => this.inspectBody(pending, body, options),
    };
  }

  private inspectBody(p: Pending, body: Buffer | null, options: BodyOptions): WafVerdict {
    const { tx, request: r, matches } = p;
    const detect = p.scope.mode === 'detect';
    const truncated = options.truncated === true || (body !== null && body.length > this.bodyLimit);
    if (truncated && this.config.body.onLimit === 'reject') {
      matches.push({ source: 'body', rule: 'body-limit', action: 'block', message: `the body is over the limit of ${this.bodyLimit} bytes` });
      if (!detect) return this.finish(r, { ...this.tooLarge(r), matches, anomalyScore: anomalyScore(tx) }, p.started, p.scope);
      p.wouldBlock ??= { status: 413, reason: 'body-limit' };
    } else if (truncated) {
      // inspect-partial: the rules see the first bodyLimit bytes; what follows goes to the origin
      // uninspected, and the verdict (and the event log) say so.
      matches.push({ source: 'body', rule: 'body-limit', action: 'log', message: `the body is over the limit of ${this.bodyLimit} bytes: only its first ${this.bodyLimit} bytes were inspected (onLimit: inspect-partial)` });
    }
    const inspected = body === null ? null : body.length > this.bodyLimit ? body.subarray(0, this.bodyLimit) : body;
    tx.bodyTruncated = truncated;
    // ctl:requestBodyAccess=Off (a phase-1 rule) means the body is not looked at at all.
    if (inspected !== null && inspected.length > 0 && tx.requestBodyAccess) {
      let parsed: ParsedBody = parseBody(inspected, r.header('content-type'), tx.bodyProcessor, this.bodyLimits);
      const strictError = this.config.body.multipartStrict && parsed.multipart !== null && Object.values(parsed.multipart).some((v) => v === true) && parsed.error === null;
      const error = parsed.error ?? (strictError ? `multipart: ${Object.entries(parsed.multipart!).filter(([, v]) => v === true).map(([k]) => k).join(', ')}` : null);
      if (error !== null && !truncated) {
        if (this.config.body.onParseError === 'block') {
          matches.push({ source: 'body', rule: 'body-parse', action: 'block', message: `the ${parsed.processor ?? ''} body cannot be parsed: ${error}` });
          if (!detect) return this.finish(r, { ...this.blockVerdict(r, 400), matches, anomalyScore: anomalyScore(tx) }, p.started, p.scope);
          p.wouldBlock ??= { status: 400, reason: 'body-parse' };
        }
        // Inspected as raw text instead (REQUEST_BODY), as for a body no processor handles.
        parsed = { ...emptyBody(null, error) };
      } else if (error !== null && truncated) {
        // A partial body often does not parse; what did parse is inspected.
        parsed = { ...parsed, error: null };
      }
      tx.setBody(bytesOf(inspected), parsed);
    }
    runPhase(this.managed!.ruleset, tx, 2);
    return this.managedVerdict(p);
  }

  /** The verdict once the managed rules have run (after phase 1 if they decided, else after phase 2). */
  private managedVerdict(p: Pending): WafVerdict {
    const { tx, request: r, matches } = p;
    const redactor = new Redactor(r, tx.body?.args ?? [], this.config.redact);
    for (const m of tx.matches) matches.push(managedMatch(m, redactor, tx.interruption?.ruleId));
    const score = anomalyScore(tx);
    const incomplete = { ...(tx.budget.exhausted ? { incomplete: true } : {}), ...(tx.bodyTruncated ? { bodyTruncated: true } : {}) };
    const interruption = tx.interruption;
    if (interruption !== null) {
      const status = interruption.status === 403 ? this.config.blockResponse.status : interruption.status;
      const verdict: WafVerdict =
        interruption.action === 'redirect'
          ? { action: 'block', status: interruption.status, headers: { location: interruption.url ?? '/', 'cache-control': 'no-store' }, body: '', matches, anomalyScore: score }
          : { ...this.blockVerdict(r, status), matches, anomalyScore: score };
      return this.finish(r, { ...verdict, ...incomplete }, p.started, p.scope);
    }
    // DetectionOnly: a disruptive action that was recorded and not carried out.
    const suppressed = tx.matches.find((m) => m.suppressed);
    if (suppressed) p.wouldBlock ??= { status: this.config.blockResponse.status, reason: String(suppressed.ruleId) };
    const action = tx.allowed === 'request' ? 'allow' : 'pass';
    return this.finish(r, { action, matches, anomalyScore: score, ...(p.wouldBlock ? { wouldBlock: p.wouldBlock } : {}), ...incomplete }, p.started, p.scope);
  }

  private blockVerdict(r: RequestData, status: number): Pick<WafVerdict, 'action' | 'status' | 'headers' | 'body'> {
    const br = this.config.blockResponse;
    return {
      action: 'block',
      status,
      headers: { 'content-type': br.contentType, 'cache-control': 'no-store' },
      body: br.body.replaceAll('{requestId}', r.requestId),
    };
  }

  private tooLarge(r: RequestData): Pick<WafVerdict, 'action' | 'status' | 'headers' | 'body'> {
    return {
      action: 'block',
      status: 413,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' },
      body: `Request body too large (the limit is ${this.bodyLimit} bytes).\nRequest id: ${r.requestId}\n`,
    };
  }

  private finish(r: RequestData, verdict: WafVerdict, started: number, scope: Scope): WafVerdict {
    const seconds = (performance.now() - started) / 1000;
    this.rt.metrics.observe(verdict, seconds);
    logVerdict({ log: this.rt.log, request: r, verdict, mode: scope.mode === 'detect' ? 'detect' : 'block', durationMs: seconds * 1000 });
    return verdict;
  }
}

function describeSkip(s: { rules: ReadonlySet<string>; managedAll: boolean; managedIds: IdRanges; managedTags: readonly string[] }): string {
  const parts: string[] = [];
  if (s.rules.size > 0) parts.push([...s.rules].join(', '));
  if (s.managedAll) parts.push('the managed rules');
  if (s.managedIds.length > 0) parts.push(`managed rules ${s.managedIds.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(', ')}`);
  if (s.managedTags.length > 0) parts.push(`managed rules tagged ${s.managedTags.join(', ')}`);
  return parts.join('; ') || 'nothing';
}

/** The per-request values our setup rule (crs.ts) copies into the CRS's tx variables. */
function managedEnv(scope: Scope): Map<string, string> {
  return new Map([
    [ENV_PARANOIA, String(scope.managed.paranoiaLevel)],
    [ENV_EXECUTING_PARANOIA, String(scope.managed.executingParanoiaLevel)],
    [ENV_INBOUND_THRESHOLD, String(scope.managed.inboundAnomalyThreshold)],
    [ENV_OUTBOUND_THRESHOLD, String(scope.managed.outboundAnomalyThreshold)],
  ]);
}

function int(v: string | undefined): number {
  const n = Number.parseInt(v ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}

/**
 * The inbound anomaly score as the CRS keeps it: CRS 4's blocking_inbound_anomaly_score, CRS 3's
 * anomaly_score (summed by 949060–949063 in phase 2), or — before that sum — the per-level ones.
 */
export function anomalyScore(tx: Transaction): number {
  const t = tx.tx;
  const direct = int(t.get('blocking_inbound_anomaly_score')) || int(t.get('anomaly_score')) || int(t.get('inbound_anomaly_score'));
  if (direct > 0) return direct;
  let sum = 0;
  for (const name of PER_LEVEL_SCORES) sum += int(t.get(name));
  return sum;
}

/** CRS 3's and CRS 4's per-paranoia-level scores, named once rather than on every verdict. */
const PER_LEVEL_SCORES = [1, 2, 3, 4].flatMap((pl) => [`anomaly_score_pl${pl}`, `inbound_anomaly_score_pl${pl}`]);

/** At most this many matched variables per managed rule in a verdict (the engine keeps 8). */
const MAX_MATCHED_VARIABLES = 8;

function managedMatch(m: RuleMatch, redactor: Redactor, decidingRule: number | undefined): WafMatch {
  const first = m.matched[0];
  // Each variable once (a rule can match one in several forms), each redacted on its own.
  const variables: WafMatchedVariable[] = [];
  const seen = new Set<string>();
  for (const v of m.matched) {
    if (seen.has(v.name) || variables.length >= MAX_MATCHED_VARIABLES) continue;
    seen.add(v.name);
    variables.push({ name: displayText(v.name), data: redactor.isSecretVariable(v.name) ? '[redacted]' : redactor.clean(v.value) });
  }
  // logdata quotes the last matched value, possibly transformed past what clean() recognises.
  const secret = m.matched.some((v) => redactor.isSecretVariable(v.name));
  const data = secret ? '[redacted]' : m.logdata !== '' ? redactor.clean(m.logdata) : first ? redactor.clean(first.value) : undefined;
  const blocked = m.action === 'deny' || m.action === 'drop' || m.action === 'redirect';
  return {
    source: 'managed',
    rule: String(m.ruleId),
    action: blocked && (m.ruleId === decidingRule || m.suppressed) ? 'block' : m.action === 'allow' ? 'allow' : 'pass',
    message: displayText(m.msg),
    ...(first ? { variable: displayText(first.name) } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(variables.length > 0 ? { variables } : {}),
    ...(m.severity !== null ? { severity: SEVERITIES[m.severity] ?? String(m.severity) } : {}),
    ...(m.tags.length > 0 ? { tags: m.tags } : {}),
    phase: m.phase,
    location: `${m.file}:${m.line}`,
  };
}
