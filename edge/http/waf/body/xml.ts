// XML bodies, for the XML:/* variable. Not a validating parser and never a resolving one: no
// DTD is read and no entity other than the five predefined ones and character references is
// expanded, so XML cannot make the WAF fetch anything or grow a billion laughs. It checks that
// tags nest, and returns the document's text (what XPath's string-value of /* is) plus every
// attribute value, which ModSecurity's XML:/* leaves out and attacks do not.
import type { ParsedBody } from './types.js';
import { emptyBody } from './types.js';

const MAX_DEPTH = 256;

export function parseXmlBody(body: string): ParsedBody {
  const text: string[] = [];
  const attributes: string[] = [];
  const stack: string[] = [];
  let pos = 0;
  let sawRoot = false;
  const fail = (message: string): ParsedBody => emptyBody('XML', `XML parsing error: ${message}`);
  while (pos < body.length) {
    const lt = body.indexOf('<', pos);
    const chunk = body.slice(pos, lt < 0 ? body.length : lt);
    if (chunk.trim() !== '') {
      if (stack.length === 0) return fail('text outside the root element');
      text.push(decodeEntities(chunk));
    }
    if (lt < 0) break;
    pos = lt;
    if (body.startsWith('<!--', pos)) {
      const end = body.indexOf('-->', pos + 4);
      if (end < 0) return fail('unterminated comment');
      pos = end + 3;
    } else if (body.startsWith('<![CDATA[', pos)) {
      const end = body.indexOf(']]>', pos + 9);
      if (end < 0) return fail('unterminated CDATA section');
      if (stack.length === 0) return fail('CDATA outside the root element');
      text.push(body.slice(pos + 9, end));
      pos = end + 3;
    } else if (body.startsWith('<?', pos)) {
      const end = body.indexOf('?>', pos + 2);
      if (end < 0) return fail('unterminated processing instruction');
      pos = end + 2;
    } else if (body.startsWith('<!', pos)) {
      // DOCTYPE (possibly with an internal subset in brackets): skipped, never interpreted.
      if (sawRoot) return fail('declaration after the root element');
      const end = skipDeclaration(body, pos);
      if (end < 0) return fail('unterminated declaration');
      pos = end;
    } else if (body.startsWith('</', pos)) {
      const m = /^<\/([^\s>]+)\s*>/.exec(body.slice(pos, pos + 256));
      if (!m) return fail('malformed end tag');
      if (stack.pop() !== m[1]) return fail(`end tag </${m[1]}> does not match`);
      pos += m[0].length;
    } else {
      const m = /^<([A-Za-z_:\x80-\xff][^\s/>]*)/.exec(body.slice(pos, pos + 256));
      if (!m) return fail('malformed start tag');
      if (stack.length === 0 && sawRoot) return fail('more than one root element');
      sawRoot = true;
      const end = tagEnd(body, pos);
      if (end < 0) return fail('unterminated start tag');
      const inside = body.slice(pos + m[0].length, end);
      const selfClosing = inside.endsWith('/');
      for (const a of (selfClosing ? inside.slice(0, -1) : inside).matchAll(/[^\s=]+\s*=\s*("([^"]*)"|'([^']*)')/g)) {
        attributes.push(decodeEntities(a[2] ?? a[3] ?? ''));
      }
      if (!selfClosing) {
        stack.push(m[1]!);
        if (stack.length > MAX_DEPTH) return fail(`nesting deeper than ${MAX_DEPTH}`);
      }
      pos = end + 1;
    }
  }
  if (!sawRoot) return fail('no root element');
  if (stack.length > 0) return fail(`<${stack[stack.length - 1]}> is not closed`);
  return { ...emptyBody('XML'), xml: [text.join(''), ...attributes] };
}

/** Index of the ">" that ends a start tag at `from`, skipping quoted attribute values. */
function tagEnd(s: string, from: number): number {
  let quote: string | null = null;
  for (let i = from + 1; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return i;
    else if (c === '<') return -1;
  }
  return -1;
}

function skipDeclaration(s: string, from: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = from + 2; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === '>' && depth <= 0) return i + 1;
  }
  return -1;
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref[0] === '#') {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (cp > 0x10ffff) return whole;
      // As UTF-8 bytes, the way the rest of the body is seen.
      return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
    }
    return PREDEFINED[ref] ?? whole;
  });
}
