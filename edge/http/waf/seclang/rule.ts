// A compiled SecLang rule: what the engine runs. Produced by rule-compiler.ts from a SecRule or
// SecAction directive merged with the SecDefaultAction of its phase.
import type { BodyProcessorName } from '../body/index.js';
import type { CompiledRegex } from '../regex/compile.js';
import type { Macro } from './macros.js';
import type { Operator } from './operators.js';
import type { ChainNode } from './transform-chain.js';
import type { RegexSlot } from './regex-sets.js';
import type { RuleInputs } from './presence.js';

export type Selector =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'regex'; readonly re: CompiledRegex }
  | { readonly kind: 'xpath'; readonly path: string };

export interface Target {
  /** Upper-case collection or variable name. */
  readonly collection: string;
  readonly selector: Selector | null;
  /** &VAR: the count of values. */
  readonly count: boolean;
  readonly text: string;
}

/** "!ARGS:foo", "!REQUEST_COOKIES:/^__utm/", "!ARGS": values a rule must not look at. */
export interface Exclusion {
  readonly collection: string;
  readonly selector: Exclude<Selector, { kind: 'xpath' }> | null;
  readonly text: string;
}

export type RuleEngineMode = 'On' | 'Off' | 'DetectionOnly';

export type Disruptive =
  | { readonly kind: 'pass' }
  | { readonly kind: 'deny'; readonly status: number }
  | { readonly kind: 'drop'; readonly status: number }
  | { readonly kind: 'redirect'; readonly status: number; readonly url: Macro }
  /** allow: stop rule processing; 'phase' only for the current phase, 'request' for the request phases. */
  | { readonly kind: 'allow'; readonly scope: 'all' | 'phase' | 'request' };

/** Inclusive id ranges, from "942100", "942100-942199", "942100,942200". */
export type IdRanges = readonly (readonly [number, number])[];

export type CtlAction =
  | { readonly op: 'ruleRemoveById'; readonly ids: IdRanges }
  | { readonly op: 'ruleRemoveByTag' | 'ruleRemoveByMsg'; readonly re: CompiledRegex }
  | { readonly op: 'ruleRemoveTargetById'; readonly ids: IdRanges; readonly exclusions: readonly Exclusion[] }
  | { readonly op: 'ruleRemoveTargetByTag' | 'ruleRemoveTargetByMsg'; readonly re: CompiledRegex; readonly exclusions: readonly Exclusion[] }
  | { readonly op: 'ruleEngine'; readonly mode: RuleEngineMode }
  | { readonly op: 'requestBodyProcessor'; readonly processor: BodyProcessorName }
  | { readonly op: 'requestBodyAccess' | 'forceRequestBodyVariable'; readonly on: boolean }
  /** Settings that concern audit logs or response bodies: accepted, no effect at the edge. */
  | { readonly op: 'ignored'; readonly name: string };

export type RuntimeAction =
  | { readonly kind: 'setvar'; readonly collection: string; readonly name: Macro; readonly op: 'set' | 'add' | 'sub' | 'delete'; readonly value: Macro }
  | { readonly kind: 'ctl'; readonly ctl: CtlAction }
  | { readonly kind: 'initcol'; readonly collection: string; readonly key: Macro }
  | { readonly kind: 'expirevar'; readonly collection: string; readonly name: Macro; readonly seconds: Macro }
  | { readonly kind: 'setenv'; readonly name: Macro; readonly value: Macro; readonly unset: boolean };

export interface Rule {
  /** 0 for chained rules (they have no id of their own). */
  readonly id: number;
  readonly phase: number;
  readonly file: string;
  readonly line: number;
  /** What was written after SecRule, for reports. */
  readonly text: string;
  targets: Target[];
  exclusions: Exclusion[];
  /** null for SecAction (and chained SecAction-like rules): matches unconditionally, once. */
  readonly operator: Operator | null;
  readonly transforms: ChainNode;
  readonly multiMatch: boolean;
  readonly capture: boolean;
  actions: RuntimeAction[];
  /** Resolved against SecDefaultAction ("block" becomes the default's action). Chain starters only. */
  disruptive: Disruptive;
  /** The rule said "block" (the resolved action above came from SecDefaultAction). */
  readonly usesBlock: boolean;
  msg: Macro | null;
  logdata: Macro | null;
  tags: string[];
  readonly severity: number | null;
  readonly ver: string | null;
  /** log / nolog: whether a match is recorded (an event, and in the verdict's matches). */
  readonly log: boolean;
  readonly skip: number;
  readonly skipAfter: string | null;
  /** The next rule of the chain. */
  chained: Rule | null;
  readonly isChained: boolean;
  /** Where this rule's pattern sits in a shared RE2.Set (see regex-sets.ts), if it does. */
  regexSlot: RegexSlot | null;
  /**
   * Rules with the same targets and exclusions (CRS has dozens of "REQUEST_COOKIES|
   * !REQUEST_COOKIES:/__utm/|REQUEST_COOKIES_NAMES|ARGS_NAMES|ARGS|XML:/*") share one resolved
   * list per request under this key; null when a target changes while the request runs (TX, ...).
   */
  targetKey: string | null;
  /** For a chain starter: what its targets read, so a request without any of it passes the rule over (presence.ts); null: always evaluated. */
  inputs: RuleInputs | null;
  /** Set when the rule reads one TX variable (or its count) and nothing else: the engine reads it directly (engine.ts). */
  txProbe: TxProbe | null;
}

/** TX:key or &TX:key as a rule's only target, without exclusions, transformations or multiMatch. */
export interface TxProbe {
  /** Lower-case key. */
  readonly key: string;
  readonly count: boolean;
  /** MATCHED_VAR_NAME when it matches: what the general path names the value. */
  readonly name: string;
}

export interface Marker {
  readonly marker: string;
  readonly file: string;
  readonly line: number;
}

export type PhaseEntry = Rule | Marker;

export function isMarker(entry: PhaseEntry): entry is Marker {
  return (entry as Marker).marker !== undefined;
}

export function idInRanges(id: number, ranges: IdRanges): boolean {
  for (const [a, b] of ranges) if (id >= a && id <= b) return true;
  return false;
}

/** "942100", "942100-942199", "1 2 3-4", "942100,942200" */
export function parseIdRanges(text: string): IdRanges | null {
  const out: [number, number][] = [];
  for (const part of text.split(/[\s,]+/).filter((p) => p !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return null;
    out.push([a, b]);
  }
  return out.length > 0 ? out : null;
}

export const SEVERITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;
