// The `waf:` section of the edge config. Validated with zod: an error names the field
// (`field 'waf.rules[2].expression': line 1, column 14: ...`), and expressions are compiled at
// validation time, so a config with a broken rule never starts. Paths (the CRS directory, the
// setup file, extra SecLang files) are relative to the config file: resolveWafPaths().
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, resolveFrom, validateConfig } from '../../../common/config-file.js';
import { WafExpressionError } from './errors.js';
import { compileExpression, FIELDS } from './expr/compile.js';
import { isCidr } from './ip-list.js';
import { MAX_BODY_LIMIT } from './limits.js';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-", at most 64');

const expression = z.string().superRefine((text, ctx) => {
  try {
    compileExpression(text);
  } catch (err) {
    if (err instanceof WafExpressionError) ctx.addIssue({ code: 'custom', message: err.message });
    else throw err;
  }
});

const cidr = z.string().refine(isCidr, { message: 'an IP address or CIDR block, e.g. 192.0.2.0/24 or 2001:db8::/32' });

/** A rule id or an inclusive range: 942100 or "942100-942199". */
const ruleIdRange = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(?:-\d+)?$/, 'a rule id or a range like "942100-942199"'),
]);

const skipTarget = z.strictObject({
  /** Our own rules and rate limits, by name. */
  rules: z.array(name).default([]),
  /** true: the whole managed rule set; or only some of its rules. */
  managed: z
    .union([
      z.boolean(),
      z.strictObject({
        ids: z.array(ruleIdRange).default([]),
        tags: z.array(z.string().min(1)).default([]),
      }),
    ])
    .default(false),
});

const blockResponse = z.strictObject({
  status: z.number().int().min(400).max(599).default(403),
  contentType: z.string().min(1).default('text/plain; charset=utf-8'),
  /** "{requestId}" is replaced by the request id. */
  body: z.string().max(65_536).default('Forbidden: this request was blocked by the web application firewall.\nRequest id: {requestId}\n'),
});

const customRule = z
  .strictObject({
    name,
    description: z.string().optional(),
    expression,
    action: z.enum(['block', 'log', 'allow', 'skip']),
    /** For action skip: what matching requests are exempt from. */
    skip: skipTarget.optional(),
    /** For action block: the status (default: blockResponse.status). */
    status: z.number().int().min(400).max(599).optional(),
    enabled: z.boolean().default(true),
  })
  .superRefine((rule, ctx) => {
    if (rule.action === 'skip' && rule.skip === undefined) ctx.addIssue({ code: 'custom', path: ['skip'], message: 'action skip needs skip: { rules: [...], managed: ... }' });
    if (rule.action !== 'skip' && rule.skip !== undefined) ctx.addIssue({ code: 'custom', path: ['skip'], message: 'skip: is only for action skip' });
    if (rule.action !== 'block' && rule.status !== undefined) ctx.addIssue({ code: 'custom', path: ['status'], message: 'status: is only for action block' });
  });

/** What requests are counted by: "ip", "header:x-api-key", "cookie:session", or "field:<expression field>". */
const rateKey = z
  .string()
  .refine((k) => k === 'ip' || /^(?:header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || (k.startsWith('field:') && FIELDS.get(k.slice(6))?.keyed === false), {
    message: `ip, header:<name>, cookie:<name> or field:<field> with a field of the rule language (e.g. field:http.request.uri.path)`,
  });

const rateLimit = z.strictObject({
  name,
  description: z.string().optional(),
  /** Which requests count (default: all). */
  expression: expression.optional(),
  key: rateKey.default('ip'),
  /** Requests allowed per window. */
  limit: z.number().int().positive().max(1_000_000_000),
  windowSeconds: z.number().int().positive().max(86_400),
  action: z.enum(['block', 'log']).default('block'),
  enabled: z.boolean().default(true),
});

const ipLists = z.strictObject({
  /** Never inspected (our rules, rate limits and managed rules are all skipped). */
  allow: z.array(cidr).default([]),
  block: z.array(cidr).default([]),
});

const fallbackLimits = z.strictObject({
  windowBytes: z.number().int().min(64).max(65_536).default(1024),
  maxWindowsPerValue: z.number().int().min(1).max(1024).default(8),
  maxWindowsPerRequest: z.number().int().min(1).max(100_000).default(128),
});

const crsTxVar = z.string().regex(/^[a-z0-9_]{1,64}$/, 'a CRS tx variable name (lower case), e.g. allowed_methods');

const managed = z
  .strictObject({
    enabled: z.boolean().default(true),
    /**
     * The CRS: "auto" looks for Debian's modsecurity-crs package (/usr/share/modsecurity-crs with
     * /etc/modsecurity/crs/crs-setup.conf); or a CRS release directory (rules/ and
     * crs-setup.conf or crs-setup.conf.example).
     */
    crs: z.string().min(1).default('auto'),
    /** crs-setup.conf; default: the one that goes with the CRS directory. */
    setup: z.string().min(1).optional(),
    /** Refuse to start when the CRS cannot be loaded (default: start without managed rules, and say why). */
    required: z.boolean().default(false),
    /** Load errors in the rule files (unknown directives, rules that do not compile) stop the start. */
    strict: z.boolean().default(false),
    paranoiaLevel: z.number().int().min(1).max(4).default(1),
    /** Run rules up to this level and log them without blocking (CRS executing/detection paranoia level). */
    executingParanoiaLevel: z.number().int().min(1).max(4).optional(),
    inboundAnomalyThreshold: z.number().int().min(1).max(10_000).default(5),
    outboundAnomalyThreshold: z.number().int().min(1).max(10_000).default(4),
    /** More CRS settings, as crs-setup.conf sets them: tx variable → value (e.g. allowed_methods). */
    tx: z.record(crsTxVar, z.union([z.string(), z.number()])).default({}),
    /** SecLang files loaded after crs-setup.conf, before the rules (rule exclusions that use ctl:). */
    before: z.array(z.string().min(1)).default([]),
    /** SecLang files loaded after the rules (SecRuleRemoveById, SecRuleUpdateTargetById). */
    after: z.array(z.string().min(1)).default([]),
    removeRuleIds: z.array(ruleIdRange).default([]),
    removeRuleTags: z.array(z.string().min(1)).default([]),
    regexFallback: fallbackLimits.prefault({}),
  })
  .superRefine((m, ctx) => {
    if (m.executingParanoiaLevel !== undefined && m.executingParanoiaLevel < m.paranoiaLevel) {
      ctx.addIssue({ code: 'custom', path: ['executingParanoiaLevel'], message: 'must be at least paranoiaLevel' });
    }
  });

const body = z.strictObject({
  /** Bytes of a request body the WAF inspects. */
  limit: z.number().int().min(0).max(MAX_BODY_LIMIT).default(1024 * 1024),
  /** A longer body: refuse it (413), or inspect its first `limit` bytes and let the rest through. */
  onLimit: z.enum(['reject', 'inspect-partial']).default('reject'),
  /** A body that its Content-Type says is JSON/XML/form data but does not parse: block (400) or inspect it as raw text. */
  onParseError: z.enum(['block', 'ignore']).default('block'),
  /** Multipart anomalies ModSecurity calls MULTIPART_STRICT_ERROR count as parse errors. */
  multipartStrict: z.boolean().default(true),
  maxArgs: z.number().int().min(1).max(100_000).default(1000),
  maxJsonDepth: z.number().int().min(1).max(10_000).default(512),
});

/** Per-host settings: added to the global ones (rules, rate limits, IP lists) or replacing them (mode, managed). */
const hostSection = z.strictObject({
  mode: z.enum(['block', 'detect', 'off']).optional(),
  ipLists: ipLists.optional(),
  rules: z.array(customRule).default([]),
  rateLimits: z.array(rateLimit).default([]),
  managed: z
    .strictObject({
      enabled: z.boolean().optional(),
      paranoiaLevel: z.number().int().min(1).max(4).optional(),
      executingParanoiaLevel: z.number().int().min(1).max(4).optional(),
      inboundAnomalyThreshold: z.number().int().min(1).max(10_000).optional(),
      removeRuleIds: z.array(ruleIdRange).default([]),
      removeRuleTags: z.array(z.string().min(1)).default([]),
    })
    .optional(),
});

export const wafConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** block: carry out blocks; detect: only log what would be blocked; off: inspect nothing. */
    mode: z.enum(['block', 'detect', 'off']).default('block'),
    blockResponse: blockResponse.prefault({}),
    body: body.prefault({}),
    ipLists: ipLists.prefault({}),
    rules: z.array(customRule).default([]),
    rateLimits: z.array(rateLimit).default([]),
    managed: managed.prefault({}),
    /** Header, cookie and argument names whose values never appear in logs (added to the built-in list). */
    redact: z
      .strictObject({
        headers: z.array(z.string().min(1)).default([]),
        args: z.array(z.string().min(1)).default([]),
      })
      .prefault({}),
    /** By host name ("www.example.com", or "*.example.com" for subdomains). */
    hosts: z.record(z.string().regex(/^(?:\*\.)?[a-z0-9_.-]+$/i, 'a host name or *.domain'), hostSection).default({}),
  })
  .superRefine((cfg, ctx) => {
    // Names are how skip rules, logs and metrics refer to rules: unique across all scopes.
    const seen = new Map<string, string>();
    const check = (list: readonly { name: string }[], where: (string | number)[]) => {
      list.forEach((r, i) => {
        const prev = seen.get(r.name);
        if (prev !== undefined) ctx.addIssue({ code: 'custom', path: [...where, i, 'name'], message: `"${r.name}" is already the name of ${prev}` });
        else seen.set(r.name, `${where.join('.')}[${i}]`);
      });
    };
    check(cfg.rules, ['rules']);
    check(cfg.rateLimits, ['rateLimits']);
    for (const [host, h] of Object.entries(cfg.hosts)) {
      check(h.rules, ['hosts', host, 'rules']);
      check(h.rateLimits, ['hosts', host, 'rateLimits']);
    }
    const skipNames = (list: readonly { skip?: { rules: string[] } | undefined }[], where: (string | number)[]) =>
      list.forEach((r, i) =>
        r.skip?.rules.forEach((n, j) => {
          if (!seen.has(n)) ctx.addIssue({ code: 'custom', path: [...where, i, 'skip', 'rules', j], message: `no rule or rate limit is named "${n}"` });
        }),
      );
    skipNames(cfg.rules, ['rules']);
    for (const [host, h] of Object.entries(cfg.hosts)) skipNames(h.rules, ['hosts', host, 'rules']);

    // Skip rules are evaluated before the other rules, each after the skip rules that name it
    // (custom-rules.ts orderSkipRules): skip rules that name each other in a cycle have no order.
    const skips = new Map<string, { rules: string[]; where: (string | number)[] }>();
    const collect = (list: readonly { name: string; skip?: { rules: string[] } | undefined }[], where: (string | number)[]) =>
      list.forEach((r, i) => {
        if (r.skip) skips.set(r.name, { rules: r.skip.rules, where: [...where, i] });
      });
    collect(cfg.rules, ['rules']);
    for (const [host, h] of Object.entries(cfg.hosts)) collect(h.rules, ['hosts', host, 'rules']);
    const state = new Map<string, 'open' | 'done'>();
    const visit = (n: string, trail: string[]): void => {
      state.set(n, 'open');
      const s = skips.get(n)!;
      s.rules.forEach((m, j) => {
        if (m === n || !skips.has(m)) return;
        if (state.get(m) === 'open') {
          const cycle = [...trail.slice(trail.indexOf(m)), n, m];
          ctx.addIssue({ code: 'custom', path: [...s.where, 'skip', 'rules', j], message: `skip rules cannot exempt each other in a cycle (${cycle.join(' → ')})` });
        } else if (state.get(m) === undefined) visit(m, [...trail, n]);
      });
      state.set(n, 'done');
    };
    for (const n of skips.keys()) if (state.get(n) === undefined) visit(n, []);

    // Host names are matched without a port or trailing dot (normalize.ts): two spellings of one name are one section.
    const hostKeys = new Map<string, string>();
    for (const host of Object.keys(cfg.hosts)) {
      const key = host.toLowerCase().replace(/\.$/, '');
      const prev = hostKeys.get(key);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', path: ['hosts', host], message: `the same host as "${prev}"` });
      else hostKeys.set(key, host);
    }
  });

export type WafConfigInput = z.input<typeof wafConfigSchema>;
export type WafConfig = z.output<typeof wafConfigSchema>;
export type CustomRuleConfig = z.output<typeof customRule>;
export type RateLimitConfig = z.output<typeof rateLimit>;
export type HostConfig = z.output<typeof hostSection>;
export type SkipConfig = z.output<typeof skipTarget>;

/** Makes the paths of a validated config absolute, relative to the config file's directory. */
export function resolveWafPaths(config: WafConfig, configFile: string): WafConfig {
  const m = config.managed;
  return {
    ...config,
    managed: {
      ...m,
      crs: m.crs === 'auto' ? 'auto' : resolveFrom(configFile, m.crs),
      ...(m.setup !== undefined ? { setup: resolveFrom(configFile, m.setup) } : {}),
      before: m.before.map((p) => resolveFrom(configFile, p)),
      after: m.after.map((p) => resolveFrom(configFile, p)),
    },
  };
}

/** Validates a `waf:` section (as parsed YAML) from `file`; paths resolved. Throws ConfigError naming the field. */
export function parseWafConfig(raw: unknown, file: string): WafConfig {
  const wrapped = validateConfig(z.object({ waf: wafConfigSchema.prefault({}) }), { waf: raw }, file);
  return resolveWafPaths(wrapped.waf, file);
}

/**
 * Reads the `waf:` section of an edge config file (other sections are not this module's to
 * judge), or a file that is only a waf section. For `keyless waf test`.
 */
export async function loadWafConfigFile(file: string): Promise<WafConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `YAML syntax at line ${e.linePos?.[0]?.line ?? '?'}, column ${e.linePos?.[0]?.col ?? '?'}: ${e.message.split('\n')[0]}`));
  }
  const js = (doc.toJS() ?? {}) as Record<string, unknown>;
  const section = typeof js === 'object' && js !== null && 'waf' in js ? js.waf : js;
  return parseWafConfig(section ?? {}, file);
}
