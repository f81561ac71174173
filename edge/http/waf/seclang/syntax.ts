// The three mini-languages inside a SecRule: the variable list ("ARGS|!ARGS:foo|&TX:x"), the
// operator ("!@rx pattern", or a bare pattern meaning @rx) and the action list
// ("id:1,phase:2,t:none,msg:'a, b'"). Pure string parsing; meaning is given in rule-compiler.ts.
// Reference: ModSecurity Reference Manual v2.x, "Variables", "Operators", "Actions".

export interface VariableSyntax {
  /** Upper-case collection or variable name, e.g. ARGS, REQUEST_HEADERS, TX. */
  readonly name: string;
  /** "ARGS:foo" -> { kind: 'key', key: 'foo' }; "ARGS:/^x/" -> regex; "XML:/*" -> xpath. */
  readonly selector: SelectorSyntax | null;
  /** "&ARGS": the number of values instead of the values. */
  readonly count: boolean;
  /** "!ARGS:foo": remove these values from the rule's targets. */
  readonly exclude: boolean;
  /** As written, for reports. */
  readonly text: string;
}

export type SelectorSyntax =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'regex'; readonly source: string }
  | { readonly kind: 'xpath'; readonly path: string };

export interface OperatorSyntax {
  /** Without "@", as written (case is normalized by the compiler). */
  readonly name: string;
  readonly negated: boolean;
  readonly param: string;
}

export interface ActionSyntax {
  /** Lower-case. */
  readonly name: string;
  readonly value: string | null;
}

export class SyntaxProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyntaxProblem';
  }
}

/** Collections whose selector is an XPath expression, not a key. */
const XPATH_COLLECTIONS = new Set(['XML']);

export function parseVariables(text: string): VariableSyntax[] {
  const out: VariableSyntax[] = [];
  let pos = 0;
  const src = text.trim();
  if (src === '') throw new SyntaxProblem('empty variable list');
  while (pos < src.length) {
    const start = pos;
    let exclude = false;
    let count = false;
    if (src[pos] === '!') {
      exclude = true;
      pos++;
    }
    if (src[pos] === '&') {
      count = true;
      pos++;
    }
    const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos));
    if (!nameMatch) throw new SyntaxProblem(`expected a variable name at "${src.slice(start, start + 20)}"`);
    const name = nameMatch[0].toUpperCase();
    pos += nameMatch[0].length;
    let selector: SelectorSyntax | null = null;
    if (src[pos] === ':' || src[pos] === '.') {
      pos++;
      if (XPATH_COLLECTIONS.has(name)) {
        const end = src.indexOf('|', pos);
        const path = src.slice(pos, end < 0 ? src.length : end);
        pos += path.length;
        selector = { kind: 'xpath', path: unquote(path) };
      } else if (src[pos] === "'") {
        const end = findClosing(src, pos + 1, "'");
        if (end < 0) throw new SyntaxProblem(`unterminated quoted selector in "${src.slice(start)}"`);
        selector = keyOrRegex(src.slice(pos + 1, end).replace(/\\'/g, "'"));
        pos = end + 1;
      } else if (src[pos] === '/') {
        const end = findClosing(src, pos + 1, '/');
        if (end < 0) throw new SyntaxProblem(`unterminated regex selector in "${src.slice(start)}"`);
        selector = { kind: 'regex', source: src.slice(pos + 1, end) };
        pos = end + 1;
      } else {
        const end = src.indexOf('|', pos);
        const key = src.slice(pos, end < 0 ? src.length : end);
        pos += key.length;
        selector = { kind: 'key', key };
      }
    }
    if (count && exclude) throw new SyntaxProblem(`"!&" makes no sense in "${src.slice(start, pos)}"`);
    out.push({ name, selector, count, exclude, text: src.slice(start, pos) });
    if (pos < src.length) {
      if (src[pos] !== '|') throw new SyntaxProblem(`expected "|" after "${src.slice(start, pos)}"`);
      pos++;
      if (pos >= src.length) throw new SyntaxProblem('variable list ends with "|"');
    }
  }
  return out;
}

function keyOrRegex(text: string): SelectorSyntax {
  if (text.length >= 2 && text.startsWith('/') && text.endsWith('/')) return { kind: 'regex', source: text.slice(1, -1) };
  return { kind: 'key', key: text };
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith("'") && text.endsWith("'") ? text.slice(1, -1) : text;
}

/** Index of the next unescaped `close` from `from`, or -1. */
function findClosing(src: string, from: number, close: string): number {
  for (let i = from; i < src.length; i++) {
    if (src[i] === '\\') {
      i++;
      continue;
    }
    if (src[i] === close) return i;
  }
  return -1;
}

export function parseOperator(text: string): OperatorSyntax {
  let src = text;
  let negated = false;
  // "!" may be preceded by blanks; a bare pattern may start with blanks that belong to it.
  const lead = /^\s*!/.exec(src);
  if (lead) {
    negated = true;
    src = src.slice(lead[0].length);
  }
  const op = /^\s*@([A-Za-z0-9_]+)/.exec(src);
  if (!op) return { name: 'rx', negated, param: src };
  let param = src.slice(op[0].length);
  // One blank separates the name from the parameter; more are trimmed (they are never meaningful
  // for the operators that take words, and @rx patterns in CRS never start with a blank).
  param = param.replace(/^\s+/, '');
  return { name: op[1]!, negated, param };
}

export function parseActions(text: string): ActionSyntax[] {
  const out: ActionSyntax[] = [];
  let pos = 0;
  const src = text;
  while (pos < src.length) {
    while (pos < src.length && /[\s,]/.test(src[pos]!)) pos++;
    if (pos >= src.length) break;
    const nameMatch = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos));
    if (!nameMatch) throw new SyntaxProblem(`expected an action name at "${src.slice(pos, pos + 20)}"`);
    const name = nameMatch[0].toLowerCase();
    pos += nameMatch[0].length;
    while (pos < src.length && src[pos] === ' ') pos++;
    let value: string | null = null;
    if (src[pos] === ':') {
      pos++;
      while (pos < src.length && /\s/.test(src[pos]!)) pos++;
      if (src[pos] === "'") {
        let v = '';
        pos++;
        for (;;) {
          if (pos >= src.length) throw new SyntaxProblem(`unterminated quoted value of action "${name}"`);
          const c = src[pos]!;
          if (c === '\\' && src[pos + 1] === "'") {
            v += "'";
            pos += 2;
            continue;
          }
          if (c === "'") {
            pos++;
            break;
          }
          v += c;
          pos++;
        }
        value = v;
      } else {
        const end = src.indexOf(',', pos);
        value = src.slice(pos, end < 0 ? src.length : end).trim();
        pos = end < 0 ? src.length : end;
      }
    }
    out.push({ name, value });
    while (pos < src.length && /\s/.test(src[pos]!)) pos++;
    if (pos < src.length && src[pos] !== ',') throw new SyntaxProblem(`expected "," after action "${name}" at "${src.slice(pos, pos + 20)}"`);
  }
  return out;
}
