// The custom rule expression language, in the spirit of Cloudflare's rule expressions:
//
//   expression := or
//   or         := xor  (("or" | "||") xor)*
//   xor        := and  (("xor" | "^^") and)*
//   and        := not  (("and" | "&&") not)*
//   not        := ("not" | "!") not | "(" expression ")" | comparison
//   comparison := value operator literal | value "in" set | boolean-field
//   value      := field | field "[" string "]" | function "(" value ")"
//   operator   := eq | ne | == | != | contains | starts_with | ends_with | matches | ~
//                 | lt | le | gt | ge | < | <= | > | >=
//   set        := "{" literal* "}"         (blank- or comma-separated)
//   literal    := "string" | r"raw string" | number | IP address | CIDR block
//
// e.g.  http.request.uri.path starts_with "/admin" and not ip.src in { 10.0.0.0/8 2001:db8::/32 }
//
// The parser builds a tree; compile.ts checks types and turns it into a function.
import { WafErrorCode, WafExpressionError } from '../errors.js';
import { lexExpression } from './lexer.js';
import type { Token } from './lexer.js';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export type Operand =
  | { readonly kind: 'field'; readonly name: string; readonly key: string | null; readonly at: Position }
  | { readonly kind: 'call'; readonly fn: string; readonly arg: Operand; readonly at: Position };

export type Literal =
  | { readonly kind: 'string'; readonly value: string; readonly at: Position }
  | { readonly kind: 'number'; readonly value: number; readonly at: Position }
  | { readonly kind: 'ip'; readonly value: string; readonly at: Position };

export type CompareOp = 'eq' | 'ne' | 'contains' | 'starts_with' | 'ends_with' | 'matches' | 'lt' | 'le' | 'gt' | 'ge';

export type Expr =
  | { readonly kind: 'or' | 'and' | 'xor'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'not'; readonly expr: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly lhs: Operand; readonly rhs: Literal; readonly at: Position }
  | { readonly kind: 'in'; readonly lhs: Operand; readonly set: readonly Literal[]; readonly at: Position }
  | { readonly kind: 'truth'; readonly operand: Operand };

const WORD_OPS: Record<string, CompareOp> = {
  eq: 'eq',
  ne: 'ne',
  contains: 'contains',
  starts_with: 'starts_with',
  ends_with: 'ends_with',
  matches: 'matches',
  lt: 'lt',
  le: 'le',
  gt: 'gt',
  ge: 'ge',
};
const SYMBOL_OPS: Record<string, CompareOp> = { '==': 'eq', '!=': 'ne', '~': 'matches', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };
const KEYWORDS = new Set(['and', 'or', 'xor', 'not', 'in', ...Object.keys(WORD_OPS)]);
const MAX_DEPTH = 64;

export function parseExpression(src: string): Expr {
  return new Parser(lexExpression(src)).parse();
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): Expr {
    if (this.peek().kind === 'eof') this.fail('the expression is empty', this.peek());
    const e = this.or();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(`unexpected ${describe(t)}; expected "and", "or" or the end`, t);
    return e;
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private next(): Token {
    return this.tokens[this.i++]!;
  }

  private fail(message: string, t: Token): never {
    throw new WafExpressionError(WafErrorCode.EXPRESSION_SYNTAX, message, t.line, t.column);
  }

  private isWord(t: Token, ...words: string[]): boolean {
    return t.kind === 'ident' && words.includes(t.text);
  }

  private isOp(t: Token, ...ops: string[]): boolean {
    return t.kind === 'op' && ops.includes(t.text);
  }

  private or(): Expr {
    let left = this.xor();
    while (this.isWord(this.peek(), 'or') || this.isOp(this.peek(), '||')) {
      this.next();
      left = { kind: 'or', left, right: this.xor() };
    }
    return left;
  }

  private xor(): Expr {
    let left = this.and();
    while (this.isWord(this.peek(), 'xor') || this.isOp(this.peek(), '^^')) {
      this.next();
      left = { kind: 'xor', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isWord(this.peek(), 'and') || this.isOp(this.peek(), '&&')) {
      this.next();
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Expr {
    const t = this.peek();
    if (++this.depth > MAX_DEPTH) this.fail(`nested more than ${MAX_DEPTH} deep`, t);
    try {
      if (this.isWord(t, 'not') || this.isOp(t, '!')) {
        this.next();
        return { kind: 'not', expr: this.not() };
      }
      if (t.kind === '(') {
        this.next();
        const e = this.or();
        const close = this.next();
        if (close.kind !== ')') this.fail(`expected ")" to close the "(" at line ${t.line}, column ${t.column}, found ${describe(close)}`, close);
        return e;
      }
      return this.comparison();
    } finally {
      this.depth--;
    }
  }

  private operand(): Operand {
    const t = this.next();
    if (t.kind !== 'ident' || KEYWORDS.has(t.text)) this.fail(`expected a field like http.request.uri.path, found ${describe(t)}`, t);
    const at = { line: t.line, column: t.column };
    if (this.peek().kind === '(') {
      this.next();
      const arg = this.operand();
      const close = this.next();
      if (close.kind !== ')') this.fail(`expected ")" after the argument of ${t.text}(), found ${describe(close)}`, close);
      return { kind: 'call', fn: t.text, arg, at };
    }
    let key: string | null = null;
    if (this.peek().kind === '[') {
      this.next();
      const k = this.next();
      if (k.kind !== 'string') this.fail(`expected a quoted name inside [ ], found ${describe(k)}`, k);
      key = k.value;
      const close = this.next();
      if (close.kind !== ']') this.fail(`expected "]", found ${describe(close)}`, close);
    }
    return { kind: 'field', name: t.text, key, at };
  }

  private comparison(): Expr {
    const start = this.peek();
    const lhs = this.operand();
    const at = { line: start.line, column: start.column };
    const t = this.peek();
    if (this.isWord(t, 'in')) {
      this.next();
      const open = this.next();
      if (open.kind !== '{') this.fail(`expected "{" to start a set after "in", found ${describe(open)}`, open);
      const set: Literal[] = [];
      for (;;) {
        const item = this.peek();
        if (item.kind === '}') {
          this.next();
          break;
        }
        if (item.kind === ',') {
          this.next();
          continue;
        }
        if (item.kind === 'eof') this.fail('the set is not closed with "}"', item);
        set.push(this.literal());
        if (set.length > 10_000) this.fail('a set of more than 10000 items', item);
      }
      if (set.length === 0) this.fail('an empty set', open);
      return { kind: 'in', lhs, set, at };
    }
    const op = t.kind === 'ident' ? WORD_OPS[t.text] : t.kind === 'op' ? SYMBOL_OPS[t.text] : undefined;
    if (op === undefined) {
      // A field on its own is a test of a boolean field; the compiler checks that it is one.
      if (t.kind === 'eof' || t.kind === ')' || this.isWord(t, 'and', 'or', 'xor') || this.isOp(t, '&&', '||', '^^')) return { kind: 'truth', operand: lhs };
      this.fail(`expected an operator (eq, ne, contains, starts_with, ends_with, matches, in, lt, le, gt, ge), found ${describe(t)}`, t);
    }
    this.next();
    return { kind: 'compare', op, lhs, rhs: this.literal(), at };
  }

  private literal(): Literal {
    const t = this.next();
    const at = { line: t.line, column: t.column };
    switch (t.kind) {
      case 'string':
        return { kind: 'string', value: t.value, at };
      case 'number':
        return { kind: 'number', value: Number(t.text), at };
      case 'ip':
        return { kind: 'ip', value: t.text, at };
      default:
        return this.fail(`expected a value ("text", a number or an IP address), found ${describe(t)}`, t);
    }
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the expression';
    case 'string':
      return `the string ${t.text}`;
    case 'ident':
      return `"${t.text}"`;
    default:
      return `"${t.text}"`;
  }
}
