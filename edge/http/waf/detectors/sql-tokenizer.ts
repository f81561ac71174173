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
  const s = input;
  const tokens: SqlToken[] = [];
  let i = 0;
  if (context !== 'none') {
    const end = closingQuote(s, 0, context);
    tokens.push({ type: 's', text: s.slice(0, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 });
    i = end < 0 ? s.length : end + 1;
  }
  while (i < s.length && tokens.length < maxTokens) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    // Comments
    if (c === 0x2f && s.charCodeAt(i + 1) === 0x2a) {
      const close = s.indexOf('*/', i + 2);
      if (s.charCodeAt(i + 2) === 0x21) {
        // MySQL executable comment /*!50000 code */: its content is code. Skip the version digits.
        let j = i + 3;
        while (j < s.length && isDigit(s.charCodeAt(j))) j++;
        const body = s.slice(j, close < 0 ? s.length : close);
        tokens.push(...tokenizeSql(body, 'none', maxTokens - tokens.length));
        i = close < 0 ? s.length : close + 2;
        continue;
      }
      tokens.push({ type: 'c', text: '/*', closed: close < 0 });
      i = close < 0 ? s.length : close + 2;
      continue;
    }
    if (c === 0x23 || (c === 0x2d && s.charCodeAt(i + 1) === 0x2d)) {
      const nl = s.indexOf('\n', i);
      tokens.push({ type: 'c', text: c === 0x23 ? '#' : '--', closed: nl < 0 });
      i = nl < 0 ? s.length : nl + 1;
      continue;
    }
    // Strings; backticks and [brackets] are quoted names
    if (c === 0x27 || c === 0x22) {
      const q = s[i]! as "'" | '"';
      const end = closingQuote(s, i + 1, q);
      tokens.push({ type: 's', text: s.slice(i + 1, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 });
      i = end < 0 ? s.length : end + 1;
      continue;
    }
    if (c === 0x60) {
      const end = s.indexOf('`', i + 1);
      tokens.push({ type: 'b', text: s.slice(i + 1, end < 0 ? s.length : end).toLowerCase(), closed: end >= 0 });
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
      tokens.push({ type: 'n', text: s.slice(i, j).toLowerCase(), closed: true });
      i = j;
      continue;
    }
    // Variables
    if (c === 0x40) {
      let j = i + 1;
      if (s.charCodeAt(j) === 0x40) j++;
      while (j < s.length && (isIdentChar(s.charCodeAt(j)) || s[j] === '.')) j++;
      tokens.push({ type: 'v', text: s.slice(i, j).toLowerCase(), closed: true });
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
      if (LOGIC.has(word)) tokens.push({ type: 'L', text: word, closed: true });
      else if (word === 'not') tokens.push({ type: 'N', text: word, closed: true });
      else if (COMPARE_WORDS.has(word)) tokens.push({ type: 'C', text: word, closed: true });
      else if (ARITH_WORDS.has(word)) tokens.push({ type: 'A', text: word, closed: true });
      else if (s[k] === '(' && !KEYWORDS.has(word)) tokens.push({ type: 'f', text: word, closed: true });
      else if (s[k] === '(' && (word === 'char' || word === 'cast' || word === 'convert' || word === 'nchar')) tokens.push({ type: 'f', text: word, closed: true });
      else if (KEYWORDS.has(word)) tokens.push({ type: 'k', text: word, closed: true });
      else tokens.push({ type: 'b', text: word, closed: true });
      continue;
    }
    if (c === 0x5b) {
      // [name] (MSSQL)
      const end = s.indexOf(']', i + 1);
      if (end > i && end - i < 130 && !/[\s[]/.test(s.slice(i + 1, end))) {
        tokens.push({ type: 'b', text: s.slice(i + 1, end).toLowerCase(), closed: true });
        i = end + 1;
        continue;
      }
    }
    // Operators, longest first
    const three = s.slice(i, i + 3);
    const two = s.slice(i, i + 2);
    if (three === '<=>') {
      tokens.push({ type: 'C', text: three, closed: true });
      i += 3;
      continue;
    }
    if (two === '&&' || two === '||') {
      tokens.push({ type: 'L', text: two, closed: true });
      i += 2;
      continue;
    }
    if (two === '<=' || two === '>=' || two === '<>' || two === '!=' || two === '==') {
      tokens.push({ type: 'C', text: two, closed: true });
      i += 2;
      continue;
    }
    if (two === '<<' || two === '>>' || two === ':=') {
      tokens.push({ type: 'A', text: two, closed: true });
      i += 2;
      continue;
    }
    const ch = s[i]!;
    i++;
    switch (ch) {
      case '=': case '<': case '>':
        tokens.push({ type: 'C', text: ch, closed: true });
        break;
      case '+': case '-': case '*': case '/': case '%': case '^': case '|': case '&': case '~':
        tokens.push({ type: 'A', text: ch, closed: true });
        break;
      case '!':
        tokens.push({ type: 'N', text: ch, closed: true });
        break;
      case '(': case ')': case ',': case ';': case '.':
        tokens.push({ type: ch, text: ch, closed: true });
        break;
      default:
        tokens.push({ type: '?', text: ch, closed: true });
    }
  }
  return tokens;
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
