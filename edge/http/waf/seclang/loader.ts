// Loads SecLang files into a Ruleset: follows Include / IncludeOptional (globs, sorted, relative
// to the including file), applies the configuration-time directives in order (SecDefaultAction,
// SecRuleRemoveById/ByTag/ByMsg, SecRuleUpdateTargetById/ByTag/ByMsg, SecRuleUpdateActionById,
// SecMarker, SecComponentSignature, SecRuleEngine) and reports, with file and line, every
// directive it does not know and every rule it cannot run. Nothing here throws for a bad rule:
// a rule that cannot be compiled is reported and left out; the caller decides whether errors
// are fatal.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_FALLBACK_LIMITS } from '../regex/compile.js';
import type { FallbackLimits } from '../regex/compile.js';
import { lexSecLang } from './lexer.js';
import type { Directive } from './lexer.js';
import type { OperatorCompileOptions } from './operators.js';
import { compileRuleDirective, RuleCompileError, toExclusion, toTarget } from './rule-compiler.js';
import type { DefaultActions, RuleCompileContext } from './rule-compiler.js';
import type { Marker, PhaseEntry, Rule, RuleEngineMode, TxProbe } from './rule.js';
import { idInRanges, isMarker, parseIdRanges } from './rule.js';
import { parseActions, parseVariables } from './syntax.js';
import { TransformTrie, ValueMemo } from './transform-chain.js';
import { compilePcre } from '../regex/compile.js';
import { attachRegexSets } from './regex-sets.js';
import { ruleInputs } from './presence.js';
import { countName, valueName } from './variables.js';

export type DiagnosticLevel = 'error' | 'warning' | 'info';

export interface Diagnostic {
  readonly level: DiagnosticLevel;
  /** Stable: WAF_ERR_SECLANG_SYNTAX, WAF_ERR_SECLANG_UNKNOWN_DIRECTIVE, WAF_ERR_SECLANG_INCLUDE, WAF_RULE_DISABLED, WAF_REGEX_FALLBACK, ... */
  readonly code: string;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly ruleId?: number;
}

export interface PhaseProgram {
  readonly entries: readonly PhaseEntry[];
  /**
   * Per entry with a skipAfter: the index of its target (a marker or rule id), or entries.length
   * when the target is not later in this phase (ModSecurity then skips the rest of the phase);
   * -1 for entries without one. Resolved here once, not by name on every match.
   */
  readonly skipTo: readonly number[];
}

export interface Ruleset {
  /** Phases 1–5 (only 1 and 2 run at the edge). */
  readonly phases: ReadonlyMap<number, PhaseProgram>;
  readonly rulesById: ReadonlyMap<number, Rule>;
  readonly componentSignatures: readonly string[];
  /** The last SecRuleEngine directive seen, if any. */
  readonly engineMode: RuleEngineMode | null;
  readonly diagnostics: readonly Diagnostic[];
  /** Files read, in order. */
  readonly files: readonly string[];
  /** Per-value caches kept across requests (transform-chain.ts). */
  readonly memo: ValueMemo;
}

/** A source of rules: a file (or glob), or text that did not come from a file (our own generated rules). */
export type RuleSourceItem =
  | { readonly kind: 'file'; readonly path: string; readonly optional?: boolean }
  | { readonly kind: 'text'; readonly name: string; readonly text: string };

export interface LoadOptions {
  readonly fallbackLimits?: FallbackLimits;
  /** After everything is loaded: ids (or ranges) to remove, as SecRuleRemoveById would. */
  readonly removeIds?: readonly (readonly [number, number])[];
  readonly removeTags?: readonly string[];
}

/** Directives that configure things the edge does itself (body limits, audit logs, ...): noted, no effect. */
const IGNORED_DIRECTIVES = new Set(
  [
    'SecCollectionTimeout', 'SecAuditEngine', 'SecAuditLog', 'SecAuditLog2', 'SecAuditLogParts', 'SecAuditLogRelevantStatus',
    'SecAuditLogType', 'SecAuditLogStorageDir', 'SecAuditLogDirMode', 'SecAuditLogFileMode', 'SecAuditLogFormat',
    'SecDebugLog', 'SecDebugLogLevel', 'SecTmpDir', 'SecDataDir', 'SecUploadDir', 'SecUploadKeepFiles', 'SecUploadFileMode',
    'SecUploadFileLimit', 'SecArgumentSeparator', 'SecCookieFormat', 'SecUnicodeMapFile', 'SecUnicodeCodePage',
    'SecStatusEngine', 'SecResponseBodyAccess', 'SecResponseBodyMimeType', 'SecResponseBodyMimeTypesClear',
    'SecResponseBodyLimit', 'SecResponseBodyLimitAction', 'SecRequestBodyAccess', 'SecRequestBodyLimit',
    'SecRequestBodyNoFilesLimit', 'SecRequestBodyInMemoryLimit', 'SecRequestBodyLimitAction', 'SecRequestBodyJsonDepthLimit',
    'SecArgumentsLimit', 'SecPcreMatchLimit', 'SecPcreMatchLimitRecursion', 'SecServerSignature', 'SecTmpSaveUploadedFiles',
    'SecGeoLookupDb', 'SecGsbLookupDb', 'SecHashEngine', 'SecHashKey', 'SecHashParam', 'SecHashMethodRx', 'SecHashMethodPm',
    'SecContentInjection', 'SecStreamOutBodyInspection', 'SecStreamInBodyInspection', 'SecInterceptOnError',
    'SecConnEngine', 'SecRemoteRules', 'SecRemoteRulesFailAction', 'SecHttpBlKey', 'SecXmlExternalEntity',
    'SecWebAppId', 'SecSensorId', 'SecCacheTransformations', 'SecChrootDir', 'SecGuardianLog', 'SecReadStateLimit',
    'SecWriteStateLimit', 'SecConnReadStateLimit', 'SecConnWriteStateLimit', 'SecDisableBackendCompression',
  ].map((d) => d.toLowerCase()),
);

const MAX_INCLUDE_DEPTH = 16;

export function loadRuleset(items: readonly RuleSourceItem[], options: LoadOptions = {}): Ruleset {
  return new Loader(options).load(items);
}

class Loader {
  private readonly diagnostics: Diagnostic[] = [];
  private readonly entries: PhaseEntry[] = [];
  private readonly rulesById = new Map<number, Rule>();
  private readonly defaults = new Map<number, DefaultActions>();
  private readonly trie = new TransformTrie();
  private readonly fileCache = new Map<string, string>();
  private readonly signatures: string[] = [];
  private readonly files: string[] = [];
  private engineMode: RuleEngineMode | null = null;
  /** The last rule of an unfinished chain. */
  private chainTail: Rule | null = null;
  private chainHead: Rule | null = null;
  /** The chain being read is being dropped (its starter failed to compile). */
  private droppingChain = false;
  private readonly limits: FallbackLimits;

  constructor(private readonly options: LoadOptions) {
    this.limits = options.fallbackLimits ?? DEFAULT_FALLBACK_LIMITS;
  }

  load(items: readonly RuleSourceItem[]): Ruleset {
    for (const item of items) {
      if (item.kind === 'text') this.run(lexOrReport(item.text, item.name, this.diagnostics), 0);
      else this.include(item.path, process.cwd(), item.optional === true, 0, undefined);
    }
    this.endChain();
    if (this.options.removeIds) this.removeWhere((r) => idInRanges(r.id, this.options.removeIds!));
    for (const tag of this.options.removeTags ?? []) this.removeWhere((r) => r.tags.includes(tag));
    this.reportRegexDecisions();
    const ruleset = {
      phases: this.programs(),
      rulesById: this.rulesById,
      componentSignatures: this.signatures,
      engineMode: this.engineMode,
      diagnostics: this.diagnostics,
      files: this.files,
      memo: new ValueMemo(),
    };
    attachRegexSets(ruleset);
    for (const head of this.rulesById.values()) {
      head.inputs = ruleInputs(head);
      for (let r: Rule | null = head; r !== null; r = r.chained) {
        r.txProbe = txProbe(r);
        r.targetKey = targetKey(r);
        if (r.regexSlot !== null && r.targetKey !== null) r.regexSlot.unionKey = `${r.regexSlot.set.id} ${r.targetKey}`;
      }
    }
    return ruleset;
  }

  private report(level: Diagnostic['level'], code: string, message: string, place?: { file: string; line: number }, ruleId?: number): void {
    this.diagnostics.push({ level, code, message, ...(place ? { file: place.file, line: place.line } : {}), ...(ruleId ? { ruleId } : {}) });
  }

  private include(pattern: string, baseDir: string, optional: boolean, depth: number, from: Directive | undefined): void {
    const place = from ? { file: from.file, line: from.line } : undefined;
    if (depth > MAX_INCLUDE_DEPTH) {
      this.report('error', 'WAF_ERR_SECLANG_INCLUDE', `includes nested deeper than ${MAX_INCLUDE_DEPTH} (a loop?) at ${pattern}`, place);
      return;
    }
    const files = expandGlob(path.isAbsolute(pattern) ? pattern : path.resolve(baseDir, pattern));
    if (files.length === 0) {
      if (!optional) this.report('error', 'WAF_ERR_SECLANG_INCLUDE', `Include ${pattern}: no such file`, place);
      return;
    }
    for (const file of files) {
      let text: string;
      try {
        // latin1: rule text is bytes, like the requests it is matched against (see ../bytes.ts).
        text = readFileSync(file, 'latin1');
      } catch (err) {
        this.report('error', 'WAF_ERR_SECLANG_INCLUDE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, place);
        continue;
      }
      this.files.push(file);
      this.run(lexOrReport(text, file, this.diagnostics), depth);
    }
  }

  private run(directives: readonly Directive[], depth: number): void {
    for (const d of directives) this.directive(d, depth);
  }

  private directive(d: Directive, depth: number): void {
    const place = { file: d.file, line: d.line };
    const name = d.name.toLowerCase();
    // Anything but a SecRule ends a pending chain (ModSecurity requires the chained rule to follow).
    if (name !== 'secrule' && name !== 'secaction') this.droppingChain = false;
    if (name !== 'secrule' && name !== 'secaction' && this.chainTail !== null) {
      this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `rule ${this.chainHead!.id} ends with "chain" but no rule follows`, place, this.chainHead!.id);
      this.dropChain();
    }
    switch (name) {
      case 'secrule':
        if (d.args.length < 2 || d.args.length > 3) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecRule takes 2 or 3 arguments, not ${d.args.length}`, place);
        return this.rule({ kind: 'SecRule', variables: d.args[0]!, operator: d.args[1]!, actions: d.args[2] ?? '', file: d.file, line: d.line });
      case 'secaction':
        if (d.args.length !== 1) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecAction takes 1 argument, not ${d.args.length}`, place);
        return this.rule({ kind: 'SecAction', variables: null, operator: null, actions: d.args[0]!, file: d.file, line: d.line });
      case 'secmarker':
        if (d.args.length !== 1) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', 'SecMarker takes 1 argument', place);
        this.entries.push({ marker: d.args[0]!, file: d.file, line: d.line } satisfies Marker);
        return;
      case 'secdefaultaction':
        return this.defaultAction(d, place);
      case 'secruleremovebyid': {
        const ids = parseIdRanges(d.args.join(' '));
        if (!ids) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecRuleRemoveById: bad id list "${d.args.join(' ')}"`, place);
        return this.removeWhere((r) => idInRanges(r.id, ids));
      }
      case 'secruleremovebytag':
      case 'secruleremovebymsg': {
        const re = this.regexArg(d.args[0], d, place);
        if (!re) return;
        const byTag = name === 'secruleremovebytag';
        return this.removeWhere((r) => (byTag ? r.tags.some((t) => re.test(t)) : r.msg !== null && re.test(r.msg.text)));
      }
      case 'secruleupdatetargetbyid':
      case 'secruleupdatetargetbytag':
      case 'secruleupdatetargetbymsg':
        return this.updateTargets(name, d, place);
      case 'secruleupdateactionbyid':
        return this.updateActions(d, place);
      case 'seccomponentsignature':
        if (d.args[0] !== undefined) this.signatures.push(d.args[0]);
        return;
      case 'secruleengine': {
        const mode = ({ on: 'On', off: 'Off', detectiononly: 'DetectionOnly' } as const)[(d.args[0] ?? '').toLowerCase() as 'on' | 'off' | 'detectiononly'];
        if (!mode) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecRuleEngine wants On, Off or DetectionOnly`, place);
        this.engineMode = mode;
        return;
      }
      case 'include':
      case 'includeoptional':
        if (d.args.length !== 1) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name} takes 1 argument`, place);
        return this.include(d.args[0]!, path.dirname(d.file), name === 'includeoptional', depth + 1, d);
      default:
        if (IGNORED_DIRECTIVES.has(name)) {
          this.report('info', 'WAF_SECLANG_IGNORED_DIRECTIVE', `${d.name} has no effect here (the edge config sets limits and logging)`, place);
          return;
        }
        this.report('error', 'WAF_ERR_SECLANG_UNKNOWN_DIRECTIVE', `unknown directive ${d.name}`, place);
    }
  }

  private regexArg(arg: string | undefined, d: Directive, place: { file: string; line: number }) {
    if (arg === undefined) {
      this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name} takes a regular expression`, place);
      return null;
    }
    try {
      const re = compilePcre(arg);
      return { test: (s: string) => re.test(s, { windowsLeft: 1 << 30, exhausted: false }) };
    } catch (err) {
      this.report('error', 'WAF_ERR_REGEX', `${d.name}: ${(err as Error).message}`, place);
      return null;
    }
  }

  private ruleContext(place: { file: string; line: number }): RuleCompileContext {
    return {
      trie: this.trie,
      defaults: this.defaults,
      fallbackLimits: this.limits,
      operatorOptions: (file): OperatorCompileOptions => ({ baseDir: path.dirname(file), fallbackLimits: this.limits, fileCache: this.fileCache }),
      warn: (message) => this.report('warning', 'WAF_SECLANG_IGNORED_ACTION', message, place),
    };
  }

  private rule(src: Parameters<typeof compileRuleDirective>[0]): void {
    const place = { file: src.file, line: src.line };
    const parent = this.chainTail;
    if (this.droppingChain) {
      // A rule of a chain whose starter was dropped: drop it too, and keep dropping while it chains.
      this.droppingChain = /(?:^|[\s,])chain(?:[\s,]|$)/.test(src.actions);
      return;
    }
    let compiled;
    try {
      compiled = compileRuleDirective(src, this.ruleContext(place), parent);
    } catch (err) {
      if (!(err instanceof RuleCompileError)) throw err;
      const id = /(?:^|[\s,])id:\s*'?(\d+)/.exec(src.actions)?.[1];
      const head = parent !== null ? this.chainHead! : null;
      const who = head ? `rule ${head.id} (a chained rule)` : id ? `rule ${id}` : 'a rule';
      this.report(err.kind === 'unsupported' ? 'warning' : 'error', err.kind === 'unsupported' ? 'WAF_RULE_DISABLED' : 'WAF_ERR_SECLANG_SYNTAX', `${who} is disabled: ${err.message}`, place, head?.id ?? (id ? Number(id) : undefined));
      if (head) {
        this.removeWhere((r) => r === head);
        this.chainHead = null;
        this.chainTail = null;
      }
      this.droppingChain = /(?:^|[\s,])chain(?:[\s,]|$)/.test(src.actions);
      return;
    }
    const { rule, chain } = compiled;
    if (parent !== null) {
      parent.chained = rule;
    } else {
      if (this.rulesById.has(rule.id)) {
        this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `duplicate rule id ${rule.id} (first at ${this.rulesById.get(rule.id)!.file}:${this.rulesById.get(rule.id)!.line})`, place, rule.id);
        this.droppingChain = chain;
        return;
      }
      this.rulesById.set(rule.id, rule);
      this.entries.push(rule);
      this.chainHead = rule;
    }
    this.chainTail = chain ? rule : null;
    if (!chain) this.chainHead = null;
  }

  private endChain(): void {
    if (this.chainTail !== null) {
      this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `rule ${this.chainHead!.id} ends with "chain" but no rule follows`, { file: this.chainHead!.file, line: this.chainHead!.line }, this.chainHead!.id);
      this.dropChain();
    }
  }

  private dropChain(): void {
    const head = this.chainHead;
    if (head) this.removeWhere((r) => r === head);
    this.chainHead = null;
    this.chainTail = null;
  }

  private defaultAction(d: Directive, place: { file: string; line: number }): void {
    if (d.args.length !== 1) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', 'SecDefaultAction takes 1 argument', place);
    let phase = 2;
    try {
      const phaseAction = parseActions(d.args[0]!).find((a) => a.name === 'phase');
      if (!phaseAction) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', 'SecDefaultAction must name a phase', place);
      phase = ({ request: 2, response: 4, logging: 5 } as Record<string, number>)[(phaseAction.value ?? '').toLowerCase()] ?? Number(phaseAction.value);
    } catch (err) {
      return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecDefaultAction: ${(err as Error).message}`, place);
    }
    try {
      // Compiled like a SecAction so every action is checked; id 1 is a placeholder.
      const { rule } = compileRuleDirective({ kind: 'SecAction', variables: null, operator: null, actions: `id:1,${d.args[0]!}`, file: d.file, line: d.line }, { ...this.ruleContext(place), defaults: new Map() }, null);
      if (rule.usesBlock) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', 'SecDefaultAction cannot use "block"', place);
      const transforms: { name: string; fn: NonNullable<typeof rule.transforms.fn> }[] = [];
      for (let n = rule.transforms; n.fn !== null && n.parent !== null; n = n.parent) transforms.unshift({ name: n.name, fn: n.fn });
      this.defaults.set(phase, { disruptive: rule.disruptive, transforms, log: rule.log });
    } catch (err) {
      if (!(err instanceof RuleCompileError)) throw err;
      this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `SecDefaultAction: ${err.message}`, place);
    }
  }

  private removeWhere(pred: (rule: Rule) => boolean): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (!isMarker(e) && pred(e)) {
        this.entries.splice(i, 1);
        this.rulesById.delete(e.id);
      }
    }
  }

  private selectRules(kind: string, what: string, place: { file: string; line: number }, d: Directive): Rule[] {
    if (kind === 'secruleupdatetargetbyid' || kind === 'secruleupdateactionbyid') {
      const ids = parseIdRanges(what);
      if (!ids) {
        this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name}: bad id "${what}"`, place);
        return [];
      }
      return [...this.rulesById.values()].filter((r) => idInRanges(r.id, ids));
    }
    const re = this.regexArg(what, d, place);
    if (!re) return [];
    return [...this.rulesById.values()].filter((r) => (kind === 'secruleupdatetargetbytag' ? r.tags.some((t) => re.test(t)) : r.msg !== null && re.test(r.msg.text)));
  }

  private updateTargets(kind: string, d: Directive, place: { file: string; line: number }): void {
    if (d.args.length < 2 || d.args.length > 3) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name} takes 2 or 3 arguments`, place);
    let vars;
    try {
      vars = parseVariables(d.args[1]!);
    } catch (err) {
      return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name}: ${(err as Error).message}`, place);
    }
    const rules = this.selectRules(kind, d.args[0]!, place, d);
    if (rules.length === 0) this.report('warning', 'WAF_SECLANG_NO_SUCH_RULE', `${d.name} ${d.args[0]}: no rule loaded so far matches`, place);
    for (const rule of rules) {
      try {
        if (d.args.length === 3) {
          // Replace one target by the new list (ModSecurity: the third argument names the target to replace).
          const replaced = d.args[2]!.toUpperCase();
          rule.targets = rule.targets.filter((t) => t.text.toUpperCase() !== replaced);
        }
        for (const vs of vars) {
          if (vs.exclude) rule.exclusions.push(toExclusion(vs));
          else rule.targets.push(toTarget(vs));
        }
      } catch (err) {
        this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name}: ${(err as Error).message}`, place, rule.id);
      }
    }
  }

  private updateActions(d: Directive, place: { file: string; line: number }): void {
    if (d.args.length !== 2) return this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name} takes 2 arguments`, place);
    const rules = this.selectRules('secruleupdateactionbyid', d.args[0]!, place, d);
    if (rules.length === 0) this.report('warning', 'WAF_SECLANG_NO_SUCH_RULE', `${d.name} ${d.args[0]}: no rule loaded so far matches`, place);
    for (const rule of rules) {
      try {
        const { rule: update } = compileRuleDirective(
          { kind: 'SecAction', variables: null, operator: null, actions: `id:${rule.id},phase:${rule.phase},${d.args[1]!}`, file: d.file, line: d.line },
          this.ruleContext(place),
          null,
        );
        const names = new Set(parseActions(d.args[1]!).map((a) => a.name));
        if (['deny', 'block', 'pass', 'allow', 'drop', 'redirect', 'status'].some((n) => names.has(n))) rule.disruptive = update.disruptive;
        if (names.has('msg')) rule.msg = update.msg;
        if (names.has('logdata')) rule.logdata = update.logdata;
        if (names.has('tag')) rule.tags = [...rule.tags, ...update.tags];
        rule.actions = [...rule.actions, ...update.actions];
        if (names.has('t') || names.has('severity') || names.has('chain') || names.has('capture')) {
          this.report('warning', 'WAF_SECLANG_IGNORED_ACTION', `${d.name}: only disruptive actions, msg, logdata, tag, setvar and ctl can be updated`, place, rule.id);
        }
      } catch (err) {
        this.report('error', 'WAF_ERR_SECLANG_SYNTAX', `${d.name}: ${(err as Error).message}`, place, rule.id);
      }
    }
  }

  private reportRegexDecisions(): void {
    for (const rule of this.rulesById.values()) {
      for (let r: Rule | null = rule; r !== null; r = r.chained) {
        const re = r.operator?.regex;
        if (re && re.engine !== 're2') {
          this.report(re.engine === 'bounded-fallback' ? 'warning' : 'info', re.engine === 'bounded-fallback' ? 'WAF_REGEX_FALLBACK' : 'WAF_REGEX_APPROXIMATE', `rule ${rule.id}: ${re.notes.join('; ')}`, { file: r.file, line: r.line }, rule.id);
        }
      }
    }
  }

  private programs(): Map<number, PhaseProgram> {
    const programs = new Map<number, PhaseProgram>();
    for (let phase = 1; phase <= 5; phase++) {
      const entries = this.entries.filter((e) => isMarker(e) || e.phase === phase);
      const targets = new Map<string, number>();
      entries.forEach((e, i) => targets.set(isMarker(e) ? e.marker : String(e.id), i));
      const skipTo = entries.map((e, i) => {
        if (isMarker(e) || e.skipAfter === null) return -1;
        const target = targets.get(e.skipAfter);
        return target === undefined || target < i ? entries.length : target;
      });
      programs.set(phase, { entries, skipTo });
    }
    return programs;
  }
}

/** Variables whose values change while a request is processed: their lists cannot be shared between rules. */
const CHANGING = new Set(['TX', 'ENV', 'IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE', 'MATCHED_VAR', 'MATCHED_VAR_NAME', 'MATCHED_VARS', 'MATCHED_VARS_NAMES', 'RULE', 'DURATION', 'HIGHEST_SEVERITY', 'REQBODY_PROCESSOR', 'TIME', 'TIME_DAY', 'TIME_EPOCH', 'TIME_HOUR', 'TIME_MIN', 'TIME_MON', 'TIME_SEC', 'TIME_WDAY', 'TIME_YEAR']);

/** See Rule.txProbe. The value is the variable's own, so transformations would need the general path. */
function txProbe(rule: Rule): TxProbe | null {
  const t = rule.targets[0];
  if (rule.targets.length !== 1 || rule.exclusions.length > 0 || rule.operator === null || rule.multiMatch || rule.transforms.fn !== null) return null;
  if (t === undefined || t.collection !== 'TX' || t.selector?.kind !== 'key') return null;
  // The names the general path gives the value (variables.ts).
  return { key: t.selector.key, count: t.count, name: t.count ? countName(t) : valueName('TX', t.selector.key) };
}

function targetKey(rule: Rule): string | null {
  if (rule.targets.some((t) => CHANGING.has(t.collection))) return null;
  return `${rule.targets.map((t) => t.text).join('|')} ${rule.exclusions.map((e) => e.text).join('|')}`;
}

function lexOrReport(text: string, file: string, diagnostics: Diagnostic[]): Directive[] {
  try {
    return lexSecLang(text, file);
  } catch (err) {
    const e = err as Error & { place?: { line?: number } };
    diagnostics.push({ level: 'error', code: 'WAF_ERR_SECLANG_SYNTAX', message: e.message, file, ...(e.place?.line !== undefined ? { line: e.place.line } : {}) });
    return [];
  }
}

/** "rules/*.conf" → sorted files; a path without wildcards → itself if it exists. */
export function expandGlob(pattern: string): string[] {
  if (!/[*?[]/.test(pattern)) {
    try {
      return statSync(pattern).isFile() ? [pattern] : [];
    } catch {
      return [];
    }
  }
  const dir = path.dirname(pattern);
  if (/[*?[]/.test(dir)) return [];
  const base = path.basename(pattern);
  const re = new RegExp('^' + base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n))
    .filter((f) => {
      try {
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
}
