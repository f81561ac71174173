// Splits SecLang text into directives: a name and its arguments, with the line it starts on.
//
// The syntax is Apache's configuration syntax (ModSecurity v2 is an Apache module; libmodsecurity
// and Coraza kept it): a backslash at the end of a line continues the directive on the next line;
// a line whose first non-blank character is "#" is a comment; arguments are separated by blanks
// and may be quoted with double (or single) quotes, inside which only a backslash before the
// quote character is an escape — every other backslash is kept, so "\d" reaches the regex intact
// (Apache's ap_getword_conf).
import { WafError, WafErrorCode } from '../errors.js';

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  readonly file: string;
  readonly line: number;
}

export function lexSecLang(text: string, file: string): Directive[] {
  const directives: Directive[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    let logical = stripCr(lines[i]!);
    i++;
    // Continuation: "\" as the very last character of the line (Apache ignores trailing blanks after it too).
    while (/\\\s*$/.test(logical) && !isComment(logical)) {
      logical = logical.replace(/\\\s*$/, '');
      if (i >= lines.length) break;
      logical += stripCr(lines[i]!);
      i++;
    }
    if (isComment(logical) || logical.trim() === '') continue;
    const words = splitArguments(logical, file, startLine);
    if (words.length === 0) continue;
    directives.push({ name: words[0]!, args: words.slice(1), file, line: startLine });
  }
  return directives;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function isComment(line: string): boolean {
  return /^\s*#/.test(line);
}

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v';
}

export function splitArguments(line: string, file: string, lineNo: number): string[] {
  const words: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isBlank(line[pos]!)) pos++;
    if (pos >= line.length) return words;
    const quote = line[pos];
    if (quote === '"' || quote === "'") {
      pos++;
      let word = '';
      for (;;) {
        if (pos >= line.length) {
          throw new WafError(WafErrorCode.SECLANG_SYNTAX, `missing closing ${quote} in an argument`, { file, line: lineNo });
        }
        const c = line[pos]!;
        if (c === '\\' && pos + 1 < line.length) {
          const next = line[pos + 1]!;
          word += next === quote ? next : c + next;
          pos += 2;
          continue;
        }
        if (c === quote) {
          pos++;
          break;
        }
        word += c;
        pos++;
      }
      words.push(word);
    } else {
      const start = pos;
      while (pos < line.length && !isBlank(line[pos]!)) pos++;
      words.push(line.slice(start, pos));
    }
  }
}
