// Type-checks a parsed expression and turns it into a predicate over a request. Fields have a
// type (text, IP address, number, boolean); each operator says which types it takes, so
// "ip.src contains 1" is refused when the config is loaded, with the place it is written at.
// Text is compared as the request's bytes (a string literal is its UTF-8). Regexes ("matches")
// run on RE2 only: a custom rule cannot introduce a backtracking pattern.
import { BlockList, isIP } from 'node:net';
import { utf8Bytes } from '../bytes.js';
import { WafErrorCode, WafExpressionError } from '../errors.js';
import { compilePcre, newRegexBudget } from '../regex/compile.js';
import type { CompiledRegex } from '../regex/compile.js';
import type { RequestData } from '../request.js';
import { lowercase, uppercase, urlDecodeUni } from '../seclang/transformations.js';
import type { Expr, Literal, Operand, Position } from './parser.js';
import { parseExpression } from './parser.js';

export type ValueType = 'string' | 'ip' | 'number' | 'bool';

export type Predicate = (request: RequestData) => boolean;

export interface CompiledExpression {
  readonly source: string;
  readonly test: Predicate;
  /** The fields it reads (for `keyless waf test` to show). */
  readonly fields: readonly string[];
}

interface FieldDef {
  readonly type: ValueType;
  /** True for fields that take a ["name"] key. */
  readonly keyed: boolean;
  read(r: RequestData, key: string | null): string | number | boolean;
}

function headerOf(r: RequestData, name: string): string {
  return r.header(name) ?? '';
}

/**
 * The fields, named as in Cloudflare's rules language where one exists. As at Cloudflare's edge
 * (URL normalisation on, the default), http.request.uri.path and the URIs built on it read the
 * normalised path (normalize.ts: "/%61dmin", "//admin" and "/x/../admin" are all "/admin"); the
 * raw.* fields read the path as received. http.host is the host name without port or trailing
 * dot, the name that selected the origin.
 */
export const FIELDS: ReadonlyMap<string, FieldDef> = new Map<string, FieldDef>([
  ['http.host', { type: 'string', keyed: false, read: (r) => r.hostname }],
  ['http.request.method', { type: 'string', keyed: false, read: (r) => r.method }],
  ['http.request.uri', { type: 'string', keyed: false, read: (r) => r.normalizedUri }],
  ['http.request.uri.path', { type: 'string', keyed: false, read: (r) => r.normalizedPath }],
  ['http.request.uri.query', { type: 'string', keyed: false, read: (r) => r.query }],
  ['http.request.full_uri', { type: 'string', keyed: false, read: (r) => `https://${r.hostname}${r.normalizedUri}` }],
  ['raw.http.request.uri', { type: 'string', keyed: false, read: (r) => r.uri }],
  ['raw.http.request.uri.path', { type: 'string', keyed: false, read: (r) => r.path }],
  ['raw.http.request.full_uri', { type: 'string', keyed: false, read: (r) => `https://${r.hostname}${r.uri}` }],
  ['http.request.version', { type: 'string', keyed: false, read: (r) => r.protocol }],
  ['http.request.headers', { type: 'string', keyed: true, read: (r, k) => headerOf(r, k!) }],
  ['http.request.cookies', { type: 'string', keyed: true, read: (r, k) => r.cookies.find(([n]) => n === k)?.[1] ?? '' }],
  ['http.request.uri.args', { type: 'string', keyed: true, read: (r, k) => r.queryArgs.find(([n]) => n === k)?.[1] ?? '' }],
  ['http.user_agent', { type: 'string', keyed: false, read: (r) => headerOf(r, 'user-agent') }],
  ['http.referer', { type: 'string', keyed: false, read: (r) => headerOf(r, 'referer') }],
  ['http.cookie', { type: 'string', keyed: false, read: (r) => headerOf(r, 'cookie') }],
  ['http.x_forwarded_for', { type: 'string', keyed: false, read: (r) => headerOf(r, 'x-forwarded-for') }],
  ['ip.src', { type: 'ip', keyed: false, read: (r) => r.clientIp }],
  ['ssl.sni', { type: 'string', keyed: false, read: (r) => r.servername }],
  ['http.request.headers.names', { type: 'string', keyed: false, read: (r) => r.headers.map(([n]) => n).join(',') }],
]);

interface FunctionDef {
  readonly arg: ValueType;
  readonly result: ValueType;
  apply(v: string): string | number;
}

const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map<string, FunctionDef>([
  ['lower', { arg: 'string', result: 'string', apply: lowercase }],
  ['upper', { arg: 'string', result: 'string', apply: uppercase }],
  ['url_decode', { arg: 'string', result: 'string', apply: urlDecodeUni }],
  ['len', { arg: 'string', result: 'number', apply: (v) => v.length }],
]);

type Reader = (r: RequestData) => string | number | boolean;

function typeError(message: string, at: Position): never {
  throw new WafExpressionError(WafErrorCode.EXPRESSION_TYPE, message, at.line, at.column);
}

function compileOperand(op: Operand, fields: Set<string>): { read: Reader; type: ValueType } {
  if (op.kind === 'call') {
    const fn = FUNCTIONS.get(op.fn);
    if (!fn) typeError(`unknown function ${op.fn}(); there are ${[...FUNCTIONS.keys()].map((f) => f + '()').join(', ')}`, op.at);
    const inner = compileOperand(op.arg, fields);
    if (inner.type !== fn.arg) typeError(`${op.fn}() takes text, not ${typeName(inner.type)}`, op.at);
    const read = inner.read;
    return { read: (r) => fn.apply(read(r) as string), type: fn.result };
  }
  const def = FIELDS.get(op.name);
  if (!def) typeError(`unknown field ${op.name}${suggest(op.name)}`, op.at);
  if (def.keyed && op.key === null) typeError(`${op.name} needs a name: ${op.name}["..."]`, op.at);
  if (!def.keyed && op.key !== null) typeError(`${op.name} takes no ["..."]`, op.at);
  fields.add(op.name);
  // Header and cookie names are compared as lower-case header names are stored; cookies are case-sensitive.
  const key = op.key === null ? null : op.name === 'http.request.headers' ? op.key.toLowerCase() : utf8Bytes(op.key);
  return { read: (r) => def.read(r, key), type: def.type };
}

function suggest(name: string): string {
  const close = [...FIELDS.keys()].filter((f) => f.includes(name.split('.').pop() ?? name) || name.includes(f));
  return close.length > 0 ? ` (did you mean ${close.slice(0, 3).join(', ')}?)` : '';
}

function typeName(t: ValueType): string {
  return t === 'string' ? 'text' : t === 'ip' ? 'an IP address' : t === 'number' ? 'a number' : 'a boolean';
}

function literalType(l: Literal): ValueType {
  return l.kind;
}

function ipMatcher(items: readonly Literal[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const item of items) {
    if (item.kind !== 'ip') typeError(`an IP address or CIDR block was expected, not ${item.kind === 'string' ? `"${item.value}"` : item.value}`, item.at);
    const [addr, bits] = item.value.split('/');
    const family = isIP(addr!) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr!, family);
    else list.addSubnet(addr!, Number(bits), family);
  }
  return (ip) => {
    const f = isIP(ip);
    return f !== 0 && list.check(ip, f === 4 ? 'ipv4' : 'ipv6');
  };
}

function compileRegex(l: Literal): CompiledRegex {
  if (l.kind !== 'string') typeError('matches takes a regular expression in quotes', l.at);
  let re: CompiledRegex;
  try {
    re = compilePcre(utf8Bytes(l.value));
  } catch (err) {
    throw new WafExpressionError(WafErrorCode.EXPRESSION_SYNTAX, `bad regular expression: ${(err as Error).message}`, l.at.line, l.at.column);
  }
  if (re.engine === 'bounded-fallback') typeError('custom rules run their regexes on RE2: lookarounds and backreferences are not available', l.at);
  return re;
}

function compileNode(e: Expr, fields: Set<string>): Predicate {
  switch (e.kind) {
    case 'or': {
      const a = compileNode(e.left, fields);
      const b = compileNode(e.right, fields);
      return (r) => a(r) || b(r);
    }
    case 'and': {
      const a = compileNode(e.left, fields);
      const b = compileNode(e.right, fields);
      return (r) => a(r) && b(r);
    }
    case 'xor': {
      const a = compileNode(e.left, fields);
      const b = compileNode(e.right, fields);
      return (r) => a(r) !== b(r);
    }
    case 'not': {
      const a = compileNode(e.expr, fields);
      return (r) => !a(r);
    }
    case 'truth': {
      const { read, type } = compileOperand(e.operand, fields);
      if (type !== 'bool') typeError(`${describeOperand(e.operand)} is ${typeName(type)}, not a condition: compare it (eq, contains, in, ...)`, e.operand.at);
      return (r) => read(r) === true;
    }
    case 'in': {
      const { read, type } = compileOperand(e.lhs, fields);
      if (type === 'ip') {
        const has = ipMatcher(e.set);
        return (r) => has(read(r) as string);
      }
      for (const item of e.set) {
        if (literalType(item) !== type) typeError(`${describeOperand(e.lhs)} is ${typeName(type)}; the set holds ${typeName(literalType(item))}`, item.at);
      }
      const values = new Set(e.set.map((l) => (l.kind === 'string' ? utf8Bytes(l.value) : l.value)));
      return (r) => values.has(read(r) as string | number);
    }
    case 'compare':
      return compileCompare(e, fields);
  }
}

function describeOperand(op: Operand): string {
  return op.kind === 'call' ? `${op.fn}(${describeOperand(op.arg)})` : op.key === null ? op.name : `${op.name}["${op.key}"]`;
}

function compileCompare(e: Extract<Expr, { kind: 'compare' }>, fields: Set<string>): Predicate {
  const { read, type } = compileOperand(e.lhs, fields);
  const rhs = e.rhs;
  const name = describeOperand(e.lhs);
  switch (type) {
    case 'string': {
      if (e.op === 'matches') {
        const re = compileRegex(rhs);
        return (r) => re.test(read(r) as string, newRegexBudget());
      }
      if (rhs.kind !== 'string') typeError(`${name} is text: compare it with "quoted text"`, rhs.at);
      const v = utf8Bytes(rhs.value);
      switch (e.op) {
        case 'eq':
          return (r) => read(r) === v;
        case 'ne':
          return (r) => read(r) !== v;
        case 'contains':
          return (r) => (read(r) as string).includes(v);
        case 'starts_with':
          return (r) => (read(r) as string).startsWith(v);
        case 'ends_with':
          return (r) => (read(r) as string).endsWith(v);
        default:
          return typeError(`${e.op} compares numbers; ${name} is text (use len(${name}) for its length)`, e.at);
      }
    }
    case 'ip': {
      if (e.op !== 'eq' && e.op !== 'ne') typeError(`${name} is an IP address: use eq, ne or in { ... }`, e.at);
      const has = ipMatcher([rhs]);
      return e.op === 'eq' ? (r) => has(read(r) as string) : (r) => !has(read(r) as string);
    }
    case 'number': {
      if (rhs.kind !== 'number') typeError(`${name} is a number: compare it with a number`, rhs.at);
      const v = rhs.value;
      const cmp: Record<string, (a: number) => boolean> = {
        eq: (a) => a === v,
        ne: (a) => a !== v,
        lt: (a) => a < v,
        le: (a) => a <= v,
        gt: (a) => a > v,
        ge: (a) => a >= v,
      };
      const f = cmp[e.op];
      if (!f) typeError(`${e.op} does not apply to numbers`, e.at);
      return (r) => f(read(r) as number);
    }
    case 'bool':
      return typeError(`${name} is a boolean: use it on its own, or with not`, e.at);
  }
}

/** Parses and compiles; throws WafExpressionError (code WAF_ERR_EXPRESSION_SYNTAX or _TYPE) with line and column. */
export function compileExpression(source: string): CompiledExpression {
  const tree = parseExpression(source);
  const fields = new Set<string>();
  const test = compileNode(tree, fields);
  return { source, test, fields: [...fields] };
}
