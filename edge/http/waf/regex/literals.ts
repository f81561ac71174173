// Necessary literals of a pattern: strings of which every match must contain at least one. When a
// value contains none of them, the pattern cannot match and the regex engine is not called — a
// String.indexOf is a few nanoseconds, a call into RE2 a microsecond. This is RE2's own
// FilteredRE2 idea, done on our parsed tree. The check is conservative by construction: each
// rule below only ever yields strings a match is sure to contain (compared case-insensitively,
// which can only let more values through to the real regex).
import type { Node } from './pcre-ast.js';

/** At most this many alternatives: beyond it the check costs more than it saves. */
const MAX_ALTERNATIVES = 12;

/** null: no useful requirement (anything may match). Otherwise lower-case alternatives. */
type Requirement = string[] | null;

export interface LiteralFilter {
  /** Lower-case strings; a match contains one of them (case-insensitively). */
  readonly anyOf: readonly string[];
}

export function literalFilter(root: Node): LiteralFilter | null {
  const req = requirement(root);
  if (req === null || req.length === 0) return null;
  return { anyOf: req };
}

export function passesFilter(filter: LiteralFilter, input: string): boolean {
  const lower = /[A-Z]/.test(input) ? input.toLowerCase() : input;
  for (const lit of filter.anyOf) if (lower.includes(lit)) return true;
  return false;
}

function charOf(node: Node): string | null {
  if (node.type === 'literal') return node.code <= 0xff ? String.fromCharCode(node.code).toLowerCase() : null;
  if (node.type === 'class' && !node.negated && node.items.length <= 2) {
    // [aA], [x]: one letter in either case
    const chars = new Set<string>();
    for (const item of node.items) {
      if (item.kind !== 'range' || item.to - item.from > 0 || item.from > 0xff) return null;
      chars.add(String.fromCharCode(item.from).toLowerCase());
    }
    return chars.size === 1 ? [...chars][0]! : null;
  }
  if (node.type === 'group' && node.kind !== 'atomic') return charOf(node.body);
  return null;
}

/** A small class of single characters, ["'`] → ['"', "'", '`']; null for anything bigger or negated. */
function classChars(node: Extract<Node, { type: 'class' }>): Requirement {
  if (node.negated) return null;
  const chars = new Set<string>();
  for (const item of node.items) {
    if (item.kind !== 'range' || item.to > 0xff || item.to - item.from > 8) return null;
    for (let c = item.from; c <= item.to; c++) chars.add(String.fromCharCode(c).toLowerCase());
    if (chars.size > 8) return null;
  }
  return [...chars];
}

/** A one-character requirement of a common character filters nothing out: not worth a check. */
function useful(r: Requirement): Requirement {
  return r !== null && r.some((s) => s.length === 1 && /[a-z0-9 ./=&-]/.test(s)) ? null : r;
}

function best(x: Requirement, y: Requirement): Requirement {
  const a = useful(x);
  const b = useful(y);
  if (a === null) return b;
  if (b === null) return a;
  const score = (r: string[]) => Math.min(...r.map((s) => s.length)) * 4 - r.length;
  return score(b) > score(a) ? b : a;
}

function requirement(node: Node): Requirement {
  switch (node.type) {
    case 'literal': {
      const c = charOf(node);
      return c === null ? null : [c];
    }
    case 'class': {
      const c = charOf(node);
      if (c !== null) return [c];
      return classChars(node);
    }
    case 'group':
      return requirement(node.body);
    case 'repeat':
      return node.min >= 1 ? requirement(node.body) : null;
    // (An alternation keeps its branches' single characters: "a|b|c" as a whole may still be rare.)
    case 'alt': {
      const out = new Set<string>();
      for (const branch of node.branches) {
        const r = requirement(branch);
        if (r === null) return null;
        for (const s of r) out.add(s);
        if (out.size > MAX_ALTERNATIVES) return null;
      }
      return [...out];
    }
    case 'seq': {
      // Runs of single characters make a literal string; the best requirement of the parts wins.
      let chosen: Requirement = null;
      let run = '';
      const flush = () => {
        if (run !== '') chosen = best(chosen, [run]);
        run = '';
      };
      for (const item of node.items) {
        const c = charOf(item);
        if (c !== null) {
          run += c;
          continue;
        }
        flush();
        // Zero-width items do not break a run's meaning, but they are rare between literals; be simple.
        chosen = best(chosen, requirement(item));
      }
      flush();
      return useful(chosen);
    }
    default:
      // Assertions, lookarounds and backreferences require nothing we can cheaply check.
      return null;
  }
}
