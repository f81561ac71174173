// SecLang operators (Reference Manual v2.x, "Operators"), compiled once per rule. An operator
// answers "does this (transformed) value match?", with the captures @rx and friends make
// available to the capture action. Negation ("!@rx") is applied by the engine, not here.
import { BlockList, isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { detectSqli } from '../detectors/detect-sqli.js';
import { detectXss } from '../detectors/detect-xss.js';
import { compilePcre } from '../regex/compile.js';
import type { CompiledRegex, FallbackLimits, RegexBudget } from '../regex/compile.js';
import type { Macro } from './macros.js';
import { compileMacro } from './macros.js';
import { parsePhraseFile, PhraseMatcher } from './phrase-matcher.js';

export interface OperatorContext {
  readonly budget: RegexBudget;
  expand(macro: Macro): string;
}

/** A match: captures[0] is the matched text (TX:0), the rest are groups (TX:1..9). */
export interface OperatorMatch {
  readonly captures: readonly (string | undefined)[];
}

export interface Operator {
  /** Lower-case name without "@". */
  readonly name: string;
  /** For operators whose answer depends on the input alone: where per-value caches file it; -1 otherwise. */
  readonly id: number;
  readonly negated: boolean;
  readonly param: string;
  /** The regex engine decision, for the load report (only @rx and regex-based operators). */
  readonly regex?: CompiledRegex;
  run(input: string, ctx: OperatorContext): OperatorMatch | null;
  /** Like run, when the captures are not needed (cheaper for @rx). */
  test?(input: string, ctx: OperatorContext): boolean;
}

export class OperatorError extends Error {
  constructor(
    message: string,
    /** 'unsupported': a known operator we do not implement (the rule is disabled, not an error in the file). */
    readonly kind: 'invalid' | 'unsupported',
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}

export interface OperatorCompileOptions {
  /** Directory of the file the rule is in: @pmFromFile and @ipMatchFromFile paths are relative to it. */
  readonly baseDir: string;
  readonly fallbackLimits: FallbackLimits;
  /** Cache of data files across rules (CRS reads some files from several rules). */
  readonly fileCache: Map<string, string>;
}

const MATCH_ALL: OperatorMatch = { captures: [] };

/** Operators ModSecurity has that need outside services or files we do not inspect. */
const UNSUPPORTED = new Set(['geolookup', 'rbl', 'gsblookup', 'inspectfile', 'fuzzyhash', 'rsub', 'verifycc', 'verifycpf', 'verifyssn', 'verifysvnr']);

let nextOperatorId = 0;

export function compileOperator(name: string, negated: boolean, param: string, options: OperatorCompileOptions): Operator {
  const op = compileBare(name, negated, param, options);
  // The engine remembers, per value, the answers of operators that depend on the input alone
  // (see ValueMemo): those get an id to file them under.
  const pure = PURE.has(op.name) && compileMacro(param).constant;
  return { ...op, id: pure ? nextOperatorId++ : -1 };
}

/** Operators whose answer is a function of the input (their parameter being constant). */
const PURE = new Set(['rx', 'detectsqli', 'detectxss', 'validatebyterange', 'validateurlencoding', 'validateutf8encoding', 'pm', 'pmf', 'pmfromfile', 'streq', 'contains', 'containsword', 'beginswith', 'endswith', 'within', 'eq', 'ne', 'gt', 'ge', 'lt', 'le']);

function compileBare(name: string, negated: boolean, param: string, options: OperatorCompileOptions): Omit<Operator, 'id'> {
  const lname = name.toLowerCase();
  const base = { name: lname, negated, param };
  if (UNSUPPORTED.has(lname)) throw new OperatorError(`operator @${name} is not supported`, 'unsupported');
  const macro = compileMacro(param);
  const text = (ctx: OperatorContext): string => (macro.constant ? param : ctx.expand(macro));
  switch (lname) {
    case 'rx': {
      if (!macro.constant) {
        // A pattern built at run time: compiled per distinct expansion, a few kept.
        const cache = new Map<string, CompiledRegex>();
        return {
          ...base,
          run(input, ctx) {
            const source = ctx.expand(macro);
            let re = cache.get(source);
            if (!re) {
              try {
                re = compilePcre(source, { limits: options.fallbackLimits });
              } catch {
                return null;
              }
              if (cache.size > 64) cache.clear();
              cache.set(source, re);
            }
            const m = re.exec(input, ctx.budget);
            return m ? { captures: m } : null;
          },
        };
      }
      const re = compilePcre(param, { limits: options.fallbackLimits });
      return {
        ...base,
        regex: re,
        run(input, ctx) {
          const m = re.exec(input, ctx.budget);
          return m ? { captures: m } : null;
        },
        test: (input, ctx) => re.test(input, ctx.budget),
      };
    }
    case 'pm':
    case 'pmf':
    case 'pmfromfile': {
      const phrases = lname === 'pm' ? param.split(/\s+/).filter((p) => p !== '') : readDataFiles(param, options).flatMap(parsePhraseFile);
      if (phrases.length === 0) throw new OperatorError(`@${name} has no phrases`, 'invalid');
      // As one case-insensitive RE2 alternation of literals: RE2 turns it into a DFA that reads
      // each byte once, faster from JavaScript than walking an Aho-Corasick automaton here, and
      // it can join the rule sets of regex-sets.ts. The automaton stays as the fallback.
      let re: CompiledRegex | null = null;
      try {
        re = compilePcre(phrases.map(quotePcre).join('|'), { caseInsensitive: true, limits: options.fallbackLimits });
        if (re.engine !== 're2') re = null;
      } catch {
        re = null;
      }
      if (re !== null) {
        const phraseRe = re;
        return {
          ...base,
          regex: phraseRe,
          run(input, ctx) {
            const m = phraseRe.exec(input, ctx.budget);
            return m === null ? null : { captures: [m[0]!] };
          },
          test: (input, ctx) => phraseRe.test(input, ctx.budget),
        };
      }
      const matcher = new PhraseMatcher(phrases);
      return {
        ...base,
        run(input) {
          const found = matcher.find(input);
          return found === null ? null : { captures: [found] };
        },
      };
    }
    case 'streq':
      return { ...base, run: (input, ctx) => (input === text(ctx) ? { captures: [input] } : null) };
    case 'contains':
    case 'strmatch':
      return {
        ...base,
        run(input, ctx) {
          const needle = text(ctx);
          return input.includes(needle) ? { captures: [needle] } : null;
        },
      };
    case 'containsword':
      return {
        ...base,
        run(input, ctx) {
          const word = text(ctx);
          return containsWord(input, word) ? { captures: [word] } : null;
        },
      };
    case 'beginswith':
      return {
        ...base,
        run(input, ctx) {
          const prefix = text(ctx);
          return input.startsWith(prefix) ? { captures: [prefix] } : null;
        },
      };
    case 'endswith':
      return {
        ...base,
        run(input, ctx) {
          const suffix = text(ctx);
          return input.endsWith(suffix) ? { captures: [suffix] } : null;
        },
      };
    case 'within':
      // The input is looked for in the parameter (the reverse of @contains).
      return { ...base, run: (input, ctx) => (text(ctx).includes(input) ? { captures: [input] } : null) };
    case 'eq':
    case 'ne':
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      const compare = COMPARISONS[lname]!;
      // A constant parameter (CRS's "@lt 2", "@eq 0") is read as a number once.
      const constant = macro.constant ? atoi(param) : null;
      if (constant !== null) return { ...base, run: (input) => (compare(atoi(input), constant) ? MATCH_ALL : null) };
      return { ...base, run: (input, ctx) => (compare(atoi(input), atoi(text(ctx))) ? MATCH_ALL : null) };
    }
    case 'ipmatch':
    case 'ipmatchf':
    case 'ipmatchfromfile': {
      const entries = lname === 'ipmatch' ? param.split(/[\s,]+/) : readDataFiles(param, options).flatMap(parsePhraseFile);
      const list = ipList(entries.filter((e) => e !== ''));
      // BlockList.check builds a SocketAddress per call; the same client addresses repeat.
      const memo = new Map<string, boolean>();
      return {
        ...base,
        run(input) {
          let hit = memo.get(input);
          if (hit === undefined) {
            hit = ipListHas(list, input);
            if (memo.size >= 4096) memo.clear();
            memo.set(input, hit);
          }
          return hit ? { captures: [input] } : null;
        },
      };
    }
    case 'validatebyterange': {
      const allowed = byteRanges(param);
      return {
        ...base,
        run(input) {
          for (let i = 0; i < input.length; i++) {
            const c = input.charCodeAt(i);
            if (c > 0xff || !allowed[c]) return { captures: [input[i]!] };
          }
          return null;
        },
      };
    }
    case 'validateurlencoding':
      return { ...base, run: (input) => (invalidUrlEncoding(input) ? MATCH_ALL : null) };
    case 'validateutf8encoding':
      return { ...base, run: (input) => (invalidUtf8(input) ? MATCH_ALL : null) };
    case 'detectsqli':
      return {
        ...base,
        run(input) {
          const r = detectSqli(input);
          return r === null ? null : { captures: [r.fingerprint] };
        },
      };
    case 'detectxss':
      return {
        ...base,
        run(input) {
          const r = detectXss(input);
          return r === null ? null : { captures: [r.reason] };
        },
      };
    case 'unconditionalmatch':
      return { ...base, run: () => MATCH_ALL };
    case 'nomatch':
      return { ...base, run: () => null };
    default:
      throw new OperatorError(`unknown operator @${name}`, 'invalid');
  }
}

/** A phrase as a PCRE pattern matching exactly it. */
function quotePcre(phrase: string): string {
  return phrase.replace(/[\\^$.|?*+()[\]{}\/-]/g, (c) => '\\' + c);
}

const COMPARISONS: Record<string, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
};

/** C's atoi: optional blanks and sign, then digits; anything else stops it; no digits is 0. */
export function atoi(s: string): number {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 0x20 || (s.charCodeAt(i) >= 0x09 && s.charCodeAt(i) <= 0x0d))) i++;
  let sign = 1;
  if (s[i] === '-' || s[i] === '+') {
    if (s[i] === '-') sign = -1;
    i++;
  }
  let n = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    // ModSecurity's int wraps; a clamp keeps comparisons sane without emulating overflow.
    n = Math.min(n * 10 + (c - 0x30), 2147483648);
  }
  return Math.max(-2147483648, Math.min(2147483647, sign * n));
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}

function containsWord(input: string, word: string): boolean {
  if (word === '') return true;
  for (let at = input.indexOf(word); at >= 0; at = input.indexOf(word, at + 1)) {
    const before = at === 0 ? -1 : input.charCodeAt(at - 1);
    const after = at + word.length >= input.length ? -1 : input.charCodeAt(at + word.length);
    if ((before < 0 || !isWordChar(before)) && (after < 0 || !isWordChar(after))) return true;
  }
  return false;
}

function readDataFiles(param: string, options: OperatorCompileOptions): string[] {
  const files = param.split(/\s+/).filter((f) => f !== '');
  if (files.length === 0) throw new OperatorError('no data file named', 'invalid');
  return files.map((f) => {
    if (/^https?:\/\//i.test(f)) throw new OperatorError(`data files from URLs (${f}) are not supported`, 'unsupported');
    const file = path.isAbsolute(f) ? f : path.resolve(options.baseDir, f);
    let text = options.fileCache.get(file);
    if (text === undefined) {
      try {
        text = readFileSync(file, 'latin1');
      } catch (err) {
        throw new OperatorError(`cannot read data file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'invalid');
      }
      options.fileCache.set(file, text);
    }
    return text;
  });
}

interface IpList {
  readonly list: BlockList;
}

function ipList(entries: readonly string[]): IpList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, bits] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family === 0) throw new OperatorError(`"${entry}" is not an IP address or CIDR block`, 'invalid');
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr!, type);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new OperatorError(`bad prefix length in "${entry}"`, 'invalid');
      list.addSubnet(addr!, prefix, type);
    }
  }
  return { list };
}

function ipListHas(list: IpList, input: string): boolean {
  const family = isIP(input);
  if (family === 0) return false;
  return list.list.check(input, family === 4 ? 'ipv4' : 'ipv6');
}

/** "1-255", "9,10,13,32-126": the bytes allowed. */
function byteRanges(param: string): boolean[] {
  const allowed = new Array<boolean>(256).fill(false);
  for (const part of param.split(/[\s,]+/).filter((p) => p !== '')) {
    const m = /^(\d{1,3})(?:-(\d{1,3}))?$/.exec(part);
    if (!m) throw new OperatorError(`bad byte range "${part}"`, 'invalid');
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (from > 255 || to > 255 || to < from) throw new OperatorError(`bad byte range "${part}"`, 'invalid');
    for (let b = from; b <= to; b++) allowed[b] = true;
  }
  return allowed;
}

function isHexCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** "%" not followed by two hex digits (Reference Manual: @validateUrlEncoding). */
function invalidUrlEncoding(s: string): boolean {
  for (let i = s.indexOf('%'); i >= 0; i = s.indexOf('%', i + 1)) {
    if (i + 2 >= s.length || !isHexCode(s.charCodeAt(i + 1)) || !isHexCode(s.charCodeAt(i + 2))) return true;
  }
  return false;
}

/** Not well-formed UTF-8 (RFC 3629): truncated or invalid sequences, overlong forms, surrogates, > U+10FFFF. */
export function invalidUtf8(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c > 0xff) return true;
    let need: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
    } else return true;
    if (i + need >= s.length) return true;
    for (let k = 1; k <= need; k++) {
      const d = s.charCodeAt(i + k);
      if ((d & 0xc0) !== 0x80) return true;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((need === 2 && cp < 0x800) || (need === 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return true;
    i += need;
  }
  return false;
}
