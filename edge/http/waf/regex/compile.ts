// Compiles a rule's PCRE pattern into something that is safe to run on what the network sends.
//
// The decision, per pattern, reported at load time:
//   1. RE2 (linear time) with an exact translation: nearly every CRS pattern.
//   2. RE2 after a translation that may match a little more than PCRE: possessive quantifiers and
//      atomic groups become plain greedy ones (they only ever make PCRE match less).
//   3. Bounded fallback, for lookarounds and backreferences (RE2 has neither): an RE2 *superset*
//      of the pattern runs first, in linear time, and most inputs stop there. Where it matches,
//      the exact pattern runs in V8's backtracking engine, but only on a window of at most
//      `windowBytes` around each superset match, at most `maxWindowsPerValue` windows per value
//      and `maxWindowsPerRequest` per request. Backtracking cost is therefore bounded by the
//      window size (polynomial patterns like CRS 942130 are quadratic: 1 KiB windows stay around
//      a millisecond) and by the budgets. What the budget does not cover is not examined.
//      Before a pattern is given to the backtracking engine, backtracking.ts checks that its
//      backtracking is at most polynomial in the window (no nested unbounded quantifiers, no
//      repeat that can match the same text two ways, no backreference in a repeat); a pattern
//      that fails is refused with UnsafeRegexError, and its rule is disabled and reported.
//   4. Neither: the pattern is reported as not compilable and the rule is disabled.
import RE2 from 're2';
import { backtrackingRisk } from './backtracking.js';
import type { BacktrackingRisk } from './backtracking.js';
import { emitJs, emitRe2, NotExpressible } from './emit.js';
import { literalFilter, passesFilter } from './literals.js';
import type { LiteralFilter } from './literals.js';
import { parsePcre, PcreSyntaxError } from './pcre-ast.js';
import type { Feature } from './pcre-ast.js';

export interface FallbackLimits {
  /** Largest slice of a value the backtracking engine sees at once. */
  readonly windowBytes: number;
  readonly maxWindowsPerValue: number;
  readonly maxWindowsPerRequest: number;
}

export const DEFAULT_FALLBACK_LIMITS: FallbackLimits = { windowBytes: 1024, maxWindowsPerValue: 8, maxWindowsPerRequest: 128 };

/** Per request: how much backtracking the fallback patterns may still do. */
export interface RegexBudget {
  windowsLeft: number;
  /** Set when a value was not fully examined because a budget ran out. */
  exhausted: boolean;
}

export function newRegexBudget(limits: FallbackLimits = DEFAULT_FALLBACK_LIMITS): RegexBudget {
  return { windowsLeft: limits.maxWindowsPerRequest, exhausted: false };
}

export type RegexEngine = 're2' | 're2-approximate' | 'bounded-fallback';

export interface CompiledRegex {
  readonly source: string;
  readonly engine: RegexEngine;
  /** Why this engine, in words, for the load report; empty for a plain exact RE2 translation. */
  readonly notes: readonly string[];
  /** The RE2 syntax this runs as (exact or approximate translation); null for the bounded fallback. */
  readonly re2Source: string | null;
  /** The match: [whole, group1, ...] (undefined for groups that did not take part), or null. */
  exec(input: string, budget: RegexBudget): (string | undefined)[] | null;
  test(input: string, budget: RegexBudget): boolean;
}

export class RegexCompileError extends Error {
  readonly code = 'WAF_ERR_REGEX';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`cannot compile /${source.length > 120 ? source.slice(0, 120) + '…' : source}/: ${reason}`);
    this.name = 'RegexCompileError';
  }
}

/**
 * A pattern that needs the backtracking fallback and could backtrack super-linearly (a ReDoS
 * target): refused at load. Same code as RegexCompileError, so every caller that reports those
 * reports this; rule loading disables the rule (WAF_RULE_DISABLED) rather than failing the file.
 */
export class UnsafeRegexError extends RegexCompileError {
  readonly unsafe = true;
  constructor(
    source: string,
    readonly risk: BacktrackingRisk,
    construct: string,
  ) {
    super(source, `it needs the backtracking fallback (it uses ${construct}) and has ${risk.reason}, which can make backtracking take exponential time: refused`);
    this.name = 'UnsafeRegexError';
  }
}

export interface CompileOptions {
  readonly caseInsensitive?: boolean;
  readonly limits?: FallbackLimits;
}

export function compilePcre(source: string, options: CompileOptions = {}): CompiledRegex {
  let parsed;
  try {
    parsed = parsePcre(source, { i: options.caseInsensitive === true });
  } catch (err) {
    if (err instanceof PcreSyntaxError) throw new RegexCompileError(source, err.message);
    throw err;
  }
  const notes = approximationNotes(parsed.features);
  const filter = literalFilter(parsed.root);
  try {
    const re2Source = emitRe2(parsed, 'exact');
    // "^.*$" and friends (CRS uses them to capture a whole value): with "." matching newlines
    // they match every input entirely; no engine is needed for that.
    if (MATCH_ALL.has(re2Source)) return new MatchAllRegex(source, re2Source);
    const re = new RE2(re2Source);
    return new Re2Regex(source, re2Source, re, notes.length > 0 ? 're2-approximate' : 're2', notes, filter);
  } catch (err) {
    if (!(err instanceof NotExpressible) && !(err instanceof SyntaxError)) throw err;
    const why = err instanceof NotExpressible ? err.construct : `RE2 rejected the translation (${err.message})`;
    // From here on the exact pattern runs in V8's backtracking engine: refuse it unless its
    // backtracking is provably polynomial in the window (backtracking.ts).
    const risk = backtrackingRisk(parsed.root);
    if (risk !== null) throw new UnsafeRegexError(source, risk, why);
    let prefilter: RE2;
    let exact: RegExp;
    try {
      prefilter = new RE2(emitRe2(parsed, 'superset'), 'g');
      const js = emitJs(parsed);
      exact = new RegExp(js.source, js.flags + 'g');
    } catch (inner) {
      throw new RegexCompileError(source, `${why}, and no bounded fallback could be built: ${(inner as Error).message}`);
    }
    const limits = options.limits ?? DEFAULT_FALLBACK_LIMITS;
    return new BoundedFallbackRegex(source, prefilter, exact, limits, filter, [
      ...notes,
      `uses ${why}: an RE2 superset prefilter, then V8 on windows of at most ${limits.windowBytes} bytes (at most ${limits.maxWindowsPerValue} per value, ${limits.maxWindowsPerRequest} per request)`,
    ]);
  }
}

function approximationNotes(features: ReadonlySet<Feature>): string[] {
  const notes: string[] = [];
  if (features.has('possessive')) notes.push('possessive quantifiers run as greedy ones (may match slightly more than PCRE)');
  if (features.has('atomic')) notes.push('atomic groups run as plain groups (may match slightly more than PCRE)');
  return notes;
}

const MATCH_ALL = new Set(['^(?:(?s:.))*\\z', '(?:(?s:.))*', '^(?:(?s:.))*', '(?:(?s:.))*\\z', '^(?:(?:(?s:.))*)\\z', '^((?:(?s:.))*)\\z']);

class MatchAllRegex implements CompiledRegex {
  readonly engine = 're2' as const;
  readonly notes: readonly string[] = [];
  constructor(
    readonly source: string,
    readonly re2Source: string,
  ) {}

  exec(input: string): (string | undefined)[] {
    return this.re2Source.startsWith('^(') && !this.re2Source.startsWith('^(?:') ? [input, input] : [input];
  }

  test(): boolean {
    return true;
  }
}

class Re2Regex implements CompiledRegex {
  constructor(
    readonly source: string,
    readonly re2Source: string,
    private readonly re: RE2,
    readonly engine: RegexEngine,
    readonly notes: readonly string[],
    private readonly filter: LiteralFilter | null,
  ) {}

  exec(input: string): (string | undefined)[] | null {
    if (this.filter !== null && !passesFilter(this.filter, input)) return null;
    const m = this.re.exec(input);
    return m === null ? null : Array.from(m);
  }

  test(input: string): boolean {
    if (this.filter !== null && !passesFilter(this.filter, input)) return false;
    return this.re.test(input);
  }
}

class BoundedFallbackRegex implements CompiledRegex {
  readonly engine = 'bounded-fallback' as const;
  readonly re2Source = null;

  constructor(
    readonly source: string,
    private readonly prefilter: RE2,
    private readonly exact: RegExp,
    private readonly limits: FallbackLimits,
    private readonly filter: LiteralFilter | null,
    readonly notes: readonly string[],
  ) {}

  test(input: string, budget: RegexBudget): boolean {
    return this.exec(input, budget) !== null;
  }

  exec(input: string, budget: RegexBudget): (string | undefined)[] | null {
    const { windowBytes, maxWindowsPerValue } = this.limits;
    const lead = windowBytes >> 2;
    if (this.filter !== null && !passesFilter(this.filter, input)) return null;
    this.prefilter.lastIndex = 0;
    for (let windows = 0; ; windows++) {
      const hit = this.prefilter.exec(input);
      if (hit === null) return null;
      if (windows >= maxWindowsPerValue || budget.windowsLeft <= 0) {
        budget.exhausted = true;
        return null;
      }
      budget.windowsLeft--;
      const start = Math.max(0, hit.index - lead);
      const end = Math.min(input.length, start + windowBytes);
      // The window is input[start, end): the text before it stays visible, so ^ and lookbehinds
      // keep their meaning; only "$" and "\b" at a cut end can see an edge that is not there.
      this.exact.lastIndex = start;
      const m = this.exact.exec(end === input.length ? input : input.slice(0, end));
      if (m !== null) return Array.from(m);
      if (end === input.length) return null;
      // The next window starts where a match could still reach past this one.
      this.prefilter.lastIndex = Math.max(hit.index + 1, end - lead);
    }
  }
}
