// A parser for the PCRE pattern syntax CRS and SecLang rule writers use, into a small tree that
// the emitters (re2-emit.ts, js-emit.ts) turn into RE2 or JavaScript syntax. Parsing instead of
// rewriting text is what makes the translation trustworthy: every construct is either understood
// and translated, or reported by name.
//
// Reference: PCRE2 pattern syntax (pcre2pattern(3)); ModSecurity v2 compiles @rx with
// PCRE_DOTALL | PCRE_DOLLAR_ENDONLY, so "." matches newlines and "$" matches only at the end.

export type ClassItem =
  | { readonly kind: 'range'; readonly from: number; readonly to: number }
  /** \d \w \s \h \v and their negations, or a POSIX class, inside or outside brackets. */
  | { readonly kind: 'escape'; readonly name: EscapeClass; readonly negated: boolean };

export type EscapeClass = 'd' | 'w' | 's' | 'h' | 'v' | PosixClass;
export type PosixClass =
  | 'alnum' | 'alpha' | 'ascii' | 'blank' | 'cntrl' | 'digit' | 'graph' | 'lower' | 'print' | 'punct' | 'space' | 'upper' | 'word' | 'xdigit';

export interface Flags {
  readonly i: boolean;
  readonly s: boolean;
  readonly m: boolean;
  readonly x: boolean;
}

export type Node =
  | { readonly type: 'literal'; readonly code: number; readonly flags: Flags }
  | { readonly type: 'class'; readonly negated: boolean; readonly items: readonly ClassItem[]; readonly flags: Flags }
  | { readonly type: 'dot'; readonly flags: Flags }
  | { readonly type: 'assert'; readonly kind: 'start' | 'end' | 'textStart' | 'textEnd' | 'textEndNewline' | 'wordBoundary' | 'notWordBoundary'; readonly flags: Flags }
  | { readonly type: 'group'; readonly kind: 'capture' | 'noncapture' | 'atomic'; readonly index: number; readonly name: string | null; readonly body: Node; readonly flags: Flags }
  | { readonly type: 'look'; readonly ahead: boolean; readonly negated: boolean; readonly body: Node }
  | { readonly type: 'backref'; readonly index: number }
  | { readonly type: 'repeat'; readonly min: number; readonly max: number; readonly mode: 'greedy' | 'lazy' | 'possessive'; readonly body: Node }
  | { readonly type: 'seq'; readonly items: readonly Node[] }
  | { readonly type: 'alt'; readonly branches: readonly Node[] };

export interface ParsedPattern {
  readonly root: Node;
  readonly groupCount: number;
  /** Constructs used that change how (or whether) the pattern can be run; see features(). */
  readonly features: ReadonlySet<Feature>;
}

export type Feature = 'lookahead' | 'lookbehind' | 'backreference' | 'possessive' | 'atomic' | 'multiline' | 'textEndNewline';

export class PcreSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'PcreSyntaxError';
  }
}

const NO_FLAGS: Flags = { i: false, s: true, m: false, x: false };

/** Constructs PCRE has and we refuse to emulate: named here so the load report says which. */
const UNSUPPORTED_GROUPS: readonly [string, string][] = [
  ['(?|', 'branch reset group'],
  ['(?R', 'recursion'],
  ['(?(', 'conditional group'],
  ['(?P>', 'subroutine call'],
  ['(?&', 'subroutine call'],
  ['(*', 'backtracking verb'],
];

export function parsePcre(pattern: string, initial: Partial<Flags> = {}): ParsedPattern {
  return new PcreParser(pattern, { ...NO_FLAGS, ...initial }).parse();
}

class PcreParser {
  private pos = 0;
  private groupCount = 0;
  private readonly names = new Map<string, number>();
  private readonly features = new Set<Feature>();
  /** Backreferences by name are resolved after parsing, when every group is known. */
  private readonly pendingNamedRefs: { name: string; offset: number; node: { index: number } }[] = [];

  constructor(
    private readonly src: string,
    private readonly flags0: Flags,
  ) {}

  parse(): ParsedPattern {
    const root = this.alternation(this.flags0, 0);
    if (this.pos < this.src.length) throw new PcreSyntaxError('unmatched ")"', this.pos);
    for (const ref of this.pendingNamedRefs) {
      const index = this.names.get(ref.name);
      if (index === undefined) throw new PcreSyntaxError(`reference to unknown group "${ref.name}"`, ref.offset);
      ref.node.index = index;
    }
    return { root, groupCount: this.groupCount, features: this.features };
  }

  /** alternation := sequence ('|' sequence)*; inline flags like (?i) run to the end of the enclosing group. */
  private alternation(flags: Flags, depth: number): Node {
    if (depth > 200) throw new PcreSyntaxError('groups nested too deeply', this.pos);
    const branches: Node[] = [];
    const state = { flags };
    for (;;) {
      branches.push(this.sequence(state, depth));
      if (this.src[this.pos] === '|') {
        this.pos++;
        continue;
      }
      break;
    }
    return branches.length === 1 ? branches[0]! : { type: 'alt', branches };
  }

  private sequence(state: { flags: Flags }, depth: number): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === '|' || c === ')') break;
      if (state.flags.x && this.skipExtended()) continue;
      const inline = this.tryInlineFlags(state.flags);
      if (inline) {
        state.flags = inline;
        continue;
      }
      const atom = this.atom(state.flags, depth);
      if (atom === null) continue;
      items.push(this.quantified(atom, state.flags));
    }
    return items.length === 1 ? items[0]! : { type: 'seq', items };
  }

  /** In (?x) mode whitespace and #-comments outside classes are not part of the pattern. */
  private skipExtended(): boolean {
    const c = this.src[this.pos]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      this.pos++;
      return true;
    }
    if (c === '#') {
      while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      return true;
    }
    return false;
  }

  /** "(?i)", "(?-s)", "(?im-x)": a flag change to the end of the group. */
  private tryInlineFlags(flags: Flags): Flags | null {
    const m = /^\(\?([imsxU]*)(?:-([imsxU]*))?\)/.exec(this.src.slice(this.pos, this.pos + 16));
    if (!m || (m[1] === '' && m[2] === undefined)) return null;
    this.pos += m[0].length;
    return applyFlags(flags, m[1] ?? '', m[2] ?? '', this.pos, this.features);
  }

  private atom(flags: Flags, depth: number): Node | null {
    const start = this.pos;
    const c = this.src[this.pos++]!;
    switch (c) {
      case '(':
        return this.group(flags, depth, start);
      case '[':
        return this.charClass(flags);
      case '.':
        return { type: 'dot', flags };
      case '^':
        if (flags.m) this.features.add('multiline');
        return { type: 'assert', kind: 'start', flags };
      case '$':
        if (flags.m) this.features.add('multiline');
        return { type: 'assert', kind: 'end', flags };
      case '\\':
        return this.escape(flags, false);
      case '*':
      case '+':
      case '?':
        throw new PcreSyntaxError(`quantifier "${c}" does not follow anything`, start);
      case '{':
        // A "{" that does not start a valid quantifier is a literal in PCRE.
        if (this.quantifierAt(start) !== null) throw new PcreSyntaxError('quantifier does not follow anything', start);
        return { type: 'literal', code: 0x7b, flags };
      default:
        return { type: 'literal', code: c.charCodeAt(0), flags };
    }
  }

  private group(flags: Flags, depth: number, start: number): Node | null {
    const rest = this.src.slice(start, start + 4);
    for (const [prefix, what] of UNSUPPORTED_GROUPS) {
      if (rest.startsWith(prefix)) throw new PcreSyntaxError(`${what} "${prefix}" is not supported`, start);
    }
    if (/^\(\?\d/.test(rest) || /^\(\?[+-]\d/.test(rest)) throw new PcreSyntaxError('subroutine call is not supported', start);
    let kind: 'capture' | 'noncapture' | 'atomic' | 'lookahead' | 'neglookahead' | 'lookbehind' | 'neglookbehind' = 'capture';
    let name: string | null = null;
    let inner = flags;
    if (this.src[this.pos] === '?') {
      const head = this.src.slice(this.pos, this.pos + 3);
      if (head.startsWith('?#')) {
        const end = this.src.indexOf(')', this.pos);
        if (end < 0) throw new PcreSyntaxError('unterminated comment', start);
        this.pos = end + 1;
        return null;
      } else if (head.startsWith('?:')) {
        kind = 'noncapture';
        this.pos += 2;
      } else if (head.startsWith('?>')) {
        kind = 'atomic';
        this.features.add('atomic');
        this.pos += 2;
      } else if (head.startsWith('?=')) {
        kind = 'lookahead';
        this.pos += 2;
      } else if (head.startsWith('?!')) {
        kind = 'neglookahead';
        this.pos += 2;
      } else if (head.startsWith('?<=')) {
        kind = 'lookbehind';
        this.pos += 3;
      } else if (head.startsWith('?<!')) {
        kind = 'neglookbehind';
        this.pos += 3;
      } else if (head.startsWith('?P=')) {
        // (?P=name): a backreference by name
        const m = /^\?P=([A-Za-z_]\w*)\)/.exec(this.src.slice(this.pos));
        if (!m) throw new PcreSyntaxError('bad (?P=name) reference', start);
        this.pos += m[0].length;
        return this.namedRef(m[1]!, start);
      } else {
        const named = /^\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(this.src.slice(this.pos));
        const scoped = /^\?([imsxU]*)(?:-([imsxU]*))?:/.exec(this.src.slice(this.pos));
        if (named) {
          name = named[1] ?? named[2]!;
          this.pos += named[0].length;
        } else if (scoped) {
          kind = 'noncapture';
          inner = applyFlags(flags, scoped[1] ?? '', scoped[2] ?? '', this.pos, this.features);
          this.pos += scoped[0].length;
        } else {
          throw new PcreSyntaxError(`unknown group syntax "(${head}"`, start);
        }
      }
    }
    let index = 0;
    if (kind === 'capture') {
      index = ++this.groupCount;
      if (name !== null) {
        if (this.names.has(name)) throw new PcreSyntaxError(`duplicate group name "${name}"`, start);
        this.names.set(name, index);
      }
    }
    const body = this.alternation(inner, depth + 1);
    if (this.src[this.pos] !== ')') throw new PcreSyntaxError('missing ")"', start);
    this.pos++;
    switch (kind) {
      case 'lookahead':
      case 'neglookahead':
        this.features.add('lookahead');
        return { type: 'look', ahead: true, negated: kind === 'neglookahead', body };
      case 'lookbehind':
      case 'neglookbehind':
        this.features.add('lookbehind');
        return { type: 'look', ahead: false, negated: kind === 'neglookbehind', body };
      default:
        return { type: 'group', kind, index, name, body, flags: inner };
    }
  }

  private namedRef(name: string, offset: number): Node {
    this.features.add('backreference');
    const node = { type: 'backref' as const, index: 0 };
    this.pendingNamedRefs.push({ name, offset, node });
    return node;
  }

  /** An escape outside (inClass false) or inside a class; returns a node or, in a class, a one-item class. */
  private escape(flags: Flags, inClass: boolean): Node {
    const start = this.pos - 1;
    if (this.pos >= this.src.length) throw new PcreSyntaxError('pattern ends with "\\"', start);
    const c = this.src[this.pos++]!;
    const lit = (code: number): Node => ({ type: 'literal', code, flags });
    const cls = (name: EscapeClass, negated: boolean): Node => ({ type: 'class', negated: false, items: [{ kind: 'escape', name, negated }], flags });
    switch (c) {
      case 'd': case 'w': case 's': case 'h': case 'v':
        return cls(c, false);
      case 'D': case 'W': case 'S': case 'H': case 'V':
        return cls(c.toLowerCase() as EscapeClass, true);
      case 'n': return lit(0x0a);
      case 'r': return lit(0x0d);
      case 't': return lit(0x09);
      case 'f': return lit(0x0c);
      case 'e': return lit(0x1b);
      case 'a': return lit(0x07);
      case 'x': {
        const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(this.src.slice(this.pos));
        if (braced) {
          this.pos += braced[0].length;
          return lit(parseInt(braced[1]!, 16));
        }
        const m = /^[0-9a-fA-F]{1,2}/.exec(this.src.slice(this.pos));
        if (!m) return lit(0); // PCRE: "\x" with no digits is NUL
        this.pos += m[0].length;
        return lit(parseInt(m[0], 16));
      }
      case 'o': {
        const m = /^\{([0-7]{1,8})\}/.exec(this.src.slice(this.pos));
        if (!m) throw new PcreSyntaxError('bad \\o{...}', start);
        this.pos += m[0].length;
        return lit(parseInt(m[1]!, 8));
      }
      case 'c': {
        const x = this.src[this.pos++];
        if (x === undefined) throw new PcreSyntaxError('\\c at end of pattern', start);
        return lit(x.toUpperCase().charCodeAt(0) ^ 0x40);
      }
      case '0': {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))!;
        this.pos += m[0].length;
        return lit(parseInt('0' + m[0], 8));
      }
      case 'Q': {
        const end = this.src.indexOf('\\E', this.pos);
        const text = this.src.slice(this.pos, end < 0 ? this.src.length : end);
        this.pos = end < 0 ? this.src.length : end + 2;
        if (inClass) throw new PcreSyntaxError('\\Q inside a class is not supported', start);
        const items: Node[] = [...text].map((ch) => lit(ch.charCodeAt(0)));
        return items.length === 1 ? items[0]! : { type: 'seq', items };
      }
      case 'E':
        return { type: 'seq', items: [] };
      case 'N':
        if (inClass) throw new PcreSyntaxError('\\N inside a class', start);
        return { type: 'class', negated: true, items: [{ kind: 'range', from: 0x0a, to: 0x0a }], flags };
      case 'R':
        if (inClass) throw new PcreSyntaxError('\\R inside a class', start);
        // Any Unicode newline sequence; on bytes: \r\n, or one of \n \v \f \r \x85.
        return {
          type: 'alt',
          branches: [
            { type: 'seq', items: [lit(0x0d), lit(0x0a)] },
            { type: 'class', negated: false, items: [{ kind: 'range', from: 0x0a, to: 0x0d }, { kind: 'range', from: 0x85, to: 0x85 }], flags },
          ],
        };
      case 'b':
        if (inClass) return lit(0x08);
        return { type: 'assert', kind: 'wordBoundary', flags };
      case 'B':
        return { type: 'assert', kind: 'notWordBoundary', flags };
      case 'A':
        return { type: 'assert', kind: 'textStart', flags };
      case 'z':
        return { type: 'assert', kind: 'textEnd', flags };
      case 'Z':
        this.features.add('textEndNewline');
        return { type: 'assert', kind: 'textEndNewline', flags };
      case 'G':
      case 'K':
      case 'X':
      case 'C':
        throw new PcreSyntaxError(`"\\${c}" is not supported`, start);
      case 'p':
      case 'P':
        throw new PcreSyntaxError(`Unicode property "\\${c}" is not supported on byte strings`, start);
      case 'g': {
        const m = /^(?:\{(-?\d+|[A-Za-z_]\w*)\}|(-?\d+))/.exec(this.src.slice(this.pos));
        if (!m) throw new PcreSyntaxError('bad \\g reference', start);
        this.pos += m[0].length;
        const ref = m[1] ?? m[2]!;
        if (/^[A-Za-z_]/.test(ref)) return this.namedRef(ref, start);
        const n = Number(ref);
        this.features.add('backreference');
        return { type: 'backref', index: n < 0 ? this.groupCount + 1 + n : n };
      }
      case 'k': {
        const m = /^(?:<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)'|\{([A-Za-z_]\w*)\})/.exec(this.src.slice(this.pos));
        if (!m) throw new PcreSyntaxError('bad \\k reference', start);
        this.pos += m[0].length;
        return this.namedRef(m[1] ?? m[2] ?? m[3]!, start);
      }
      default:
        if (c >= '1' && c <= '9') {
          if (inClass) {
            // In a class, \1..\7 are octal.
            const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))!;
            this.pos += m[0].length;
            return lit(parseInt(c + m[0], 8));
          }
          const m = /^\d*/.exec(this.src.slice(this.pos))!;
          const n = Number(c + m[0]);
          // PCRE: \1–\9 are always backreferences; \10 and up only if that many groups exist so far, else octal.
          if (n < 10 || n <= this.groupCount) {
            this.pos += m[0].length;
            this.features.add('backreference');
            return { type: 'backref', index: n };
          }
          const oct = /^[0-7]{1,3}/.exec(c + m[0]);
          if (!oct) throw new PcreSyntaxError(`bad escape "\\${c}"`, start);
          this.pos += oct[0].length - 1;
          return lit(parseInt(oct[0], 8) & 0xff);
        }
        // Any other escaped character stands for itself (PCRE errors on a few unknown letters;
        // being lenient here only makes a literal out of it).
        return lit(c.charCodeAt(0));
    }
  }

  private charClass(flags: Flags): Node {
    const start = this.pos - 1;
    let negated = false;
    if (this.src[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    const items: ClassItem[] = [];
    let first = true;
    for (;;) {
      if (this.pos >= this.src.length) throw new PcreSyntaxError('missing "]"', start);
      const c = this.src[this.pos]!;
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.pos, this.pos + 12));
      if (posix) {
        if (!POSIX_CLASSES.has(posix[2] as PosixClass)) throw new PcreSyntaxError(`unknown POSIX class "${posix[2]}"`, this.pos);
        items.push({ kind: 'escape', name: posix[2] as PosixClass, negated: posix[1] === '^' });
        this.pos += posix[0].length;
        continue;
      }
      const low = this.classAtom(flags);
      // \E (the end of a \Q quote that was not open) stands for nothing.
      if (low === null) continue;
      if (low.kind === 'escape') {
        items.push(low);
        continue;
      }
      // A range "a-z", unless the "-" is last ("a-]") or the end is a class escape ("a-\d", literal "-").
      if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.pos + 1 < this.src.length) {
        const save = this.pos;
        this.pos++;
        const high = this.classAtom(flags);
        if (high === null || high.kind === 'escape') {
          // "a-\d", or "a-\E" (nothing after the "-"): the "-" is a literal.
          items.push(low, { kind: 'range', from: 0x2d, to: 0x2d }, ...(high === null ? [] : [high]));
          continue;
        }
        if (high.from < low.from) throw new PcreSyntaxError('range out of order in class', save);
        items.push({ kind: 'range', from: low.from, to: high.from });
        continue;
      }
      items.push(low);
    }
    return { type: 'class', negated, items, flags };
  }

  /** One member of a class; null for an escape that stands for nothing (\E). */
  private classAtom(flags: Flags): (ClassItem & ({ kind: 'range' } | { kind: 'escape' })) | null {
    if (this.pos >= this.src.length) throw new PcreSyntaxError('missing "]"', this.pos);
    const c = this.src[this.pos++]!;
    if (c !== '\\') return { kind: 'range', from: c.charCodeAt(0), to: c.charCodeAt(0) };
    const node = this.escape(flags, true);
    if (node.type === 'literal') return { kind: 'range', from: node.code, to: node.code };
    if (node.type === 'class' && node.items.length === 1 && node.items[0]!.kind === 'escape') return node.items[0]!;
    if (node.type === 'seq' && node.items.length === 0) return null;
    throw new PcreSyntaxError('unsupported escape in a class', this.pos - 2);
  }

  private quantified(atom: Node, flags: Flags): Node {
    let node = atom;
    for (;;) {
      if (flags.x) while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
      const c = this.src[this.pos];
      let min: number;
      let max: number;
      if (c === '*') {
        min = 0;
        max = Infinity;
        this.pos++;
      } else if (c === '+') {
        min = 1;
        max = Infinity;
        this.pos++;
      } else if (c === '?') {
        min = 0;
        max = 1;
        this.pos++;
      } else if (c === '{') {
        const q = this.quantifierAt(this.pos);
        if (q === null) return node;
        ({ min, max } = q);
        this.pos = q.end;
      } else {
        return node;
      }
      if (node.type === 'assert' || node.type === 'look') {
        // PCRE allows quantified assertions; {0,...} makes them optional, anything else is the assertion once.
        if (min === 0) node = { type: 'seq', items: [] };
        this.skipQuantifierMode();
        continue;
      }
      let mode: 'greedy' | 'lazy' | 'possessive' = 'greedy';
      if (this.src[this.pos] === '?') {
        mode = 'lazy';
        this.pos++;
      } else if (this.src[this.pos] === '+') {
        mode = 'possessive';
        this.features.add('possessive');
        this.pos++;
      }
      if (node.type === 'repeat') {
        // "a**" is an error in PCRE; "a{2}{3}" is legal (repeat of a repeat).
        if (c !== '{') throw new PcreSyntaxError('nothing to repeat', this.pos - 1);
      }
      node = { type: 'repeat', min, max, mode, body: node };
    }
  }

  private skipQuantifierMode(): void {
    if (this.src[this.pos] === '?' || this.src[this.pos] === '+') this.pos++;
  }

  /** "{n}", "{n,}", "{n,m}" at `at`, or null when the "{" is a literal. */
  private quantifierAt(at: number): { min: number; max: number; end: number } | null {
    const m = /^\{(\d{1,5})(?:(,)(\d{0,5}))?\}/.exec(this.src.slice(at, at + 14));
    if (!m) return null;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (max < min) throw new PcreSyntaxError('numbers out of order in {} quantifier', at);
    return { min, max, end: at + m[0].length };
  }
}

function applyFlags(flags: Flags, on: string, off: string, offset: number, features: Set<Feature>): Flags {
  if (on.includes('U') || off.includes('U')) throw new PcreSyntaxError('the U (ungreedy) flag is not supported', offset);
  const next = {
    i: off.includes('i') ? false : on.includes('i') ? true : flags.i,
    s: off.includes('s') ? false : on.includes('s') ? true : flags.s,
    m: off.includes('m') ? false : on.includes('m') ? true : flags.m,
    x: off.includes('x') ? false : on.includes('x') ? true : flags.x,
  };
  if (next.m) features.add('multiline');
  return next;
}

const POSIX_CLASSES = new Set<PosixClass>(['alnum', 'alpha', 'ascii', 'blank', 'cntrl', 'digit', 'graph', 'lower', 'print', 'punct', 'space', 'upper', 'word', 'xdigit']);

/** The byte ranges of a class escape, PCRE semantics without UCP (ASCII only, \s includes VT since PCRE 8.34). */
export function escapeRanges(name: EscapeClass): readonly [number, number][] {
  switch (name) {
    case 'd':
    case 'digit':
      return [[0x30, 0x39]];
    case 'w':
    case 'word':
      return [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
    case 's':
    case 'space':
      return [[0x09, 0x0d], [0x20, 0x20]];
    case 'h':
      return [[0x09, 0x09], [0x20, 0x20], [0xa0, 0xa0]];
    case 'v':
      return [[0x0a, 0x0d], [0x85, 0x85]];
    case 'alnum':
      return [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]];
    case 'alpha':
      return [[0x41, 0x5a], [0x61, 0x7a]];
    case 'ascii':
      return [[0x00, 0x7f]];
    case 'blank':
      return [[0x09, 0x09], [0x20, 0x20]];
    case 'cntrl':
      return [[0x00, 0x1f], [0x7f, 0x7f]];
    case 'graph':
      return [[0x21, 0x7e]];
    case 'lower':
      return [[0x61, 0x7a]];
    case 'print':
      return [[0x20, 0x7e]];
    case 'punct':
      return [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]];
    case 'upper':
      return [[0x41, 0x5a]];
    case 'xdigit':
      return [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]];
  }
}
