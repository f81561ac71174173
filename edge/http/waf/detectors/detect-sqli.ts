// @detectSQLi: does this input, pasted into a SQL query, change the query's structure?
//
// Our own design (not a port of libinjection): the input is tokenized (sql-tokenizer.ts) in the
// three places an application usually pastes a value — as a number or name, inside '...', inside
// "..." — and the token stream is checked against a short list of *grammar shapes* that only
// injections produce: a string closed and followed by a boolean operator, a UNION SELECT, a
// stacked statement, a closed string followed by a comment that cuts off the rest of the query,
// a call to a function that only attacks use (sleep, benchmark, load_file, ...). Shapes anchor at
// the start of the stream, where the value meets the query, which is what keeps ordinary prose
// ("rock 'n' roll", "select one or more") from matching.
//
// The answer carries a short fingerprint (token types, e.g. "sLnCn") for logs and TX:0.
//
// Coverage: the shapes that are an injection wherever they appear (UNION SELECT, a stacked
// statement, a call to an attack-only function, WAITFOR DELAY, INTO OUTFILE) are looked for in
// every token of the whole value, streamed in linear time and constant memory, so padding before
// an injection — 20 KiB of text, or a thousand harmless words — does not hide it. The shapes
// anchored at the start are read on the first 48 tokens, where the value meets the query; in a
// string context padding is part of the first token, the string the injection closes.
import { MAX_BODY_LIMIT } from '../limits.js';
import { scanSql, tokenizeSql } from './sql-tokenizer.js';
import type { SqlToken } from './sql-tokenizer.js';

export interface SqliResult {
  readonly fingerprint: string;
  /** Which shape matched, for the event log. */
  readonly reason: string;
  readonly context: 'none' | "'" | '"';
}

/**
 * Inputs are examined up to this many bytes: 64 MiB, the largest waf.body.limit, so every value
 * the WAF can see is read to its end (the work is linear in the length).
 */
const MAX_INPUT = MAX_BODY_LIMIT;
/** The start-anchored shapes look at this many tokens. */
const HEAD_TOKENS = 48;

/** Functions no ordinary value calls: time delays, file access, error-based extraction, OS commands. */
const ATTACK_FUNCTIONS = new Set([
  'sleep', 'benchmark', 'pg_sleep', 'load_file', 'extractvalue', 'updatexml', 'xp_cmdshell', 'sys_eval', 'sys_exec',
  'name_const', 'dbms_pipe', 'receive_message', 'utl_inaddr', 'get_host_address', 'utl_http', 'dbms_lock',
  'randomblob', 'geometrycollection', 'polygon', 'multipoint', 'linestring', 'multilinestring', 'multipolygon',
  'exp', 'gtid_subset', 'json_keys', 'procedure_analyse', 'sp_executesql', 'sp_oacreate', 'openrowset', 'opendatasource',
  'pg_read_file', 'pg_ls_dir', 'lo_import', 'lo_export', 'version', 'database', 'user', 'current_user', 'system_user',
  'schema', 'ascii', 'substring', 'substr', 'mid', 'ord', 'hex', 'unhex', 'concat', 'concat_ws', 'group_concat', 'char',
  'chr', 'cast', 'convert', 'if', 'iif', 'ifnull', 'nullif', 'coalesce', 'count', 'length', 'len', 'md5', 'sha1', 'elt',
  'make_set', 'make_ts', 'waitfor', 'row', 'select',
]);
/** Of those, the ones that are an attack even with nothing around them. */
const ALWAYS_ATTACK_FUNCTIONS = new Set([
  'sleep', 'benchmark', 'pg_sleep', 'load_file', 'extractvalue', 'updatexml', 'xp_cmdshell', 'sys_eval', 'sys_exec',
  'dbms_pipe', 'utl_inaddr', 'utl_http', 'dbms_lock', 'sp_executesql', 'sp_oacreate', 'openrowset', 'opendatasource',
  'pg_read_file', 'pg_ls_dir', 'lo_import', 'lo_export', 'name_const', 'gtid_subset', 'procedure_analyse',
]);

/** What may follow ";" to start a second statement, with the word that must come next (or null: anything). */
const STACKED: ReadonlyMap<string, readonly string[] | null> = new Map<string, readonly string[] | null>([
  ['select', null],
  ['insert', ['into']],
  ['update', null],
  ['delete', ['from']],
  ['drop', ['table', 'database', 'schema', 'procedure', 'function', 'view', 'user', 'index', 'trigger']],
  ['create', ['table', 'database', 'schema', 'procedure', 'function', 'view', 'user', 'index', 'trigger', 'or']],
  ['alter', ['table', 'database', 'user', 'login', 'schema']],
  ['truncate', ['table']],
  ['exec', null],
  ['execute', null],
  ['declare', null],
  ['shutdown', null],
  ['waitfor', ['delay', 'time']],
  ['grant', null],
  ['set', null],
  ['call', null],
  ['begin', null],
  ['load', null],
  ['handler', null],
  ['use', null],
  ['show', null],
]);

function isValue(t: SqlToken | undefined): boolean {
  return t !== undefined && (t.type === 's' || t.type === 'n' || t.type === 'b' || t.type === 'v' || (t.type === 'k' && (t.text === 'null' || t.text === 'true' || t.text === 'false')));
}

function isEnd(t: SqlToken | undefined): boolean {
  return t === undefined || t.type === 'c' || t.type === ';';
}

function fingerprintOf(tokens: readonly SqlToken[]): string {
  return tokens
    .slice(0, 8)
    .map((t) => (t.type === 'k' ? (t.text === 'union' ? 'U' : t.text === 'select' ? 'E' : 'k') : t.type))
    .join('');
}

export function detectSqli(raw: string): SqliResult | null {
  if (raw.length < 2) return null;
  const input = raw.length > MAX_INPUT ? raw.slice(0, MAX_INPUT) : raw;
  // Cheap exit: every shape needs one of these characters or a keyword-ish letter run.
  if (!/[\s'"();=<>&|#\-/*@!^]/.test(input) && !/union|select|sleep|benchmark/i.test(input)) return null;
  const contexts: ('none' | "'" | '"')[] = ['none'];
  if (input.includes("'")) contexts.push("'");
  if (input.includes('"')) contexts.push('"');
  for (const context of contexts) {
    const head = tokenizeSql(input, context, HEAD_TOKENS);
    const reason = anywhereShapes(input, context, head) ?? startShapes(head, context);
    if (reason !== null) return { fingerprint: fingerprintOf(head), reason, context };
  }
  return null;
}

/** The anywhere-shapes over every token of `input` (`head`: its first HEAD_TOKENS tokens). */
function anywhereShapes(input: string, context: 'none' | "'" | '"', head: readonly SqlToken[]): string | null {
  const shapes = new AnywhereShapes();
  if (head.length < HEAD_TOKENS) {
    // The head is the whole value: no need to read it again.
    for (const t of head) if (shapes.push(t)) return shapes.found;
    return shapes.finish();
  }
  scanSql(input, context, (t) => shapes.push(t));
  return shapes.found ?? shapes.finish();
}

/**
 * Shapes that are an injection wherever they are, fed one token at a time: it keeps the last four
 * tokens (a shape looks at most three tokens ahead) and whether it is past a UNION.
 */
class AnywhereShapes {
  found: string | null = null;
  /** w[0] is the token being looked at, w[1..3] the ones after it. */
  private readonly w: SqlToken[] = [];
  /** Index of w[0] in the value's tokens. */
  private index = 0;
  /** Past UNION, and only ALL, DISTINCT, "(" or comments since. */
  private afterUnion = false;

  /** Returns true once a shape matched (then `found` says which). */
  push(tok: SqlToken): boolean {
    // UNION [ALL|DISTINCT] [(] [comments] SELECT
    if (this.afterUnion) {
      if ((tok.type === 'k' || tok.type === 'f') && tok.text === 'select') {
        this.found = 'union select';
        return true;
      }
      if (!(tok.type === 'c' || tok.type === '(' || (tok.type === 'k' && (tok.text === 'all' || tok.text === 'distinct')))) this.afterUnion = false;
    }
    if (tok.type === 'k' && tok.text === 'union') this.afterUnion = true;
    this.w.push(tok);
    if (this.w.length < 4) return false;
    return this.step();
  }

  /** At the end of the value: the last tokens, with nothing after them. */
  finish(): string | null {
    while (this.found === null && this.w.length > 0) this.step();
    return this.found;
  }

  private step(): boolean {
    const reason = positionShape(this.w, this.index);
    this.w.shift();
    this.index++;
    if (reason === null) return false;
    this.found = reason;
    return true;
  }
}

/** The anywhere-shapes that start at t[0] (t[1..3] follow it; t[0] is token number `index`). */
function positionShape(t: readonly SqlToken[], index: number): string | null {
  const tok = t[0]!;
  // Stacked statement: ; <statement keyword> <what it needs>
  if (tok.type === ';' && index > 0) {
    const next = t[1];
    if (next && (next.type === 'k' || next.type === 'b' || next.type === 'f')) {
      const needs = STACKED.get(next.text);
      if (needs !== undefined) {
        const after = t[2];
        if (needs === null ? after !== undefined && after.type !== ';' || next.text === 'shutdown' : after !== undefined && needs.includes(after.text)) {
          if (next.text !== 'set' || (after?.type === 'v' || after?.type === 'b') && t[3]?.type === 'C') return `stacked ${next.text}`;
        }
      }
    }
  }
  // Functions only attacks call, wherever they are, when called with something.
  // "sleep(5)", "benchmark(1e6,md5(1))" — but not prose like "sleep(8 hours)".
  if (tok.type === 'f' && ALWAYS_ATTACK_FUNCTIONS.has(tok.text) && t[1]?.type === '(') {
    const arg = t[2];
    const next = t[3];
    if (arg?.type === ')' || ((isValue(arg) || arg?.type === 'f' || arg?.type === '(') && (next === undefined || next.type === ')' || next.type === ',' || next.type === 'A' || next.type === '(' || next.type === 'C'))) {
      return `call ${tok.text}()`;
    }
  }
  if (tok.type === 'k' && tok.text === 'waitfor' && t[1]?.type === 'k' && (t[1]!.text === 'delay' || t[1]!.text === 'time') && t[2]?.type === 's') {
    return 'waitfor delay';
  }
  if (tok.type === 'k' && tok.text === 'into' && t[1]?.type === 'k' && (t[1]!.text === 'outfile' || t[1]!.text === 'dumpfile')) return 'into outfile';
  return null;
}

function startShapes(t: readonly SqlToken[], context: 'none' | "'" | '"'): string | null {
  // Shapes at the start, where the value meets the query.
  let p = 0;
  if (context !== 'none') {
    // The input must actually close the string it starts in.
    if (t[0]?.type !== 's' || !t[0].closed) return null;
    p = 1;
    // A closed string followed by a comment: the rest of the query is cut off ("admin'--").
    if (t[1]?.type === 'c' && t.length === 2) return 'string closed, then comment';
    // A closed string followed by ")" then boolean: "') or ('1'='1"
    while (t[p]?.type === ')') p++;
  } else {
    // As code: the value must start like a value (a number, a name, a variable, a parenthesis).
    const first = t[0];
    if (!first) return null;
    if (first.type === 'A' && first.text === '-' && t[1]?.type === 'n') p = 2;
    else if (isValue(first)) p = 1;
    else if (first.type === ')') {
      while (t[p]?.type === ')') p++;
    } else return null;
    while (t[p]?.type === ')') p++;
  }
  const op = t[p];
  if (!op) return null;

  // Boolean injection: <closed value> AND|OR <expression>
  if (op.type === 'L') {
    const q = p + 1;
    let r = q;
    let negations = 0;
    while (t[r]?.type === 'N' || t[r]?.type === '(') {
      if (t[r]!.type === 'N') negations++;
      r++;
    }
    const a = t[r];
    const cmp = t[r + 1];
    if (a?.type === 'f' && ATTACK_FUNCTIONS.has(a.text)) return `boolean ${op.text} ${a.text}()`;
    if (a?.type === 'k' && (a.text === 'select' || a.text === 'exists')) return `boolean ${op.text} subquery`;
    if (isValue(a)) {
      // "' or 'a'='a", "1 or 1=1", "' or x like '%", "' and 1 in (select ..."
      if (cmp?.type === 'C') {
        const b = t[r + 2];
        if (isValue(b) || b?.type === '(' || b?.type === 'f' || b?.type === 'A' || (b?.type === 'k' && b.text === 'select')) {
          // In code context, "1 or 1=1" needs a number or a name on the left ("size = 1 or 2" is not code).
          if (context !== 'none' || a!.type === 'n' || a!.type === 's' || a!.type === 'v' || (a!.type === 'b' && t[0]!.type === 'n')) return `boolean ${op.text} comparison`;
        }
      }
      // "' or 1--", "' or true#", "1 or 1 --": a bare truth value then the end of the query
      if (isEnd(cmp) && (context !== 'none' || a!.type === 'n') && (a!.type === 'n' || a!.type === 's' || (a!.type === 'k' && (a!.text === 'true' || a!.text === 'false' || a!.text === 'null')))) {
        if (cmp !== undefined || context !== 'none') return `boolean ${op.text} ${a!.type === 'n' ? 'number' : 'literal'}`;
      }
      if (cmp?.type === 'A' && isValue(t[r + 2]) && t[r + 3]?.type === 'C') return `boolean ${op.text} arithmetic comparison`;
    }
    if (negations > 0 && a?.type === 'n') return `boolean ${op.text} not`;
    return null;
  }

  // "' = '' or ''='", "'='": a closed string compared with something, then a boolean or the end
  if (op.type === 'C' && context !== 'none') {
    const b = t[p + 1];
    const after = t[p + 2];
    if ((isValue(b) || b?.type === '(') && (after?.type === 'L' || isEnd(after))) {
      if (after?.type === 'L' || after?.type === 'c') return 'string closed, comparison';
      // "'='": the application's own closing quote completes '' = ''
      if (after === undefined && b?.type === 's' && !b.closed) return 'string closed, comparison';
    }
    if (b?.type === 'f' && ATTACK_FUNCTIONS.has(b.text)) return `comparison with ${b.text}()`;
    return null;
  }

  // "' order by 3--", "1 group by 1 having 1=1", "' having 1=1--"
  if (op.type === 'k' && (op.text === 'order' || op.text === 'group') && t[p + 1]?.text === 'by' && (t[p + 2]?.type === 'n' || t[p + 2]?.type === 'b')) {
    if (context !== 'none' || t[p + 2]!.type === 'n') {
      const tail = t.slice(p + 3);
      if (tail.some((x) => x.type === 'c' || (x.type === 'k' && x.text === 'having')) || (context !== 'none' && tail.length === 0)) return `${op.text} by`;
    }
  }
  if (op.type === 'k' && op.text === 'having' && isValue(t[p + 1]) && t[p + 2]?.type === 'C') return 'having';

  // "'; ..." and "' --" handled above; a closed string directly followed by an operator and a function: "'||sleep(5)||'"
  if (op.type === 'A' && context !== 'none') {
    const b = t[p + 1];
    if (b?.type === 'f' && ATTACK_FUNCTIONS.has(b.text)) return `concatenated ${b.text}()`;
    if (b?.type === '(' && t[p + 2]?.type === 'k' && t[p + 2]!.text === 'select') return 'concatenated subquery';
  }

  // A closed string and a comment, with blanks/parentheses between: "admin')-- "
  if (context !== 'none' && op.type === 'c' && p + 1 >= t.length) return 'string closed, then comment';
  return null;
}
