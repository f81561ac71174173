// SecLang transformation functions (the t: action), on byte strings (see ../bytes.ts).
// Semantics follow the ModSecurity Reference Manual v2.x, "Transformation functions"; where the
// manual is vague the comment says which behaviour was chosen and why. Every function is total:
// any byte string in, a byte string out, never an exception (property-tested).
import { createHash } from 'node:crypto';

export type Transformation = (input: string) => string;

const HEX = '0123456789abcdef';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function isHex(c: number): boolean {
  return hexValue(c) >= 0;
}

/** Whitespace as ModSecurity's isspace() in the C locale sees it, plus NBSP where the manual says so. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function fromCodes(codes: number[]): string {
  // String.fromCharCode with many arguments overflows the stack; chunk it.
  let out = '';
  for (let i = 0; i < codes.length; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192));
  return out;
}

export function lowercase(s: string): string {
  // ASCII only: ModSecurity uses tolower() in the C locale; bytes >= 0x80 are not letters.
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

export function uppercase(s: string): string {
  return /[a-z]/.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s;
}

/** %XX and "+" (application/x-www-form-urlencoded); invalid %-sequences are left as they are. */
export function urlDecode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      out.push(hexValue(s.charCodeAt(i + 1)) * 16 + hexValue(s.charCodeAt(i + 2)));
      i += 2;
    } else if (c === 0x2b) out.push(0x20);
    else out.push(c);
  }
  return fromCodes(out);
}

/**
 * One byte for a %uHHHH / \uHHHH code point, as ModSecurity does without a unicode map: the low
 * byte, and for the full-width ASCII block (U+FF01–U+FF5E) the ASCII character it stands for —
 * so "%uff1cscript%uff1e" decodes to "<script>", which is how IIS treats it.
 */
function unicodeByte(hi: number, lo: number): number {
  if (hi === 0xff && lo > 0x00 && lo < 0x5f) return lo + 0x20;
  return lo;
}

/** urlDecode, plus IIS-style %uHHHH. */
export function urlDecodeUni(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      const n1 = s.charCodeAt(i + 1);
      if ((n1 === 0x75 || n1 === 0x55) && i + 5 < s.length && [2, 3, 4, 5].every((k) => isHex(s.charCodeAt(i + k)))) {
        const hi = hexValue(s.charCodeAt(i + 2)) * 16 + hexValue(s.charCodeAt(i + 3));
        const lo = hexValue(s.charCodeAt(i + 4)) * 16 + hexValue(s.charCodeAt(i + 5));
        out.push(unicodeByte(hi, lo));
        i += 5;
        continue;
      }
      if (i + 2 < s.length && isHex(n1) && isHex(s.charCodeAt(i + 2))) {
        out.push(hexValue(n1) * 16 + hexValue(s.charCodeAt(i + 2)));
        i += 2;
        continue;
      }
      out.push(c);
    } else if (c === 0x2b) out.push(0x20);
    else out.push(c);
  }
  return fromCodes(out);
}

export function urlEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2a || c === 0x2d || c === 0x2e || c === 0x5f) out += s[i];
    else if (c === 0x20) out += '+';
    else out += '%' + HEX[(c >> 4) & 15]! + HEX[c & 15]!;
  }
  return out;
}

const NAMED_ENTITIES: Record<string, number> = { quot: 0x22, amp: 0x26, lt: 0x3c, gt: 0x3e, nbsp: 0xa0, apos: 0x27 };

/**
 * &#DDD; &#xHH; and the named entities quot, amp, lt, gt, nbsp (apos too, as browsers do). The
 * ";" is optional, as browsers are lenient; a numeric entity keeps its low byte.
 */
export function htmlEntityDecode(s: string): string {
  if (s.indexOf('&') < 0) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const amp = s.indexOf('&', i);
    if (amp < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, amp);
    i = amp;
    if (s[i + 1] === '#') {
      const hex = s[i + 2] === 'x' || s[i + 2] === 'X';
      let j = i + (hex ? 3 : 2);
      let value = 0;
      const digitsStart = j;
      while (j < s.length && j - digitsStart < 8 && (hex ? isHex(s.charCodeAt(j)) : s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39)) {
        value = value * (hex ? 16 : 10) + hexValue(s.charCodeAt(j));
        j++;
      }
      if (j > digitsStart) {
        out += String.fromCharCode(value & 0xff);
        i = s[j] === ';' ? j + 1 : j;
        continue;
      }
    } else {
      const m = /^&([a-zA-Z]{2,6});?/.exec(s.slice(i, i + 9));
      const code = m ? NAMED_ENTITIES[m[1]!.toLowerCase()] : undefined;
      if (m && code !== undefined) {
        out += String.fromCharCode(code);
        i += m[0].length;
        continue;
      }
    }
    out += '&';
    i++;
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, number> = { a: 0x07, b: 0x08, f: 0x0c, n: 0x0a, r: 0x0d, t: 0x09, v: 0x0b };

/** JavaScript escapes: \uHHHH, \xHH, \OOO (octal), \a \b \f \n \r \t \v; "\c" for any other c is c. */
export function jsDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c || i + 1 >= s.length) {
      out.push(c);
      continue;
    }
    const n = s[i + 1]!;
    if ((n === 'u' || n === 'U') && i + 5 < s.length && [2, 3, 4, 5].every((k) => isHex(s.charCodeAt(i + k)))) {
      const hi = hexValue(s.charCodeAt(i + 2)) * 16 + hexValue(s.charCodeAt(i + 3));
      const lo = hexValue(s.charCodeAt(i + 4)) * 16 + hexValue(s.charCodeAt(i + 5));
      out.push(unicodeByte(hi, lo));
      i += 5;
    } else if ((n === 'x' || n === 'X') && i + 3 < s.length && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
      out.push(hexValue(s.charCodeAt(i + 2)) * 16 + hexValue(s.charCodeAt(i + 3)));
      i += 3;
    } else if (n >= '0' && n <= '7') {
      let j = i + 1;
      let value = 0;
      while (j < s.length && j < i + 4 && s[j]! >= '0' && s[j]! <= '7') {
        value = value * 8 + (s.charCodeAt(j) - 0x30);
        j++;
      }
      out.push(value & 0xff);
      i = j - 1;
    } else if (SIMPLE_ESCAPES[n] !== undefined) {
      out.push(SIMPLE_ESCAPES[n]!);
      i++;
    } else {
      out.push(n.charCodeAt(0));
      i++;
    }
  }
  return fromCodes(out);
}

/**
 * CSS 2 escapes: "\" and 1–6 hex digits (one following blank is eaten), giving the low byte (or
 * the ASCII character for a full-width one); "\" before a newline is a line continuation; "\c"
 * is c.
 */
export function cssDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    if (i + 1 >= s.length) break; // a lone trailing backslash disappears
    let j = i + 1;
    while (j < s.length && j < i + 7 && isHex(s.charCodeAt(j))) j++;
    if (j > i + 1) {
      const digits = s.slice(i + 1, j);
      const value = parseInt(digits, 16);
      const hi = (value >> 8) & 0xff;
      out.push(digits.length >= 4 ? unicodeByte(hi, value & 0xff) : value & 0xff);
      if (j < s.length && isSpace(s.charCodeAt(j))) j++;
      i = j - 1;
      continue;
    }
    const n = s.charCodeAt(i + 1);
    if (n === 0x0a) {
      i++;
      continue;
    }
    out.push(n);
    i++;
  }
  return fromCodes(out);
}

/**
 * Normalizes a command line the way the manual describes: remove \ " ' ^, remove blanks before
 * "/" and "(", turn "," and ";" into blanks, squeeze blanks into one, lower-case.
 */
export function cmdLine(s: string): string {
  let out = '';
  let pendingSpace = false;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c === 0x5c || c === 0x22 || c === 0x27 || c === 0x5e) continue;
    if (c === 0x2c || c === 0x3b) c = 0x20;
    if (isSpace(c)) {
      pendingSpace = true;
      continue;
    }
    if (pendingSpace && c !== 0x2f && c !== 0x28) out += ' ';
    pendingSpace = false;
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : String.fromCharCode(c);
  }
  if (pendingSpace) out += ' ';
  return out;
}

function isWhitespaceWithNbsp(c: number): boolean {
  return isSpace(c) || c === 0xa0;
}

export function compressWhitespace(s: string): string {
  let out = '';
  let inSpace = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isWhitespaceWithNbsp(c)) {
      if (!inSpace) out += ' ';
      inSpace = true;
    } else {
      out += s[i];
      inSpace = false;
    }
  }
  return out;
}

export function removeWhitespace(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) if (!isWhitespaceWithNbsp(s.charCodeAt(i))) out += s[i];
  return out;
}

export function removeNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replaceAll('\0', '');
}

export function replaceNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.replaceAll('\0', ' ');
}

/** Each C-style comment becomes one blank; an unterminated one runs to the end of the input. */
export function replaceComments(s: string): string {
  if (s.indexOf('/*') < 0) return s;
  let out = '';
  let i = 0;
  for (;;) {
    const open = s.indexOf('/*', i);
    if (open < 0) return out + s.slice(i);
    out += s.slice(i, open) + ' ';
    const close = s.indexOf('*/', open + 2);
    if (close < 0) return out;
    i = close + 2;
  }
}

/** Removes /* *\/, <!-- -->, and "--" or "#" to the end of the line (SQL and shell comments). */
export function removeComments(s: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('/*', i)) {
      const close = s.indexOf('*/', i + 2);
      if (close < 0) break;
      i = close + 2;
    } else if (s.startsWith('<!--', i)) {
      const close = s.indexOf('-->', i + 4);
      if (close < 0) break;
      i = close + 3;
    } else if (s.startsWith('--', i) || s[i] === '#') {
      const nl = s.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
    } else {
      out += s[i];
      i++;
    }
  }
  return out;
}

export function removeCommentsChar(s: string): string {
  return s.replace(/\/\*|\*\/|--|#|<!--|-->/g, '');
}

/** Collapses "//", removes "./" segments and resolves "../" (never above the root of an absolute path). */
export function normalizePath(s: string): string {
  if (s === '') return s;
  const absolute = s.startsWith('/');
  const trailing = s.endsWith('/') || s.endsWith('/.') || s.endsWith('/..') || s === '.' || s === '..';
  const out: string[] = [];
  for (const segment of s.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(segment);
  }
  let result = (absolute ? '/' : '') + out.join('/');
  if (trailing && out.length > 0) result += '/';
  return result === '' ? (absolute ? '/' : '') : result;
}

export function normalizePathWin(s: string): string {
  return normalizePath(s.indexOf('\\') < 0 ? s : s.replaceAll('\\', '/'));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64_VALUE[B64.charCodeAt(i)] = i;
// The URL-safe alphabet decodes too: what a browser sends in a JWT is an attack surface as well.
B64_VALUE[0x2d] = 62;
B64_VALUE[0x5f] = 63;

function base64(s: string, skipInvalid: boolean): string {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d) break; // padding: the end
    const v = c < 256 ? B64_VALUE[c]! : -1;
    if (v < 0) {
      if (skipInvalid) continue;
      break;
    }
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return fromCodes(out);
}

/** Decodes the leading valid Base64 of the input (stops at the first character outside the alphabet). */
export function base64Decode(s: string): string {
  return base64(s, false);
}

/** Like base64Decode, but skips characters outside the alphabet (the manual's base64DecodeExt). */
export function base64DecodeExt(s: string): string {
  return base64(s, true);
}

export function base64Encode(s: string): string {
  return Buffer.from(s, 'latin1').toString('base64');
}

/** Pairs of hex digits to bytes; stops at the first pair that is not hex. */
export function hexDecode(s: string): string {
  const out: number[] = [];
  for (let i = 0; i + 1 < s.length; i += 2) {
    const a = hexValue(s.charCodeAt(i));
    const b = hexValue(s.charCodeAt(i + 1));
    if (a < 0 || b < 0) break;
    out.push(a * 16 + b);
  }
  return fromCodes(out);
}

export function hexEncode(s: string): string {
  return Buffer.from(s, 'latin1').toString('hex');
}

/** 0xHEX sequences (MySQL hex literals) to the bytes they stand for. */
export function sqlHexDecode(s: string): string {
  if (!/0x/i.test(s)) return s;
  return s.replace(/0x((?:[0-9a-fA-F]{2})+)/gi, (_m, hex: string) => hexDecode(hex));
}

/** UTF-8 multi-byte sequences become %uHHHH (what the CRS XSS rules expect); invalid ones are kept. */
export function utf8toUnicode(s: string): string {
  let i = 0;
  for (; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) break;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      out += s[i];
      i++;
      continue;
    }
    const need = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 && c <= 0xdf ? 1 : -1;
    let cp = need === 3 ? c & 0x07 : need === 2 ? c & 0x0f : c & 0x1f;
    let ok = need > 0 && i + need < s.length;
    for (let k = 1; ok && k <= need; k++) {
      const d = s.charCodeAt(i + k);
      if ((d & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (d & 0x3f);
    }
    if (!ok) {
      out += s[i];
      i++;
      continue;
    }
    out += '%u' + cp.toString(16).padStart(4, '0');
    i += need + 1;
  }
  return out;
}

export function length(s: string): string {
  return String(s.length);
}

export function sha1(s: string): string {
  return createHash('sha1').update(s, 'latin1').digest().toString('latin1');
}

export function md5(s: string): string {
  return createHash('md5').update(s, 'latin1').digest().toString('latin1');
}

export function trim(s: string): string {
  return trimRight(trimLeft(s));
}

export function trimLeft(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i === 0 ? s : s.slice(i);
}

export function trimRight(s: string): string {
  let j = s.length;
  while (j > 0 && isSpace(s.charCodeAt(j - 1))) j--;
  return j === s.length ? s : s.slice(0, j);
}

const C_ESCAPES: Record<string, number> = { ...SIMPLE_ESCAPES, '\\': 0x5c, '?': 0x3f, "'": 0x27, '"': 0x22 };

/** ANSI C escape sequences: \a \b \f \n \r \t \v \\ \? \' \" \xHH \OOO; unknown ones are kept. */
export function escapeSeqDecode(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x5c || i + 1 >= s.length) {
      out.push(c);
      continue;
    }
    const n = s[i + 1]!;
    if (C_ESCAPES[n] !== undefined) {
      out.push(C_ESCAPES[n]!);
      i++;
    } else if ((n === 'x' || n === 'X') && i + 3 < s.length && isHex(s.charCodeAt(i + 2)) && isHex(s.charCodeAt(i + 3))) {
      out.push(hexValue(s.charCodeAt(i + 2)) * 16 + hexValue(s.charCodeAt(i + 3)));
      i += 3;
    } else if (n >= '0' && n <= '7') {
      let j = i + 1;
      let value = 0;
      while (j < s.length && j < i + 4 && s[j]! >= '0' && s[j]! <= '7') {
        value = value * 8 + (s.charCodeAt(j) - 0x30);
        j++;
      }
      out.push(value & 0xff);
      i = j - 1;
    } else {
      out.push(c);
    }
  }
  return fromCodes(out);
}

function parity(s: string, mode: 'even' | 'odd' | 'zero'): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i) & 0x7f;
    if (mode !== 'zero') {
      let bits = 0;
      for (let x = c; x; x >>= 1) bits += x & 1;
      if ((mode === 'even') === (bits % 2 === 1)) c |= 0x80;
    }
    out += String.fromCharCode(c);
  }
  return out;
}

/** By lower-case name (ModSecurity's own files spell some names in two ways: base64Decode/base64decode). */
export const TRANSFORMATIONS: ReadonlyMap<string, Transformation> = new Map<string, Transformation>([
  ['lowercase', lowercase],
  ['uppercase', uppercase],
  ['urldecode', urlDecode],
  ['urldecodeuni', urlDecodeUni],
  ['urlencode', urlEncode],
  ['htmlentitydecode', htmlEntityDecode],
  ['jsdecode', jsDecode],
  ['cssdecode', cssDecode],
  ['cmdline', cmdLine],
  ['compresswhitespace', compressWhitespace],
  ['removewhitespace', removeWhitespace],
  ['removenulls', removeNulls],
  ['replacenulls', replaceNulls],
  ['replacecomments', replaceComments],
  ['removecomments', removeComments],
  ['removecommentschar', removeCommentsChar],
  ['normalizepath', normalizePath],
  ['normalisepath', normalizePath],
  ['normalizepathwin', normalizePathWin],
  ['normalisepathwin', normalizePathWin],
  ['base64decode', base64Decode],
  ['base64decodeext', base64DecodeExt],
  ['base64encode', base64Encode],
  ['hexdecode', hexDecode],
  ['hexencode', hexEncode],
  ['sqlhexdecode', sqlHexDecode],
  ['utf8tounicode', utf8toUnicode],
  ['length', length],
  ['sha1', sha1],
  ['md5', md5],
  ['trim', trim],
  ['trimleft', trimLeft],
  ['trimright', trimRight],
  ['escapeseqdecode', escapeSeqDecode],
  ['parityeven7bit', (s) => parity(s, 'even')],
  ['parityodd7bit', (s) => parity(s, 'odd')],
  ['parityzero7bit', (s) => parity(s, 'zero')],
]);
