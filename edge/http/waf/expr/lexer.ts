// Tokens of the custom rule expression language (see parser.ts for the grammar). Positions are
// 1-based line and column, so an error can point at the character in a multi-line YAML string.
import { isIP } from 'node:net';
import { WafErrorCode, WafExpressionError } from '../errors.js';

export type TokenKind =
  | 'ident' // a field or function name: http.request.uri.path, lower
  | 'string' // "..." (or r"..." raw)
  | 'number'
  | 'ip' // 192.0.2.1, 10.0.0.0/8, 2001:db8::/32
  | 'op' // == != < <= > >= ~ && || ! ^^
  | '(' | ')' | '{' | '}' | '[' | ']' | ','
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** For strings: the value, escapes resolved. */
  readonly value: string;
  readonly line: number;
  readonly column: number;
}

const MAX_EXPRESSION = 16_384;

export function lexExpression(src: string): Token[] {
  if (src.length > MAX_EXPRESSION) throw new WafExpressionError(WafErrorCode.EXPRESSION_SYNTAX, `expression longer than ${MAX_EXPRESSION} characters`, 1, 1);
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const here = (at: number) => ({ line, column: at - lineStart + 1 });
  const fail = (message: string, at: number): never => {
    const p = here(at);
    throw new WafExpressionError(WafErrorCode.EXPRESSION_SYNTAX, message, p.line, p.column);
  };
  const push = (kind: TokenKind, start: number, end: number, value?: string) => {
    const p = here(start);
    tokens.push({ kind, text: src.slice(start, end), value: value ?? src.slice(start, end), line: p.line, column: p.column });
  };
  while (pos < src.length) {
    const c = src[pos]!;
    if (c === '\n') {
      pos++;
      line++;
      lineStart = pos;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      pos++;
      continue;
    }
    if (c === '#') {
      // A comment to the end of the line: rules in YAML block scalars deserve explanations.
      while (pos < src.length && src[pos] !== '\n') pos++;
      continue;
    }
    const start = pos;
    // Raw string r"..." (no escapes: regexes read as written) or r#"..."#
    if (c === 'r' && (src[pos + 1] === '"' || (src[pos + 1] === '#' && src[pos + 2] === '"'))) {
      const hashes = src[pos + 1] === '#' ? '#' : '';
      const close = '"' + hashes;
      const bodyStart = pos + 2 + hashes.length;
      const end = src.indexOf(close, bodyStart);
      if (end < 0) fail('unterminated raw string', start);
      const body = src.slice(bodyStart, end);
      if (body.includes('\n')) fail('a string cannot span lines', start);
      pos = end + close.length;
      push('string', start, pos, body);
      continue;
    }
    if (c === '"') {
      let value = '';
      pos++;
      for (;;) {
        if (pos >= src.length || src[pos] === '\n') fail('unterminated string', start);
        const ch = src[pos]!;
        if (ch === '\\') {
          const next = src[pos + 1];
          if (next === '"' || next === '\\') value += next;
          else fail(`unknown escape "\\${next ?? ''}" (only \\" and \\\\; use r"..." for regexes)`, pos);
          pos += 2;
          continue;
        }
        if (ch === '"') {
          pos++;
          break;
        }
        value += ch;
        pos++;
      }
      push('string', start, pos, value);
      continue;
    }
    // IP addresses and CIDR blocks (before numbers and names: "10.0.0.0/8", "fe80::/10")
    const ipRun = /^[0-9A-Fa-f:.]+(?:\/\d{1,3})?/.exec(src.slice(pos, pos + 64));
    if (ipRun && (ipRun[0].includes(':') || /^\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?$/.test(ipRun[0]))) {
      const [addr, bits] = ipRun[0].split('/');
      const family = isIP(addr!);
      if (family !== 0) {
        if (bits !== undefined && Number(bits) > (family === 4 ? 32 : 128)) fail(`prefix length /${bits} is too long for ${addr}`, start);
        pos += ipRun[0].length;
        push('ip', start, pos);
        continue;
      }
      if (!/^[A-Za-z_]/.test(c)) fail(`"${ipRun[0]}" is not an IP address`, start);
    }
    if (/[0-9]/.test(c)) {
      const m = /^\d+(?:\.\d+)?/.exec(src.slice(pos))!;
      pos += m[0].length;
      if (/[A-Za-z_]/.test(src[pos] ?? '')) fail(`unexpected "${src[pos]}" after a number`, pos);
      push('number', start, pos);
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(src.slice(pos))!;
      pos += m[0].length;
      push('ident', start, pos);
      continue;
    }
    const two = src.slice(pos, pos + 2);
    if (['==', '!=', '<=', '>=', '&&', '||', '^^'].includes(two)) {
      pos += 2;
      push('op', start, pos);
      continue;
    }
    if ('<>~!'.includes(c)) {
      pos++;
      push('op', start, pos);
      continue;
    }
    if ('(){}[],'.includes(c)) {
      pos++;
      push(c as TokenKind, start, pos);
      continue;
    }
    fail(`unexpected character "${c}"`, start);
  }
  const p = here(pos);
  tokens.push({ kind: 'eof', text: '', value: '', line: p.line, column: p.column });
  return tokens;
}
