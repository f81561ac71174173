// A forgiving SQL tokenizer for @detectSQLi: it reads an input the way a database would if the
// input were pasted into a query, in one of three contexts — as code, or inside a '...' or "..."
// string that the input may close. It never fails: anything it does not know is a bareword or an
// "other" token. Linear in the input; callers cap the number of tokens they look at.
//
// Dialect coverage is the union of what injections use: MySQL (#, "-- ", /*! */ executable
// comments, backticks, @@vars), PostgreSQL ($$ strings are rare in attacks and read as other),
// MSSQL ([names], @vars, waitfor), Oracle and SQLite keywords.

export type SqlTokenType =
  /** string literal */
  | 's'
  /** number */
  | 'n'
  /** a keyword that starts or structures a statement (select, union, from, ...) */
  | 'k'
  /** and / or / xor / && / || */
  | 'L'
  /** comparison: = <> != < > <= >= <=> like rlike regexp is in between */
  | 'C'
  /** arithmetic or bitwise operator */
  | 'A'
  /** not / ! */
  | 'N'
  /** a name followed by "(": a function call */
  | 'f'
  /** @var or @@var */
  | 'v'
  /** identifier */
  | 'b'
  | '(' | ')' | ',' | ';' | '.'
  /** comment */
  | 'c'
  /** anything else */
  | '?';

export interface SqlToken {
  readonly type: SqlTokenType;
  /** Lower-cased text (for strings: the content without quotes). */
  readonly text: string;
  /** For strings: the literal was closed. For comments: it reached the end of the input. */
  readonly closed: boolean;
}

const STATEMENT_KEYWORDS = [
  'select', 'union', 'insert', 'update', 'delete', 'drop', 'create', 'alter', 'truncate', 'replace', 'merge',
  'exec', 'execute', 'declare', 'shutdown', 'waitfor', 'grant', 'revoke', 'call', 'load', 'handler', 'prepare',
  'from', 'where', 'into', 'values', 'set', 'having', 'group', 'order', 'by', 'limit', 'offset', 'procedure',
  'outfile', 'dumpfile', 'table', 'database', 'schema', 'all', 'distinct', 'top', 'case', 'when', 'then', 'else', 'end',
  'join', 'inner', 'outer', 'left', 'right', 'cross', 'natural', 'on', 'using', 'delay', 'time', 'begin', 'commit',
  'rollback', 'use', 'show', 'describe', 'desc', 'asc', 'null', 'true', 'false', 'exists', 'collate', 'escape',
  'cast', 'convert', 'char', 'nchar', 'varchar', 'dual', 'sysdate', 'current_user', 'session_user', 'system_user',
];
const KEYWORDS = new Set(STATEMENT_KEYWORDS);
const LOGIC = new Set(['and', 'or', 'xor']);
const COMPARE_WORDS = new Set(['like', 'rlike', 'regexp', 'is', 'in', 'between', 'sounds', 'glob', 'match', 'similar']);
const ARITH_WORDS = new Set(['div', 'mod']);

function isIdentStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x24 || c >= 0x80;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || (c >= 0x30 && c <= 0x39);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isSpace(c: number): boolean {
  // MySQL also treats 0xA0 and vertical tab as blanks; a bypass often uses them.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0;
}

/**
 * Tokens of `input` read in `context`: 'none' (as SQL code), or "'" / '"' (the input starts inside
 * a string opened with that quote). At most `maxTokens`.
 */
export function tokenizeSql(input: string, context: 'none' | "'" | '"', maxTokens = 48): SqlToken[] {
  const tokens: SqlToken[] = [];
  if (maxTokens <= 0) return tokens;
  scanSql(input, context, (t) => {
    tokens.push(t);
    return tokens.length >= maxTokens;
  });
  return tokens;
}

/**
 * The tokens of `input`, one at a time, to `sink` (which returns true to stop): for reading a
 * whole value of any length in linear time without holding its tokens.
 */
export function scanSql(input: string, context: 'none' | "'" | '"', sink: (token: SqlToken) => boolean): void {
  scan(input, context, sink, 0);
}

/** MySQL executable comments inside executable comments: deeper than this they are plain comments. */
const MAX_EXECUTABLE_DEPTH = 8;

/** Returns true when the sink asked to stop. */
function scan(input: string, context: 'none' | "'" | '"', sink: (token: SqlToken) => boolean, depth: number): boolean {
  const s = input;
  const emit = sink;
  let i = 0;
  if (context !== 'none') {
    const end = closingQuote(s, 0, context);
    if (emit({ type: 's', text: s.slice(0, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 })) return true;
    i = end < 0 ? s.length : end + 1;
  }
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // Comments
    if (c === 0x2f && s.charCodeAt(i + 1) === 0x2a) {
      const close = s.indexOf('*/', i + 2);
      if (s.charCodeAt(i + 2) === 0x21 && depth < MAX_EXECUTABLE_DEPTH) {
        // MySQL executable comment /*!50000 code */: its content is code. Skip the version digits.
        let j = i + 3;
        while (j < s.length && isDigit(s.charCodeAt(j))) j++;
        const body = s.slice(j, close < 0 ? s.length : close);
        if (scan(body, 'none', sink, depth + 1)) return true;
        i = close < 0 ? s.length : close + 2;
        continue;
      }
      if (emit({ type: 'c', text: '/*', closed: close < 0 })) return true;
      i = close < 0 ? s.length : close + 2;
      continue;
    }
    if (c === 0x23 || (c === 0x2d && s.charCodeAt(i + 1) === 0x2d)) {
      const nl = s.indexOf('\n', i);
      if (emit({ type: 'c', text: c === 0x23 ? '#' : '--', closed: nl < 0 })) return true;
      i = nl < 0 ? s.length : nl + 1;
      continue;
    }
    // Strings; backticks and [brackets] are quoted names
    if (c === 0x27 || c === 0x22) {
      const q = s[i]! as "'" | '"';
      const end = closingQuote(s, i + 1, q);
      if (emit({ type: 's', text: s.slice(i + 1, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 })) return true;
      i = end < 0 ? s.length : end + 1;
      continue;
    }
    if (c === 0x60) {
      const end = s.indexOf('`', i + 1);
      if (emit({ type: 'b', text: s.slice(i + 1, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 })) return true;
      i = end < 0 ? s.length : end + 1;
      continue;
    }
    // Numbers: 1, 1.5, .5, 1e5, 0x1f, 0b101
    if (isDigit(c) || (c === 0x2e && isDigit(s.charCodeAt(i + 1)))) {
      let j = i;
      if (c === 0x30 && (s[i + 1] === 'x' || s[i + 1] === 'X' || s[i + 1] === 'b' || s[i + 1] === 'B')) {
        j += 2;
        while (j < s.length && /[0-9a-fA-F]/.test(s[j]!)) j++;
      } else {
        while (j < s.length && (isDigit(s.charCodeAt(j)) || s[j] === '.')) j++;
        if ((s[j] === 'e' || s[j] === 'E') && (isDigit(s.charCodeAt(j + 1)) || ((s[j + 1] === '-' || s[j + 1] === '+') && isDigit(s.charCodeAt(j + 2))))) {
          j += 2;
          while (j < s.length && isDigit(s.charCodeAt(j))) j++;
        }
      }
      // "1union" reads as 1 then union in MySQL: a number ends where letters start.
      if (emit({ type: 'n', text: s.slice(i, j).toLowerCase(), closed: true })) return true;
      i = j;
      continue;
    }
    // Variables
    if (c === 0x40) {
      let j = i + 1;
      if (s.charCodeAt(j) === 0x40) j++;
      while (j < s.length && (isIdentChar(s.charCodeAt(j)) || s[j] === '.')) j++;
      if (emit({ type: 'v', text: s.slice(i, j).toLowerCase(), closed: true })) return true;
      i = j;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i;
      while (j < s.length && isIdentChar(s.charCodeAt(j))) j++;
      const word = s.slice(i, j).toLowerCase();
      i = j;
      // A name directly followed by "(" (blanks and comments allowed, as SQL allows) is a call.
      let k = i;
      for (;;) {
        while (k < s.length && isSpace(s.charCodeAt(k))) k++;
        if (s.startsWith('/*', k) && s[k + 2] !== '!') {
          const close = s.indexOf('*/', k + 2);
          if (close < 0) break;
          k = close + 2;
          continue;
        }
        break;
      }
      let type: SqlTokenType;
      if (LOGIC.has(word)) type = 'L';
      else if (word === 'not') type = 'N';
      else if (COMPARE_WORDS.has(word)) type = 'C';
      else if (ARITH_WORDS.has(word)) type = 'A';
      else if (s[k] === '(' && !KEYWORDS.has(word)) type = 'f';
      else if (s[k] === '(' && (word === 'char' || word === 'cast' || word === 'convert' || word === 'nchar')) type = 'f';
      else if (KEYWORDS.has(word)) type = 'k';
      else type = 'b';
      if (emit({ type, text: word, closed: true })) return true;
      continue;
    }
    if (c === 0x5b) {
      // [name] (MSSQL), of at most 128 characters: searched for that far only, so that a run of
      // "[" without "]" stays linear.
      const close = s.slice(i + 1, i + 130).indexOf(']');
      const end = close < 0 ? -1 : i + 1 + close;
      if (end > i && end - i < 130 && !/[\s[]/.test(s.slice(i + 1, end))) {
        if (emit({ type: 'b', text: s.slice(i + 1, end).toLowerCase(), closed: true })) return true;
        i = end + 1;
        continue;
      }
    }
    // Operators, longest first (compared by code first: most characters are none of these)
    const c2 = s.charCodeAt(i + 1);
    const maybeLong = (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x7c || c === 0x21 || c === 0x3d || c === 0x3a) && (c2 === 0x3d || c2 === 0x3e || c2 === 0x3c || c2 === 0x26 || c2 === 0x7c);
    const three = maybeLong ? s.slice(i, i + 3) : '';
    const two = maybeLong ? s.slice(i, i + 2) : '';
    if (three === '<=>') {
      if (emit({ type: 'C', text: three, closed: true })) return true;
      i += 3;
      continue;
    }
    if (two === '&&' || two === '||') {
      if (emit({ type: 'L', text: two, closed: true })) return true;
      i += 2;
      continue;
    }
    if (two === '<=' || two === '>=' || two === '<>' || two === '!=' || two === '==') {
      if (emit({ type: 'C', text: two, closed: true })) return true;
      i += 2;
      continue;
    }
    if (two === '<<' || two === '>>' || two === ':=') {
      if (emit({ type: 'A', text: two, closed: true })) return true;
      i += 2;
      continue;
    }
    const ch = s[i]!;
    i++;
    switch (ch) {
      case '=': case '<': case '>':
        if (emit({ type: 'C', text: ch, closed: true })) return true;
        break;
      case '+': case '-': case '*': case '/': case '%': case '^': case '|': case '&': case '~':
        if (emit({ type: 'A', text: ch, closed: true })) return true;
        break;
      case '!':
        if (emit({ type: 'N', text: ch, closed: true })) return true;
        break;
      case '(': case ')': case ',': case ';': case '.':
        if (emit({ type: ch, text: ch, closed: true })) return true;
        break;
      default:
        if (emit({ type: '?', text: ch, closed: true })) return true;
    }
  }
  return false;
}

/** Index of the quote that closes a string starting at `from`; '' and \' are escapes. -1 if none. */
function closingQuote(s: string, from: number, q: "'" | '"'): number {
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === q) {
      if (s[i + 1] === q) {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}
