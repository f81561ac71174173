// The state of one request as the SecLang engine runs over it: the TX and ENV collections, the
// bound persistent collections, MATCHED_VAR(S), captures, what ctl actions changed (removed rules
// and targets, engine mode, body processing), and the record of matches.
import type { Clock } from '../clock.js';
import type { BodyProcessorName, ParsedBody } from '../body/index.js';
import { newRegexBudget } from '../regex/compile.js';
import type { FallbackLimits, RegexBudget, CompiledRegex } from '../regex/compile.js';
import type { RequestData } from '../request.js';
import type { CollectionStore } from './collections.js';
import type { Disruptive, Exclusion, IdRanges, Rule, RuleEngineMode } from './rule.js';
import { idInRanges } from './rule.js';
import type { TargetValue, ValueMemo } from './transform-chain.js';
import type { OperatorContext } from './operators.js';
import { expandMacro } from './macros.js';
import type { Macro, MacroRef } from './macros.js';
import { resolveMacro } from './variables.js';

/** What runtimeExclusions answers when no ctl:ruleRemoveTarget* ran: one shared empty list, not a new one per rule. */
const NO_EXCLUSIONS: readonly Exclusion[] = Object.freeze([]);

/** One rule (chain) that matched and is logged. */
export interface RuleMatch {
  readonly ruleId: number;
  readonly phase: number;
  readonly msg: string;
  readonly logdata: string;
  readonly severity: number | null;
  readonly tags: readonly string[];
  /** The variables that matched, with the (transformed) value that matched. */
  readonly matched: readonly { readonly name: string; readonly value: string }[];
  /** What the rule did: its resolved disruptive action, or 'pass'. */
  readonly action: Disruptive['kind'];
  /** A disruptive action that the engine mode (DetectionOnly) did not carry out. */
  readonly suppressed: boolean;
  readonly file: string;
  readonly line: number;
}

/** What stopped rule processing. */
export interface Interruption {
  readonly ruleId: number;
  readonly action: 'deny' | 'drop' | 'redirect';
  readonly status: number;
  readonly url?: string;
}

export interface TransactionInit {
  readonly request: RequestData;
  readonly clock: Clock;
  readonly store: CollectionStore;
  readonly fallbackLimits: FallbackLimits;
  readonly engineMode: RuleEngineMode;
  /** Initial ENV values (how our config hands per-host settings to the generated setup rule). */
  readonly env: ReadonlyMap<string, string>;
  readonly bodyProcessor: BodyProcessorName | null;
  /** The ruleset's per-value caches (shared across requests), if any. */
  readonly memo?: ValueMemo;
}

export class Transaction {
  readonly request: RequestData;
  readonly clock: Clock;
  readonly startedAt: number;
  readonly store: CollectionStore;
  readonly budget: RegexBudget;
  readonly memo: ValueMemo | null;
  readonly tx = new Map<string, string>();
  readonly env: Map<string, string>;
  /** initcol bindings: collection (upper case) → record key. */
  readonly bound = new Map<string, string>();

  engineMode: RuleEngineMode;
  bodyProcessor: BodyProcessorName | null;
  requestBodyAccess = true;
  forceRequestBodyVariable = false;
  body: ParsedBody | null = null;
  /** The raw body (byte string) once phase 2 has it. */
  rawBody: string | null = null;

  /** Phase 2 input. ARGS and ARGS_NAMES grow by the body's arguments; the query's values (and their caches) stay. */
  setBody(raw: string, body: ParsedBody): void {
    this.rawBody = raw;
    this.body = body;
    this.collectionCache.delete('ARGS');
    this.collectionCache.delete('ARGS_NAMES');
    this.targetCache.clear();
    this.hitUnions.clear();
  }

  /** Per (set, shared target list): which of the set's patterns match any of the values (engine.ts). */
  readonly hitUnions = new Map<string, readonly number[] | null>();

  /** TX:key (and other persistent collections) as one-value lists, while their value stays the same. */
  readonly keyedValues = new Map<string, TargetValue[]>();

  /** Collections indexed by lower-case key, for the list they were built from. */
  readonly keyIndex = new Map<string, { list: TargetValue[]; index: Map<string, TargetValue[]> }>();

  /** Resolved target lists shared by rules with the same targets (Rule.targetKey), until the body arrives. */
  readonly targetCache = new Map<string, TargetValue[]>();
  private headerNameSet: Set<string> | null = null;
  /** The lower-case names of the request's headers (for REQUEST_HEADERS:name targets; see presence.ts). */
  get headerNames(): ReadonlySet<string> {
    return (this.headerNameSet ??= new Set(this.request.headers.map(([name]) => name)));
  }

  /** The body was longer than the limit and only its start was inspected. */
  bodyTruncated = false;

  matchedVar: TargetValue | null = null;
  /** How many of TX:0-9 the last capture set (so the next one clears only those). */
  captureCount = 0;
  matchedValue = '';
  matchedVars: { target: TargetValue; value: string }[] = [];
  highestSeverity = 255;
  /** The chain starter being evaluated, for %{RULE.*}. */
  currentRule: Rule | null = null;

  readonly removedIds: IdRanges[] = [];
  readonly removedByTag: CompiledRegex[] = [];
  readonly removedByMsg: CompiledRegex[] = [];
  /** Tags whose rules are skipped for this request (our config's skip and removeRuleTags: exact names). */
  readonly removedTagsExact = new Set<string>();
  readonly targetRemovals: { readonly applies: (rule: Rule) => boolean; readonly exclusions: readonly Exclusion[] }[] = [];

  readonly matches: RuleMatch[] = [];
  interruption: Interruption | null = null;
  /** allow: rule processing stopped for the phase or for the whole request. */
  allowed: 'none' | 'phase' | 'request' = 'none';

  /** What operators get: the regex budget and macro expansion, made once per request. */
  readonly operatorContext: OperatorContext;

  /** Request collections built once per request (their values keep transformation caches). */
  readonly collectionCache = new Map<string, TargetValue[]>();

  constructor(init: TransactionInit) {
    this.request = init.request;
    this.clock = init.clock;
    this.startedAt = init.clock.now();
    this.store = init.store;
    this.budget = newRegexBudget(init.fallbackLimits);
    this.engineMode = init.engineMode;
    this.env = new Map(init.env);
    this.bodyProcessor = init.bodyProcessor;
    this.memo = init.memo ?? null;
    const resolve = (ref: MacroRef): string => resolveMacro(this, ref);
    this.operatorContext = { budget: this.budget, expand: (macro: Macro) => expandMacro(macro, resolve) };
  }

  isRemoved(rule: Rule): boolean {
    if (this.removedIds.length === 0 && this.removedByTag.length === 0 && this.removedByMsg.length === 0 && this.removedTagsExact.size === 0) return false;
    return this.removedSlow(rule);
  }

  private removedSlow(rule: Rule): boolean {
    if (this.removedTagsExact.size > 0 && rule.tags.some((t) => this.removedTagsExact.has(t))) return true;
    for (const ids of this.removedIds) if (idInRanges(rule.id, ids)) return true;
    const budget = { windowsLeft: 1 << 30, exhausted: false };
    for (const re of this.removedByTag) if (rule.tags.some((t) => re.test(t, budget))) return true;
    if (rule.msg !== null) for (const re of this.removedByMsg) if (re.test(rule.msg.text, budget)) return true;
    return false;
  }

  /** Exclusions added at run time (ctl:ruleRemoveTarget*) for this rule. */
  runtimeExclusions(rule: Rule): readonly Exclusion[] {
    if (this.targetRemovals.length === 0) return NO_EXCLUSIONS;
    const out: Exclusion[] = [];
    for (const r of this.targetRemovals) if (r.applies(rule)) out.push(...r.exclusions);
    return out;
  }

  /** A persistent collection's record, when bound and present. */
  persistent(collection: string): Map<string, string> | undefined {
    if (collection === 'TX') return this.tx;
    if (collection === 'ENV') return this.env;
    const key = this.bound.get(collection);
    if (key === undefined) return undefined;
    return this.store.read(collection, key)?.values;
  }

  persistentForWrite(collection: string): { values: Map<string, string>; expires?: Map<string, number> } | undefined {
    if (collection === 'TX') return { values: this.tx };
    if (collection === 'ENV') return { values: this.env };
    const key = this.bound.get(collection);
    if (key === undefined) return undefined;
    return this.store.write(collection, key);
  }
}
