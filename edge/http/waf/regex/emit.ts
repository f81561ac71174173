// Turns a parsed PCRE pattern (pcre-ast.ts) into RE2 or JavaScript syntax.
//
// Both emitters write flags out explicitly instead of relying on inline flag syntax: a letter under
// (?i) becomes [aA], a class under (?i) gets its other-case ranges, "." is (?s:.) or [^\n]. The two
// targets then mean the same thing (Node 20's V8 has no scoped (?i:...)), and what runs is exactly
// what PCRE with ModSecurity's flags (PCRE_DOTALL | PCRE_DOLLAR_ENDONLY) would match, on bytes.
//
// The RE2 emitter has three modes:
//   exact     - refuses what RE2 cannot do (lookaround, backreference, repeats over 1000);
//   superset  - drops lookarounds, replaces a backreference by a copy of its group and big repeats
//               by unbounded ones: a pattern that matches whenever the original does (and more),
//               used as a linear-time prefilter in front of the bounded JavaScript fallback.
import type { ClassItem, Flags, Node, ParsedPattern } from './pcre-ast.js';
import { escapeRanges } from './pcre-ast.js';

export class NotExpressible extends Error {
  constructor(readonly construct: string) {
    super(`RE2 cannot express ${construct}`);
    this.name = 'NotExpressible';
  }
}

/** RE2's limit on {n,m} counts. */
const RE2_MAX_REPEAT = 1000;
const MAX_CODE = 0xffff;

export function emitRe2(parsed: ParsedPattern, mode: 'exact' | 'superset'): string {
  const groups = collectGroups(parsed.root);
  const out: string[] = [];
  const emit = (node: Node, copyingGroup: boolean): void => {
    switch (node.type) {
      case 'literal':
        out.push(literal(node.code, node.flags, 're2'));
        return;
      case 'class':
        out.push(charClass(node.negated, node.items, node.flags, 're2'));
        return;
      case 'dot':
        out.push(node.flags.s ? '(?s:.)' : '[^\\n]');
        return;
      case 'assert':
        out.push(assertion(node.kind, node.flags, 're2'));
        return;
      case 'group': {
        // A copied group (superset backreference) must not add capture groups: numbering would shift.
        const capture = node.kind === 'capture' && !copyingGroup;
        out.push(capture ? (node.name !== null ? `(?P<${node.name}>` : '(') : '(?:');
        emit(node.body, copyingGroup);
        out.push(')');
        return;
      }
      case 'look':
        if (mode === 'exact') throw new NotExpressible(node.ahead ? 'a lookahead' : 'a lookbehind');
        out.push('(?:)');
        return;
      case 'backref': {
        if (mode === 'exact') throw new NotExpressible('a backreference');
        const group = groups.get(node.index);
        if (!group) throw new NotExpressible(`a reference to missing group ${node.index}`);
        out.push('(?:');
        emit(group.body, true);
        out.push(')');
        return;
      }
      case 'repeat': {
        let { min, max } = node;
        if (min > RE2_MAX_REPEAT || (max !== Infinity && max > RE2_MAX_REPEAT)) {
          if (mode === 'exact') throw new NotExpressible(`a repeat count over ${RE2_MAX_REPEAT}`);
          min = Math.min(min, RE2_MAX_REPEAT);
          max = Infinity;
        }
        out.push('(?:');
        emit(node.body, copyingGroup);
        out.push(')', quantifier(min, max), node.mode === 'lazy' ? '?' : '');
        return;
      }
      case 'seq':
        for (const item of node.items) emit(item, copyingGroup);
        return;
      case 'alt':
        out.push('(?:');
        node.branches.forEach((b, i) => {
          if (i > 0) out.push('|');
          emit(b, copyingGroup);
        });
        out.push(')');
        return;
    }
  };
  emit(parsed.root, false);
  return out.join('');
}

export interface JsPattern {
  readonly source: string;
  readonly flags: string;
}

/** JavaScript syntax for the bounded fallback: lookarounds and backreferences included. */
export function emitJs(parsed: ParsedPattern): JsPattern {
  // When everything is case-insensitive, the `i` flag is used: it is the only way a backreference
  // under (?i) compares case-insensitively, as PCRE does.
  const allI = everyCaseNodeIsI(parsed.root);
  const out: string[] = [];
  const emit = (node: Node): void => {
    switch (node.type) {
      case 'literal':
        out.push(literal(node.code, allI ? { ...node.flags, i: false } : node.flags, 'js'));
        return;
      case 'class':
        out.push(charClass(node.negated, node.items, allI ? { ...node.flags, i: false } : node.flags, 'js'));
        return;
      case 'dot':
        out.push(node.flags.s ? '[^]' : '[^\\n]');
        return;
      case 'assert':
        out.push(assertion(node.kind, node.flags, 'js'));
        return;
      case 'group':
        out.push(node.kind === 'capture' ? (node.name !== null ? `(?<${node.name}>` : '(') : '(?:');
        emit(node.body);
        out.push(')');
        return;
      case 'look':
        out.push(node.ahead ? (node.negated ? '(?!' : '(?=') : node.negated ? '(?<!' : '(?<=');
        emit(node.body);
        out.push(')');
        return;
      case 'backref':
        out.push(`(?:\\${node.index})`);
        return;
      case 'repeat':
        out.push('(?:');
        emit(node.body);
        out.push(')', quantifier(node.min, node.max), node.mode === 'lazy' ? '?' : '');
        return;
      case 'seq':
        for (const item of node.items) emit(item);
        return;
      case 'alt':
        out.push('(?:');
        node.branches.forEach((b, i) => {
          if (i > 0) out.push('|');
          emit(b);
        });
        out.push(')');
        return;
    }
  };
  emit(parsed.root);
  return { source: out.join(''), flags: allI ? 'i' : '' };
}

function collectGroups(root: Node): Map<number, Extract<Node, { type: 'group' }>> {
  const groups = new Map<number, Extract<Node, { type: 'group' }>>();
  const walk = (node: Node): void => {
    switch (node.type) {
      case 'group':
        if (node.kind === 'capture') groups.set(node.index, node);
        walk(node.body);
        return;
      case 'look':
      case 'repeat':
        walk(node.body);
        return;
      case 'seq':
        node.items.forEach(walk);
        return;
      case 'alt':
        node.branches.forEach(walk);
        return;
      default:
        return;
    }
  };
  walk(root);
  return groups;
}

function everyCaseNodeIsI(root: Node): boolean {
  let all = true;
  let any = false;
  const walk = (node: Node): void => {
    switch (node.type) {
      case 'literal':
      case 'class':
        any = true;
        if (!node.flags.i) all = false;
        return;
      case 'group':
      case 'look':
      case 'repeat':
        walk(node.body);
        return;
      case 'seq':
        node.items.forEach(walk);
        return;
      case 'alt':
        node.branches.forEach(walk);
        return;
      default:
        return;
    }
  };
  walk(root);
  return all && any;
}

function quantifier(min: number, max: number): string {
  if (min === 0 && max === Infinity) return '*';
  if (min === 1 && max === Infinity) return '+';
  if (min === 0 && max === 1) return '?';
  if (max === Infinity) return `{${min},}`;
  if (min === max) return `{${min}}`;
  return `{${min},${max}}`;
}

function assertion(kind: Extract<Node, { type: 'assert' }>['kind'], flags: Flags, target: 're2' | 'js'): string {
  switch (kind) {
    case 'start':
      if (flags.m) return target === 're2' ? '(?m:^)' : '(?<=^|\\n)';
      return '^';
    case 'end':
      // PCRE_DOLLAR_ENDONLY: "$" is the very end, unless multiline.
      if (flags.m) return target === 're2' ? '(?m:$)' : '(?=\\n|$)';
      return target === 're2' ? '\\z' : '$';
    case 'textStart':
      return target === 're2' ? '\\A' : '^';
    case 'textEnd':
      return target === 're2' ? '\\z' : '$';
    case 'textEndNewline':
      // \Z: the end, or before a final newline. RE2 has no lookahead: consuming the newline gives
      // the same match / no-match answer.
      return target === 're2' ? '(?:\\n?\\z)' : '(?=\\n?$)';
    case 'wordBoundary':
      return '\\b';
    case 'notWordBoundary':
      return '\\B';
  }
}

function isAsciiLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function literal(code: number, flags: Flags, target: 're2' | 'js'): string {
  if (flags.i && isAsciiLetter(code)) {
    const lower = code | 0x20;
    return `[${String.fromCharCode(lower - 0x20)}${String.fromCharCode(lower)}]`;
  }
  return escapeCode(code, target, false);
}

function escapeCode(code: number, target: 're2' | 'js', inClass: boolean): string {
  if ((code >= 0x30 && code <= 0x39) || isAsciiLetter(code) || code === 0x5f) return String.fromCharCode(code);
  if (!inClass && (code === 0x20 || code === 0x2c || code === 0x3a || code === 0x3d || code === 0x40 || code === 0x23 || code === 0x25 || code === 0x26 || code === 0x27 || code === 0x22 || code === 0x3b || code === 0x3c || code === 0x3e || code === 0x7e || code === 0x60 || code === 0x21)) {
    return String.fromCharCode(code);
  }
  const hex = code.toString(16).padStart(2, '0');
  if (target === 're2') return code <= 0xff ? `\\x${hex}` : `\\x{${hex}}`;
  return code <= 0xff ? `\\x${hex}` : `\\u${hex.padStart(4, '0')}`;
}

type Range = [number, number];

/** Sorted, merged ranges of a class body (before negation), with case folding applied. */
export function classRanges(items: readonly ClassItem[], caseless: boolean): Range[] {
  let ranges: Range[] = [];
  for (const item of items) {
    if (item.kind === 'range') ranges.push([item.from, item.to]);
    else {
      const base = escapeRanges(item.name).map(([a, b]) => [a, b] as Range);
      ranges.push(...(item.negated ? complement(normalize(base)) : base));
    }
  }
  if (caseless) {
    const extra: Range[] = [];
    for (const [a, b] of ranges) {
      // The parts of [a, b] inside A-Z and a-z, moved to the other case.
      const up: Range = [Math.max(a, 0x41), Math.min(b, 0x5a)];
      if (up[0] <= up[1]) extra.push([up[0] + 0x20, up[1] + 0x20]);
      const low: Range = [Math.max(a, 0x61), Math.min(b, 0x7a)];
      if (low[0] <= low[1]) extra.push([low[0] - 0x20, low[1] - 0x20]);
    }
    ranges = ranges.concat(extra);
  }
  return normalize(ranges);
}

function normalize(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

function complement(ranges: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [a, b] of ranges) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= MAX_CODE) out.push([next, MAX_CODE]);
  return out;
}

function charClass(negated: boolean, items: readonly ClassItem[], flags: Flags, target: 're2' | 'js'): string {
  const ranges = classRanges(items, flags.i);
  if (ranges.length === 0) return negated ? (target === 're2' ? '(?s:.)' : '[^]') : '[^\\x00-\\x{ffff}]'.replace('\\x{ffff}', target === 're2' ? '\\x{ffff}' : '\\uffff');
  const body = ranges
    .map(([a, b]) => (a === b ? escapeCode(a, target, true) : `${escapeCode(a, target, true)}-${escapeCode(b, target, true)}`))
    .join('');
  return `[${negated ? '^' : ''}${body}]`;
}
