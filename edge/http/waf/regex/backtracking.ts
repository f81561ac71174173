// Load-time ReDoS analysis for the patterns that must run in V8's backtracking engine (the bounded
// fallback of compile.ts: lookarounds and backreferences). RE2 patterns need none of this: RE2 is
// linear whatever the pattern. A backtracking engine is not, and the fallback's 1 KiB windows cap
// the input it sees, not the work it does on it: 2^1024 steps is still forever. So a fallback
// pattern is accepted only when its backtracking is provably at most polynomial in the window:
//
//   1. No nested unbounded quantifiers (star height 2: "(a+)+", "(a*)*b", "(?:\w+\s?)*$"). Each
//      way of dividing a run between the inner and the outer loop is a path the engine may try:
//      exponentially many. Refused even when the nesting happens to be unambiguous ("(?:\w+\s)+"):
//      the rule is simple to state and to check, and CRS has no such fallback pattern.
//   2. No repeated construct that can match the same text in more than one way ("(a|a)*",
//      "(\w|\d)+", "(a|aa)*", "(a?b?)*", "(a{1,9}){1,9}"). Checked on the Glushkov automaton of
//      every repeat with a count of 2 or more (bounded repeats inside it are approximated as
//      unbounded ones, which only adds transitions: the check stays conservative): from any
//      position, and at the start, the next character must select at most one position, counted
//      with multiplicity (two ε-routes to the same position are two paths). If so, an iteration
//      never has two ways to go on, and the repeat is deterministic apart from where it stops.
//      This also rejects a few harmless patterns whose alternatives merely share a first
//      character ("(?:foo|far)+"): write them as "(?:f(?:oo|ar))+".
//   3. No backreference inside a repeat ("(?:(\w)\1)+"): what it matches changes with every
//      iteration and with every choice made before it; we do not try to bound that.
//
// Why the rest is safe enough: a pattern that passes has star height at most 1, and each of its
// repeats is deterministic per iteration, so at one start position the engine's choices are
// where each of its k unbounded repeats stops: at most (w + 1)^k paths on a window of w bytes,
// each path O(w) long. That is polynomial in the window, not exponential, and the window is at
// most 1 KiB (FallbackLimits.windowBytes), with at most 8 windows per value and 128 per request.
// In practice repeats that are adjacent to one another rarely overlap (CRS 942130, the worst CRS
// fallback pattern, is quadratic: [\s'"`()]*? and [\d\w]+ do not share a character), so k is
// effectively 1 or 2. What this does not bound is a chain of many overlapping unbounded repeats
// in sequence ("\s*\s*\s*\s*x", degree k); such a pattern is polynomial and bounded by the window,
// but could still be slow — it is a rule writer's mistake, not something CRS ships.
import type { ClassItem, Flags, Node } from './pcre-ast.js';
import { escapeRanges } from './pcre-ast.js';

export type BacktrackingRiskKind = 'nested-quantifier' | 'ambiguous-repeat' | 'backreference-in-repeat' | 'too-complex';

export interface BacktrackingRisk {
  readonly kind: BacktrackingRiskKind;
  /** In words, for the load report. */
  readonly reason: string;
}

/** The first reason backtracking on `root` could be super-linear (see above), or null. */
export function backtrackingRisk(root: Node): BacktrackingRisk | null {
  return structuralRisk(root, false, false) ?? ambiguityRisk(root);
}

/** Can this node match a non-empty string? (Repeats of what only matches "" are harmless.) */
function canConsume(node: Node): boolean {
  switch (node.type) {
    case 'literal':
    case 'class':
    case 'dot':
    case 'backref':
      return true;
    case 'assert':
    case 'look':
      return false;
    case 'group':
      return canConsume(node.body);
    case 'repeat':
      return node.max > 0 && canConsume(node.body);
    case 'seq':
      return node.items.some(canConsume);
    case 'alt':
      return node.branches.some(canConsume);
  }
}

function iterates(node: Extract<Node, { type: 'repeat' }>): boolean {
  return node.max >= 2 && canConsume(node.body);
}

/** Rules 1 and 3: inUnbounded / inRepeat say what encloses `node`. */
function structuralRisk(node: Node, inUnbounded: boolean, inRepeat: boolean): BacktrackingRisk | null {
  switch (node.type) {
    case 'backref':
      return inRepeat ? { kind: 'backreference-in-repeat', reason: `a backreference (\\${node.index}) inside a repeated group` } : null;
    case 'group':
    case 'look':
      return structuralRisk(node.body, inUnbounded, inRepeat);
    case 'repeat': {
      if (!iterates(node)) return structuralRisk(node.body, inUnbounded, inRepeat);
      const unbounded = node.max === Infinity;
      if (unbounded && inUnbounded) return { kind: 'nested-quantifier', reason: 'nested unbounded quantifiers (a repeat inside a repeat, star height 2, as in "(a+)+")' };
      return structuralRisk(node.body, inUnbounded || unbounded, true);
    }
    case 'seq':
      for (const item of node.items) {
        const r = structuralRisk(item, inUnbounded, inRepeat);
        if (r) return r;
      }
      return null;
    case 'alt':
      for (const b of node.branches) {
        const r = structuralRisk(b, inUnbounded, inRepeat);
        if (r) return r;
      }
      return null;
    default:
      return null;
  }
}

/** Rule 2, on each outermost iterating repeat (the ones inside it are part of its automaton). */
function ambiguityRisk(node: Node): BacktrackingRisk | null {
  switch (node.type) {
    case 'group':
    case 'look':
      return ambiguityRisk(node.body);
    case 'repeat':
      // The automaton treats lookarounds inside the repeat as zero-width: their bodies run on their own.
      return iterates(node) ? (new Glushkov().check(node) ?? lookaroundRisk(node.body)) : ambiguityRisk(node.body);
    case 'seq':
      return firstRisk(node.items, ambiguityRisk);
    case 'alt':
      return firstRisk(node.branches, ambiguityRisk);
    default:
      return null;
  }
}

/** The first risk `check` finds among `nodes`, in order. */
function firstRisk(nodes: readonly Node[], check: (node: Node) => BacktrackingRisk | null): BacktrackingRisk | null {
  for (const n of nodes) {
    const r = check(n);
    if (r) return r;
  }
  return null;
}

function lookaroundRisk(node: Node): BacktrackingRisk | null {
  switch (node.type) {
    case 'look':
      return ambiguityRisk(node.body);
    case 'group':
    case 'repeat':
      return lookaroundRisk(node.body);
    case 'seq':
      return firstRisk(node.items, lookaroundRisk);
    case 'alt':
      return firstRisk(node.branches, lookaroundRisk);
    default:
      return null;
  }
}

// Character sets: bytes 0-255 (the WAF matches latin1 byte strings), and bit 256 for any code
// unit above 0xff (a \x{100} literal: it can never match, but is kept apart from the bytes).
const WORDS = 9;
type CharSet = Uint32Array;

function newSet(): CharSet {
  return new Uint32Array(WORDS);
}

function add(set: CharSet, from: number, to: number): void {
  for (let c = Math.min(from, 256); c <= Math.min(to, 256); c++) set[c >> 5]! |= 1 << (c & 31);
}

function complement(set: CharSet): CharSet {
  const out = newSet();
  for (let w = 0; w < WORDS; w++) out[w] = ~set[w]!;
  out[8]! &= 1;
  return out;
}

function intersects(a: CharSet, b: CharSet): number {
  for (let w = 0; w < WORDS; w++) {
    const x = a[w]! & b[w]!;
    if (x !== 0) return w * 32 + (31 - Math.clz32(x & -x));
  }
  return -1;
}

function orInto(into: CharSet, from: CharSet): void {
  for (let w = 0; w < WORDS; w++) into[w]! |= from[w]!;
}

function addCaseless(set: CharSet, flags: Flags): void {
  if (!flags.i) return;
  // PCRE without UCP folds ASCII letters only.
  for (let c = 0x41; c <= 0x5a; c++) {
    const lower = c + 0x20;
    const hasUpper = (set[c >> 5]! >>> (c & 31)) & 1;
    const hasLower = (set[lower >> 5]! >>> (lower & 31)) & 1;
    if (hasUpper || hasLower) {
      add(set, c, c);
      add(set, lower, lower);
    }
  }
}

function itemSet(item: ClassItem): CharSet {
  const set = newSet();
  if (item.kind === 'range') {
    add(set, item.from, item.to);
    return set;
  }
  for (const [from, to] of escapeRanges(item.name)) add(set, from, to);
  return item.negated ? complement(set) : set;
}

function nodeSet(node: Extract<Node, { type: 'literal' | 'class' | 'dot' }>): CharSet {
  let set = newSet();
  switch (node.type) {
    case 'literal':
      add(set, node.code, node.code);
      break;
    case 'class':
      for (const item of node.items) orInto(set, itemSet(item));
      addCaseless(set, node.flags);
      if (node.negated) set = complement(set);
      return set;
    case 'dot':
      set = complement(set);
      if (!node.flags.s) set[0]! &= ~(1 << 0x0a);
      return set;
  }
  addCaseless(set, node.flags);
  return set;
}

interface Fragment {
  readonly first: readonly number[];
  readonly last: readonly number[];
  readonly nullable: boolean;
}

/** Steps of work (position pairs linked) before the analysis gives up and refuses the pattern. */
const MAX_LINKS = 2_000_000;

class Ambiguous extends Error {
  constructor(readonly risk: BacktrackingRisk) {
    super(risk.reason);
  }
}

/**
 * The Glushkov (position) automaton of one repeat, built with multiplicity: follow sets are
 * unions of character sets, and a transition whose characters are already in the union — the
 * same position reached a second way, or another position starting with the same character — is
 * a second path, reported at once.
 */
class Glushkov {
  private readonly sets: CharSet[] = [];
  private readonly follow: CharSet[] = [];
  private links = 0;

  check(repeat: Node): BacktrackingRisk | null {
    try {
      const f = this.build(repeat);
      this.distinct(f.first, newSet(), 'at the start of an iteration');
      return null;
    } catch (err) {
      if (err instanceof Ambiguous) return err.risk;
      throw err;
    }
  }

  private build(node: Node): Fragment {
    switch (node.type) {
      case 'literal':
      case 'class':
      case 'dot': {
        const p = this.sets.length;
        this.sets.push(nodeSet(node));
        this.follow.push(newSet());
        return { first: [p], last: [p], nullable: false };
      }
      case 'assert':
      case 'look':
        // Zero-width: no characters, no choice (a lookaround's own body is analysed on its own).
        return { first: [], last: [], nullable: true };
      case 'backref':
        // structuralRisk refuses backreferences inside repeats before this runs.
        throw new Ambiguous({ kind: 'backreference-in-repeat', reason: 'a backreference inside a repeated group' });
      case 'group':
        return this.build(node.body);
      case 'seq': {
        let first: number[] = [];
        let last: number[] = [];
        let nullable = true;
        for (const item of node.items) {
          const f = this.build(item);
          this.link(last, f.first);
          if (nullable) first = first.concat(f.first);
          last = f.nullable ? last.concat(f.last) : [...f.last];
          nullable &&= f.nullable;
        }
        return { first, last, nullable };
      }
      case 'alt': {
        const fs = node.branches.map((b) => this.build(b));
        return { first: fs.flatMap((f) => f.first), last: fs.flatMap((f) => f.last), nullable: fs.some((f) => f.nullable) };
      }
      case 'repeat': {
        const f = this.build(node.body);
        if (node.max === 0) return { first: [], last: [], nullable: true };
        // {m,n} with n >= 2 as a loop: more transitions than the real automaton, never fewer.
        if (node.max >= 2) this.link(f.last, f.first);
        return { first: f.first, last: f.last, nullable: f.nullable || node.min === 0 };
      }
    }
  }

  private link(from: readonly number[], to: readonly number[]): void {
    for (const p of from) {
      this.links += to.length;
      if (this.links > MAX_LINKS) throw new Ambiguous({ kind: 'too-complex', reason: 'a repeated group too large to prove free of ambiguity' });
      const union = this.follow[p]!;
      for (const q of to) this.addTo(union, q, 'after a character');
    }
  }

  private distinct(positions: readonly number[], union: CharSet, where: string): void {
    for (const q of positions) this.addTo(union, q, where);
  }

  private addTo(union: CharSet, q: number, where: string): void {
    const set = this.sets[q]!;
    const c = intersects(union, set);
    if (c >= 0) {
      const ch = c === 256 ? 'a character above \\xff' : c >= 0x21 && c <= 0x7e ? `"${String.fromCharCode(c)}"` : `\\x${c.toString(16).padStart(2, '0')}`;
      throw new Ambiguous({
        kind: 'ambiguous-repeat',
        reason: `a repeated group that can match the same text in more than one way (${where}, ${ch} can be matched by two parts of the pattern, as in "(a|a)*" or "(\\w|\\d)+")`,
      });
    }
    orInto(union, set);
  }
}
